import type { KeyObject } from 'node:crypto';
import type { Clock, RandomSource } from '@provisioning/core';
import { pooledRandom, systemClock, uuidv7 } from '@provisioning/core';
import { canonicalJson } from './canonical.js';
import type {
  ChainedRecord,
  ChainHead,
  CheckpointSigner,
  PurgeRecord,
  SignedCheckpoint,
  VerifyResult,
} from './chain.js';
import { chainHash, GENESIS_HASH, signCheckpoint, signPurge, verifyChain } from './chain.js';
import { AuditError } from './errors.js';
import type { AuditEvent, AuditEventInput, AuditSink, EventLimits } from './events.js';
import { AUDIT_ACTIONS, DEFAULT_MAX_EVENT_BYTES, prepareEvent } from './events.js';
import type { ExportFormat, ExportOptions } from './exports.js';
import { exportRecords, toReadableStream } from './exports.js';
import { DEFAULT_RETENTION_DAYS } from './retention.js';
import type {
  AuditQuery,
  AuditStore,
  CountBy,
  CountRow,
  EventSink,
  PurgeOutcome,
  QueryPage,
  QueryResult,
} from './store.js';
import { isAuditStore } from './store.js';

/** What happens when the queue is full. */
export type OverflowPolicy = 'block' | 'reject' | 'drop';

/** Queue options of {@link createAuditLog}. */
export interface QueueOptions {
  /** Most events waiting to be written. Default 10,000. */
  readonly maxEvents?: number;
  /**
   * Most events per group commit. Default 5,000: a batch takes whatever is queued up to
   * this, so batches grow under load and every write, fsync and transaction is shared by
   * more events; half the default queue, so callers can keep queueing while a batch is written.
   */
  readonly maxBatch?: number;
  /**
   * When the queue is full: `block` (default) makes `record()` wait for room
   * (backpressure); `reject` rejects with `ERR_AUDIT_QUEUE_FULL`; `drop`
   * sheds routine actions (`AUDIT_ACTIONS[a].droppable`), counts them in
   * `stats()`, signals `ERR_AUDIT_DROPPED` and writes an `audit.events.dropped`
   * event with the counts, while security events still wait (never dropped).
   */
  readonly overflow?: OverflowPolicy;
}

/** Checkpoint options of {@link createAuditLog}. */
export interface CheckpointOptions {
  /** Sign a checkpoint after this many events. Default 1,000. */
  readonly everyEvents?: number;
  /** …or when this much time has passed since the last one and events were added. Default 60,000 ms. */
  readonly intervalMs?: number;
}

/** Retry of failed sink writes. */
export interface RetryOptions {
  /** Attempts per batch and sink, including the first. Default 3. */
  readonly attempts?: number;
  /** Delay before the first retry, doubled each time. Default 50 ms. */
  readonly baseDelayMs?: number;
}

/** A transformation applied to each event before it is chained (e.g. pseudonymisation). */
export type EventTransform = (event: AuditEvent) => AuditEvent | Promise<AuditEvent>;

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions {
  /** Where events go; at least one. The first readable one answers queries, exports and verification. */
  readonly sinks: readonly EventSink[];
  /** Default `systemClock`. */
  readonly clock?: Clock;
  /** Randomness of event ids. Default: a pooled CSPRNG. */
  readonly random?: RandomSource;
  /**
   * Every `record()` resolves only once the event is on stable storage in
   * every durable sink (fsync for files, a committed transaction for SQL).
   * Default `false`: `record()` resolves once the event is queued.
   */
  readonly durable?: boolean;
  readonly queue?: QueueOptions;
  /** Signs checkpoints and purge records. Without it there are no checkpoints and no purge. */
  readonly signer?: CheckpointSigner;
  readonly checkpoint?: CheckpointOptions;
  readonly retry?: RetryOptions;
  readonly limits?: EventLimits;
  /** Days kept per retention class. Default {@link DEFAULT_RETENTION_DAYS} (standard 365, break_glass 2,555). */
  readonly retentionDays?: Readonly<Record<string, number>>;
  /** Applied at write, before chaining: the chain covers the transformed event (see `createPiiPolicy`). */
  readonly transform?: EventTransform;
  /**
   * The loud signal: called with every failure that a caller of `record()`
   * may not see (a sink failing, events dropped or lost, invalid input).
   * Default: `process.emitWarning`.
   */
  readonly onError?: (error: AuditError) => void;
  /** Called with every checkpoint signed: publish it outside the log (as Certificate Transparency does) to detect tail truncation. */
  readonly onCheckpoint?: (checkpoint: SignedCheckpoint) => void;
}

