export type { AttemptLimits } from './attempts.js';
export { DEFAULT_ATTEMPT_LIMITS } from './attempts.js';
export { DEFAULT_BACKUP_CODE_COUNT, generateBackupCode } from './backup-codes.js';
export type { CachingSecretEncrypter, CachingSecretEncrypterOptions } from './caching-encrypter.js';
export { cachingSecretEncrypter } from './caching-encrypter.js';
export type {
  EncryptionContext,
  LocalAesGcmEncrypterOptions,
  LocalEncryptionKey,
  SecretEncrypter,
} from './encrypter.js';
export { localAesGcmEncrypter } from './encrypter.js';
export type { MfaErrorCode } from './errors.js';
export { MfaError } from './errors.js';
export type {
  ChallengeAnswer,
  DeviceInfo,
  EnrollmentResult,
  MfaChallenge,
  MfaMethod,
  MfaService,
  MfaServiceOptions,
  TotpEnrollment,
  VerificationResult,
} from './service.js';
export { createMfaService, LAST_USED_GRANULARITY_MS } from './service.js';
export type {
  CounterUpdate,
  DeleteDeviceOutcome,
  FactorType,
  MfaDevice,
  MfaStore,
  StoredTotp,
  StoredWebAuthnCredential,
} from './store.js';
export { memoryMfaStore } from './stores/memory.js';
export type {
  GenerateTotpOptions,
  MatchTotpOptions,
  TotpAlgorithm,
  TotpParameters,
  TotpSecret,
  TotpUriOptions,
} from './totp.js';
export {
  DEFAULT_TOTP_ISSUER,
  DEFAULT_TOTP_PARAMETERS,
  decodeBase32,
  encodeBase32,
  generateTotp,
  generateTotpSecret,
  MIN_TOTP_SECRET_BYTES,
  matchTotp,
  totpQrDataUrl,
  totpQrSvg,
  totpUri,
} from './totp.js';
export type { RelyingParty, UserVerification, WebAuthnFailureReason } from './webauthn.js';
