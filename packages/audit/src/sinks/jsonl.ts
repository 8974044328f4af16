import { createReadStream, createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Clock } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import type { ChainedRecord, ChainHead, PurgeRecord, SignedCheckpoint, StoredEntry } from '../chain.js';
import { GENESIS_HASH } from '../chain.js';
import { AuditError } from '../errors.js';
import type { AuditEvent } from '../events.js';
import type {
  AuditQuery,
  AuditStore,
  CountBy,
  PurgePlan,
  QueryPage,
  SinkState,
  StoredRecord,
  WriteOptions,
} from '../store.js';
import { expiresAtMs, filterRecords, scanCount, scanQuery, toRanges } from '../store.js';

/** Options of {@link jsonlSink}. */
export interface JsonlSinkOptions {
  /** Directory of the log files (created with mode 0700). */
  readonly directory: string;
  /** File name prefix. Default `audit`: the active file is `audit.jsonl`. */
  readonly baseName?: string;
  /** Rotate when the active file would grow past this many bytes. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Rotate when the active file's first line is older than this. Default 24 h. */
  readonly maxAgeMs?: number;
  /** Gzip rotated files. Default `true`. */
  readonly compress?: boolean;
  /** Time for rotation. Default `systemClock`. */
  readonly clock?: Clock;
}

/** The JSONL sink, with a way to wait for background compression (tests). */
export interface JsonlAuditStore extends AuditStore {
  /** Resolves when rotated files have been compressed. */
  idle(): Promise<void>;
  /** The files of the log, oldest first (rotated, then the active one). */
  files(): Promise<string[]>;
}

const ROTATED = /^(.+)\.(\d{12})-(\d{12})\.jsonl(\.gz)?$/;

interface Header {
  readonly v: 1;
  readonly prev: ChainHead;
  readonly created: string;
}

function sinkError(id: string, operation: string, error: unknown): AuditError {
  const code = (error as { code?: string })?.code;
  return new AuditError(`${id}: ${operation} failed (${code ?? 'error'})`, {
    code: 'ERR_AUDIT_SINK_WRITE',
    fault: 'server',
    retryable: code === 'ENOSPC' || code === 'EAGAIN' || code === 'EBUSY' || code === 'EMFILE',
    cause: error,
    details: { sink: id, operation, errno: code },
  });
}

async function* lines(path: string, end?: number): AsyncGenerator<string> {
  if (end === 0) return;
  const raw = createReadStream(path, end !== undefined ? { end: end - 1 } : {});
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (e) => input.destroy(e));
  // Split on the newline byte only, never with node:readline: from Node 22 on,
  // readline also ends a line at U+2028 and U+2029, which JSON.stringify writes
  // unescaped inside strings, so an event whose text holds one would read as two
  // malformed lines. UTF-8 never uses 0x0A inside a multi-byte character.
  let rest: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      let nl = buf.indexOf(10);
      while (nl !== -1) {
        if (nl > 0) yield buf.toString('utf8', 0, nl);
        buf = buf.subarray(nl + 1);
        nl = buf.indexOf(10);
      }
      rest = buf;
    }
    if (rest.length > 0) yield rest.toString('utf8');
  } finally {
    raw.destroy();
  }
}

/**
 * An {@link AuditStore} in JSON Lines files: one event per line
 * (`{"seq","hash","event"}`), checkpoint and purge records as their own
 * lines. The active file rotates by size and age into
 * `<base>.<firstSeq>-<lastSeq>.jsonl.gz`; the chain continues across files
 * (each new file starts with a header naming the previous head, and repeats
 * the latest checkpoint and purge record). Writes are appended in one call
 * per batch; a failed write is truncated away, so a file never holds a
 * partial batch; durable batches are `fdatasync`ed (one fsync per group
 * commit). A torn last line left by a crash (never acknowledged) is removed
 * when the sink opens. Queries scan the files.
 *
 * @example
 * ```ts
 * const log = await createAuditLog({ sinks: [jsonlSink({ directory: './data/audit', maxBytes: 16 * 2 ** 20 })], durable: true });
 * ```
 */
