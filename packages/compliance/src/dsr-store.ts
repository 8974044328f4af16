import type { DsrRecord, DsrStatus } from './dsr-model.js';
import { ComplianceError } from './errors.js';

/** Filters of {@link DsrStore.list}. */
export interface DsrListFilter {
  /** Only this subject's requests. */
  readonly subjectId?: string;
  /** Only requests in one of these statuses. */
  readonly statuses?: readonly DsrStatus[];
  /** Only requests due strictly before this time. */
  readonly dueBefore?: Date;
  /** At most this many records. Default 1000, at most 10,000. */
  readonly limit?: number;
}

/**
 * Storage of data-subject requests. Records are plain JSON; the store does
 * not interpret them beyond the indexed fields.
 *
 * Concurrency contract: `update` is a compare-and-set on `version`: it
 * succeeds only when the stored version is `record.version - 1`, so two
 * workers that read the same record cannot both move it (exactly one wins,
 * the other gets `ERR_COMPLIANCE_CONFLICT`).
 */
export interface DsrStore {
  /** Driver name: `memory`, `sqlite`, `postgres`. */
  readonly id: string;
  /**
   * Stores a new record (its `version` is 1).
   *
   * @throws ComplianceError `ERR_COMPLIANCE_CONFLICT` if the id exists.
   */
  create(record: DsrRecord): Promise<void>;
  /** The record with this id, or `undefined`. */
  get(id: string): Promise<DsrRecord | undefined>;
  /**
   * Replaces a record if the stored version is `record.version - 1`.
   *
   * @throws ComplianceError `ERR_COMPLIANCE_CONFLICT` (retryable) on a version mismatch;
   * `ERR_COMPLIANCE_REQUEST_NOT_FOUND` if there is no such record.
   */
  update(record: DsrRecord): Promise<void>;
  /** Records matching `filter`, oldest receipt first (ties by id). */
  list(filter?: DsrListFilter): Promise<DsrRecord[]>;
  /** Releases what the store opened. Later calls reject with `ERR_COMPLIANCE_STORE_CLOSED`. */
  close(): Promise<void>;
}

/** @internal */
export function conflictError(id: string): ComplianceError {
  return new ComplianceError('the request was updated by someone else; read it again', {
    code: 'ERR_COMPLIANCE_CONFLICT',
    fault: 'client',
    retryable: true,
    details: { requestId: id },
  });
}

/** @internal */
export function notFoundError(id: string): ComplianceError {
  return new ComplianceError('no data-subject request has this id', {
    code: 'ERR_COMPLIANCE_REQUEST_NOT_FOUND',
    fault: 'client',
    details: { requestId: id.slice(0, 100) },
  });
}

/** @internal */
export function closedError(): ComplianceError {
  return new ComplianceError('the request store is closed', { code: 'ERR_COMPLIANCE_STORE_CLOSED', fault: 'client' });
}

/** @internal */
export function listLimit(limit: number | undefined): number {
  if (limit === undefined) return 1000;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ComplianceError('limit must be a positive integer', {
      code: 'ERR_COMPLIANCE_INVALID_INPUT',
      fault: 'client',
    });
  }
  return Math.min(limit, 10_000);
}

/**
 * A {@link DsrStore} in memory: for tests and quick starts (lost on restart).
 *
 * @example
 * ```ts
 * const store = memoryDsrStore();
 * const dsr = createDsrService({ store, providers, verifier });
 * ```
 */
export function memoryDsrStore(): DsrStore {
  const records = new Map<string, string>();
  let closed = false;
  const guard = (): void => {
    if (closed) throw closedError();
  };
  return {
    id: 'memory',
    async create(record) {
      guard();
      if (records.has(record.id)) throw conflictError(record.id);
      // Stored as JSON text: callers cannot mutate the stored copy, and what
      // is not JSON fails here as it would in the SQL stores.
      records.set(record.id, JSON.stringify(record));
    },
    async get(id) {
      guard();
      const text = records.get(id);
      return text === undefined ? undefined : (JSON.parse(text) as DsrRecord);
    },
    async update(record) {
      guard();
      const text = records.get(record.id);
      if (text === undefined) throw notFoundError(record.id);
      if ((JSON.parse(text) as DsrRecord).version !== record.version - 1) throw conflictError(record.id);
      records.set(record.id, JSON.stringify(record));
    },
    async list(filter = {}) {
      guard();
      const limit = listLimit(filter.limit);
      const due = filter.dueBefore?.getTime();
      return [...records.values()]
        .map((t) => JSON.parse(t) as DsrRecord)
        .filter(
          (r) =>
            (filter.subjectId === undefined || r.subjectId === filter.subjectId) &&
            (filter.statuses === undefined || filter.statuses.includes(r.status)) &&
            (due === undefined || Date.parse(r.dueAt) < due),
        )
        .sort((a, b) => Date.parse(a.receivedAt) - Date.parse(b.receivedAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit);
    },
    async close() {
      closed = true;
    },
  };
}
