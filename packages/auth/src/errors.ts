import { SdkError } from '@provisioning/core';

/** The codes of {@link AuthError}. `switch (err.code)` narrows on them. */
export type AuthErrorCode =
  /** Options passed to a factory are invalid or try to lift a hard limit (thrown at construction). */
  | 'ERR_AUTH_INVALID_OPTIONS'
  /** An argument of a call is missing or malformed (not a token problem). */
  | 'ERR_AUTH_INVALID_INPUT'
  /** The token is not a well-formed compact JWS / JWT (bad segments, bad JSON, bad claim types). */
  | 'ERR_AUTH_TOKEN_MALFORMED'
  /** The token's `alg` is not one of the pinned algorithms (`none`, HS256, or a swap to another family). */
  | 'ERR_AUTH_ALGORITHM_NOT_ALLOWED'
  /** The token names no `kid`, or a `kid` this key set does not hold (or has retired). */
  | 'ERR_AUTH_UNKNOWN_KEY'
  /** The token carries a `crit` header parameter (none is understood, so every one is refused). */
  | 'ERR_AUTH_UNSUPPORTED_CRITICAL_HEADER'
  /** The signature does not verify (tampered header or payload, or another key). */
  | 'ERR_AUTH_INVALID_SIGNATURE'
  /** `exp` has passed (beyond the allowed clock skew). */
  | 'ERR_AUTH_TOKEN_EXPIRED'
  /** `nbf` (or `iat`) lies in the future (beyond the allowed clock skew). */
  | 'ERR_AUTH_TOKEN_NOT_YET_VALID'
  /** `iss` is not the expected issuer. */
  | 'ERR_AUTH_INVALID_ISSUER'
  /** `aud` does not name the expected audience. */
  | 'ERR_AUTH_INVALID_AUDIENCE'
  /** A required claim is missing or has the wrong type. */
  | 'ERR_AUTH_INVALID_CLAIMS'
  /** A token of another kind was presented: a refresh token as an access token, or the reverse (`typ`). */
  | 'ERR_AUTH_WRONG_TOKEN_TYPE'
  /** The token (`jti`), its session, or all the user's tokens up to its issue time were revoked. */
  | 'ERR_AUTH_TOKEN_REVOKED'
  /** The refresh token is unknown or expired. */
  | 'ERR_AUTH_REFRESH_INVALID'
  /** A refresh token that was already used was presented again: its family and session are now revoked. */
  | 'ERR_AUTH_REFRESH_REUSED'
  /** Wrong username or password, unknown user, or a disabled account: deliberately one code for all. */
  | 'ERR_AUTH_INVALID_CREDENTIALS'
  /** Too many failed logins for this account or address: retry after `details.retryAfterSeconds`. */
  | 'ERR_AUTH_LOCKED_OUT'
  /** A password does not meet the policy (length), or hashing parameters are out of range. */
  | 'ERR_AUTH_WEAK_PASSWORD'
  /** A user with this id or username already exists. */
  | 'ERR_AUTH_USER_EXISTS'
  /** The user does not exist. */
  | 'ERR_AUTH_USER_NOT_FOUND'
  /** The API key is malformed, unknown, or its secret does not match. */
  | 'ERR_AUTH_API_KEY_INVALID'
  /** The API key has expired. */
  | 'ERR_AUTH_API_KEY_EXPIRED'
  /** The API key was revoked. */
  | 'ERR_AUTH_API_KEY_REVOKED'
  /** The API key lacks a required scope. */
  | 'ERR_AUTH_INSUFFICIENT_SCOPE'
  /** The break-glass request does not exist. */
  | 'ERR_AUTH_BREAK_GLASS_NOT_FOUND'
  /** The break-glass step is not allowed now (wrong state, duplicate or self approval, same team, too long …). */
  | 'ERR_AUTH_BREAK_GLASS_DENIED'
  /** The break-glass session expired, went inactive, or was revoked. */
  | 'ERR_AUTH_BREAK_GLASS_INACTIVE'
  /** The audit sink refused an event: the step was not performed (fail closed). */
  | 'ERR_AUTH_AUDIT_FAILED';

/**
 * The error class of `@provisioning/auth`. Messages and `details` never hold a
 * token, password, hash or key: verification failures say little, the `code` says what.
 *
 * @example
 * ```ts
 * try { await tokens.verify(bearer); } catch (err) {
 *   if (err instanceof AuthError && err.code === 'ERR_AUTH_TOKEN_EXPIRED') return refresh();
 *   throw err;
 * }
 * ```
 */
export class AuthError extends SdkError<AuthErrorCode> {
  override readonly name = 'AuthError' as const;
}

/** @internal A client-fault {@link AuthError}. */
export function authError(
  code: AuthErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): AuthError {
  return new AuthError(message, {
    code,
    fault: 'client',
    ...(details === undefined ? {} : { details }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** @internal Throws `ERR_AUTH_INVALID_OPTIONS`. */
export function invalidOptions(message: string, details?: Record<string, unknown>): AuthError {
  return authError('ERR_AUTH_INVALID_OPTIONS', message, details);
}
