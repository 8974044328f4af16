import { clientError, SecretsError } from '../errors.js';
import type { Lease, LeaseFilter, LeaseStore } from '../lease.js';
import { dueAt, filterLimit, matches } from '../lease.js';

/**
 * The stored copy: field by field (a missing field does not compile), not
 * `{ ...lease }`. V8 gives each frozen spread copy a hidden class of its own:
 * twice the memory per stored lease (~1.3 KB against ~0.6 KB) and ~4 µs more
 * per insert, measured on the certificate benchmark.
 */
const freeze = (l: Lease): Lease =>
  Object.freeze({
    id: l.id,
    provider: l.provider,
    owner: l.owner,
    ttlSeconds: l.ttlSeconds,
    maxTtlSeconds: l.maxTtlSeconds,
    renewable: l.renewable,
    createdAt: l.createdAt,
    expiresAt: l.expiresAt,
    maxExpiresAt: l.maxExpiresAt,
    metadata: Object.freeze(Object.assign({}, l.metadata)),
    state: l.state,
    revokeAttempts: l.revokeAttempts,
    nextAttemptAt: l.nextAttemptAt,
    lastErrorCode: l.lastErrorCode,
    version: l.version,
  } satisfies Lease);

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
  const leases = new Map<string, Lease>();
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
      leases.set(lease.id, freeze(lease));
    },
    async get(id) {
      open();
      return leases.get(id);
    },
    async update(next, expectedVersion) {
      open();
      const current = leases.get(next.id);
      if (current === undefined || current.version !== expectedVersion) return false;
      leases.set(next.id, freeze(next));
      return true;
    },
    async delete(id) {
      open();
      return leases.delete(id);
    },
    async list(filter?: LeaseFilter) {
      open();
      const limit = filterLimit(filter);
      return [...leases.values()]
        .filter((l) => matches(l, filter))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit);
    },
    async due(now, limit) {
      open();
      const t = now.getTime();
      return [...leases.values()]
        .filter((l) => dueAt(l) <= t)
        .sort((a, b) => dueAt(a) - dueAt(b))
        .slice(0, limit);
    },
    async close() {
      closed = true;
    },
  };
}
