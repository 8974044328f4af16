import { clientError, SecretsError } from '../errors.js';
import type { Lease, LeaseFilter, LeaseState, LeaseStore } from '../lease.js';
import { filterLimit, matches } from '../lease.js';

const NO_TIME = -1;

/**
 * What the memory store keeps of a lease: its times as numbers, not `Date`s.
 * A `Date` is a mutable object: the store used to keep the caller's own, so
 * `lease.expiresAt.setTime(…)` on a lease handed to `insert` or returned by
 * `get` moved the stored expiry (and with it the sweep). Numbers share
 * nothing mutable, and are smaller: ~0.52 KB per stored certificate lease
 * against ~0.81 KB (three `Date`s were a third of it). Each `get`, `list` or
 * `due` result gets fresh `Date`s, made only for the leases it returns.
 */
class StoredLease {
  readonly id: string;
  readonly provider: string;
  readonly owner: string;
  readonly ttlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly renewable: boolean;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly maxExpiresAt: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly state: LeaseState;
  readonly revokeAttempts: number;
  /** `NO_TIME` when absent. */
  readonly nextAttemptAt: number;
  readonly lastErrorCode: string | undefined;
  readonly version: number;

  // Field by field (a missing field does not compile), not a spread copy.
  constructor(l: Lease) {
    this.id = l.id;
    this.provider = l.provider;
    this.owner = l.owner;
    this.ttlSeconds = l.ttlSeconds;
    this.maxTtlSeconds = l.maxTtlSeconds;
    this.renewable = l.renewable;
    this.createdAt = l.createdAt.getTime();
    this.expiresAt = l.expiresAt.getTime();
    this.maxExpiresAt = l.maxExpiresAt.getTime();
    this.metadata = Object.freeze(Object.assign({}, l.metadata));
    this.state = l.state;
    this.revokeAttempts = l.revokeAttempts;
    this.nextAttemptAt = l.nextAttemptAt === undefined ? NO_TIME : l.nextAttemptAt.getTime();
    this.lastErrorCode = l.lastErrorCode;
    this.version = l.version;
  }

  /** A lease of its own for the caller (fresh `Date`s), frozen as before. */
  lease(): Lease {
    return Object.freeze({
      id: this.id,
      provider: this.provider,
      owner: this.owner,
      ttlSeconds: this.ttlSeconds,
      maxTtlSeconds: this.maxTtlSeconds,
      renewable: this.renewable,
      createdAt: new Date(this.createdAt),
      expiresAt: new Date(this.expiresAt),
      maxExpiresAt: new Date(this.maxExpiresAt),
      metadata: this.metadata,
      state: this.state,
      revokeAttempts: this.revokeAttempts,
      nextAttemptAt: this.nextAttemptAt === NO_TIME ? undefined : new Date(this.nextAttemptAt),
      lastErrorCode: this.lastErrorCode,
      version: this.version,
    } satisfies Lease);
  }

  /** When the sweeper is due (as `dueAt()` of `lease.js`, on the stored numbers). */
  dueAt(): number {
    return this.state === 'revoking' ? (this.nextAttemptAt === NO_TIME ? 0 : this.nextAttemptAt) : this.expiresAt;
  }
}

/**
 * A {@link LeaseStore} in process memory: for tests and single-process quick
 * starts. Leases do not survive a restart; use `sqlLeaseStore()` for that.
 *
 * @example
 * ```ts
 * const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [sshKeys] });
 * ```
 */
export function memoryLeaseStore(): LeaseStore {
  const leases = new Map<string, StoredLease>();
  let closed = false;
  const open = (): void => {
    if (closed)
      throw new SecretsError('the lease store is closed', { code: 'ERR_SECRETS_INVALID_OPTIONS', fault: 'client' });
  };
  return {
    id: 'memory',
    async insert(lease) {
      open();
      if (leases.has(lease.id)) throw clientError('ERR_SECRETS_INVALID_REQUEST', 'a lease with this id exists');
      leases.set(lease.id, new StoredLease(lease));
    },
    async get(id) {
      open();
      return leases.get(id)?.lease();
    },
    async update(next, expectedVersion) {
      open();
      const current = leases.get(next.id);
      if (current === undefined || current.version !== expectedVersion) return false;
      leases.set(next.id, new StoredLease(next));
      return true;
    },
    async delete(id) {
      open();
      return leases.delete(id);
    },
    async list(filter?: LeaseFilter) {
      open();
      const limit = filterLimit(filter);
      const found: StoredLease[] = [];
      for (const stored of leases.values()) if (matches(stored, filter)) found.push(stored);
      return found
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit)
        .map((stored) => stored.lease());
    },
    async due(now, limit) {
      open();
      const t = now.getTime();
      const due: StoredLease[] = [];
      for (const stored of leases.values()) if (stored.dueAt() <= t) due.push(stored);
      return due
        .sort((a, b) => a.dueAt() - b.dueAt())
        .slice(0, limit)
        .map((stored) => stored.lease());
    },
    async close() {
      closed = true;
    },
  };
}
