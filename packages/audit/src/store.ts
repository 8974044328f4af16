import type { ChainedRecord, ChainHead, PurgeRecord, SignedCheckpoint, StoredEntry } from './chain.js';
import { AuditError } from './errors.js';
import type { AuditAction, AuditCategory, AuditEvent, AuditOutcome } from './events.js';

/** How a sink makes a batch durable. `none` sinks (forwarders, stdout) never hold up a durable `record()`. */
export type SinkDurability = 'fsync' | 'commit' | 'none';

/** What a sink found when it opened: where its copy of the chain ends. */
export interface SinkState {
  readonly head?: ChainHead;
  /** The latest checkpoint it holds. */
  readonly checkpoint?: SignedCheckpoint;
}

/** Options of one write. */
export interface WriteOptions {
  /** The batch holds an event recorded in durable mode: return only once it is on stable storage. */
  readonly durable: boolean;
}

/**
 * A destination the audit log writes chained batches to. Implement it to add
 * a backend; the SDK ships JSONL files, SQLite, PostgreSQL, Splunk HEC,
 * stdout and memory.
 */
export interface EventSink {
  /** A stable id for errors and stats, e.g. `jsonl:/var/log/audit`. */
  readonly id: string;
  readonly durability: SinkDurability;
  /**
   * Let a batch grow while events keep arriving (a few turns of the event loop, up to the
   * log's `maxBatch`) before it is written: for sinks whose cost per batch is high, such as
   * a SQL transaction, which writes every index page it touched once. Default `false`: a
   * file append is cheapest while the batch is young (fewer events outlive a garbage collection).
   */
  readonly gatherBatches?: boolean;
  /** Prepares the sink (creates files or tables) and reports its chain head. Called once by the log. */
  open(): Promise<SinkState>;
  /**
   * Stores a batch atomically: either every record is stored or none is
   * (a failed write leaves no partial record behind), so the log may retry it.
   */
  write(records: readonly ChainedRecord[], options: WriteOptions): Promise<void>;
  /** Stores a signed checkpoint. */
  writeCheckpoint(checkpoint: SignedCheckpoint, options: WriteOptions): Promise<void>;
  close(): Promise<void>;
}

/** An event as read back, with its place in the chain. */
export interface StoredRecord {
  readonly seq: number;
  readonly hash: string;
  readonly event: AuditEvent;
}

/** A query filter. Every given field must match (AND); arrays match any of their values (OR). */
export interface AuditQuery {
  /** Inclusive lower bound on `time`. */
  readonly from?: Date | number | string;
  /** Exclusive upper bound on `time`. */
  readonly to?: Date | number | string;
  readonly actorId?: string;
  readonly action?: AuditAction | readonly AuditAction[];
  readonly category?: AuditCategory | readonly AuditCategory[];
  readonly outcome?: AuditOutcome | readonly AuditOutcome[];
  readonly resourceType?: string;
  readonly resourceId?: string;
  /** Exact client IP. */
  readonly ip?: string;
  readonly sessionId?: string;
  readonly requestId?: string;
  /** Case-insensitive substring of the event's JSON (any field). */
  readonly text?: string;
}

