export type { WriteFileAtomicOptions } from './atomic-file.js';
export { writeFileAtomic } from './atomic-file.js';
export type {
  BackendCiphertext,
  DataKey,
  GenerateDataKeyOptions,
  HealthStatus,
  KeyMetadata,
  KeyVersionInfo,
  KmsBackend,
} from './backend.js';
export type { EncryptionContext } from './context.js';
export { canonicalContext, contextDigest } from './context.js';
export type {
  DataKeyCacheOptions,
  Envelope,
  EnvelopeInfo,
  EnvelopeKeyInfo,
  EnvelopeOptions,
  RewrapOptions,
} from './envelope.js';
export { createEnvelope } from './envelope.js';
export type { KmsErrorCode } from './errors.js';
export { KmsError } from './errors.js';
export type { SecretEncrypter } from './secret-encrypter.js';
export { secretEncrypter } from './secret-encrypter.js';