/** Options of one `record()`. */
export interface RecordOptions {
  /** Resolve only once this event is on stable storage. Default: the log's `durable`. */
  readonly durable?: boolean;
}

/** What `record()` resolves to. */
export interface AuditReceipt {
  readonly id: string;
  /** The event was shed by the `drop` overflow policy (counted, signalled). */
  readonly dropped: boolean;
  /** Set in durable mode: the event's place in the chain. */
  readonly seq?: number;
  readonly hash?: string;
}

/** Counters of a log. */
export interface AuditLogStats {
  readonly queued: number;
  readonly written: number;
  readonly dropped: number;
  readonly droppedByAction: Readonly<Record<string, number>>;
  /** Events no sink could store (signalled through `onError`). */
  readonly lost: number;
  readonly batches: number;
  readonly checkpoints: number;
  readonly head: ChainHead;
}

/** Options of `verify()`. */
export interface VerifyOptions {
  /** Default: the signer's public key. */
  readonly publicKey?: KeyObject | string;
  /** A checkpoint kept outside the log that the chain must reach. */
  readonly trustedCheckpoint?: SignedCheckpoint;
  /** Which store to verify. Default: the log's reader. */
  readonly store?: AuditStore;
}

/** Options of `export()`. */
export interface LogExportOptions extends ExportOptions {
  readonly format: ExportFormat;
  readonly filter?: AuditQuery;
  readonly order?: 'asc' | 'desc';
}

/** The audit log. It is an {@link AuditSink}, so components can take it through that interface. */
export interface AuditLog extends AuditSink {
  /**
   * Validates the event, queues it and returns without waiting for I/O
   * (unless durable). Invalid input throws synchronously.
   *
   * @throws AuditError `ERR_AUDIT_INVALID_EVENT`, `ERR_AUDIT_EVENT_TOO_LARGE` (synchronously).
   * Rejects with `ERR_AUDIT_CLOSED`, `ERR_AUDIT_QUEUE_FULL`, or `ERR_AUDIT_SINK_WRITE` (durable mode).
   */
  record(input: AuditEventInput, options?: RecordOptions): Promise<AuditReceipt>;
  /** Resolves once every event queued so far has been handed to the sinks. */
  flush(): Promise<void>;
  /** Flushes, signs a last checkpoint, closes the sinks. Later `record()` calls reject. */
  close(): Promise<void>;
  /** Signs a checkpoint of the current head now (after a flush). */
  checkpoint(): Promise<SignedCheckpoint | undefined>;
  query(filter?: AuditQuery, page?: QueryPage): Promise<QueryResult>;
  count(filter: AuditQuery | undefined, by: CountBy): Promise<readonly CountRow[]>;
  /** A streamed export of every matching record, as text chunks. */
  export(options: LogExportOptions): AsyncIterable<string>;
  /** The same as a Web `ReadableStream` of UTF-8 bytes (for a `Response` body). */
  exportStream(options: LogExportOptions): ReadableStream<Uint8Array>;
  verify(options?: VerifyOptions): Promise<VerifyResult>;
  /** Applies retention to every readable sink; each leaves a signed purge record. @throws `ERR_AUDIT_NO_SIGNER`. */
  purge(): Promise<readonly PurgeOutcome[]>;
  stats(): AuditLogStats;
}