/** Sorting and paging of a query. */
export interface QueryPage {
  /** Page size, 1 to 1000. Default 100. */
  readonly limit?: number;
  /** By record order (= time order). Default `asc`. */
  readonly order?: 'asc' | 'desc';
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

/** One page of query results. */
export interface QueryResult {
  readonly records: readonly StoredRecord[];
  /** Present when more records match. */
  readonly nextCursor?: string;
}

/** What {@link AuditStore.count} groups by. */
export type CountBy = 'action' | 'category' | 'outcome' | 'minute' | 'hour' | 'day';

/** One group of a count. Time buckets are ISO 8601 prefixes (`2026-01-01T10` for `hour`). */
export interface CountRow {
  readonly key: string;
  readonly count: number;
}

/** What the log gives a store's purge. */
export interface PurgePlan {
  /** The log's clock, ms. */
  readonly nowMs: number;
  /** Days each retention class is kept. */
  readonly retentionDays: Readonly<Record<string, number>>;
  /** Signs the purge record (the log's checkpoint signer). */
  readonly sign: (body: Pick<PurgeRecord, 'id' | 'time' | 'ranges' | 'count'>) => PurgeRecord;
  readonly newId: () => string;
}

/** What a purge removed. */
export interface PurgeOutcome {
  readonly purged: number;
  readonly record?: PurgeRecord;
}

/** A sink that can also be read: query, count, scan, verify and purge. */
export interface AuditStore extends EventSink {
  /** Every stored entry in storage order (for verification). */
  read(): AsyncIterable<StoredEntry>;
  checkpoints(): Promise<readonly SignedCheckpoint[]>;
  purges(): Promise<readonly PurgeRecord[]>;
  query(filter?: AuditQuery, page?: QueryPage): Promise<QueryResult>;
  count(filter: AuditQuery | undefined, by: CountBy): Promise<readonly CountRow[]>;
  /** Streams every matching record in order, however many (pages internally). */
  scan(filter?: AuditQuery, order?: 'asc' | 'desc'): AsyncIterable<StoredRecord>;
  /** Removes events whose retention has expired and stores a signed purge record. */
  purge(plan: PurgePlan): Promise<PurgeOutcome>;
}

/**
 * Whether a sink is readable (an {@link AuditStore}).
 *
 * @example
 * ```ts
 * const reader = sinks.find(isAuditStore);
 * ```
 */
export function isAuditStore(sink: EventSink): sink is AuditStore {
  return (
    typeof (sink as Partial<AuditStore>).query === 'function' &&
    typeof (sink as Partial<AuditStore>).read === 'function'
  );
}

/** @internal The filter with normalized times and sets. */
export interface CompiledQuery {
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly actorId?: string;
  readonly actions?: ReadonlySet<string>;
  readonly categories?: ReadonlySet<string>;
  readonly outcomes?: ReadonlySet<string>;
  readonly resourceType?: string;
  readonly resourceId?: string;
  readonly ip?: string;
  readonly sessionId?: string;
  readonly requestId?: string;
  readonly text?: string;
}

function badQuery(field: string): AuditError {
  return new AuditError(`invalid audit query: ${field}`, {
    code: 'ERR_AUDIT_INVALID_QUERY',
    fault: 'client',
    details: { field },
  });
}

function toMs(value: Date | number | string, field: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw badQuery(field);
  return ms;
}

function set(value: string | readonly string[] | undefined, field: string): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) throw badQuery(field);
  return new Set(list);
}

function str(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 1024) throw badQuery(field);
  return value;
}

/** @internal Validates and normalizes a filter. @throws AuditError `ERR_AUDIT_INVALID_QUERY`. */
export function compileQuery(filter: AuditQuery = {}): CompiledQuery {
  const q: Record<string, unknown> = {};
  if (filter.from !== undefined) q.fromMs = toMs(filter.from, 'from');
  if (filter.to !== undefined) q.toMs = toMs(filter.to, 'to');
  q.actions = set(filter.action, 'action');
  q.categories = set(filter.category, 'category');
  q.outcomes = set(filter.outcome, 'outcome');
  for (const key of ['actorId', 'resourceType', 'resourceId', 'ip', 'sessionId', 'requestId'] as const) {
    q[key] = str(filter[key], key);
  }
  const text = str(filter.text, 'text');
  if (text !== undefined && text !== '') q.text = text.toLowerCase();
  for (const key of Object.keys(q)) if (q[key] === undefined) delete q[key];
  return q as CompiledQuery;
}

/** @internal Whether a record matches (for scanning sinks). `json` is its serialized event, for free text. */
export function matchesQuery(q: CompiledQuery, event: AuditEvent, json?: string): boolean {
  if (q.fromMs !== undefined || q.toMs !== undefined) {
    const t = Date.parse(event.time);
    if (q.fromMs !== undefined && t < q.fromMs) return false;
    if (q.toMs !== undefined && t >= q.toMs) return false;
  }
  if (q.actorId !== undefined && event.actor.id !== q.actorId) return false;
  if (q.actions !== undefined && !q.actions.has(event.action)) return false;
  if (q.categories !== undefined && !q.categories.has(event.category)) return false;
  if (q.outcomes !== undefined && !q.outcomes.has(event.outcome)) return false;
  if (q.resourceType !== undefined && event.resource?.type !== q.resourceType) return false;
  if (q.resourceId !== undefined && event.resource?.id !== q.resourceId) return false;
  if (q.ip !== undefined && event.actor.ip !== q.ip) return false;
  if (q.sessionId !== undefined && event.sessionId !== q.sessionId) return false;
  if (q.requestId !== undefined && event.requestId !== q.requestId) return false;
  if (q.text !== undefined && !(json ?? JSON.stringify(event)).toLowerCase().includes(q.text)) return false;
  return true;
}

