import { clientError, SecretsError } from '../errors.js';
import type { Lease, LeaseFilter, LeaseStore } from '../lease.js';
import { dueAt, filterLimit, matches } from '../lease.js';

const freeze = (lease: Lease): Lease => Object.freeze({ ...lease, metadata: Object.freeze({ ...lease.metadata }) });

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
