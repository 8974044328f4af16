import type { KeyFacts, ListReader } from './checks.js';
import { invalidOptions } from './errors.js';

// A structural view of @provisioning/kms' `KmsBackend`: no import.

/** What {@link keyRotationReader} needs of a `@provisioning/kms` backend: its key metadata. */
export interface KeyMetadataSource {
  metadata(): Promise<{
    readonly backend: string;
    readonly keyId: string;
    /** The version that encrypts now (`0` when the backend has no versions). */
    readonly latestVersion: number;
    readonly versions: readonly { readonly version: number; readonly createdAt?: Date }[];
  }>;
}

/** One key whose rotation is checked. */
export interface RotatedKey {
  /** The backend (`localBackend()`, `vaultTransitBackend()`, `awsKmsBackend()` …). */
  readonly backend: KeyMetadataSource;
  /** Longest allowed age of the encrypting version, in days. */
  readonly rotationPeriodDays: number;
  /** What the key protects, for the evidence (`mfa-secrets`, `dsr-exports` …). */
  readonly purpose?: string;
}

/**
 * Reads key ages for the `kms.key-rotation` check from the backends
 * themselves: a key was last rotated when its newest version (the one that
 * encrypts) was created. Older versions only decrypt and are not checked. A
 * backend that does not date its versions, or has none (age recipients),
 * gives an unknown rotation time, which the check fails: rotate such keys by
 * changing recipients and say when in a reader of your own.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` at construction for a missing backend or a bad period.
 * @example
 * ```ts
 * const readers = { keys: keyRotationReader([{ backend: await localBackend({ path }), rotationPeriodDays: 90, purpose: 'mfa-secrets' }]) };
 * ```
 */
export function keyRotationReader(keys: readonly RotatedKey[]): ListReader<KeyFacts> {
  if (!Array.isArray(keys)) throw invalidOptions('keyRotationReader needs a list of keys');
  for (const k of keys) {
    if (typeof k?.backend?.metadata !== 'function') throw invalidOptions('every key needs a KMS backend');
    if (!Number.isFinite(k.rotationPeriodDays) || k.rotationPeriodDays <= 0) {
      throw invalidOptions('rotationPeriodDays must be a positive number of days');
    }
  }
  return {
    async list() {
      return Promise.all(
        keys.map(async ({ backend, rotationPeriodDays, purpose }) => {
          const m = await backend.metadata();
          const latest = m.versions.find((v: { readonly version: number }) => v.version === m.latestVersion);
          return {
            id: `${m.backend}:${m.keyId}${m.latestVersion > 0 ? ` v${m.latestVersion}` : ''}`,
            ...(purpose === undefined ? {} : { purpose }),
            lastRotatedAt: latest?.createdAt ?? 'unknown',
            rotationPeriodDays,
            active: true,
          };
        }),
      );
    },
  };
}