interface Pending {
  event: AuditEvent;
  json: string;
  durable: boolean;
  resolve?: (receipt: AuditReceipt) => void;
  reject?: (error: unknown) => void;
}

// Most turns of the event loop a writer waits for a batch to grow (see gather()).
const GATHER_TURNS = 16;

// Coalescing across turns (see linger()): a non-durable batch smaller than LINGER_EVENTS
// waits up to LINGER_MS for more events before it is written. In a server the log sees a
// few events per turn of the event loop (two per request), and every batch pays a write
// handed to libuv's thread pool, its promises and the bookkeeping around it (~15–25 µs of
// CPU here): paid by two events, it made an event cost 2–3x what it costs in batches of hundreds.
const LINGER_EVENTS = 128;
const LINGER_MS = 2;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new AuditError(`${name} must be a positive integer`, {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
      details: { option: name },
    });
  }
  return v;
}

/**
 * Opens an audit log over one or more sinks and resumes the hash chain where
 * the sinks left it.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS` for bad options; a sink's error if it cannot open.
 * @example
 * ```ts
 * import { createAuditLog, ed25519Signer, jsonlSink } from '@provisioning/audit';
 * const log = await createAuditLog({ sinks: [jsonlSink({ directory: './data/audit' })], signer: ed25519Signer({ privateKey }) });
 * void log.record({ action: 'auth.login.failed', outcome: 'failure', actor: { id: 'ada', type: 'user', ip } });
 * await log.close();
 * ```
 */
