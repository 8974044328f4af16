import { isSdkError } from '@provisioning/core';

/** The HTTP answer to an error: status, machine code, fixed message. */
export interface MappedError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** For 429s: seconds until a retry may succeed. */
  readonly retryAfterSeconds?: number;
}

const m = (status: number, code: string, message: string): MappedError => ({ status, code, message });
const REFRESH_REFUSED = m(401, 'INVALID_REFRESH_TOKEN', 'The refresh token was refused.');
const MFA_REFUSED = m(401, 'INVALID_MFA_CODE', 'The MFA code was not accepted.');
const WEBAUTHN_REFUSED = m(401, 'WEBAUTHN_FAILED', 'The WebAuthn response was refused.');

/**
 * SDK error codes → the HTTP answer, for every service. Messages are fixed
 * here, never the error's own message: nothing a store or library put in an
 * error (a query, a file path, a name) reaches the client. Codes not listed
 * are unexpected: a 500 whose body says nothing.
 */
const SDK_ERRORS: Readonly<Record<string, MappedError>> = {
  ERR_AUTH_INVALID_CREDENTIALS: m(401, 'INVALID_CREDENTIALS', 'Invalid username or password.'),
  ERR_AUTH_LOCKED_OUT: m(429, 'LOCKED_OUT', 'Too many failed logins; retry later.'),
  ERR_AUTH_REFRESH_INVALID: REFRESH_REFUSED,
  ERR_AUTH_REFRESH_REUSED: REFRESH_REFUSED,
  ERR_AUTH_TOKEN_REVOKED: REFRESH_REFUSED,
  ERR_AUTH_WRONG_TOKEN_TYPE: REFRESH_REFUSED,
  ERR_AUTH_USER_EXISTS: m(409, 'USER_EXISTS', 'A user with this username already exists.'),
  ERR_AUTH_USER_NOT_FOUND: m(404, 'USER_NOT_FOUND', 'No such user.'),
  ERR_AUTH_INVALID_INPUT: m(400, 'INVALID_REQUEST', 'The request is invalid.'),
  ERR_AUTH_WEAK_PASSWORD: m(400, 'WEAK_PASSWORD', 'The password is not acceptable.'),
  ERR_AUTH_BREAK_GLASS_NOT_FOUND: m(404, 'BREAK_GLASS_NOT_FOUND', 'No such break-glass request.'),
  ERR_AUTH_BREAK_GLASS_DENIED: m(409, 'BREAK_GLASS_REFUSED', 'The break-glass step is not allowed in this state.'),
  ERR_AUTH_BREAK_GLASS_INACTIVE: m(409, 'BREAK_GLASS_INACTIVE', 'The break-glass session has ended.'),
  ERR_AUTH_AUDIT_FAILED: m(503, 'AUDIT_UNAVAILABLE', 'The audit log is unavailable; nothing was done.'),
  ERR_MFA_MALFORMED_INPUT: m(400, 'INVALID_MFA_INPUT', 'The MFA input is malformed.'),
  ERR_MFA_INVALID_CODE: MFA_REFUSED,
  ERR_MFA_CODE_REPLAYED: MFA_REFUSED,
  ERR_MFA_TOO_MANY_ATTEMPTS: m(429, 'MFA_LOCKED', 'Too many MFA attempts; retry later.'),
  ERR_MFA_NOT_ENROLLED: m(409, 'MFA_NOT_ENROLLED', 'No MFA factor of this kind is enrolled.'),
  ERR_MFA_DEVICE_NOT_FOUND: m(404, 'DEVICE_NOT_FOUND', 'No such MFA device.'),
  ERR_MFA_ALREADY_CONFIRMED: m(409, 'ALREADY_CONFIRMED', 'The enrollment is already confirmed.'),
  ERR_MFA_LAST_FACTOR: m(409, 'LAST_FACTOR', 'The last MFA factor cannot be removed.'),
  ERR_MFA_CHALLENGE_INVALID: m(401, 'MFA_CHALLENGE_INVALID', 'The MFA challenge is unknown, expired or used.'),
  ERR_MFA_WEBAUTHN_FAILED: WEBAUTHN_REFUSED,
  ERR_MFA_WEBAUTHN_COUNTER: WEBAUTHN_REFUSED,
  ERR_MFA_CREDENTIAL_NOT_FOUND: WEBAUTHN_REFUSED,
  ERR_MFA_CREDENTIAL_EXISTS: m(409, 'CREDENTIAL_EXISTS', 'This credential is already registered.'),
  ERR_AUTHZ_INVALID_REQUEST: m(400, 'INVALID_AUTHORIZATION_REQUEST', 'The authorization request is malformed.'),
  ERR_AUTHZ_INVALID_CONTEXT: m(400, 'INVALID_AUTHORIZATION_REQUEST', 'The authorization context is malformed.'),
  ERR_AUTHZ_VALIDATION: m(422, 'POLICY_INVALID', 'The policy set on disk is invalid; the last good set stays.'),
  ERR_AUTHZ_TOO_DEEP: m(422, 'POLICY_INVALID', 'The policy set on disk is invalid; the last good set stays.'),
  ERR_AUTHZ_DUPLICATE_POLICY_ID: m(
    422,
    'POLICY_INVALID',
    'The policy set on disk is invalid; the last good set stays.',
  ),
  ERR_AUTHZ_LOAD: m(503, 'POLICIES_UNREADABLE', 'The policy directory cannot be read; the last good set stays.'),
  ERR_SECRETS_INVALID_TTL: m(400, 'INVALID_TTL', 'The TTL is outside the allowed range.'),
  ERR_SECRETS_INVALID_REQUEST: m(400, 'INVALID_REQUEST', 'The secret request is invalid.'),
  ERR_SECRETS_LEASE_NOT_FOUND: m(404, 'SECRET_NOT_FOUND', 'No such secret.'),
  ERR_SECRETS_LEASE_NOT_RENEWABLE: m(409, 'NOT_RENEWABLE', 'This secret cannot be renewed.'),
  ERR_SECRETS_MALFORMED_KEY: m(400, 'MALFORMED_KEY', 'The key is malformed.'),
  ERR_SECRETS_PROVIDER_FAILED: m(502, 'PROVIDER_FAILED', 'The secret backend failed.'),
  ERR_SECRETS_PROVIDER_TIMEOUT: m(504, 'PROVIDER_TIMEOUT', 'The secret backend did not answer.'),
  ERR_SECRETS_IO: m(503, 'SECRET_IO', 'The key could not be deployed.'),
  ERR_COMPLIANCE_INVALID_INPUT: m(400, 'INVALID_REQUEST', 'The compliance request is invalid.'),
  ERR_COMPLIANCE_REQUEST_NOT_FOUND: m(404, 'REQUEST_NOT_FOUND', 'No such request.'),
  ERR_COMPLIANCE_ILLEGAL_TRANSITION: m(409, 'ILLEGAL_TRANSITION', 'That change is not allowed in this state.'),
  ERR_COMPLIANCE_UNKNOWN_SUBJECT: m(404, 'UNKNOWN_SUBJECT', 'No such data subject.'),
  ERR_COMPLIANCE_CONFLICT: m(409, 'CONFLICT', 'Another update happened first; retry.'),
  ERR_COMPLIANCE_EXTENSION_REFUSED: m(
    409,
    'EXTENSION_REFUSED',
    'A deadline is extended once, before it passes, while the request is open.',
  ),
  ERR_STORE_UNAVAILABLE: m(503, 'SERVICE_UNAVAILABLE', 'A backing store is unavailable.'),
};

/** The HTTP answer for an error, or `undefined` for an unexpected one (a 500). */
export function mapError(error: unknown): MappedError | undefined {
  if (isSdkError(error)) {
    const mapped = SDK_ERRORS[error.code];
    if (mapped === undefined) return undefined;
    const retry = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    return typeof retry === 'number' ? { ...mapped, retryAfterSeconds: retry } : mapped;
  }
  // The servers' own RequestErrors (and Hono's HTTPExceptions) carry a status and a code.
  const status = (error as { status?: unknown })?.status;
  const code = (error as { code?: unknown })?.code;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      status,
      code: typeof code === 'string' ? code : 'BAD_REQUEST',
      message: error instanceof Error ? error.message : 'Bad request.',
    };
  }
  return undefined;
}
