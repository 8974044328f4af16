import { type ErrorFault, redactString, SdkError } from '@provisioning/core';

/** The codes of {@link PlatformClientError}. `switch (err.code)` narrows. */
export type PlatformClientErrorCode =
  /** Options passed to a factory or a method are invalid (thrown at construction or before any request). */
  | 'ERR_CLIENT_INVALID_OPTIONS'
  /** The server could not be reached (DNS, refused, reset); retryable. */
  | 'ERR_CLIENT_NETWORK'
  /** A request did not finish within `timeoutMs`; retryable. */
  | 'ERR_CLIENT_TIMEOUT'
  /** The caller's `AbortSignal` cancelled the request. */
  | 'ERR_CLIENT_ABORTED'
  /** HTTP 400/422: the server rejected the request as invalid. */
  | 'ERR_CLIENT_BAD_REQUEST'
  /** HTTP 401: missing, expired or revoked credentials (after one refresh attempt). */
  | 'ERR_CLIENT_UNAUTHENTICATED'
  /** Login needs an MFA code, or the operation needs a fresh MFA claim. */
  | 'ERR_CLIENT_MFA_REQUIRED'
  /** HTTP 403: authenticated but not allowed (RBAC/Cedar denial). */
  | 'ERR_CLIENT_FORBIDDEN'
  /** HTTP 404. */
  | 'ERR_CLIENT_NOT_FOUND'
  /** HTTP 409/412. */
  | 'ERR_CLIENT_CONFLICT'
  /** HTTP 429; retryable, honours `Retry-After`. */
  | 'ERR_CLIENT_RATE_LIMITED'
  /** HTTP 5xx; retryable for 500, 502, 503 and 504. */
  | 'ERR_CLIENT_SERVER_ERROR'
  /** Any other unexpected HTTP status. */
  | 'ERR_CLIENT_HTTP'
  /** A 2xx body that is not valid JSON, lacks the envelope, or does not match the contract. */
  | 'ERR_CLIENT_MALFORMED_RESPONSE'
  /** A 2xx response whose `Content-Type` is not the one the contract names. */
  | 'ERR_CLIENT_UNEXPECTED_CONTENT_TYPE'
  /** The body ended before its `Content-Length` (or the connection dropped mid-body). */
  | 'ERR_CLIENT_TRUNCATED_RESPONSE'
  /** A method needs a login session and there is none (call `login()` first). */
  | 'ERR_CLIENT_NOT_AUTHENTICATED'
  /** An async operation ended in `failed`. */
  | 'ERR_CLIENT_OPERATION_FAILED'
  /** An async operation ended in `cancelled`. */
  | 'ERR_CLIENT_OPERATION_CANCELLED'
  /** `wait()` gave up after its `timeoutMs`; the operation may still finish. */
  | 'ERR_CLIENT_WAIT_TIMEOUT'
  /** Content does not hash to the digest that names it: the data is discarded, never returned. */
  | 'ERR_CLIENT_DIGEST_MISMATCH'
  /** The registry's authentication challenge cannot be answered (unknown scheme, token endpoint failure). */
  | 'ERR_CLIENT_OCI_AUTH'
  /** A registry answered outside the distribution spec (missing `Location`, bad `Range` …). */
  | 'ERR_CLIENT_OCI_PROTOCOL';

/** Structured, secret-free context of a {@link PlatformClientError}. */
export interface PlatformClientErrorContext {
  /** The HTTP status, when a response was received. */
  readonly status?: number;
  /** The server's machine-readable error code (`error` of the API server's body, `code` of an OCI error). */
  readonly serverCode?: string;
  /** Which service answered (`orchestrator`, `kms`, `oci` …). */
  readonly service?: string;
  /** The HTTP method and path (never the query: it may carry a token). */
  readonly request?: string;
  /** Milliseconds the server asked us to wait (`Retry-After`). */
  readonly retryAfterMs?: number;
}

/**
 * The error class of `@provisioning/platform-client`. It says who is at
 * fault (`fault`), whether a retry may help (`retryable`), and carries the
 * HTTP `status` and the server's error code (`serverCode`).
 *
 * Messages never contain credentials or payloads: the server's own message is
 * passed through `redactString` before it is included.
 *
 * @example
 * ```ts
 * try { await client.orchestrator.getTask(id); } catch (err) {
 *   if (err instanceof PlatformClientError && err.code === 'ERR_CLIENT_NOT_FOUND') return undefined;
 *   throw err;
 * }
 * ```
 */
export class PlatformClientError extends SdkError<PlatformClientErrorCode> {
  override readonly name = 'PlatformClientError' as const;
  /** The HTTP status, when a response was received. */
  readonly status: number | undefined;
  /** The server's machine-readable error code, when it sent one. */
  readonly serverCode: string | undefined;
  /** Which service answered. */
  readonly service: string | undefined;
  /** Milliseconds the server asked us to wait (`Retry-After`), when it sent it. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: {
      code: PlatformClientErrorCode;
      fault: ErrorFault;
      retryable?: boolean;
      cause?: unknown;
      details?: Readonly<Record<string, unknown>>;
    } & PlatformClientErrorContext,
  ) {
    const context: Record<string, unknown> = {};
    for (const key of ['status', 'serverCode', 'service', 'request', 'retryAfterMs'] as const) {
      if (options[key] !== undefined) context[key] = options[key];
    }
    super(redactString(message), {
      code: options.code,
      fault: options.fault,
      retryable: options.retryable ?? false,
      cause: options.cause,
      details: { ...context, ...options.details },
    });
    this.status = options.status;
    this.serverCode = options.serverCode;
    this.service = options.service;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Whether `value` is a {@link PlatformClientError} (also across duplicated copies of this package). */
export function isPlatformClientError(value: unknown): value is PlatformClientError {
  return value instanceof Error && value.name === 'PlatformClientError' && 'code' in value && 'fault' in value;
}

/** @internal A client-fault options error, thrown synchronously at construction. */
export function invalidOptions(message: string, details?: Record<string, unknown>): PlatformClientError {
  return new PlatformClientError(message, {
    code: 'ERR_CLIENT_INVALID_OPTIONS',
    fault: 'client',
    ...(details ? { details } : {}),
  });
}
