import type { SdkErrorOptions } from '@provisioning/core';
import { SdkError } from '@provisioning/core';

/** The codes of {@link SecretsError}. */
export type SecretsErrorCode =
  /** Options passed to a factory are invalid (thrown at construction). */
  | 'ERR_SECRETS_INVALID_OPTIONS'
  /** A TTL is not a positive whole number of seconds, or exceeds a limit (the maximum TTL, a provider's range). */
  | 'ERR_SECRETS_INVALID_TTL'
  /** A request to a provider is invalid (no principals, a bad user name, a bad option …). */
  | 'ERR_SECRETS_INVALID_REQUEST'
  /** No lease with that id exists (never issued, already revoked). */
  | 'ERR_SECRETS_LEASE_NOT_FOUND'
  /** The lease cannot be renewed: not renewable, expired, being revoked, or at its maximum TTL. */
  | 'ERR_SECRETS_LEASE_NOT_RENEWABLE'
  /** A lease names a provider that is not registered with the manager. */
  | 'ERR_SECRETS_UNKNOWN_PROVIDER'
  /** A key (public, private, certificate, CA) could not be parsed or has the wrong type. */
  | 'ERR_SECRETS_MALFORMED_KEY'
  /** A provider failed (its backend refused or errored). For revocations the lease is kept and retried. */
  | 'ERR_SECRETS_PROVIDER_FAILED'
  /** A provider did not answer within its timeout. For revocations the lease is kept and retried. */
  | 'ERR_SECRETS_PROVIDER_TIMEOUT'
  /** A one-time password is unknown, used, expired, or bound to another user or host. */
  | 'ERR_SECRETS_OTP_INVALID'
  /** A file (authorized_keys) could not be read or written. */
  | 'ERR_SECRETS_IO';

/**
 * The error class of `@provisioning/secrets`. Messages, `details` and `cause`
 * never carry a private key, password, token or one-time password.
 *
 * @example
 * ```ts
 * try { await leases.renew(id); } catch (err) {
 *   if (err instanceof SecretsError && err.code === 'ERR_SECRETS_LEASE_NOT_RENEWABLE') reissue();
 * }
 * ```
 */
export class SecretsError extends SdkError<SecretsErrorCode> {
  override readonly name = 'SecretsError' as const;
}

/** @internal Shorthand for client-fault errors. */
export function clientError(
  code: SecretsErrorCode,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): SecretsError {
  return new SecretsError(message, { code, fault: 'client', ...(details ? { details } : {}) });
}

/** @internal Shorthand for server-fault errors. */
export function serverError(
  code: SecretsErrorCode,
  message: string,
  options: Omit<SdkErrorOptions<SecretsErrorCode>, 'code' | 'fault'> = {},
): SecretsError {
  return new SecretsError(message, { code, fault: 'server', ...options });
}