export async function createAuditLog(options: AuditLogOptions): Promise<AuditLog> {
  if (!Array.isArray(options?.sinks) || options.sinks.length === 0) {
    throw new AuditError('createAuditLog needs at least one sink', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const sinks = [...options.sinks];
  const clock = options.clock ?? systemClock;
  const random = options.random ?? pooledRandom();
  const maxEvents = positiveInt(options.queue?.maxEvents, 10_000, 'queue.maxEvents');
  const maxBatch = positiveInt(options.queue?.maxBatch, 5_000, 'queue.maxBatch');
  const overflow = options.queue?.overflow ?? 'block';
  if (!['block', 'reject', 'drop'].includes(overflow)) {
    throw new AuditError('queue.overflow must be block, reject or drop', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const everyEvents = positiveInt(options.checkpoint?.everyEvents, 1_000, 'checkpoint.everyEvents');
  const intervalMs = positiveInt(options.checkpoint?.intervalMs, 60_000, 'checkpoint.intervalMs');
  const attempts = positiveInt(options.retry?.attempts, 3, 'retry.attempts');
  const baseDelayMs = options.retry?.baseDelayMs ?? 50;
  const maxEventBytes = positiveInt(options.limits?.maxEventBytes, DEFAULT_MAX_EVENT_BYTES, 'limits.maxEventBytes');
  const retentionDays = { ...DEFAULT_RETENTION_DAYS, ...options.retentionDays };
  for (const [name, days] of Object.entries(retentionDays)) positiveInt(days, 1, `retentionDays.${name}`);
  const defaultDurable = options.durable ?? false;
  const signer = options.signer;
  const onError =
    options.onError ??
    ((error: AuditError) => {
      process.emitWarning(error.message, { code: error.code });
    });
  const signal = (error: AuditError): void => {
    try {
      onError(error);
    } catch {
      // A throwing listener must not break the writer.
    }
  };
  const reader = sinks.find(isAuditStore);
  const normalizeContext = { clock, random, limits: { maxEventBytes }, retentionClasses: retentionDays };

  // Resume the chain from the furthest sink.
  let head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  let lastCheckpoint: SignedCheckpoint | undefined;
  const opened: EventSink[] = [];
  const pendingSignals: AuditError[] = [];
  try {
    for (const sink of sinks) {
      const state = await sink.open();
      opened.push(sink);
      if (state.head !== undefined && state.head.seq > head.seq) head = state.head;
      if (state.checkpoint !== undefined && state.checkpoint.seq > (state.head?.seq ?? 0)) {
        // A signed checkpoint beyond the last stored event: the tail was lost or cut. Say so before writing on.
        pendingSignals.push(
          new AuditError(`audit sink ${sink.id} ends before its latest checkpoint: events may have been removed`, {
            code: 'ERR_AUDIT_CORRUPT',
            fault: 'server',
            details: { sink: sink.id, lastSeq: state.head?.seq ?? 0, checkpointSeq: state.checkpoint.seq },
          }),
        );
      }
      if (state.checkpoint !== undefined && state.checkpoint.seq > (lastCheckpoint?.seq ?? 0))
        lastCheckpoint = state.checkpoint;
    }
  } catch (error) {
    await Promise.allSettled(opened.map((s) => s.close()));
    throw error;
  }
  for (const error of pendingSignals) signal(error);
  let lastCheckpointSeq = Math.min(lastCheckpoint?.seq ?? 0, head.seq);
  let lastCheckpointMs = clock.now();

  let queue: Pending[] = [];
  // Callers waiting for room (FIFO). A head index instead of shift(): shift() is O(n) and the list can be long.
  let waiters: { input: Pending; admit: () => void }[] = [];
  let waitHead = 0;
  const waiting = (): number => waiters.length - waitHead;
  let running = false;
  let closed = false;
  const idle: (() => void)[] = [];
  let written = 0;
  let dropped = 0;
  let droppedUnreported: Record<string, number> = {};
  const droppedByAction: Record<string, number> = {};
  let lost = 0;
  let batches = 0;
  let checkpoints = 0;

  function schedule(): void {
    if (running) return;
    running = true;
    setImmediate(() => {
      drain().catch((error: unknown) => {
        // drain handles sink errors itself; anything here is a bug: signal it loudly.
        signal(
          new AuditError('the audit writer failed', { code: 'ERR_AUDIT_SINK_WRITE', fault: 'server', cause: error }),
        );
      });
    });
  }

  async function writeWithRetry(
    sink: EventSink,
    records: readonly ChainedRecord[],
    durable: boolean,
  ): Promise<unknown> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await sink.write(records, { durable });
        return undefined;
      } catch (error) {
        lastError = error;
        if (attempt < attempts) await sleep(baseDelayMs * 2 ** (attempt - 1));
      }
    }
    return lastError ?? new Error('write failed');
  }

  async function commit(batch: Pending[]): Promise<void> {
    if (options.transform !== undefined) {
      const transform = options.transform;
      try {
        const out = await Promise.all(batch.map((p) => transform(p.event)));
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i] as Pending;
          p.event = out[i] as AuditEvent;
          p.json = canonicalJson(p.event);
        }
      } catch (error) {
        // Without the transform (e.g. pseudonymisation whose key store is down) the
        // events would be stored with the personal data the policy removes: store none.
        lost += batch.length;
        const failure = new AuditError(`${batch.length} audit events could not be transformed and were not stored`, {
          code: 'ERR_AUDIT_TRANSFORM',
          fault: 'server',
          retryable: true,
          cause: error,
          details: { count: batch.length },
        });
        signal(failure);
        for (const p of batch) p.reject?.(failure);
        return;
      }
    }
    const before = head;
    const records: ChainedRecord[] = new Array(batch.length);
    let prev = head.hash;
    let seq = head.seq;
    let durable = false;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      seq++;
      prev = chainHash(prev, seq, p.json);
      records[i] = { seq, hash: prev, event: p.event, json: p.json };
      if (p.durable) durable = true;
    }
    head = { seq, hash: prev };
    const results = await Promise.all(sinks.map((sink) => writeWithRetry(sink, records, durable)));
    batches++;
    const failures: AuditError[] = [];
    let durableStored = 0;
    let anyStored = false;
    results.forEach((failure, i) => {
      const sink = sinks[i] as EventSink;
      if (failure === undefined) {
        anyStored = true;
        if (sink.durability !== 'none') durableStored++;
        return;
      }
      failures.push(
        new AuditError(`audit sink ${sink.id} failed to store events ${before.seq + 1}..${seq}`, {
          code: 'ERR_AUDIT_SINK_WRITE',
          fault: 'server',
          retryable: true,
          cause: failure,
          details: { sink: sink.id, fromSeq: before.seq + 1, toSeq: seq, count: records.length },
        }),
      );
    });
    for (const f of failures) signal(f);
    const durableSinks = sinks.filter((s) => s.durability !== 'none').length;
    if (!anyStored) {
      // Nothing holds these events: roll the chain back so the next batch
      // does not leave a gap, and say loudly how many were lost.
      head = before;
      lost += records.length;
      const error = new AuditError(`${records.length} audit events could not be stored by any sink`, {
        code: 'ERR_AUDIT_SINK_WRITE',
        fault: 'server',
        retryable: true,
        cause: failures[0],
        details: { count: records.length },
      });
      signal(error);
      for (const p of batch) p.reject?.(error);
      return;
    }
    written += records.length;
    const allDurable = durableStored === durableSinks;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      if (p.resolve === undefined) continue;
      if (!allDurable) {
        p.reject?.(failures[0]);
        continue;
      }
      const r = records[i] as ChainedRecord;
      p.resolve({ id: r.event.id, dropped: false, seq: r.seq, hash: r.hash });
    }
  }

  async function maybeCheckpoint(force: boolean): Promise<SignedCheckpoint | undefined> {
    if (signer === undefined || head.seq === 0 || head.seq === lastCheckpointSeq) return undefined;
    const now = clock.now();
    if (!force && head.seq - lastCheckpointSeq < everyEvents && now - lastCheckpointMs < intervalMs) return undefined;
    const cp = signCheckpoint(signer, head, now);
    lastCheckpointSeq = cp.seq;
    lastCheckpointMs = now;
    checkpoints++;
    await Promise.all(
      sinks.map(async (sink) => {
        try {
          await sink.writeCheckpoint(cp, { durable: defaultDurable });
        } catch (error) {
          signal(
            new AuditError(`audit sink ${sink.id} failed to store a checkpoint`, {
              code: 'ERR_AUDIT_SINK_WRITE',
              fault: 'server',
              cause: error,
              details: { sink: sink.id, seq: cp.seq },
            }),
          );
        }
      }),
    );
    options.onCheckpoint?.(cp);
    return cp;
  }

  function admitWaiters(): void {
    while (waitHead < waiters.length && queue.length < maxEvents) {
      const w = waiters[waitHead] as { input: Pending; admit: () => void };
      waiters[waitHead++] = undefined as never;
      queue.push(w.input);
      w.admit();
    }
    if (waitHead === waiters.length) {
      waiters = [];
      waitHead = 0;
    } else if (waitHead > 1024 && waitHead * 2 > waiters.length) {
      waiters = waiters.slice(waitHead);
      waitHead = 0;
    }
  }

  function droppedEvent(): Pending | undefined {
    const counts = droppedUnreported;
    const total = Object.values(counts).reduce((x, y) => x + y, 0);
    if (total === 0) return undefined;
    droppedUnreported = {};
    // The loss itself goes into the tamper-evident record.
    const { event, json } = prepareEvent(
      {
        action: 'audit.events.dropped',
        outcome: 'failure',
        actor: { id: 'audit-log', type: 'system' },
        reason: 'queue full under the drop overflow policy',
        metadata: { count: total, byAction: counts },
      },
      normalizeContext,
    );
    return { event, json, durable: false };
  }

  // Group commit for sinks that ask for it (SQL: a commit writes every page it touched once):
  // while callers keep adding events (the queue grew during the last turn of the event loop),
  // give them more turns before writing, up to maxBatch. Bounded by turns, not time: when
  // nothing more arrives the batch goes at once, and a durable caller never waits for it.
  const gathers = sinks.some((s) => s.gatherBatches === true);

  // Safe because only events whose callers did not ask for stable storage wait, and only
  // briefly: their receipts resolved when they were queued, and a crash of the process loses
  // what is queued with or without the wait (LINGER_MS more of it at most). It never holds up
  // a durable record() (which ends the wait at once), flush() and so close(), verify(),
  // checkpoint() and purge() (none waits while a flush is asked for), nor callers waiting for
  // room (the wait ends before the queue can fill).
  const lingerTarget = Math.min(LINGER_EVENTS, maxBatch, maxEvents);
  let wakeLinger: (() => void) | undefined;
  function endLinger(): void {
    const wake = wakeLinger;
    wakeLinger = undefined;
    wake?.();
  }
  async function linger(): Promise<void> {
    if (queue.length >= lingerTarget || idle.length > 0 || waiting() > 0) return;
    for (const p of queue) if (p.durable) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wakeLinger = undefined;
        resolve();
      }, LINGER_MS);
      wakeLinger = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  async function gather(): Promise<void> {
    if (!gathers) return;
    let checked = 0;
    for (let turn = 0; turn < GATHER_TURNS && queue.length < maxBatch; turn++) {
      for (; checked < queue.length; checked++) if ((queue[checked] as Pending).durable) return;
      await new Promise((resolve) => setImmediate(resolve));
      admitWaiters();
      if (queue.length === checked) return;
    }
  }

  async function drain(): Promise<void> {
    try {
      for (;;) {
        admitWaiters();
        const note = droppedEvent();
        if (note !== undefined) queue.unshift(note);
        if (queue.length === 0) break;
        await linger();
        await gather();
        let batch: Pending[];
        if (queue.length <= maxBatch) {
          batch = queue;
          queue = [];
        } else {
          batch = queue.slice(0, maxBatch);
          queue = queue.slice(maxBatch);
        }
        admitWaiters();
        await commit(batch);
        await maybeCheckpoint(false);
      }
    } finally {
      running = false;
      if (queue.length > 0 || waiting() > 0) schedule();
      else for (const done of idle.splice(0)) done();
    }
  }

  function record(input: AuditEventInput, recordOptions?: RecordOptions): Promise<AuditReceipt> {
    if (closed) {
      return Promise.reject(new AuditError('the audit log is closed', { code: 'ERR_AUDIT_CLOSED', fault: 'client' }));
    }
    let event: AuditEvent;
    let json: string;
    try {
      // Validated and serialized once: the chain hashes and the sinks store exactly `json`.
      ({ event, json } = prepareEvent(input, normalizeContext));
    } catch (error) {
      if (error instanceof AuditError) signal(error);
      throw error;
    }
    const durable = recordOptions?.durable ?? defaultDurable;
    const pending: Pending = { event, json, durable };
    if (queue.length < maxEvents && waiting() === 0) {
      queue.push(pending);
      if (wakeLinger !== undefined && (durable || queue.length >= lingerTarget)) endLinger();
      schedule();
      if (!durable) return Promise.resolve({ id: event.id, dropped: false });
      return new Promise((resolve, reject) => {
        pending.resolve = resolve;
        pending.reject = reject;
      });
    }
    // The queue is full.
    if (overflow === 'drop' && AUDIT_ACTIONS[event.action].droppable) {
      dropped++;
      droppedByAction[event.action] = (droppedByAction[event.action] ?? 0) + 1;
      const first = Object.keys(droppedUnreported).length === 0;
      droppedUnreported[event.action] = (droppedUnreported[event.action] ?? 0) + 1;
      if (first) {
        signal(
          new AuditError('the audit queue is full: routine events are being dropped', {
            code: 'ERR_AUDIT_DROPPED',
            fault: 'server',
            details: { action: event.action },
          }),
        );
      }
      return Promise.resolve({ id: event.id, dropped: true });
    }
    if (overflow === 'reject') {
      const error = new AuditError('the audit queue is full', {
        code: 'ERR_AUDIT_QUEUE_FULL',
        fault: 'server',
        retryable: true,
        details: { maxEvents },
      });
      signal(error);
      return Promise.reject(error);
    }
    // block (and security events under drop): wait for room.
    return new Promise((resolve, reject) => {
      if (durable) {
        pending.resolve = resolve;
        pending.reject = reject;
      }
      waiters.push({ input: pending, admit: () => (durable ? undefined : resolve({ id: event.id, dropped: false })) });
      endLinger();
      schedule();
    });
  }

  function flush(): Promise<void> {
    if (!running && queue.length === 0 && waiting() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      idle.push(resolve);
      endLinger();
      schedule();
    });
  }

  function requireReader(store?: AuditStore): AuditStore {
    const r = store ?? reader;
    if (r === undefined) {
      throw new AuditError('no sink of this audit log can be read', {
        code: 'ERR_AUDIT_NOT_QUERYABLE',
        fault: 'client',
      });
    }
    return r;
  }

  let closing: Promise<void> | undefined;
  const log: AuditLog = {
    record,
    flush,
    close() {
      closing ??= (async () => {
        closed = true;
        await flush();
        await maybeCheckpoint(true);
        await Promise.allSettled(sinks.map((s) => s.close()));
      })();
      return closing;
    },
    async checkpoint() {
      await flush();
      return maybeCheckpoint(true);
    },
    query: (filter, page) => requireReader().query(filter, page),
    count: (filter, by) => requireReader().count(filter, by),
    export(exportOptions) {
      const store = requireReader();
      return exportRecords(
        store.scan(exportOptions.filter, exportOptions.order ?? 'asc'),
        exportOptions.format,
        exportOptions,
      );
    },
    exportStream(exportOptions) {
      return toReadableStream(log.export(exportOptions));
    },
    async verify(verifyOptions = {}) {
      const store = requireReader(verifyOptions.store);
      if (!closed) await flush();
      const publicKey = verifyOptions.publicKey ?? signer?.publicKey;
      return verifyChain({
        entries: store.read(),
        checkpoints: await store.checkpoints(),
        purges: await store.purges(),
        ...(publicKey !== undefined ? { publicKey } : {}),
        ...(verifyOptions.trustedCheckpoint !== undefined
          ? { trustedCheckpoint: verifyOptions.trustedCheckpoint }
          : {}),
      });
    },
    async purge() {
      if (signer === undefined) {
        throw new AuditError('a retention purge leaves a signed record: configure a signer', {
          code: 'ERR_AUDIT_NO_SIGNER',
          fault: 'client',
        });
      }
      await flush();
      const outcomes: PurgeOutcome[] = [];
      for (const sink of sinks.filter(isAuditStore)) {
        outcomes.push(
          await sink.purge({
            nowMs: clock.now(),
            retentionDays,
            sign: (body): PurgeRecord => signPurge(signer, body),
            newId: () => uuidv7(clock, random),
          }),
        );
      }
      const purged = outcomes.reduce((n, o) => n + o.purged, 0);
      if (purged > 0) {
        void record({
          action: 'audit.retention.purged',
          outcome: 'success',
          actor: { id: 'audit-log', type: 'system' },
          metadata: { count: purged },
        }).catch(() => {
          // Closed meanwhile: the purge records themselves are the evidence.
        });
      }
      return outcomes;
    },
    stats() {
      return {
        queued: queue.length + waiting(),
        written,
        dropped,
        droppedByAction: { ...droppedByAction },
        lost,
        batches,
        checkpoints,
        head,
      };
    },
  };
  return log;
}
