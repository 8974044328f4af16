import { createHash } from 'node:crypto';
import type { Clock, GuardedClaimOptions, KeyValueStore, RandomSource } from '@provisioning/core';
import { isSdkError, randomToken, systemClock, systemRandom, uuidv7 } from '@provisioning/core';
import type {
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { AttemptLimits } from './attempts.js';
import { AttemptLimiter, attemptLimits } from './attempts.js';
import { DEFAULT_BACKUP_CODE_COUNT, generateBackupCode, hashBackupCode, normalizeBackupCode } from './backup-codes.js';
import type { EncryptionContext, SecretEncrypter } from './encrypter.js';
import { clientError, MfaError, malformed } from './errors.js';
import type { FactorType, MfaDevice, MfaStore } from './store.js';
import type { TotpParameters } from './totp.js';
import {
  DEFAULT_TOTP_ISSUER,
  generateTotpSecret,
  matchStep,
  normalizeTotpCode,
  totpParameters,
  totpQrDataUrl,
  totpQrSvg,
  totpUri,
} from './totp.js';
import type { RelyingParty, UserVerification } from './webauthn.js';
import { parseAuthenticationResponse, parseRegistrationResponse, relyingParty, webauthnFailure } from './webauthn.js';

/** How a verification was made. */
export type MfaMethod = 'totp' | 'webauthn' | 'backup_code';

/**
 * Options of {@link createMfaService}.
 * @example
 * ```ts
 * const options: MfaServiceOptions = {
 *   store, kv, encrypter,
 *   rp: { id: 'example.com', name: 'Provisioning', origins: ['https://cc.example.com'] },
 *   attempts: { maxFailures: 5, windowSeconds: 300 },
 *   webauthn: { userVerification: 'required' },
 * };
 * ```
 */
export interface MfaServiceOptions {
  /** Durable state: devices, credentials, backup codes. */
  readonly store: MfaStore;
  /** Hot state shared by instances: challenges, TOTP replay markers, attempt counters. */
  readonly kv: KeyValueStore;
  /** Encrypts TOTP secrets at rest (the KMS package's encrypter, or `localAesGcmEncrypter`). */
  readonly encrypter: SecretEncrypter;
  /** The WebAuthn relying party: RP ID, name and allowed origins. */
  readonly rp: RelyingParty;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
  /** Randomness for secrets, codes and ids. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
  /** Prepended to every key in `kv`. Default `mfa:`. */
  readonly keyPrefix?: string;
  /** TOTP settings. */
  readonly totp?: {
    /** Issuer shown in authenticator apps. Default `Provisioning`. */
    readonly issuer?: string;
    /** Steps accepted either side of the current one. Default 1 (±30 s). At most 10. */
    readonly windowSteps?: number;
    /** Secret length in bytes, 20 (default) to 64. */
    readonly secretBytes?: number;
  } & Partial<TotpParameters>;
  /** Failed-verification limits for codes (TOTP and backup). Default 5 per 300 s. */
  readonly attempts?: Partial<AttemptLimits>;
  /** Backup codes issued per set. Default 10. */
  readonly backupCodeCount?: number;
  /** Issue a set of backup codes when a user confirms a first factor. Default `true`. */
  readonly issueBackupCodesOnFirstFactor?: boolean;
  /** Whether a user may remove their last confirmed factor. Default `false`. */
  readonly allowRemovingLastFactor?: boolean;
  /** Lifetime of an MFA challenge in seconds. Default 300. */
  readonly challengeTtlSeconds?: number;
  /** WebAuthn settings. */
  readonly webauthn?: {
    /**
     * What the authenticator must do to verify the user, used for both the
     * options and the verification (they never disagree). Default
     * `preferred` for a second factor. Username-less (passkey) sign-in always
     * requires it, because the passkey then stands in for the password too.
     */
    readonly userVerification?: UserVerification;
    /** Ceremony timeout in milliseconds (also the challenge's lifetime). Default 300,000. */
    readonly timeoutMs?: number;
  };
}

/** A factor as the service shows it: no secret, no public key. */
export interface DeviceInfo {
  readonly id: string;
  readonly type: FactorType;
  readonly name: string;
  readonly createdAt: Date;
  /** Whether enrollment completed (only confirmed devices verify). */
  readonly confirmed: boolean;
  readonly lastUsedAt: Date | undefined;
  /** WebAuthn details: transports, backup eligibility and state. */
  readonly webauthn:
    | {
        readonly credentialId: string;
        readonly transports: readonly string[];
        /** Whether the credential may be synced between devices (a passkey). */
        readonly backupEligible: boolean;
        /** Whether it is currently backed up. */
        readonly backedUp: boolean;
        readonly aaguid: string;
      }
    | undefined;
}

/**
 * The outcome of a successful verification.
 *
 * @example
 * ```ts
 * const { method, amr, userId } = await mfa.verifyTotp('u1', code);
 * ```
 */
export interface VerificationResult {
  readonly userId: string;
  /** Which factor was used: for the token's `amr` claim and step-up decisions. */
  readonly method: MfaMethod;
  /** The device used; `undefined` for a backup code. */
  readonly deviceId: string | undefined;
  /**
   * RFC 8176 authentication method references: `otp` for TOTP and backup
   * codes, `hwk` for WebAuthn (plus `user` when the authenticator verified the user).
   */
  readonly amr: readonly string[];
  /** WebAuthn only: whether the authenticator verified the user (PIN or biometrics). */
  readonly userVerified: boolean;
  readonly verifiedAt: Date;
  /** Backup codes left after this verification (backup codes only). */
  readonly remainingBackupCodes?: number;
}

/** What {@link MfaService.beginTotpEnrollment} returns: show it once, store none of it. */
export interface TotpEnrollment {
  /** The pending device; confirm it with a first code. */
  readonly deviceId: string;
  /** The secret in base32, for manual entry. */
  readonly secret: string;
  /** The `otpauth://` URI. */
  readonly uri: string;
  /** The URI as an SVG QR code. */
  readonly qrSvg: string;
  /** The URI as a PNG `data:` URL QR code. */
  readonly qrDataUrl: string;
}

/** What completing an enrollment returns. */
export interface EnrollmentResult {
  readonly device: DeviceInfo;
  /** A fresh set of backup codes when this was the user's first factor (and the option is on); show once. */
  readonly backupCodes: readonly string[] | undefined;
}

/** What {@link MfaService.createChallenge} returns, for the client to answer. */
export interface MfaChallenge {
  /** Bearer id of the challenge (43 base64url characters); single use. */
  readonly challengeId: string;
  readonly userId: string;
  readonly expiresAt: Date;
  /** Factors the user can answer with. */
  readonly methods: readonly MfaMethod[];
  /** WebAuthn request options when the user has a security key or passkey. */
  readonly webauthn: PublicKeyCredentialRequestOptionsJSON | undefined;
}

/**
 * An answer to an MFA challenge.
 *
 * @example
 * ```ts
 * const answer: ChallengeAnswer = { method: 'webauthn', response: await startAuthentication({ optionsJSON }) };
 * ```
 */
export type ChallengeAnswer =
  | { readonly method: 'totp'; readonly code: string; readonly deviceId?: string }
  | { readonly method: 'backup_code'; readonly code: string }
  | { readonly method: 'webauthn'; readonly response: unknown };

/**
 * Multi-factor authentication: TOTP, WebAuthn/passkeys, backup codes,
 * devices, attempt limits and MFA challenges. Made by {@link createMfaService}.
 * Every method rejects with {@link MfaError} (or a core `CoreError` from the
 * stores); no message carries a code or secret.
 * @example
 * ```ts
 * const challenge = await mfa.createChallenge(user.id);
 * const result = await mfa.completeChallenge(challenge.challengeId, { method: 'totp', code: body.code });
 * issueTokens(user, { amr: ['pwd', ...result.amr] });
 * ```
 */
export interface MfaService {
  /** Starts TOTP enrollment: a pending device with a fresh secret, its URI and QR codes. Replaces older pending TOTP devices. */
  beginTotpEnrollment(
    userId: string,
    options: { readonly accountName: string; readonly name?: string },
  ): Promise<TotpEnrollment>;
  /** Completes TOTP enrollment with a first valid code, which counts as used. */
  confirmTotpEnrollment(userId: string, deviceId: string, code: string): Promise<EnrollmentResult>;
  /** Verifies a TOTP code against the user's confirmed TOTP devices (or only `deviceId`). */
  verifyTotp(userId: string, code: string, options?: { readonly deviceId?: string }): Promise<VerificationResult>;
  /** Issues a new set of backup codes, invalidating the previous set. The user needs a confirmed factor. */
  generateBackupCodes(userId: string): Promise<string[]>;
  /** Verifies and uses up one backup code. */
  verifyBackupCode(userId: string, code: string): Promise<VerificationResult>;
  /** How many unused backup codes the user has. */
  remainingBackupCodes(userId: string): Promise<number>;
  /** The user's devices, oldest first. */
  listDevices(userId: string): Promise<DeviceInfo[]>;
  /** Renames a device (1–64 characters). */
  renameDevice(userId: string, deviceId: string, name: string): Promise<DeviceInfo>;
  /** Removes a device; refuses the last confirmed one unless `allowRemovingLastFactor`. Removing the last factor also clears backup codes. */
  removeDevice(userId: string, deviceId: string): Promise<void>;
  /** Whether the user has at least one confirmed factor. */
  isEnrolled(userId: string): Promise<boolean>;
  /** Starts registering a security key or passkey. */
  beginWebAuthnRegistration(
    userId: string,
    options: {
      readonly userName: string;
      readonly userDisplayName?: string;
      /** Ask for a discoverable credential (passkey). Default `preferred`. */
      readonly residentKey?: 'required' | 'preferred' | 'discouraged';
      readonly authenticatorAttachment?: 'platform' | 'cross-platform';
    },
  ): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Verifies the browser's registration response and stores the credential. */
  finishWebAuthnRegistration(
    userId: string,
    response: unknown,
    options?: { readonly name?: string },
  ): Promise<EnrollmentResult>;
  /**
   * Starts a WebAuthn authentication. With `userId`: the user's credentials
   * are allowed (second factor). Without: username-less passkey sign-in
   * (discoverable credentials, user verification required).
   */
  beginWebAuthnAuthentication(options?: { readonly userId?: string }): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** Verifies an assertion; for username-less sign-in the result names the user. */
  finishWebAuthnAuthentication(response: unknown, options?: { readonly userId?: string }): Promise<VerificationResult>;
  /** After a password login: a short-lived, single-use challenge any enrolled factor completes. */
  createChallenge(userId: string): Promise<MfaChallenge>;
  /** Completes a challenge with one factor; the challenge is used up on success. */
  completeChallenge(challengeId: string, answer: ChallengeAnswer): Promise<VerificationResult>;
  /** Deletes every device and backup code of the user (account deletion). */
  deleteUser(userId: string): Promise<void>;
}

interface CeremonyState {
  readonly kind: 'registration' | 'authentication';
  readonly userId?: string;
  readonly userHandle?: string;
  readonly userVerification: UserVerification;
}

interface ChallengeState {
  readonly userId: string;
  readonly expiresAt: number;
}

const USER_ID = /^[\x21-\x7e]{1,200}$/;
const DEVICE_ID = /^[0-9a-f-]{36}$/;
const CHALLENGE_ID = /^[A-Za-z0-9_-]{43}$/;
const PREFIX = /^[\x21-\x7e]{0,64}$/;
/**
 * lastUsedAt of a TOTP device is informational (the device list shows it),
 * so it is written only when the stored value is at least this old: one
 * MfaStore write per device per minute at most, instead of one per
 * verification. It can lag the real last use by up to 60 s. Nothing
 * security-related reads it (replay and attempts live in the KeyValueStore).
 */
export const LAST_USED_GRANULARITY_MS = 60_000;

function invalidOptions(message: string): MfaError {
  return new MfaError(message, { code: 'ERR_MFA_INVALID_OPTIONS', fault: 'client' });
}

function checkUserId(userId: unknown): asserts userId is string {
  // User ids become part of store keys: printable ASCII, bounded.
  if (typeof userId !== 'string' || !USER_ID.test(userId))
    throw malformed('userId', 'expected 1-200 printable ASCII characters');
}

function checkDeviceId(deviceId: unknown): asserts deviceId is string {
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) throw malformed('deviceId', 'expected a device id');
}