/** @internal Page size after validation. */
export function pageLimit(page: QueryPage | undefined): number {
  const limit = page?.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badQuery('limit');
  return limit;
}

/** @internal Encodes a cursor: the last seq returned and the order it was returned in. */
export function encodeCursor(seq: number, order: 'asc' | 'desc'): string {
  return Buffer.from(`a1:${order}:${seq}`).toString('base64url');
}

/** @internal Decodes a cursor. @throws AuditError `ERR_AUDIT_INVALID_QUERY`. */
export function decodeCursor(cursor: string | undefined, order: 'asc' | 'desc'): number | undefined {
  if (cursor === undefined) return undefined;
  const m = /^a1:(asc|desc):(\d{1,15})$/.exec(Buffer.from(String(cursor), 'base64url').toString());
  if (m === null || m[1] !== order) throw badQuery('cursor');
  return Number(m[2]);
}

const COUNT_BY: ReadonlySet<string> = new Set(['action', 'category', 'outcome', 'minute', 'hour', 'day']);

/** @internal The bucket key of an event for a count. */
export function bucketKey(event: AuditEvent, by: CountBy): string {
  switch (by) {
    case 'action':
      return event.action;
    case 'category':
      return event.category;
    case 'outcome':
      return event.outcome;
    case 'minute':
      return event.time.slice(0, 16);
    case 'hour':
      return event.time.slice(0, 13);
    case 'day':
      return event.time.slice(0, 10);
    default:
      throw badQuery('by');
  }
}

/** @internal Query over a full scan (memory and JSONL sinks). */
export async function scanQuery(
  scan: (order: 'asc' | 'desc') => AsyncIterable<StoredRecord>,
  filter: AuditQuery | undefined,
  page: QueryPage | undefined,
): Promise<QueryResult> {
  const limit = pageLimit(page);
  const order = page?.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw badQuery('order');
  const after = decodeCursor(page?.cursor, order);
  const q = compileQuery(filter);
  const out: StoredRecord[] = [];
  for await (const r of scan(order)) {
    if (after !== undefined && (order === 'asc' ? r.seq <= after : r.seq >= after)) continue;
    if (!matchesQuery(q, r.event)) continue;
    out.push(r);
    if (out.length > limit) break;
  }
  const more = out.length > limit;
  const records = more ? out.slice(0, limit) : out;
  const last = records.at(-1);
  return { records, ...(more && last ? { nextCursor: encodeCursor(last.seq, order) } : {}) };
}

/** @internal Count over a full scan. */
export async function scanCount(
  scan: AsyncIterable<StoredRecord>,
  filter: AuditQuery | undefined,
  by: CountBy,
): Promise<CountRow[]> {
  const q = compileQuery(filter);
  if (!COUNT_BY.has(by)) throw badQuery('by');
  const counts = new Map<string, number>();
  for await (const r of scan) {
    if (!matchesQuery(q, r.event)) continue;
    const key = bucketKey(r.event, by);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .map(([key, count]) => ({ key, count }))
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}

/** @internal Expiry time of an event under the retention classes (ms); unknown classes use `standard`. */
export function expiresAtMs(
  event: Pick<AuditEvent, 'time' | 'retention'>,
  days: Readonly<Record<string, number>>,
): number {
  return Date.parse(event.time) + retentionMs(event.retention, days);
}

/** @internal How long a retention class keeps its events (ms); unknown classes use `standard`. */
export function retentionMs(retention: string, days: Readonly<Record<string, number>>): number {
  return (days[retention] ?? days.standard ?? 365) * 86_400_000;
}

/** @internal Compresses sorted seqs with their hashes into ranges. */
export function toRanges(
  items: readonly { seq: number; hash: string }[],
): { fromSeq: number; toSeq: number; lastHash: string }[] {
  const ranges: { fromSeq: number; toSeq: number; lastHash: string }[] = [];
  for (const item of items) {
    const last = ranges.at(-1);
    if (last !== undefined && last.toSeq + 1 === item.seq) {
      last.toSeq = item.seq;
      last.lastHash = item.hash;
    } else ranges.push({ fromSeq: item.seq, toSeq: item.seq, lastHash: item.hash });
  }
  return ranges;
}

/** @internal Filters a stream of records. */
export async function* filterRecords(
  source: AsyncIterable<StoredRecord>,
  filter: AuditQuery | undefined,
): AsyncGenerator<StoredRecord> {
  const q = compileQuery(filter);
  for await (const r of source) if (matchesQuery(q, r.event)) yield r;
}
