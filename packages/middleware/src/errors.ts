import { SdkError } from '@provisioning/core';

/** The codes of {@link MiddlewareError}; each maps to one HTTP response in {@link HTTP_ERRORS}. */
export type MiddlewareErrorCode =
  /** Options of a factory are invalid (thrown at construction). */
  | 'ERR_MW_INVALID_OPTIONS'
  /** Too many requests from this IP or principal in the window. */
  | 'ERR_MW_RATE_LIMITED'
  /** No credentials were presented. */
  | 'ERR_MW_UNAUTHENTICATED'
  /** Credentials were presented and refused (bad, expired or revoked token or key). */
  | 'ERR_MW_INVALID_CREDENTIALS'
  /** The route is sensitive and the principal has no recent enough MFA. */
  | 'ERR_MW_MFA_REQUIRED'
  /** The policy denied the request. */
  | 'ERR_MW_FORBIDDEN'
  /** The policy could not be evaluated; the request is denied (fail closed). */
  | 'ERR_MW_AUTHORIZATION_FAILED'
  /** A break-glass token was used outside its approved scope. */
  | 'ERR_MW_EMERGENCY_SCOPE'
  /** The request is malformed (bad header, unparsable resource). */
  | 'ERR_MW_BAD_REQUEST'
  /** A dependency of the chain failed (store, authenticator …). */
  | 'ERR_MW_INTERNAL';

/**
 * The error class of `@provisioning/middleware`.
 *
 * @example
 * ```ts
 * if (err instanceof MiddlewareError && err.code === 'ERR_MW_MFA_REQUIRED') promptForMfa();
 * ```
 */
export class MiddlewareError extends SdkError<MiddlewareErrorCode> {
  override readonly name = 'MiddlewareError' as const;
}

/** One row of the error table: the HTTP status and the machine-readable `error` of the JSON body. */
export interface HttpErrorMapping {
  readonly status: number;
  readonly error: string;
  readonly message: string;
}

/**
 * The one table that maps the chain's failures to HTTP responses. Bodies are
 * `{ "error": <error>, "message": <message>, "code": "<status>", "request_id": … }`
 * — the platform API server's error shape — and never carry a secret or the
 * reason a credential was refused beyond this table.
 */
export const HTTP_ERRORS: Readonly<Record<MiddlewareErrorCode, HttpErrorMapping>> = Object.freeze({
  ERR_MW_INVALID_OPTIONS: { status: 500, error: 'internal_error', message: 'The server is misconfigured.' },
  ERR_MW_RATE_LIMITED: { status: 429, error: 'rate_limited', message: 'Too many requests; retry later.' },
  ERR_MW_UNAUTHENTICATED: { status: 401, error: 'unauthenticated', message: 'Authentication is required.' },
  ERR_MW_INVALID_CREDENTIALS: { status: 401, error: 'invalid_token', message: 'The credentials were refused.' },
  ERR_MW_MFA_REQUIRED: {
    status: 403,
    error: 'mfa_required',
    message: 'This operation needs a recent MFA verification.',
  },
  ERR_MW_FORBIDDEN: { status: 403, error: 'forbidden', message: 'The policy denies this request.' },
  ERR_MW_AUTHORIZATION_FAILED: {
    status: 403,
    error: 'authorization_failed',
    message: 'The request could not be authorized.',
  },
  ERR_MW_EMERGENCY_SCOPE: {
    status: 403,
    error: 'emergency_scope',
    message: 'The emergency access does not cover this request.',
  },
  ERR_MW_BAD_REQUEST: { status: 400, error: 'bad_request', message: 'The request is malformed.' },
  ERR_MW_INTERNAL: { status: 500, error: 'internal_error', message: 'The request could not be processed.' },
});
