import { clientError } from './errors.js';

/**
 * Where a lease is in its life:
 * - `creating`: persisted before the provider is asked for the secret, so a
 *   crash or a timeout in the middle never leaves a credential nobody tracks;
 * - `active`: the secret exists and is handed out;
 * - `revoking`: expired or revoked, the provider's revocation is claimed or
 *   pending a retry. The lease row is deleted only after the provider confirms.
 */
export type LeaseState = 'creating' | 'active' | 'revoking';

/**
 * A dynamic secret's lease. It holds what is needed to renew and revoke the
 * secret (in `metadata`), never the secret itself.
 */
export interface Lease {
  /** `<provider>/<uuidv7>`: sortable by creation time, and prefix-revocable by provider. */
  readonly id: string;
  /** The provider's name. */
  readonly provider: string;
  /** Who the secret was issued to (a user or service id). */
  readonly owner: string;
  /** The TTL last granted (at issue or renewal), in seconds. */
  readonly ttlSeconds: number;
  /** The longest the lease can live in total, in seconds from `createdAt`. */
  readonly maxTtlSeconds: number;
  /** Whether `renew` may extend it (the provider must support renewal, too). */
  readonly renewable: boolean;
  readonly createdAt: Date;
  /** When the secret expires and the TTL manager revokes it. */
  readonly expiresAt: Date;
  /** `createdAt + maxTtlSeconds`: no renewal goes past it. */
  readonly maxExpiresAt: Date;
  /** Secret-free strings the provider needs to renew and revoke (a role name, a Vault lease id …). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly state: LeaseState;
  /** Failed revocation attempts so far. */
  readonly revokeAttempts: number;
  /** When a `revoking` lease is (re)tried next; also the end of a claim by the instance revoking it. */
  readonly nextAttemptAt: Date | undefined;
  /** The error code of the last failed revocation, if any. */
  readonly lastErrorCode: string | undefined;
  /** Optimistic-concurrency version, bumped by every update. */
  readonly version: number;
}

/** A filter for {@link LeaseStore.list}. All given fields must match. */
export interface LeaseFilter {
  readonly owner?: string;
  readonly provider?: string;
  /** Lease ids starting with this prefix, e.g. `ssh-cert/`. */
  readonly prefix?: string;
  readonly state?: LeaseState;
  /** Most leases to return; default 1000, at most 10,000. */
  readonly limit?: number;
  /** Only ids sorting strictly after this one (pagination). */
  readonly after?: string;
}

/**
 * Persistence of leases. Implementations: {@link memoryLeaseStore} and
 * `sqlLeaseStore()` (`@provisioning/secrets/sql`, SQLite and PostgreSQL).
 *
 * Concurrency: `update` is a compare-and-set on `version`, so several
 * instances sharing a store never overwrite each other's changes; the lease
 * manager uses it to claim a revocation before calling the provider.
 */
export interface LeaseStore {
  /** `memory`, `sqlite` or `postgres`. */
  readonly id: string;
  /** Stores a new lease. Rejects with `ERR_SECRETS_INVALID_REQUEST` if the id exists. */
  insert(lease: Lease): Promise<void>;
  /** The lease, or `undefined`. */
  get(id: string): Promise<Lease | undefined>;
  /**
   * Replaces the lease with `next` (whose `version` must be `expectedVersion + 1`)
   * only if the stored version is `expectedVersion`; resolves whether it did.
   */
  update(next: Lease, expectedVersion: number): Promise<boolean>;
  /** Removes the lease; resolves whether it existed. */
  delete(id: string): Promise<boolean>;
  /** Leases matching `filter`, in id order (creation order). */
  list(filter?: LeaseFilter): Promise<Lease[]>;
  /**
   * Leases due for revocation at `now`, most overdue first: `creating` and
   * `active` ones whose `expiresAt` has passed, `revoking` ones whose
   * `nextAttemptAt` has passed.
   */
  due(now: Date, limit: number): Promise<Lease[]>;
  /** Releases what the store opened itself. */
  close(): Promise<void>;
}

/** @internal The time at which a lease needs the sweeper's attention. */
export function dueAt(lease: Lease): number {
  return lease.state === 'revoking' ? (lease.nextAttemptAt?.getTime() ?? 0) : lease.expiresAt.getTime();
}

/** @internal Validates list filter limits. */
export function filterLimit(filter: LeaseFilter | undefined): number {
  const limit = filter?.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
    throw clientError('ERR_SECRETS_INVALID_REQUEST', 'list limit must be an integer from 1 to 10000', { limit });
  }
  return limit;
}

/** @internal Whether a lease matches a filter (ignoring limit and after). */
export function matches(
  lease: Pick<Lease, 'id' | 'owner' | 'provider' | 'state'>,
  filter: LeaseFilter | undefined,
): boolean {
  if (filter === undefined) return true;
  if (filter.owner !== undefined && lease.owner !== filter.owner) return false;
  if (filter.provider !== undefined && lease.provider !== filter.provider) return false;
  if (filter.prefix !== undefined && !lease.id.startsWith(filter.prefix)) return false;
  if (filter.state !== undefined && lease.state !== filter.state) return false;
  if (filter.after !== undefined && !(lease.id > filter.after)) return false;
  return true;
}
