import { SdkError } from '@provisioning/core';

/** The codes of {@link KmsError}. */
export type KmsErrorCode =
  /** Options passed to a factory are invalid (thrown at construction). */
  | 'ERR_KMS_INVALID_OPTIONS'
  /** Decryption failed: wrong key, tampered ciphertext or wrong additional data. Says nothing more on purpose. */
  | 'ERR_KMS_DECRYPT_FAILED'
  /** The encryption context given on decrypt is not the one the ciphertext was made with. */
  | 'ERR_KMS_CONTEXT_MISMATCH'
  /** The ciphertext is not in the expected format (bad magic, version, lengths). */
  | 'ERR_KMS_MALFORMED_CIPHERTEXT'
  /** The ciphertext ends early: a final chunk is missing (truncation). */
  | 'ERR_KMS_TRUNCATED'
  /** The key (or key version) does not exist in the backend. */
  | 'ERR_KMS_KEY_NOT_FOUND'
  /** The ciphertext was made with a key version below the minimum decryption version. */
  | 'ERR_KMS_KEY_VERSION_TOO_OLD'
  /** None of the configured keys, identities or backends can decrypt this ciphertext. */
  | 'ERR_KMS_NO_MATCHING_KEY'
  /** The backend refused the call (authentication or authorization). */
  | 'ERR_KMS_ACCESS_DENIED'
  /** The payload is larger than the backend accepts for direct encryption (use envelope encryption). */
  | 'ERR_KMS_PAYLOAD_TOO_LARGE'
  /** The backend does not support this operation (e.g. rotating an age recipient). */
  | 'ERR_KMS_UNSUPPORTED'
  /** The backend cannot be reached right now (network, 5xx, throttling); retryable. */
  | 'ERR_KMS_BACKEND_UNAVAILABLE'
  /** The backend failed in a way a retry will not fix, or answered in an unexpected shape. */
  | 'ERR_KMS_BACKEND_FAILURE'
  /** The local keyring file is unreadable, corrupt or could not be written. */
  | 'ERR_KMS_KEYRING'
  /** A SOPS document is malformed (bad structure, bad `ENC[…]` value, missing metadata). */
  | 'ERR_KMS_SOPS_MALFORMED'
  /** The SOPS MAC does not match the values: the file was tampered with. */
  | 'ERR_KMS_SOPS_MAC_MISMATCH'
  /** The document is not SOPS-encrypted (decrypt) or already is (encrypt). */
  | 'ERR_KMS_SOPS_STATE'
  /** Reading or atomically writing a file failed. */
  | 'ERR_KMS_IO';

/**
 * The error class of `@provisioning/kms`. Messages, `details` and `cause`
 * never carry plaintext, data keys, key material, passphrases or tokens.
 *
 * @example
 * ```ts
 * try { await envelope.decrypt(blob, { tenant: 't1' }); } catch (err) {
 *   if (err instanceof KmsError && err.code === 'ERR_KMS_CONTEXT_MISMATCH') deny();
 * }
 * ```
 */
export class KmsError extends SdkError<KmsErrorCode> {
  override readonly name = 'KmsError' as const;
}

/** @internal A client-fault error. */
export function clientError(code: KmsErrorCode, message: string, details?: Record<string, unknown>): KmsError {
  return new KmsError(message, { code, fault: 'client', ...(details ? { details } : {}) });
}

/** @internal A server-fault error. */
export function serverError(
  code: KmsErrorCode,
  message: string,
  options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
): KmsError {
  return new KmsError(message, { code, fault: 'server', ...options });
}

/** @internal The generic authentication failure: deliberately says nothing about why. */
export function decryptFailed(details?: Record<string, unknown>): KmsError {
  return clientError('ERR_KMS_DECRYPT_FAILED', 'decryption failed', details);
}

/** @internal Whether `err` is a {@link KmsError}. */
export function isKmsError(err: unknown): err is KmsError {
  return err instanceof KmsError;
}
