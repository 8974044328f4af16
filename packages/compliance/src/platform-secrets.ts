import type { LeaseFacts, ListReader } from './checks.js';
import { ComplianceError, invalidOptions } from './errors.js';
import { listAll } from './paging.js';
import type { DataProvider } from './providers.js';

// Structural views of @provisioning/secrets' `LeaseManager`: no import.

/** A lease as `@provisioning/secrets`' `LeaseManager.list()` returns it. A lease holds no credential. */
export interface SecretLease {
  readonly id: string;
  readonly provider: string;
  readonly owner: string;
  readonly ttlSeconds: number;
  readonly renewable: boolean;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly maxExpiresAt: Date;
  /** Secret-free strings the secret's provider keeps to renew and revoke it. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly state: string;
}

/** A page of leases: `LeaseManager.list({ owner?, limit, after })`, in id order. */
export interface LeaseLister {
  list(filter?: {
    readonly owner?: string;
    readonly limit?: number;
    readonly after?: string;
  }): Promise<readonly SecretLease[]>;
}

/** What {@link leasesProvider} needs of the lease manager. */
export interface LeaseRevoker extends LeaseLister {
  /** Revokes every lease of `owner` through its provider; those that fail stay `pending` (and are retried). */
  revokeByOwner(owner: string): Promise<{ readonly revoked: readonly string[]; readonly pending: readonly string[] }>;
}

/** Options of {@link leasesProvider}. */
export interface LeasesProviderOptions {
  readonly leases: LeaseRevoker;
  /** Provider id. Default `leases`. */
  readonly id?: string;
}

const PAGE = 1000;
const byOwner = (leases: LeaseLister, owner: string) =>
  listAll(PAGE, (after) => leases.list({ owner, limit: PAGE, ...(after === undefined ? {} : { after }) }));

/**
 * The data provider of dynamic-secret leases owned by the subject, over
 * `@provisioning/secrets`' `LeaseManager`.
 *
 * - `export`: each lease's id, secret provider, state, TTLs, times and
 *   metadata. A lease never holds the credential (that is shown once at
 *   issue), and lease metadata is secret-free by the lease store's contract;
 * - `erase`: `revokeByOwner(subject)` revokes every lease at its provider (the
 *   SSH certificate, the database role …) and deletes it. A revocation that
 *   fails keeps its lease for the manager's retries, and the provider then
 *   **fails** (retryable), since a live credential of the subject remains.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a lease manager. Its `erase` rejects
 * with `ERR_COMPLIANCE_PROVIDER_FAILED` (retryable) while a lease could not be revoked.
 * @example
 * ```ts
 * const providers = createProviderRegistry([leasesProvider({ leases })]); // leases = createLeaseManager(…)
 * ```
 */
export function leasesProvider(options: LeasesProviderOptions): DataProvider {
  const { leases } = options;
  if (typeof leases?.list !== 'function' || typeof leases.revokeByOwner !== 'function') {
    throw invalidOptions('leasesProvider needs a LeaseManager');
  }
  return {
    id: options.id ?? 'leases',
    description: 'dynamic-secret leases owned by the subject (metadata only; never the credential)',
    async export({ subjectId }) {
      const data = (await byOwner(leases, subjectId)).map((l) => ({
        id: l.id,
        provider: l.provider,
        state: l.state,
        ttlSeconds: l.ttlSeconds,
        renewable: l.renewable,
        createdAt: l.createdAt,
        expiresAt: l.expiresAt,
        maxExpiresAt: l.maxExpiresAt,
        metadata: { ...l.metadata },
      }));
      return { subjectFound: data.length > 0, data, records: data.length };
    },
    async erase({ subjectId }) {
      const { revoked, pending } = await leases.revokeByOwner(subjectId);
      if (pending.length > 0) {
        throw new ComplianceError(`${pending.length} lease(s) could not be revoked yet`, {
          code: 'ERR_COMPLIANCE_PROVIDER_FAILED',
          fault: 'server',
          retryable: true,
          details: { revoked: revoked.length, pending: pending.length },
        });
      }
      return { subjectFound: revoked.length > 0, affected: revoked.length, method: 'deleted' };
    },
  };
}

/**
 * Reads the leases for the `secrets.expired-leases-revoked` check from the
 * lease manager. The manager deletes a lease once its provider confirmed the
 * revocation, so every lease it still lists is unrevoked — including those in
 * `revoking` whose provider keeps failing. The check compares their expiry
 * with the clock and its grace period.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a lease manager.
 * @example
 * ```ts
 * const readers = { leases: leasesReader({ leases }) }; // leases = createLeaseManager(…)
 * ```
 */
export function leasesReader(options: { readonly leases: LeaseLister }): ListReader<LeaseFacts> {
  const { leases } = options;
  if (typeof leases?.list !== 'function') throw invalidOptions('leasesReader needs a LeaseManager');
  return {
    async list() {
      const all = await listAll(PAGE, (after) =>
        leases.list({ limit: PAGE, ...(after === undefined ? {} : { after }) }),
      );
      return all.map((l) => ({ id: l.id, expiresAt: l.expiresAt, revokedAt: null }));
    },
  };
}
