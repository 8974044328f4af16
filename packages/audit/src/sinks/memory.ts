import type { ChainedRecord, PurgeRecord, SignedCheckpoint, StoredEntry } from '../chain.js';
import type { AuditQuery, AuditStore, CountBy, PurgePlan, QueryPage, SinkState, StoredRecord } from '../store.js';
import { expiresAtMs, filterRecords, scanCount, scanQuery, toRanges } from '../store.js';

/** The in-memory store: its entries are exposed for tests that tamper with them. */
export interface MemoryAuditStore extends AuditStore {
  /** The stored entries, in storage order. Mutable on purpose: tests simulate tampering. */
  readonly entries: StoredRecord[];
  readonly checkpointList: SignedCheckpoint[];
}

/**
 * An {@link AuditStore} in memory: for tests and quick starts. Nothing
 * survives the process.
 *
 * @example
 * ```ts
 * const log = await createAuditLog({ sinks: [memoryAuditStore()] });
 * ```
 */
export function memoryAuditStore(): MemoryAuditStore {
  const entries: StoredRecord[] = [];
  const checkpointList: SignedCheckpoint[] = [];
  const purgeList: PurgeRecord[] = [];
  async function* scan(order: 'asc' | 'desc' = 'asc'): AsyncGenerator<StoredRecord> {
    const list = [...entries].sort((x, y) => (order === 'asc' ? x.seq - y.seq : y.seq - x.seq));
    yield* list;
  }
  return {
    id: 'memory',
    durability: 'commit',
    entries,
    checkpointList,
    async open(): Promise<SinkState> {
      const last = entries.at(-1);
      const cp = checkpointList.at(-1);
      return { ...(last ? { head: { seq: last.seq, hash: last.hash } } : {}), ...(cp ? { checkpoint: cp } : {}) };
    },
    async write(records: readonly ChainedRecord[]) {
      // Store a parsed copy: what a real sink would read back.
      for (const r of records) entries.push({ seq: r.seq, hash: r.hash, event: JSON.parse(r.json) });
    },
    async writeCheckpoint(cp: SignedCheckpoint) {
      checkpointList.push(cp);
    },
    async close() {},
    async *read(): AsyncGenerator<StoredEntry> {
      for (const [i, e] of entries.entries()) yield { seq: e.seq, hash: e.hash, event: e.event, at: `memory#${i}` };
    },
    async checkpoints() {
      return [...checkpointList];
    },
    async purges() {
      return [...purgeList];
    },
    query: (filter?: AuditQuery, page?: QueryPage) => scanQuery(scan, filter, page),
    count: (filter: AuditQuery | undefined, by: CountBy) => scanCount(scan('asc'), filter, by),
    scan: (filter?: AuditQuery, order?: 'asc' | 'desc') => filterRecords(scan(order), filter),
    async purge(plan: PurgePlan) {
      const expired = entries.filter((e) => expiresAtMs(e.event, plan.retentionDays) <= plan.nowMs);
      if (expired.length === 0) return { purged: 0 };
      const ranges = toRanges(expired.map((e) => ({ seq: e.seq, hash: e.hash })).sort((x, y) => x.seq - y.seq));
      const record = plan.sign({
        id: plan.newId(),
        time: new Date(plan.nowMs).toISOString(),
        ranges,
        count: expired.length,
      });
      purgeList.push(record);
      const gone = new Set(expired);
      const kept = entries.filter((e) => !gone.has(e));
      entries.splice(0, entries.length, ...kept);
      return { purged: expired.length, record };
    },
  };
}
