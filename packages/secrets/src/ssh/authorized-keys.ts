import { randomBytes } from 'node:crypto';
import { chown, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import { clientError, SecretsError } from '../errors.js';
import type { SecretProvider } from '../provider.js';
import { generateSshKeyPair, parseSshpkPublicKey, type SshKeyPair } from './keys.js';

/** The comment marker of the lines this module writes: `provisioning-lease=<lease id>`. */
export const AUTHORIZED_KEY_MARKER = 'provisioning-lease=';

const LEASE_ID = /^[\x21-\x7e]{1,255}$/;
// A line we wrote: expiry option first, key, marker comment last.
const OURS = /^expiry-time="(\d{12})Z"(?:,\S+)? (\S+) (\S+) provisioning-lease=(\S+)$/;

/** Formats a date as sshd's `expiry-time` value (UTC, minute resolution, rounded down so the key never outlives its lease). */
export function expiryTimeOption(expiresAt: Date): string {
  const d = new Date(Math.floor(expiresAt.getTime() / 60_000) * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  // The trailing Z makes sshd read UTC; without it the time is local.
  return `expiry-time="${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}Z"`;
}

function parseExpiry(value: string): number {
  return Date.UTC(
    Number(value.slice(0, 4)),
    Number(value.slice(4, 6)) - 1,
    Number(value.slice(6, 8)),
    Number(value.slice(8, 10)),
    Number(value.slice(10, 12)),
  );
}

// One rewrite at a time per file: a promise chain within this process, and a
// lock file (created with O_EXCL) across processes sharing the file.
const locks = new Map<string, Promise<unknown>>();
function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(file) ?? Promise.resolve();
  const locked = () => withFileLock(file, fn);
  const next = previous.then(locked, locked);
  const tail = next.catch(() => {});
  locks.set(file, tail);
  void tail.then(() => {
    if (locks.get(file) === tail) locks.delete(file);
  });
  return next;
}

const LOCK_WAIT_MS = 10_000;
// A lock older than this is left over by a crashed writer (a rewrite takes milliseconds).
const LOCK_STALE_MS = 30_000;

async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lockFile = `${file}.provisioning-lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      await handle.close();
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw ioError('lock', error);
      const age = await stat(lockFile).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age > LOCK_STALE_MS) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw ioError('lock', error);
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 20)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true }).catch(() => {});
  }
}

function ioError(operation: string, error: unknown): SecretsError {
  return new SecretsError(`cannot ${operation} the authorized_keys file`, {
    code: 'ERR_SECRETS_IO',
    fault: 'server',
    retryable: true,
    details: { operation, errno: (error as { code?: string })?.code },
  });
}

/**
 * Rewrites `file` atomically: the new content goes to a temporary file in
 * the same directory with the same mode and owner, is fsynced, then renamed
 * over the original, so sshd never reads a half-written file.
 */
async function rewrite(file: string, edit: (content: string) => string | undefined): Promise<void> {
  let content = '';
  let mode = 0o600;
  let owner: { uid: number; gid: number } | undefined;
  try {
    const st = await stat(file);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
    content = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw ioError('read', error);
  }
  const next = edit(content);
  if (next === undefined || next === content) return;
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(next, 'utf8');
      await handle.chmod(mode);
      if (owner !== undefined) await chown(temp, owner.uid, owner.gid);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw ioError('write', error);
  }
}

/** Splits into lines keeping each line's exact bytes (a final line without newline stays so). */
function lines(content: string): { list: string[]; trailingNewline: boolean } {
  if (content === '') return { list: [], trailingNewline: true };
  const trailingNewline = content.endsWith('\n');
  const list = (trailingNewline ? content.slice(0, -1) : content).split('\n');
  return { list, trailingNewline };
}
const join_ = (list: string[], trailingNewline: boolean): string =>
  list.length === 0 ? '' : list.join('\n') + (trailingNewline ? '\n' : '');

/** What {@link deployAuthorizedKey} takes. */
export interface DeployAuthorizedKeyRequest {
  /** Path of the authorized_keys file (created with mode 0600 if missing). */
  readonly file: string;
  /** The OpenSSH public key line. */
  readonly publicKey: string;
  /** When sshd stops accepting the key (written as `expiry-time`, rounded down to the minute). */
  readonly expiresAt: Date;
  /** The lease id, written as the marker comment that cleanup and removal find. */
  readonly leaseId: string;
  /** Extra sshd options (e.g. `from="10.0.0.0/8"`, `no-port-forwarding`); no spaces. */
  readonly options?: readonly string[];
}

/**
 * Adds (or replaces, for the same lease) a key line
 * `expiry-time="YYYYMMDDHHMMZ"[,options] <key> provisioning-lease=<id>`.
 * sshd itself refuses the key after the expiry, even if cleanup never runs.
 * Every other line is left byte-for-byte as it was.
 *
 * @throws SecretsError `ERR_SECRETS_MALFORMED_KEY`, `ERR_SECRETS_INVALID_REQUEST`, `ERR_SECRETS_IO`.
 * @example
 * ```ts
 * await deployAuthorizedKey({ file: '/home/deploy/.ssh/authorized_keys', publicKey, expiresAt, leaseId: lease.id });
 * ```
 */
export async function deployAuthorizedKey(request: DeployAuthorizedKeyRequest): Promise<void> {
  const key = parseSshpkPublicKey(request.publicKey);
  if (typeof request.leaseId !== 'string' || !LEASE_ID.test(request.leaseId)) {
    throw clientError('ERR_SECRETS_INVALID_REQUEST', 'leaseId is printable ASCII without spaces');
  }
  if (!(request.expiresAt instanceof Date) || Number.isNaN(request.expiresAt.getTime())) {
    throw clientError('ERR_SECRETS_INVALID_REQUEST', 'expiresAt must be a Date');
  }
  for (const option of request.options ?? []) {
    // Options are joined with commas and end at the first space: refuse anything that could break out.
    if (typeof option !== 'string' || !/^[a-zA-Z-]+(="[^"\s\\]*")?$/.test(option) || /^expiry-time/i.test(option)) {
      throw clientError(
        'ERR_SECRETS_INVALID_REQUEST',
        'authorized_keys options are name or name="value" without spaces',
      );
    }
  }
  const opts = [expiryTimeOption(request.expiresAt), ...(request.options ?? [])].join(',');
  const keyText = key.toString('ssh').split(' ').slice(0, 2).join(' ');
  const line = `${opts} ${keyText} ${AUTHORIZED_KEY_MARKER}${request.leaseId}`;
  await withLock(request.file, () =>
    rewrite(request.file, (content) => {
      const { list, trailingNewline } = lines(content);
      const kept = list.filter((l) => OURS.exec(l)?.[4] !== request.leaseId);
      let out = join_(kept, trailingNewline);
      // Appending after a last line without a newline would glue the two together.
      if (out !== '' && !out.endsWith('\n')) out += '\n';
      return `${out}${line}\n`;
    }),
  );
}

/**
 * Removes the line of `leaseId` (written by {@link deployAuthorizedKey}).
 * Resolves whether a line was removed. @throws SecretsError `ERR_SECRETS_IO`.
 */
export async function removeAuthorizedKey(file: string, leaseId: string): Promise<boolean> {
  let removed = false;
  await withLock(file, () =>
    rewrite(file, (content) => {
      const { list, trailingNewline } = lines(content);
      const kept = list.filter((l) => OURS.exec(l)?.[4] !== leaseId);
      removed = kept.length !== list.length;
      return removed ? join_(kept, trailingNewline) : undefined;
    }),
  );
  return removed;
}

/**
 * Removes the lines this module wrote whose expiry has passed. Lines it did
 * not write (no marker, or edited by hand so they no longer match) are left
 * byte-for-byte untouched. Resolves the lease ids removed.
 *
 * @throws SecretsError `ERR_SECRETS_IO`.
 * @example
 * ```ts
 * const removed = await cleanupAuthorizedKeys('/home/deploy/.ssh/authorized_keys');
 * ```
 */
export async function cleanupAuthorizedKeys(file: string, clock: Clock = systemClock): Promise<string[]> {
  const removed: string[] = [];
  await withLock(file, () =>
    rewrite(file, (content) => {
      const { list, trailingNewline } = lines(content);
      const now = clock.now();
      const kept = list.filter((l) => {
        const m = OURS.exec(l);
        if (m === null || parseExpiry(m[1] as string) > now) return true;
        removed.push(m[4] as string);
        return false;
      });
      return removed.length > 0 ? join_(kept, trailingNewline) : undefined;
    }),
  );
  return removed;
}

/** Options of {@link authorizedKeysProvider}. */
export interface AuthorizedKeysProviderOptions {
  /** The authorized_keys file keys are deployed to. */
  readonly file: string;
  /** Provider name. Default `ssh-authorized-key`. */
  readonly name?: string;
  /** Extra sshd options written on every line. */
  readonly options?: readonly string[];
}

/** What the authorized-keys provider returns: the key pair it generated, or only the public key given. */
export interface AuthorizedKeySecret {
  readonly publicKey: string;
  readonly fingerprint: string;
  /** Present when the provider generated the pair. */
  readonly keyPair: SshKeyPair | undefined;
}

/**
 * A lease provider that deploys a key to an authorized_keys file for the
 * lease's TTL: sshd enforces the expiry; renewal rewrites it; revocation
 * removes the line.
 *
 * @example
 * ```ts
 * const keys = authorizedKeysProvider({ file: '/home/deploy/.ssh/authorized_keys' });
 * const { secret } = await leases.issue(keys, {}, { owner: 'alice', ttlSeconds: 3600 });
 * secret.keyPair?.privateKey; // hand to the user once
 * ```
 */
export function authorizedKeysProvider(
  options: AuthorizedKeysProviderOptions,
): SecretProvider<{ readonly publicKey?: string }, AuthorizedKeySecret> {
  if (typeof options?.file !== 'string' || options.file === '') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'authorizedKeysProvider needs a file');
  }
  const file = options.file;
  return {
    name: options.name ?? 'ssh-authorized-key',
    async create(request, ctx) {
      const keyPair = request?.publicKey === undefined ? generateSshKeyPair({ comment: ctx.leaseId }) : undefined;
      const publicKey = keyPair?.publicKey ?? (request.publicKey as string);
      const fingerprint = parseSshpkPublicKey(publicKey).fingerprint('sha256').toString();
      await deployAuthorizedKey({
        file,
        publicKey,
        expiresAt: ctx.expiresAt,
        leaseId: ctx.leaseId,
        ...(options.options ? { options: options.options } : {}),
      });
      return { secret: { publicKey, fingerprint, keyPair }, metadata: { fingerprint, publicKey, file } };
    },
    async renew(lease, ctx) {
      const publicKey = lease.metadata.publicKey;
      if (publicKey === undefined) throw clientError('ERR_SECRETS_LEASE_NOT_RENEWABLE', 'the lease has no key');
      await deployAuthorizedKey({
        file,
        publicKey,
        expiresAt: ctx.expiresAt,
        leaseId: lease.id,
        ...(options.options ? { options: options.options } : {}),
      });
    },
    async revoke(lease) {
      await removeAuthorizedKey(file, lease.id);
    },
  };
}