function deviceName(name: unknown, fallback: string): string {
  if (name === undefined) return fallback;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (typeof name !== 'string' || name.trim() === '' || name.length > 64 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw malformed('name', 'expected 1-64 printable characters');
  }
  return name.trim();
}

/** @internal The public view of a stored device. */
export function deviceInfo(d: MfaDevice): DeviceInfo {
  return {
    id: d.id,
    type: d.type,
    name: d.name,
    createdAt: d.createdAt,
    confirmed: d.confirmedAt !== undefined,
    lastUsedAt: d.lastUsedAt,
    webauthn:
      d.webauthn === undefined
        ? undefined
        : {
            credentialId: d.webauthn.credentialId,
            transports: d.webauthn.transports,
            backupEligible: d.webauthn.deviceType === 'multiDevice',
            backedUp: d.webauthn.backedUp,
            aaguid: d.webauthn.aaguid,
          },
  };
}

/**
 * Creates the MFA service the control center and the middleware use.
 * Validates every option eagerly.
 *
 * @throws MfaError `ERR_MFA_INVALID_OPTIONS` for a missing store, kv or encrypter, a bad RP or bad limits.
 * @example
 * ```ts
 * import { memoryStore } from '@provisioning/core';
 * import { createMfaService, localAesGcmEncrypter, memoryMfaStore } from '@provisioning/mfa';
 *
 * const mfa = createMfaService({
 *   store: memoryMfaStore(),
 *   kv: memoryStore(),
 *   encrypter: localAesGcmEncrypter({ keys: [{ id: 'k1', key: masterKey }] }),
 *   rp: { id: 'example.com', name: 'Provisioning', origins: ['https://cc.example.com'] },
 * });
 * const { uri, qrSvg, deviceId } = await mfa.beginTotpEnrollment('u1', { accountName: 'alice@example.com' });
 * await mfa.confirmTotpEnrollment('u1', deviceId, codeFromApp);
 * const challenge = await mfa.createChallenge('u1'); // after the password check
 * const result = await mfa.completeChallenge(challenge.challengeId, { method: 'totp', code });
 * result.amr; // ['otp']
 * ```
 */
