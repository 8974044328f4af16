/**
 * `@provisioning/auth`: JWT access tokens and key sets (jose), rotating refresh
 * tokens with reuse detection, revocation and sessions, Argon2id passwords and
 * login throttling, roles, API keys, and break-glass emergency access.
 *
 * SQL stores (SQLite, PostgreSQL) live in `@provisioning/auth/sql`.
 *
 * @module
 */
export type { ApiKeyInfo, ApiKeyService, ApiKeyServiceOptions, CreateApiKeyOptions } from './api-keys.js';
export { createApiKeyService } from './api-keys.js';
export type { Authenticator, AuthenticatorOptions, LoginRequest, LoginResult, PublicUser } from './authenticator.js';
export { createAuthenticator } from './authenticator.js';
export type {
  ActivationAuthentication,
  AuditSink,
  BreakGlass,
  BreakGlassActor,
  BreakGlassAlert,
  BreakGlassAuditEvent,
  BreakGlassOptions,
  BreakGlassRequest,
  BreakGlassRequestInput,
  BreakGlassStatus,
  EmergencyAccess,
  Notifier,
  WebhookNotifierOptions,
} from './break-glass.js';
export {
  BREAK_GLASS_LIMITS,
  BREAK_GLASS_RETENTION_DAYS,
  callbackNotifier,
  createBreakGlass,
  webhookNotifier,
} from './break-glass.js';
export type { AuthErrorCode } from './errors.js';
export { AuthError } from './errors.js';
export type { ActiveSigningKey, KeyInfo, KeyInput, KeySet, KeySetOptions, SigningAlgorithm } from './keys.js';
export { createKeySet, readKeyFile, SIGNING_ALGORITHMS } from './keys.js';
export type { PasswordHasher, PasswordHasherOptions } from './passwords.js';
export { createPasswordHasher } from './passwords.js';
export type { RevocationList, RevocationListOptions, RevocationSubject } from './revocation.js';
export { createRevocationList } from './revocation.js';
export type { Permission, Role } from './roles.js';
export { hasPermission, isRole, PERMISSIONS, permissionsFor, ROLE_PERMISSIONS, ROLES } from './roles.js';
export type { LoginAttempt, LoginThrottle, LoginThrottleOptions, ThrottleLimit } from './throttle.js';
export { createLoginThrottle } from './throttle.js';
export type {
  AccessTokenClaims,
  IssuedTokens,
  IssueOptions,
  SessionInfo,
  TokenEvent,
  TokenService,
  TokenServiceOptions,
  VerifyOptions,
} from './tokens.js';
export {
  ACCESS_TOKEN_TYPE,
  createTokenService,
  MAX_ACCESS_TTL_SECONDS,
  REFRESH_TOKEN_PREFIX,
} from './tokens.js';
export type { NewUser, User, UserPatch, UserStore } from './users.js';
export { memoryUserStore, normalizeUsername } from './users.js';
