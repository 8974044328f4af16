import type { FactReader, MfaPolicyFacts } from './checks.js';
import { invalidOptions, remainedAfterErasure } from './errors.js';
import { listAll } from './paging.js';
import type { DataProvider } from './providers.js';

// Structural views of @provisioning/mfa's `MfaService` and auth's `UserStore`: no import.

/** A second factor as `@provisioning/mfa`'s `listDevices()` describes it (no secret). */
export interface MfaDeviceInfo {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly confirmed: boolean;
  readonly lastUsedAt: Date | undefined;
  readonly webauthn:
    | {
        readonly credentialId: string;
        readonly transports: readonly string[];
        readonly backupEligible: boolean;
        readonly backedUp: boolean;
        readonly aaguid: string;
      }
    | undefined;
}

/** What {@link mfaDevicesProvider} needs of `@provisioning/mfa`'s `MfaService`. */
export interface MfaDeviceSource {
  listDevices(userId: string): Promise<readonly MfaDeviceInfo[]>;
  remainingBackupCodes(userId: string): Promise<number>;
  deleteUser(userId: string): Promise<void>;
}

/** Options of {@link mfaDevicesProvider}. */
export interface MfaDevicesProviderOptions {
  readonly mfa: MfaDeviceSource;
  /** Provider id. Default `mfa-devices`. */
  readonly id?: string;
}

/**
 * The data provider of MFA factors, over `@provisioning/mfa`'s `MfaService`.
 *
 * - `export`: each device's id, type, name, times, confirmation, and for
 *   WebAuthn its credential id, transports, backup flags and AAGUID, plus the
 *   number of unused backup codes. Never a TOTP secret or a backup code: the
 *   service's `listDevices()` returns none, and backup codes are stored only as hashes;
 * - `erase`: `deleteUser(userId)` removes every device, WebAuthn credential
 *   and backup code, then the provider checks that no device and no code is
 *   left (`method: 'deleted'`, `affected` = devices + codes removed).
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without an MFA service. Its `erase` rejects
 * with `ERR_COMPLIANCE_PROVIDER_FAILED` (retryable) if a device or code survives; store errors pass through.
 * @example
 * ```ts
 * const providers = createProviderRegistry([mfaDevicesProvider({ mfa })]); // mfa = createMfaService(…)
 * ```
 */
export function mfaDevicesProvider(options: MfaDevicesProviderOptions): DataProvider {
  const { mfa } = options;
  if (typeof mfa?.listDevices !== 'function' || typeof mfa.deleteUser !== 'function') {
    throw invalidOptions('mfaDevicesProvider needs an MfaService');
  }
  return {
    id: options.id ?? 'mfa-devices',
    description: 'MFA devices and backup codes (metadata only; never secrets)',
    async export({ subjectId }) {
      const [devices, backupCodes] = await Promise.all([
        mfa.listDevices(subjectId),
        mfa.remainingBackupCodes(subjectId),
      ]);
      const data = {
        devices: devices.map((d) => ({
          id: d.id,
          type: d.type,
          name: d.name,
          createdAt: d.createdAt,
          confirmed: d.confirmed,
          lastUsedAt: d.lastUsedAt ?? null,
          ...(d.webauthn === undefined
            ? {}
            : {
                webauthn: {
                  credentialId: d.webauthn.credentialId,
                  transports: [...d.webauthn.transports],
                  backupEligible: d.webauthn.backupEligible,
                  backedUp: d.webauthn.backedUp,
                  aaguid: d.webauthn.aaguid,
                },
              }),
        })),
        unusedBackupCodes: backupCodes,
      };
      return { subjectFound: devices.length > 0 || backupCodes > 0, data, records: devices.length };
    },
    async erase({ subjectId }) {
      const [devices, codes] = await Promise.all([mfa.listDevices(subjectId), mfa.remainingBackupCodes(subjectId)]);
      await mfa.deleteUser(subjectId);
      const [left, leftCodes] = await Promise.all([mfa.listDevices(subjectId), mfa.remainingBackupCodes(subjectId)]);
      if (left.length + leftCodes > 0)
        throw remainedAfterErasure('MFA devices or backup codes', left.length + leftCodes);
      const affected = devices.length + codes;
      return { subjectFound: affected > 0, affected, method: 'deleted' };
    },
  };
}

/** A user as auth's `UserStore.list()` returns it: id, roles, and whether the account is disabled. */
export interface RoleHolder {
  readonly id: string;
  readonly roles: readonly string[];
  readonly disabled: boolean;
}

/** Options of {@link mfaEnrollmentReader}. */
export interface MfaEnrollmentReaderOptions {
  /** The user store (`@provisioning/auth`'s `UserStore`): listed by id, 1,000 at a time. */
  readonly users: {
    list(options?: { readonly limit?: number; readonly after?: string }): Promise<readonly RoleHolder[]>;
  };
  /** The MFA service (`@provisioning/mfa`): whether a user has a confirmed factor. */
  readonly mfa: { isEnrolled(userId: string): Promise<boolean> };
  /** The environment these stores serve, e.g. `production` (the check compares it with its own). */
  readonly environment: string;
  /** The privileged roles to look at. Default `['Admin', 'Operator']`, the check's default. */
  readonly roles?: readonly string[];
}

/**
 * Reads MFA enforcement for privileged roles from the user and MFA stores:
 * the platform's sign-in asks for a second factor exactly when the user has a
 * confirmed one (`isEnrolled`), so a role counts as enforced when every
 * enabled holder of it has one (a role nobody holds counts as enforced).
 * Disabled accounts cannot sign in and are not counted. The facts list the
 * holders without a factor by user id, for the check's evidence.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a user store, an MFA service or the environment.
 * @example
 * ```ts
 * const readers = { mfaPolicy: mfaEnrollmentReader({ users, mfa, environment: 'production' }) };
 * ```
 */
export function mfaEnrollmentReader(options: MfaEnrollmentReaderOptions): FactReader<MfaPolicyFacts> {
  const { users, mfa, environment } = options;
  if (typeof users?.list !== 'function' || typeof mfa?.isEnrolled !== 'function') {
    throw invalidOptions('mfaEnrollmentReader needs a user store and an MFA service');
  }
  if (typeof environment !== 'string' || environment === '')
    throw invalidOptions('mfaEnrollmentReader needs the environment its stores serve');
  const roles = [...(options.roles ?? ['Admin', 'Operator'])];
  return {
    async read() {
      const all = await listAll(1000, (after) =>
        users.list({ limit: 1000, ...(after === undefined ? {} : { after }) }),
      );
      const privileged = all.filter((u) => !u.disabled && u.roles.some((r) => roles.includes(r)));
      const without: RoleHolder[] = [];
      // One at a time: privileged users are few, and a large fleet's store is not flooded.
      // Fail closed: only an explicit `true` counts as enrolled.
      for (const u of privileged) if ((await mfa.isEnrolled(u.id)) !== true) without.push(u);
      const gaps = new Set(without.flatMap((u) => u.roles));
      return {
        environment,
        enforcedForRoles: roles.filter((r) => !gaps.has(r)),
        usersChecked: privileged.length,
        usersWithoutMfa: without.map((u) => ({ id: u.id, roles: u.roles.filter((r) => roles.includes(r)) })),
      };
    },
  };
}