export function jsonlSink(options: JsonlSinkOptions): JsonlAuditStore {
  if (typeof options?.directory !== 'string' || options.directory === '') {
    throw new AuditError('jsonlSink needs a directory', { code: 'ERR_AUDIT_INVALID_OPTIONS', fault: 'client' });
  }
  const dir = options.directory;
  const base = options.baseName ?? 'audit';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(base)) {
    throw new AuditError('jsonlSink baseName must be a short file-name-safe word', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const maxBytes = options.maxBytes ?? 64 * 2 ** 20;
  const maxAgeMs = options.maxAgeMs ?? 86_400_000;
  const compress = options.compress ?? true;
  const clock = options.clock ?? systemClock;
  const activePath = join(dir, `${base}.jsonl`);
  // Checkpoints also go to a side file: cutting the tail of the active file (a
  // careless truncate, or an attacker who does not know about it) then leaves a
  // checkpoint beyond the end, which verify() reports. Real protection against
  // an attacker who controls the directory needs checkpoints published elsewhere.
  const checkpointPath = join(dir, `${base}.checkpoints.jsonl`);
  const id = `jsonl:${activePath}`;

  let fh: FileHandle | undefined;
  let sideFh: FileHandle | undefined;
  let size = 0;
  let createdMs = 0;
  let firstSeq = 0; // first event seq in the active file (0: none)
  let head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  let lastCheckpoint: SignedCheckpoint | undefined;
  let lastPurge: PurgeRecord | undefined;
  let background: Promise<void> = Promise.resolve();
  let writing: Promise<unknown> = Promise.resolve();

  async function rotatedFiles(): Promise<{ path: string; from: number; to: number; gz: boolean }[]> {
    const names = await readdir(dir);
    const byRange = new Map<string, { path: string; from: number; to: number; gz: boolean }>();
    for (const name of names) {
      const m = ROTATED.exec(name);
      if (m === null || m[1] !== base) continue;
      const key = `${m[2]}-${m[3]}`;
      const gz = m[4] !== undefined;
      const known = byRange.get(key);
      // A plain file wins over a .gz of the same range: the .gz may be half-written.
      if (known !== undefined && !known.gz) continue;
      byRange.set(key, { path: join(dir, name), from: Number(m[2]), to: Number(m[3]), gz });
    }
    return [...byRange.values()].sort((x, y) => x.from - y.from);
  }

  // A rotated plain file may be compressed (and removed) between listing and opening it.
  async function* rotatedLines(f: { path: string; gz: boolean }): AsyncGenerator<string> {
    try {
      yield* lines(f.path);
    } catch (error) {
      if (f.gz || (error as { code?: string }).code !== 'ENOENT') throw error;
      yield* lines(`${f.path}.gz`);
    }
  }

  async function compressFile(path: string): Promise<void> {
    const tmp = `${path}.gz.tmp`;
    await pipeline(createReadStream(path), createGzip(), createWriteStream(tmp, { mode: 0o600 }));
    const h = await open(tmp, 'r+');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, `${path}.gz`);
    await syncDir();
    await rm(path, { force: true });
  }

  function scheduleCompress(path: string): void {
    background = background
      .then(() => compressFile(path))
      .catch(() => {
        // The plain file stays and is still read; compression is retried when the sink opens again.
      });
  }

  async function syncDir(): Promise<void> {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } catch {
      // Some file systems cannot fsync a directory; the rename is still atomic.
    } finally {
      await h.close();
    }
  }

  async function appendRaw(text: string | Buffer, durable: boolean): Promise<void> {
    const handle = fh;
    if (handle === undefined) throw new AuditError(`${id} is not open`, { code: 'ERR_AUDIT_CLOSED', fault: 'client' });
    const buf = typeof text === 'string' ? Buffer.from(text) : text;
    const before = size;
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await handle.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      if (durable) await handle.datasync();
    } catch (error) {
      // Leave no partial batch behind: what was written before stays intact.
      await handle.truncate(before).catch(() => {});
      throw sinkError(id, 'append', error);
    }
    size = before + buf.length;
  }

  // The lines of a batch, UTF-8 encoded straight into one buffer kept across batches:
  // concatenating them into one string and encoding that cost twice as much (the string
  // is copied to flatten it, then encoded). Reusing the buffer is safe because writes run
  // one at a time (`writing`) and each awaits its own write before the next batch is encoded.
  let lineBuf = Buffer.allocUnsafeSlow(0);
  function encodeBatch(batch: readonly ChainedRecord[]): Buffer {
    let estimate = 0;
    for (const r of batch) estimate += r.json.length + 128; // 128: the line's own fields
    if (lineBuf.length < estimate) lineBuf = Buffer.allocUnsafeSlow(Math.max(estimate, lineBuf.length * 2));
    let off = 0;
    for (const r of batch) {
      const line = `{"seq":${r.seq},"hash":"${r.hash}","event":${r.json}}\n`;
      // A UTF-16 code unit takes at most 3 bytes of UTF-8: grow before a line that might not fit
      // (Buffer#write would silently write only what fits).
      if (lineBuf.length - off < line.length * 3) {
        const grown = Buffer.allocUnsafeSlow(Math.max(lineBuf.length * 2, off + line.length * 3));
        lineBuf.copy(grown, 0, 0, off);
        lineBuf = grown;
      }
      off += lineBuf.write(line, off);
    }
    return lineBuf.subarray(0, off);
  }

  async function startActive(prev: ChainHead): Promise<void> {
    fh = await open(activePath, 'a', 0o600);
    const now = clock.now();
    const header: Header = { v: 1, prev, created: new Date(now).toISOString() };
    let text = `${JSON.stringify({ header })}\n`;
    if (lastCheckpoint !== undefined) text += `${JSON.stringify({ checkpoint: lastCheckpoint })}\n`;
    if (lastPurge !== undefined) text += `${JSON.stringify({ purge: lastPurge })}\n`;
    size = 0;
    await appendRaw(text, true);
    await syncDir();
    createdMs = now;
    firstSeq = 0;
  }

  async function rotate(): Promise<void> {
    if (fh === undefined || firstSeq === 0) return;
    await fh.sync();
    await fh.close();
    fh = undefined;
    const rotated = join(
      dir,
      `${base}.${String(firstSeq).padStart(12, '0')}-${String(head.seq).padStart(12, '0')}.jsonl`,
    );
    await rename(activePath, rotated);
    await syncDir();
    await startActive(head);
    if (compress) scheduleCompress(rotated);
  }

  function parseLine(
    line: string,
    at: string,
  ): { entry?: StoredEntry; checkpoint?: SignedCheckpoint; purge?: PurgeRecord; header?: Header } {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line);
    } catch {
      return { entry: { seq: Number.NaN, hash: '', event: undefined, at } };
    }
    if (typeof value !== 'object' || value === null)
      return { entry: { seq: Number.NaN, hash: '', event: undefined, at } };
    if (value.checkpoint !== undefined) return { checkpoint: value.checkpoint as SignedCheckpoint };
    if (value.purge !== undefined) return { purge: value.purge as PurgeRecord };
    if (value.header !== undefined) return { header: value.header as Header };
    return { entry: { seq: value.seq as number, hash: value.hash as string, event: value.event, at } };
  }

  async function* readAll(): AsyncGenerator<ReturnType<typeof parseLine>> {
    try {
      yield* readAllUnchecked();
    } catch (error) {
      if (error instanceof AuditError) throw error;
      throw new AuditError(`${id}: reading the log files failed`, {
        code: 'ERR_AUDIT_STORE_READ',
        fault: 'server',
        cause: error,
        details: { sink: id, errno: (error as { code?: string }).code },
      });
    }
  }

  async function* readAllUnchecked(): AsyncGenerator<ReturnType<typeof parseLine>> {
    for (const f of await rotatedFiles()) {
      let n = 0;
      for await (const line of rotatedLines(f)) yield parseLine(line, `${f.path}:${++n}`);
    }
    let n = 0;
    // Only what was completely written: a batch being appended right now is not read half.
    for await (const line of lines(activePath, size)) yield parseLine(line, `${activePath}:${++n}`);
  }

  async function* records(order: 'asc' | 'desc' = 'asc'): AsyncGenerator<StoredRecord> {
    if (order === 'desc') {
      // A scan sink: descending order needs the whole range in memory.
      const all: StoredRecord[] = [];
      for await (const r of records('asc')) all.push(r);
      yield* all.reverse();
      return;
    }
    for await (const item of readAll()) {
      const e = item.entry;
      if (e === undefined) continue;
      if (!Number.isSafeInteger(e.seq)) {
        throw new AuditError(`${id}: a malformed line at ${e.at}`, {
          code: 'ERR_AUDIT_CORRUPT',
          fault: 'server',
          details: { at: e.at },
        });
      }
      yield { seq: e.seq, hash: e.hash, event: e.event as AuditEvent };
    }
  }

  async function readSideCheckpoints(): Promise<SignedCheckpoint[]> {
    let side = '';
    try {
      side = await readFile(checkpointPath, 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
    }
    const out: SignedCheckpoint[] = [];
    // Only complete lines: a torn last line (crash) is ignored.
    for (const line of side.split('\n').slice(0, -1)) {
      const item = parseLine(line, checkpointPath);
      if (item.checkpoint) out.push(item.checkpoint);
    }
    return out;
  }

  function writePurgeRecord(record: PurgeRecord): Promise<void> {
    const run = async (): Promise<void> => {
      await appendRaw(`${JSON.stringify({ purge: record })}\n`, true);
      lastPurge = record;
    };
    const next = writing.then(run, run);
    writing = next.catch(() => {});
    return next;
  }

  const sink: JsonlAuditStore = {
    id,
    durability: 'fsync',
    async open(): Promise<SinkState> {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        // Finish what a crash interrupted: half-written .gz files and uncompressed rotated files.
        for (const name of await readdir(dir)) {
          if (name.startsWith(`${base}.`) && name.endsWith('.gz.tmp')) await rm(join(dir, name), { force: true });
        }
        const rotated = await rotatedFiles();
        for (const f of rotated) {
          if (!f.gz) {
            await rm(`${f.path}.gz`, { force: true });
            if (compress) scheduleCompress(f.path);
          }
        }
        let exists = true;
        let fileSize = 0;
        try {
          const st = await stat(activePath);
          fileSize = st.isFile() ? st.size : 0;
        } catch {
          exists = false;
        }
        if (exists) {
          fh = await open(activePath, 'a+', 0o600);
          // Read what the file holds and drop a torn last line (a batch cut by a crash, never acknowledged).
          const buf = Buffer.alloc(fileSize);
          let off = 0;
          while (off < fileSize) {
            const { bytesRead } = await fh.read(buf, off, fileSize - off, off);
            if (bytesRead === 0) break;
            off += bytesRead;
          }
          const lastNl = buf.lastIndexOf(0x0a, off - 1);
          const complete = lastNl + 1;
          if (complete < off) await fh.truncate(complete);
          size = complete;
          const text = buf.subarray(0, complete).toString('utf8');
          for (const line of text.split('\n')) {
            if (line === '') continue;
            const item = parseLine(line, activePath);
            if (item.header) {
              head = item.header.prev;
              createdMs = Date.parse(item.header.created);
            } else if (item.checkpoint) lastCheckpoint = item.checkpoint;
            else if (item.purge) lastPurge = item.purge;
            else if (item.entry && Number.isSafeInteger(item.entry.seq)) {
              if (firstSeq === 0) firstSeq = item.entry.seq;
              head = { seq: item.entry.seq, hash: item.entry.hash };
            }
          }
          if (size === 0) {
            await fh.close();
            fh = undefined;
            exists = false;
          }
        }
        if (!exists) {
          // No active file (first start, or a crash right after a rotation): continue from the newest rotated file.
          const newest = rotated.at(-1);
          if (newest !== undefined) {
            for await (const line of rotatedLines(newest)) {
              const item = parseLine(line, newest.path);
              if (item.checkpoint) lastCheckpoint = item.checkpoint;
              else if (item.purge) lastPurge = item.purge;
              else if (item.entry && Number.isSafeInteger(item.entry.seq))
                head = { seq: item.entry.seq, hash: item.entry.hash };
            }
          }
          await startActive(head);
        }
      } catch (error) {
        await fh?.close().catch(() => {});
        fh = undefined;
        if (error instanceof AuditError) throw error;
        throw sinkError(id, 'open', error);
      }
      // The side file may know a later checkpoint than the active file (its tail was cut).
      let latest = lastCheckpoint;
      for (const cp of await readSideCheckpoints()) if (cp.seq > (latest?.seq ?? 0)) latest = cp;
      return { ...(head.seq > 0 ? { head } : {}), ...(latest ? { checkpoint: latest } : {}) };
    },
    write(batch: readonly ChainedRecord[], writeOptions: WriteOptions): Promise<void> {
      const run = async (): Promise<void> => {
        if (batch.length === 0) return;
        const bytes = encodeBatch(batch);
        if (firstSeq !== 0 && (size + bytes.length > maxBytes || clock.now() - createdMs >= maxAgeMs)) {
          try {
            await rotate();
          } catch (error) {
            throw error instanceof AuditError ? error : sinkError(id, 'rotate', error);
          }
        }
        await appendRaw(bytes, writeOptions.durable);
        const first = batch[0] as ChainedRecord;
        const last = batch[batch.length - 1] as ChainedRecord;
        if (firstSeq === 0) firstSeq = first.seq;
        head = { seq: last.seq, hash: last.hash };
      };
      // One write at a time: appends, rotation and truncation on failure must not interleave.
      const next = writing.then(run, run);
      writing = next.catch(() => {});
      return next;
    },
    writeCheckpoint(cp: SignedCheckpoint, writeOptions: WriteOptions): Promise<void> {
      const run = async (): Promise<void> => {
        const line = `${JSON.stringify({ checkpoint: cp })}\n`;
        // Both files at once, the side file through a handle kept open: under load a
        // checkpoint follows every group commit, and each await is a turn of the event loop.
        sideFh ??= await open(checkpointPath, 'a', 0o600).catch((error: unknown) => {
          throw sinkError(id, 'checkpoint', error);
        });
        const side = sideFh;
        await Promise.all([
          appendRaw(line, writeOptions.durable),
          (async () => {
            try {
              await side.write(line);
              if (writeOptions.durable) await side.datasync();
            } catch (error) {
              throw sinkError(id, 'checkpoint', error);
            }
          })(),
        ]);
        lastCheckpoint = cp;
      };
      const next = writing.then(run, run);
      writing = next.catch(() => {});
      return next;
    },
    async close() {
      await writing;
      await background;
      if (fh !== undefined) {
        await fh.sync().catch(() => {});
        await fh.close();
        fh = undefined;
      }
      if (sideFh !== undefined) {
        await sideFh.sync().catch(() => {});
        await sideFh.close();
        sideFh = undefined;
      }
    },
    async *read(): AsyncGenerator<StoredEntry> {
      for await (const item of readAll()) if (item.entry) yield item.entry;
    },
    async checkpoints() {
      const out = new Map<number, SignedCheckpoint>();
      for await (const item of readAll()) if (item.checkpoint) out.set(item.checkpoint.seq, item.checkpoint);
      for (const cp of await readSideCheckpoints()) out.set(cp.seq, cp);
      return [...out.values()];
    },
    async purges() {
      const out = new Map<string, PurgeRecord>();
      for await (const item of readAll()) if (item.purge) out.set(item.purge.id, item.purge);
      return [...out.values()];
    },
    query: (filter?: AuditQuery, page?: QueryPage) => scanQuery(records, filter, page),
    count: (filter: AuditQuery | undefined, by: CountBy) => scanCount(records('asc'), filter, by),
    scan: (filter?: AuditQuery, order?: 'asc' | 'desc') => filterRecords(records(order), filter),
    async purge(plan: PurgePlan) {
      await writing;
      await background;
      // Whole rotated files only: a file goes when every event in it has expired.
      // A file holding one event still retained (break-glass: 7 years) is kept whole: over-retention is the safe side.
      const doomed: { path: string; items: { seq: number; hash: string }[] }[] = [];
      for (const f of await rotatedFiles()) {
        const items: { seq: number; hash: string }[] = [];
        let expired = true;
        for await (const line of rotatedLines(f)) {
          const item = parseLine(line, f.path);
          if (!item.entry || !Number.isSafeInteger(item.entry.seq)) continue;
          if (expiresAtMs(item.entry.event as AuditEvent, plan.retentionDays) > plan.nowMs) {
            expired = false;
            break;
          }
          items.push({ seq: item.entry.seq, hash: item.entry.hash });
        }
        if (expired && items.length > 0) doomed.push({ path: f.path, items });
      }
      if (doomed.length === 0) return { purged: 0 };
      const fresh = toRanges(doomed.flatMap((d) => d.items));
      const count = fresh.reduce((n, r) => n + r.toSeq - r.fromSeq + 1, 0);
      // Cumulative: the latest purge record alone explains every gap, even after older files holding earlier purge records are gone.
      const ranges = [...(lastPurge?.ranges ?? []), ...fresh].sort((x, y) => x.fromSeq - y.fromSeq);
      const record = plan.sign({ id: plan.newId(), time: new Date(plan.nowMs).toISOString(), ranges, count });
      // The record is on disk before anything is deleted.
      await writePurgeRecord(record);
      for (const d of doomed) await rm(d.path, { force: true });
      await syncDir();
      return { purged: count, record };
    },
    idle: async () => {
      await writing;
      await background;
    },
    async files() {
      return [...(await rotatedFiles()).map((f) => f.path), activePath];
    },
  };
  return sink;
}
