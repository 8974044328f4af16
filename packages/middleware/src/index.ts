export type {
  ChainPass,
  ChainRefusal,
  RefusalSummary,
  RequestInfo,
  SecurityChain,
  SecurityChainOptions,
} from './chain.js';
export { createSecurityChain, defaultErrorBody } from './chain.js';
export type { ClientIpOptions, ClientIpResolver, HeaderReader } from './client-ip.js';
export { createClientIpResolver } from './client-ip.js';
export type { HttpErrorMapping, MiddlewareErrorCode } from './errors.js';
export { HTTP_ERRORS, MiddlewareError } from './errors.js';
export type { RateLimiter, RateLimiterOptions, RateLimitResult } from './rate-limit.js';
export { createRateLimiter } from './rate-limit.js';
export type {
  AuditRecorder,
  Authenticator,
  AuthorizationDecision,
  AuthorizationRequest,
  Authorizer,
  Credential,
  EmergencyGrant,
  Principal,
  ResourceRef,
  RouteSecurity,
  SecurityAuditEvent,
  SecurityContext,
  SecurityRequest,
} from './types.js';