export function createMfaService(options: MfaServiceOptions): MfaService {
  const { store, kv, encrypter } = options ?? ({} as MfaServiceOptions);
  if (typeof store?.listDevices !== 'function') throw invalidOptions('createMfaService needs an MfaStore');
  if (typeof kv?.setIfAbsent !== 'function') throw invalidOptions('createMfaService needs a KeyValueStore');
  if (typeof encrypter?.decrypt !== 'function') throw invalidOptions('createMfaService needs a SecretEncrypter');
  const rp = relyingParty(options.rp);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const prefix = options.keyPrefix ?? 'mfa:';
  if (!PREFIX.test(prefix)) throw invalidOptions('keyPrefix must be printable ASCII, at most 64 characters');
  const totp = totpParameters(options.totp);
  const issuer = options.totp?.issuer ?? DEFAULT_TOTP_ISSUER;
  const windowSteps = options.totp?.windowSteps ?? 1;
  if (!Number.isSafeInteger(windowSteps) || windowSteps < 0 || windowSteps > 10) {
    throw invalidOptions('totp.windowSteps must be an integer from 0 to 10');
  }
  const secretBytes = options.totp?.secretBytes ?? 20;
  generateTotpSecret(secretBytes, { bytes: (n) => new Uint8Array(n) }); // validates the length
  const backupCodeCount = options.backupCodeCount ?? DEFAULT_BACKUP_CODE_COUNT;
  if (!Number.isSafeInteger(backupCodeCount) || backupCodeCount < 1 || backupCodeCount > 50) {
    throw invalidOptions('backupCodeCount must be an integer from 1 to 50');
  }
  const challengeTtlSeconds = options.challengeTtlSeconds ?? 300;
  if (!(challengeTtlSeconds >= 30 && challengeTtlSeconds <= 3600)) {
    throw invalidOptions('challengeTtlSeconds must be from 30 to 3600');
  }
  const userVerification = options.webauthn?.userVerification ?? 'preferred';
  if (!['required', 'preferred', 'discouraged'].includes(userVerification)) {
    throw invalidOptions('webauthn.userVerification must be required, preferred or discouraged');
  }
  const timeoutMs = options.webauthn?.timeoutMs ?? 300_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 10_000 || timeoutMs > 3_600_000) {
    throw invalidOptions('webauthn.timeoutMs must be from 10,000 to 3,600,000');
  }
  const allowRemovingLastFactor = options.allowRemovingLastFactor ?? false;
  const issueOnFirst = options.issueBackupCodesOnFirstFactor ?? true;
  const limiter = new AttemptLimiter(kv, prefix, attemptLimits(options.attempts), clock);
  // A step stays acceptable for (2 * window + 1) steps; one more step covers
  // clock differences between instances sharing the store.
  const replayTtlSeconds = (2 * windowSteps + 2) * totp.periodSeconds;

  const totpContext = (userId: string, deviceId: string): EncryptionContext => ({
    userId,
    deviceId,
    purpose: 'mfa-totp',
  });

  const decryptSecret = async (device: MfaDevice): Promise<Uint8Array> => {
    try {
      return await encrypter.decrypt(device.totp?.secretCiphertext as string, totpContext(device.userId, device.id));
    } catch (error) {
      if (error instanceof MfaError) throw error;
      // A KMS error may echo request data: keep only its name and code, and
      // whether it is worth retrying (a KMS outage is, a wrong key is not).
      throw new MfaError('the TOTP secret could not be decrypted', {
        code: 'ERR_MFA_ENCRYPTION',
        fault: 'server',
        retryable: isSdkError(error) && error.retryable,
        details: { error: (error as Error)?.name, errorCode: isSdkError(error) ? error.code : undefined },
      });
    }
  };

  // Whether store.guardedClaimAndTouch can join kv's transactions; false
  // once it has declined (a property of the two stores, which do not change).
  let joinable = true;
  // Coalesced (LAST_USED_GRANULARITY_MS): a write per verification would
  // double the store load for no insight.
  const lastUsedDue = (device: MfaDevice, now: number): boolean =>
    device.lastUsedAt === undefined || now - device.lastUsedAt.getTime() >= LAST_USED_GRANULARITY_MS;

  const confirmedFactors = async (userId: string): Promise<MfaDevice[]> =>
    (await store.listDevices(userId)).filter((d) => d.confirmedAt !== undefined);

  const issueBackupCodes = async (userId: string): Promise<string[]> => {
    const codes = Array.from({ length: backupCodeCount }, () => generateBackupCode(random));
    const hashes = codes.map((c) => hashBackupCode(userId, normalizeBackupCode(c)));
    await store.replaceBackupCodes(userId, hashes, new Date(clock.now()));
    return codes;
  };

  const firstFactorCodes = async (userId: string): Promise<string[] | undefined> => {
    if (!issueOnFirst) return undefined;
    if ((await confirmedFactors(userId)).length !== 1) return undefined;
    if ((await store.countBackupCodes(userId)) > 0) return undefined;
    return issueBackupCodes(userId);
  };

  // `code` is already normalised (normalizeTotpCode: decimal digits only),
  // by the caller, to the digits it expects.
  const verifyTotpInternal = async (
    userId: string,
    code: string,
    devices: readonly MfaDevice[],
    confirming: boolean,
  ): Promise<{ device: MfaDevice; at: number }> => {
    // Decrypt first: a server-side failure (KMS down) must not cost the user
    // an attempt. Then the match, which is pure: the store is asked once,
    // after it, and that one atomic operation decides (see AttemptLimiter.attempt).
    const now = clock.now();
    const matches: { device: MfaDevice; step: number }[] = [];
    for (const device of devices) {
      const t = device.totp;
      // A device with another number of digits cannot match. Comparing the
      // length is normalizeTotpCode(code, t.digits) for a normalised code,
      // without its second pass of regular expressions.
      if (t === undefined || code.length !== t.digits) continue;
      const secret = await decryptSecret(device);
      let step: number | undefined;
      try {
        step = matchStep(secret, code, now, windowSteps, t);
      } finally {
        secret.fill(0);
      }
      if (step !== undefined) matches.push({ device, step });
    }
    // A locked user is refused here whatever the code: the store checks the
    // count before it looks at the claim.
    if (matches.length === 0) {
      await limiter.attempt(userId, undefined, replayTtlSeconds);
      throw clientError('ERR_MFA_INVALID_CODE', 'the code is not valid');
    }
    // Usually one match. With several devices whose codes coincide (one in
    // 10^digits per pair), each is tried in turn; a replayed one counts as a
    // failure, a later claim resets the count.
    for (const { device, step } of matches) {
      // A verification whose lastUsedAt write is due (coalesced, see
      // LAST_USED_GRANULARITY_MS) commits it with the claim when the store
      // can (one transaction, written only if the claim wins); else it is
      // written after the claim, as for any store.
      const due = !confirming && lastUsedDue(device, now);
      let touched = false;
      const combined =
        due && joinable && store.guardedClaimAndTouch !== undefined
          ? (claim: GuardedClaimOptions) => {
              const run = store.guardedClaimAndTouch?.(kv, claim, { userId, deviceId: device.id, at: new Date(now) });
              // The stores cannot share a transaction: they never will, stop asking.
              if (run === undefined) joinable = false;
              else touched = true;
              return run;
            }
          : undefined;
      const outcome = await limiter.attempt(
        userId,
        `${prefix}totp-used:${device.id}:${step}`,
        replayTtlSeconds,
        combined,
      );
      if (outcome !== 'claimed') continue;
      // The claim reset the attempt count: the code was right and unused,
      // even if a concurrent confirmation of the same device wins below.
      if (confirming && !(await store.confirmDevice(userId, device.id, new Date(now)))) {
        throw clientError('ERR_MFA_ALREADY_CONFIRMED', 'the device is already confirmed');
      }
      if (due && !touched) await store.touchDevice(userId, device.id, new Date(now));
      return { device, at: now };
    }
    throw clientError('ERR_MFA_CODE_REPLAYED', 'this code was already used; wait for the next one');
  };

  const result = (
    userId: string,
    method: MfaMethod,
    deviceId: string | undefined,
    at: number,
    userVerified = false,
  ): VerificationResult => ({
    userId,
    method,
    deviceId,
    amr: method === 'webauthn' ? (userVerified ? ['hwk', 'user'] : ['hwk']) : ['otp'],
    userVerified,
    verifiedAt: new Date(at),
  });

  const ceremonyKey = (challenge: string): string => `${prefix}webauthn:${challenge}`;
  // Challenge ids are bearer secrets: the store only ever sees their hash.
  const challengeKey = (challengeId: string): string =>
    `${prefix}challenge:${createHash('sha256').update(challengeId).digest('base64url')}`;

  const webauthnDevices = async (userId: string): Promise<MfaDevice[]> =>
    (await store.listDevices(userId)).filter((d) => d.webauthn !== undefined && d.confirmedAt !== undefined);

  const service: MfaService = {
    async beginTotpEnrollment(userId, opts) {
      checkUserId(userId);
      const name = deviceName(opts?.name, 'Authenticator app');
      const secret = generateTotpSecret(secretBytes, random);
      const uri = totpUri({ secret: secret.bytes, accountName: opts?.accountName, issuer, ...totp });
      // An abandoned enrollment leaves a pending device: replace it rather than pile them up.
      for (const d of await store.listDevices(userId)) {
        if (d.type === 'totp' && d.confirmedAt === undefined) {
          await store.deleteDevice(userId, d.id, { keepLastFactor: true });
        }
      }
      const deviceId = uuidv7(clock, random);
      const secretCiphertext = await encrypter.encrypt(secret.bytes, totpContext(userId, deviceId));
      await store.createDevice({
        id: deviceId,
        userId,
        type: 'totp',
        name,
        createdAt: new Date(clock.now()),
        confirmedAt: undefined,
        lastUsedAt: undefined,
        totp: { secretCiphertext, ...totp },
        webauthn: undefined,
      });
      const [qrSvg, qrDataUrl] = await Promise.all([totpQrSvg(uri), totpQrDataUrl(uri)]);
      return { deviceId, secret: secret.base32, uri, qrSvg, qrDataUrl };
    },

    async confirmTotpEnrollment(userId, deviceId, code) {
      checkUserId(userId);
      checkDeviceId(deviceId);
      const device = await store.getDevice(userId, deviceId);
      if (device?.totp === undefined) throw clientError('ERR_MFA_DEVICE_NOT_FOUND', 'no such TOTP device');
      const clean = normalizeTotpCode(code, device.totp.digits);
      if (device.confirmedAt !== undefined)
        throw clientError('ERR_MFA_ALREADY_CONFIRMED', 'the device is already confirmed');
      const { at } = await verifyTotpInternal(userId, clean, [device], true);
      await store.touchDevice(userId, deviceId, new Date(at));
      const backupCodes = await firstFactorCodes(userId);
      const stored = (await store.getDevice(userId, deviceId)) as MfaDevice;
      return { device: deviceInfo(stored), backupCodes };
    },

    async verifyTotp(userId, code, opts) {
      checkUserId(userId);
      if (opts?.deviceId !== undefined) checkDeviceId(opts.deviceId);
      const clean = normalizeTotpCode(code, totp.digits);
      const wanted = opts?.deviceId;
      const devices: MfaDevice[] = [];
      for (const d of await store.listDevices(userId)) {
        if (d.type === 'totp' && d.confirmedAt !== undefined && (wanted === undefined || d.id === wanted))
          devices.push(d);
      }
      if (devices.length === 0) throw clientError('ERR_MFA_NOT_ENROLLED', 'no confirmed TOTP device');
      // lastUsedAt is written in there, when due.
      const { device, at } = await verifyTotpInternal(userId, clean, devices, false);
      return result(userId, 'totp', device.id, at);
    },

    async generateBackupCodes(userId) {
      checkUserId(userId);
      if ((await confirmedFactors(userId)).length === 0) {
        throw clientError('ERR_MFA_NOT_ENROLLED', 'backup codes need a confirmed factor');
      }
      return issueBackupCodes(userId);
    },

    async verifyBackupCode(userId, code) {
      checkUserId(userId);
      const hash = hashBackupCode(userId, normalizeBackupCode(code));
      await limiter.reserve(userId);
      // Lookup by hash and delete in one statement: no comparison loop to time, and exactly one use.
      if (!(await store.consumeBackupCode(userId, hash))) {
        throw clientError('ERR_MFA_INVALID_CODE', 'the code is not valid');
      }
      await limiter.reset(userId);
      const at = clock.now();
      return {
        ...result(userId, 'backup_code', undefined, at),
        remainingBackupCodes: await store.countBackupCodes(userId),
      };
    },

    async remainingBackupCodes(userId) {
      checkUserId(userId);
      return store.countBackupCodes(userId);
    },

    async listDevices(userId) {
      checkUserId(userId);
      return (await store.listDevices(userId)).map(deviceInfo);
    },

    async renameDevice(userId, deviceId, name) {
      checkUserId(userId);
      checkDeviceId(deviceId);
      const clean = deviceName(name, '');
      if (!(await store.renameDevice(userId, deviceId, clean))) {
        throw clientError('ERR_MFA_DEVICE_NOT_FOUND', 'no such device');
      }
      return deviceInfo((await store.getDevice(userId, deviceId)) as MfaDevice);
    },

    async removeDevice(userId, deviceId) {
      checkUserId(userId);
      checkDeviceId(deviceId);
      const outcome = await store.deleteDevice(userId, deviceId, { keepLastFactor: !allowRemovingLastFactor });
      if (outcome === 'not_found') throw clientError('ERR_MFA_DEVICE_NOT_FOUND', 'no such device');
      if (outcome === 'last_factor') {
        throw clientError('ERR_MFA_LAST_FACTOR', 'the last factor cannot be removed; enroll another first');
      }
      // Backup codes recover a factor; with no factor left they would be a factor of their own.
      if ((await confirmedFactors(userId)).length === 0)
        await store.replaceBackupCodes(userId, [], new Date(clock.now()));
    },

    async isEnrolled(userId) {
      checkUserId(userId);
      return (await confirmedFactors(userId)).length > 0;
    },

    async beginWebAuthnRegistration(userId, opts) {
      checkUserId(userId);
      if (typeof opts?.userName !== 'string' || opts.userName.trim() === '' || opts.userName.length > 256) {
        throw malformed('userName', 'expected 1-256 characters');
      }
      const existing = await webauthnDevices(userId);
      // One stable, random user handle per user: authenticators key passkeys by
      // it, and it must not reveal the user id (it is readable by the device).
      const userHandle = existing[0]?.webauthn?.userHandle ?? Buffer.from(random.bytes(32)).toString('base64url');
      const creation = await generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: opts.userName,
        userDisplayName: opts.userDisplayName ?? opts.userName,
        userID: new Uint8Array(Buffer.from(userHandle, 'base64url')),
        challenge: new Uint8Array(random.bytes(32)),
        timeout: timeoutMs,
        attestationType: 'none',
        excludeCredentials: existing.map((d) => ({
          id: d.webauthn?.credentialId as string,
          transports: d.webauthn?.transports as AuthenticatorTransport[],
        })),
        authenticatorSelection: {
          residentKey: opts.residentKey ?? 'preferred',
          userVerification,
          ...(opts.authenticatorAttachment ? { authenticatorAttachment: opts.authenticatorAttachment } : {}),
        },
      });
      const state: CeremonyState = { kind: 'registration', userId, userHandle, userVerification };
      await kv.set(ceremonyKey(creation.challenge), JSON.stringify(state), { ttlSeconds: timeoutMs / 1000 });
      return creation;
    },

    async finishWebAuthnRegistration(userId, input, opts) {
      checkUserId(userId);
      const name = deviceName(opts?.name, 'Security key');
      const { response, challenge } = parseRegistrationResponse(input);
      // Consumed before verification: a challenge answers at most one response, good or bad.
      const raw = await kv.consume(ceremonyKey(challenge));
      const state = raw === undefined ? undefined : (JSON.parse(raw) as CeremonyState);
      if (state?.kind !== 'registration' || state.userId !== userId) {
        throw clientError('ERR_MFA_CHALLENGE_INVALID', 'the registration challenge is unknown, expired or used');
      }
      let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verified = await verifyRegistrationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: [...rp.origins],
          expectedRPID: rp.id,
          requireUserPresence: true,
          requireUserVerification: state.userVerification === 'required',
        });
      } catch (error) {
        throw webauthnFailure(error);
      }
      if (!verified.verified) throw webauthnFailure(undefined);
      const info = verified.registrationInfo;
      const now = clock.now();
      await store.createDevice({
        id: uuidv7(clock, random),
        userId,
        type: 'webauthn',
        name,
        createdAt: new Date(now),
        confirmedAt: new Date(now),
        lastUsedAt: undefined,
        totp: undefined,
        webauthn: {
          credentialId: info.credential.id,
          publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
          counter: info.credential.counter,
          transports: (response.response.transports ?? []).slice(0, 8),
          deviceType: info.credentialDeviceType,
          backedUp: info.credentialBackedUp,
          aaguid: info.aaguid,
          userHandle: state.userHandle as string,
        },
      });
      const device = (await store.findCredential(info.credential.id)) as MfaDevice;
      return { device: deviceInfo(device), backupCodes: await firstFactorCodes(userId) };
    },

    async beginWebAuthnAuthentication(opts) {
      const userId = opts?.userId;
      let allow: MfaDevice[] = [];
      if (userId !== undefined) {
        checkUserId(userId);
        allow = await webauthnDevices(userId);
        if (allow.length === 0) throw clientError('ERR_MFA_NOT_ENROLLED', 'no registered security key or passkey');
      }
      // Username-less: the passkey replaces password and second factor, so it must verify the user.
      const uv: UserVerification = userId === undefined ? 'required' : userVerification;
      const request = await generateAuthenticationOptions({
        rpID: rp.id,
        challenge: new Uint8Array(random.bytes(32)),
        timeout: timeoutMs,
        userVerification: uv,
        allowCredentials: allow.map((d) => ({
          id: d.webauthn?.credentialId as string,
          transports: d.webauthn?.transports as AuthenticatorTransport[],
        })),
      });
      const state: CeremonyState = { kind: 'authentication', ...(userId ? { userId } : {}), userVerification: uv };
      await kv.set(ceremonyKey(request.challenge), JSON.stringify(state), { ttlSeconds: timeoutMs / 1000 });
      return request;
    },

    async finishWebAuthnAuthentication(input, opts) {
      if (opts?.userId !== undefined) checkUserId(opts.userId);
      const { response, challenge, userHandle } = parseAuthenticationResponse(input);
      const raw = await kv.consume(ceremonyKey(challenge));
      const state = raw === undefined ? undefined : (JSON.parse(raw) as CeremonyState);
      if (state?.kind !== 'authentication' || (opts?.userId !== undefined && state.userId !== opts.userId)) {
        throw clientError('ERR_MFA_CHALLENGE_INVALID', 'the authentication challenge is unknown, expired or used');
      }
      const device = await store.findCredential(response.id);
      const expectedUser = state.userId ?? opts?.userId;
      if (
        device?.webauthn === undefined ||
        device.confirmedAt === undefined ||
        (expectedUser !== undefined && device.userId !== expectedUser)
      ) {
        throw clientError('ERR_MFA_CREDENTIAL_NOT_FOUND', 'the credential is not registered');
      }
      const cred = device.webauthn;
      // Username-less: the authenticator names the account; it must be the credential's owner.
      if (state.userId === undefined && userHandle !== cred.userHandle) {
        throw clientError('ERR_MFA_WEBAUTHN_FAILED', 'WebAuthn verification failed (user_handle)', {
          reason: 'user_handle',
        });
      }
      let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: [...rp.origins],
          expectedRPID: rp.id,
          credential: {
            id: cred.credentialId,
            publicKey: new Uint8Array(Buffer.from(cred.publicKey, 'base64url')),
            counter: cred.counter,
            transports: [...cred.transports],
          },
          requireUserVerification: state.userVerification === 'required',
        });
      } catch (error) {
        throw webauthnFailure(error);
      }
      if (!verified.verified) throw webauthnFailure(undefined);
      const info = verified.authenticationInfo;
      const now = clock.now();
      // Compare-and-set: of two assertions racing with the same counter (a
      // clone used at the same time), only one is accepted.
      const updated = await store.updateCounter(device.userId, device.id, {
        expectedCounter: cred.counter,
        counter: info.newCounter,
        backedUp: info.credentialBackedUp,
        lastUsedAt: new Date(now),
      });
      if (!updated) {
        throw clientError(
          'ERR_MFA_WEBAUTHN_COUNTER',
          'the signature counter did not increase: possible cloned authenticator',
        );
      }
      return result(device.userId, 'webauthn', device.id, now, info.userVerified);
    },

    async createChallenge(userId) {
      checkUserId(userId);
      const factors = await confirmedFactors(userId);
      if (factors.length === 0) throw clientError('ERR_MFA_NOT_ENROLLED', 'the user has no confirmed factor');
      const methods: MfaMethod[] = [];
      if (factors.some((d) => d.type === 'totp')) methods.push('totp');
      const hasWebAuthn = factors.some((d) => d.type === 'webauthn');
      if (hasWebAuthn) methods.push('webauthn');
      if ((await store.countBackupCodes(userId)) > 0) methods.push('backup_code');
      const challengeId = randomToken(32, random);
      const expiresAt = clock.now() + challengeTtlSeconds * 1000;
      const state: ChallengeState = { userId, expiresAt };
      await kv.set(challengeKey(challengeId), JSON.stringify(state), { ttlSeconds: challengeTtlSeconds });
      const webauthn = hasWebAuthn ? await service.beginWebAuthnAuthentication({ userId }) : undefined;
      return { challengeId, userId, expiresAt: new Date(expiresAt), methods, webauthn };
    },

    async completeChallenge(challengeId, answer) {
      if (typeof challengeId !== 'string' || !CHALLENGE_ID.test(challengeId)) {
        throw malformed('challengeId', 'expected 43 base64url characters');
      }
      const key = challengeKey(challengeId);
      const raw = await kv.get(key);
      const state = raw === undefined ? undefined : (JSON.parse(raw) as ChallengeState);
      if (state === undefined || clock.now() >= state.expiresAt) {
        throw clientError('ERR_MFA_CHALLENGE_INVALID', 'the MFA challenge is unknown, expired or used');
      }
      let verified: VerificationResult;
      switch (answer?.method) {
        case 'totp':
          verified = await service.verifyTotp(
            state.userId,
            answer.code,
            answer.deviceId === undefined ? undefined : { deviceId: answer.deviceId },
          );
          break;
        case 'backup_code':
          verified = await service.verifyBackupCode(state.userId, answer.code);
          break;
        case 'webauthn':
          verified = await service.finishWebAuthnAuthentication(answer.response, { userId: state.userId });
          break;
        default:
          throw malformed('answer', 'method must be totp, backup_code or webauthn');
      }
      // A wrong code leaves the challenge usable (typos happen; the attempt
      // limit bounds guessing); a success uses it up, exactly once.
      if ((await kv.consume(key)) === undefined) {
        throw clientError('ERR_MFA_CHALLENGE_INVALID', 'the MFA challenge is unknown, expired or used');
      }
      return verified;
    },

    async deleteUser(userId) {
      checkUserId(userId);
      await store.deleteUser(userId);
    },
  };
  return service;
}
