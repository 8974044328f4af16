import type { GuardedClaimOptions, GuardedClaimResult, KeyValueStore } from '@provisioning/core';
import type { TotpAlgorithm } from './totp.js';

/** The kinds of factor a device can be. */
export type FactorType = 'totp' | 'webauthn';

/** The TOTP part of a stored device. The secret is only ever stored encrypted. */
export interface StoredTotp {
  /** The secret, encrypted by the service's `SecretEncrypter` with `{ userId, deviceId, purpose: 'mfa-totp' }` as context. */
  readonly secretCiphertext: string;
  readonly algorithm: TotpAlgorithm;
  readonly digits: number;
  readonly periodSeconds: number;
}

/** The WebAuthn part of a stored device (one credential). */
export interface StoredWebAuthnCredential {
  /** The credential id, base64url. Unique across all users. */
  readonly credentialId: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  /** The last signature counter seen (0 for authenticators that do not count). */
  readonly counter: number;
  /** Transports the browser reported (`usb`, `nfc`, `ble`, `internal`, `hybrid` …). */
  readonly transports: readonly string[];
  /** Backup eligibility: `multiDevice` credentials may be synced (passkeys), `singleDevice` ones may not. */
  readonly deviceType: 'singleDevice' | 'multiDevice';
  /** Backup state: whether the credential is currently backed up (synced). */
  readonly backedUp: boolean;
  /** The authenticator model's AAGUID (all zeros when attestation is `none` on many platforms). */
  readonly aaguid: string;
  /** The WebAuthn user handle of the owner, base64url (random, not the user id). */
  readonly userHandle: string;
}

/** A factor as the store keeps it. Dates are millisecond precision. */
export interface MfaDevice {
  /** Device id (UUIDv7). */
  readonly id: string;
  readonly userId: string;
  readonly type: FactorType;
  /** Human name, e.g. "YubiKey 5" or "Phone". */
  readonly name: string;
  readonly createdAt: Date;
  /** When enrollment completed; an unconfirmed device never verifies and is not a factor. */
  readonly confirmedAt: Date | undefined;
  readonly lastUsedAt: Date | undefined;
  /** Present when `type` is `totp`. */
  readonly totp: StoredTotp | undefined;
  /** Present when `type` is `webauthn`. */
  readonly webauthn: StoredWebAuthnCredential | undefined;
}

/** What {@link MfaStore.deleteDevice} did. */
export type DeleteDeviceOutcome = 'deleted' | 'not_found' | 'last_factor';

/** Changes {@link MfaStore.updateCounter} applies when the counter still holds `expectedCounter`. */
export interface CounterUpdate {
  readonly expectedCounter: number;
  readonly counter: number;
  readonly backedUp: boolean;
  readonly lastUsedAt: Date;
}

/**
 * The durable state of MFA: devices (TOTP and WebAuthn credentials) and
 * hashed backup codes. Hot, key-shaped state (challenges, replay markers,
 * attempt counters) lives in a core `KeyValueStore` instead.
 *
 * Implementations: `memoryMfaStore()` (this package) and `sqlMfaStore()`
 * (`@provisioning/mfa/sql`, SQLite and PostgreSQL). Every implementation
 * passes the shared conformance suite.
 *
 * Concurrency: methods marked atomic are single operations on the backend:
 * concurrent callers on any number of instances observe the guarantee stated.
 * Returned objects are copies: mutating them changes nothing stored.
 * @example
 * ```ts
 * const store = memoryMfaStore(); // or await sqlMfaStore({ database })
 * const devices = await store.listDevices('u1');
 * ```
 */
export interface MfaStore {
  /** Which driver this is: `memory`, `sqlite`, `postgres`. */
  readonly id: string;
  /**
   * Inserts a device. Rejects with `ERR_MFA_CREDENTIAL_EXISTS` (storing
   * nothing) when its WebAuthn credential id or its device id already exists. Atomic.
   */
  createDevice(device: MfaDevice): Promise<void>;
  /** The device `deviceId` of `userId`, or `undefined` (also when it belongs to someone else). */
  getDevice(userId: string, deviceId: string): Promise<MfaDevice | undefined>;
  /** Every device of `userId`, oldest first. */
  listDevices(userId: string): Promise<MfaDevice[]>;
  /** The device holding WebAuthn credential `credentialId`, whoever owns it (for username-less login). */
  findCredential(credentialId: string): Promise<MfaDevice | undefined>;
  /** Renames a device; resolves `false` when there is no such device. */
  renameDevice(userId: string, deviceId: string, name: string): Promise<boolean>;
  /** Sets `confirmedAt` only if the device is unconfirmed; resolves `true` for exactly one caller. Atomic. */
  confirmDevice(userId: string, deviceId: string, at: Date): Promise<boolean>;
  /** Sets `lastUsedAt`; resolves `false` when there is no such device. */
  touchDevice(userId: string, deviceId: string, at: Date): Promise<boolean>;
  /**
   * Optional capability (stores need not have it): `kv.guardedClaim(claim)`
   * and, **only if its outcome is `claimed`**, `touchDevice(touch.userId,
   * touch.deviceId, touch.at)`, committed as one transaction. For a store
   * and a key/value store on one database (`sqlMfaStore` and `sqliteStore`
   * or `postgresStore` on the same `SqlDatabase`), a TOTP success is then one
   * commit instead of two. Any other outcome writes what `guardedClaim`
   * writes and nothing else; if the touch fails, the claim rolls back.
   *
   * Returns `undefined` synchronously, having done nothing, when this store
   * cannot share a transaction with `kv` (another database or driver): the
   * service then calls `kv.guardedClaim` and `touchDevice` one after the
   * other, as it does for stores without this method.
   */
  guardedClaimAndTouch?(
    kv: KeyValueStore,
    claim: GuardedClaimOptions,
    touch: { readonly userId: string; readonly deviceId: string; readonly at: Date },
  ): Promise<GuardedClaimResult> | undefined;
  /**
   * Compare-and-set of a WebAuthn credential's counter: applies `update`
   * only if the stored counter equals `update.expectedCounter`, and resolves
   * whether it did. Two concurrent assertions with the same counter cannot both win. Atomic.
   */
  updateCounter(userId: string, deviceId: string, update: CounterUpdate): Promise<boolean>;
  /**
   * Deletes a device. When `keepLastFactor` is true and the device is the
   * user's last confirmed one, deletes nothing and resolves `last_factor`.
   * Atomic with respect to concurrent deletions of the same user's devices
   * (two concurrent calls cannot remove the last two factors).
   */
  deleteDevice(
    userId: string,
    deviceId: string,
    options: { readonly keepLastFactor: boolean },
  ): Promise<DeleteDeviceOutcome>;
  /** Replaces the user's whole set of backup-code hashes (an empty list clears it). Atomic. */
  replaceBackupCodes(userId: string, hashes: readonly string[], createdAt: Date): Promise<void>;
  /** Removes backup-code hash `hash` of `userId`; resolves `true` for exactly one of any concurrent callers. Atomic. */
  consumeBackupCode(userId: string, hash: string): Promise<boolean>;
  /** How many unused backup codes `userId` has. */
  countBackupCodes(userId: string): Promise<number>;
  /** Deletes every device and backup code of `userId` (account deletion). */
  deleteUser(userId: string): Promise<void>;
  /** Releases what the store opened itself; a database handle passed in stays open. */
  close(): Promise<void>;
}
