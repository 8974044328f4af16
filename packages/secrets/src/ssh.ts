/**
 * SSH dynamic secrets: Ed25519 key pairs, a certificate authority, one-time
 * passwords and authorized_keys deployment, each usable alone or as a lease
 * provider.
 *
 * @module
 */
export type {
  AuthorizedKeySecret,
  AuthorizedKeysProviderOptions,
  DeployAuthorizedKeyRequest,
} from './ssh/authorized-keys.js';
export {
  AUTHORIZED_KEY_MARKER,
  authorizedKeysProvider,
  cleanupAuthorizedKeys,
  deployAuthorizedKey,
  expiryTimeOption,
  removeAuthorizedKey,
} from './ssh/authorized-keys.js';
export type {
  SshCertificate,
  SshCertificateAuthority,
  SshCertificateAuthorityOptions,
  SshCertificateExtension,
  SshCertificateRequest,
  SshCertificateType,
  SshCriticalOptions,
} from './ssh/ca.js';
export { createSshCertificateAuthority } from './ssh/ca.js';
export type { Ed25519Engine } from './ssh/ed25519.js';
export { nobleEd25519, nodeEd25519 } from './ssh/ed25519.js';
export type { GenerateSshKeyPairOptions, ParsedSshPublicKey, SshKeyPair } from './ssh/keys.js';
export { generateSshKeyPair, parseSshPublicKey } from './ssh/keys.js';
export type { SshOtp, SshOtpOptions, SshOtpService } from './ssh/otp.js';
export { createSshOtp, sshOtpProvider } from './ssh/otp.js';
export type {
  SshCertificateLeaseRequest,
  SshCertificateProviderOptions,
  SshCertificateSecret,
} from './ssh/providers.js';
export { sshCertificateProvider, sshKeyPairProvider } from './ssh/providers.js';
