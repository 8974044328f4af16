import { SdkError } from '@provisioning/core';

/**
 * The codes of {@link MfaError}.
 *
 * @example
 * ```ts
 * switch ((err as MfaError).code) { case 'ERR_MFA_TOO_MANY_ATTEMPTS': return 429; default: return 401; }
 * ```
 */
export type MfaErrorCode =
  /** Options passed to a factory are invalid (thrown at construction). */
  | 'ERR_MFA_INVALID_OPTIONS'
  /** Input from the client is malformed: a code of the wrong shape, an unparseable WebAuthn response, a bad id or name. Nothing stored changed. */
  | 'ERR_MFA_MALFORMED_INPUT'
  /** A well-formed TOTP or backup code that does not verify. Counts as a failed attempt. */
  | 'ERR_MFA_INVALID_CODE'
  /** A TOTP code that was already accepted for this device (replay). Counts as a failed attempt. */
  | 'ERR_MFA_CODE_REPLAYED'
  /** Too many failed verifications for this user in the window; `details.retryAfterSeconds` says when to try again. Retryable. */
  | 'ERR_MFA_TOO_MANY_ATTEMPTS'
  /** The user has no confirmed factor of the requested kind. */
  | 'ERR_MFA_NOT_ENROLLED'
  /** No such device (or it belongs to another user). */
  | 'ERR_MFA_DEVICE_NOT_FOUND'
  /** The device is already confirmed (enrollment completed once). */
  | 'ERR_MFA_ALREADY_CONFIRMED'
  /** Removing this device would leave the user without a factor, which the configuration forbids. */
  | 'ERR_MFA_LAST_FACTOR'
  /** An MFA or WebAuthn challenge is unknown, expired or already used. */
  | 'ERR_MFA_CHALLENGE_INVALID'
  /** A WebAuthn response failed verification (signature, origin, RP ID, type, user presence/verification). */
  | 'ERR_MFA_WEBAUTHN_FAILED'
  /** A WebAuthn signature counter did not increase: a cloned authenticator is suspected. */
  | 'ERR_MFA_WEBAUTHN_COUNTER'
  /** The WebAuthn credential is not registered (or not for this user). */
  | 'ERR_MFA_CREDENTIAL_NOT_FOUND'
  /** The WebAuthn credential is already registered. */
  | 'ERR_MFA_CREDENTIAL_EXISTS'
  /** The secret encrypter failed to encrypt or decrypt (wrong key, tampered ciphertext, context mismatch). */
  | 'ERR_MFA_ENCRYPTION';

/**
 * The error class of `@provisioning/mfa`. Messages, `details` and `cause`
 * never carry a code, secret, key or WebAuthn signature.
 *
 * @example
 * ```ts
 * try { await mfa.verifyTotp(userId, code); } catch (err) {
 *   if (err instanceof MfaError && err.code === 'ERR_MFA_TOO_MANY_ATTEMPTS') {
 *     res.setHeader('Retry-After', String(err.details.retryAfterSeconds));
 *   }
 * }
 * ```
 */
export class MfaError extends SdkError<MfaErrorCode> {
  override readonly name = 'MfaError' as const;
}

/** @internal A client-fault {@link MfaError}. */
export function clientError(
  code: MfaErrorCode,
  message: string,
  details?: Readonly<Record<string, unknown>>,
  retryable = false,
): MfaError {
  return new MfaError(message, { code, fault: 'client', retryable, ...(details ? { details } : {}) });
}

/** @internal `ERR_MFA_MALFORMED_INPUT` naming the field, never echoing its value. */
export function malformed(field: string, reason: string): MfaError {
  return clientError('ERR_MFA_MALFORMED_INPUT', `malformed ${field}: ${reason}`, { field });
}
