import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { serverError } from './errors.js';

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** File mode of the new file. Default `0o600` (owner read/write only). */
  readonly mode?: number;
}

/**
 * Writes `data` to `path` so that readers see either the old file or the new
 * one, never a half-written file: the bytes go to a temporary file in the same
 * directory (created with `mode`, default 0600), are flushed with `fsync`, and
 * the temporary file is renamed over `path` (atomic on POSIX file systems).
 *
 * Throws `ERR_KMS_IO` (the message names the operation, never the data).
 *
 * @example
 * ```ts
 * await writeFileAtomic('/etc/app/secrets.enc.yaml', encryptedText);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    // 'wx': fail rather than follow or clobber something already at the temp name.
    handle = await open(tmp, 'wx', mode);
    await handle.writeFile(data);
    await handle.chmod(mode); // umask may have narrowed or the caller asked for a wider mode
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
    await syncDirectory(dirname(path));
  } catch (err) {
    if (handle) await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw serverError('ERR_KMS_IO', 'could not write the file atomically', {
      details: { path, syscall: (err as NodeJS.ErrnoException).syscall, errno: (err as NodeJS.ErrnoException).code },
    });
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable; some file systems refuse fsync on a directory.
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // best effort
  }
}
