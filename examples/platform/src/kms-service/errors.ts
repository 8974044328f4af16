import { KmsError } from '@provisioning/kms';
import type { Context } from 'hono';
import { errorBody } from '../kit/app.js';

// KMS failures as HTTP answers. Decryption failures say little (the code is
// enough for the caller); nothing from the ciphertext or plaintext is echoed.
const CLIENT: Readonly<Record<string, readonly [400 | 404 | 409, string, string]>> = {
  ERR_KMS_CONTEXT_MISMATCH: [400, 'CONTEXT_MISMATCH', 'The encryption context does not match the ciphertext.'],
  ERR_KMS_MALFORMED_CIPHERTEXT: [400, 'INVALID_CIPHERTEXT', 'The ciphertext is not a KMS ciphertext.'],
  ERR_KMS_TRUNCATED: [400, 'INVALID_CIPHERTEXT', 'The ciphertext is truncated.'],
  ERR_KMS_DECRYPT_FAILED: [400, 'DECRYPT_FAILED', 'The ciphertext could not be decrypted.'],
  ERR_KMS_NO_MATCHING_KEY: [400, 'DECRYPT_FAILED', 'The ciphertext could not be decrypted.'],
  ERR_KMS_KEY_VERSION_TOO_OLD: [400, 'DECRYPT_FAILED', 'The ciphertext could not be decrypted.'],
  ERR_KMS_KEY_NOT_FOUND: [404, 'KEY_NOT_FOUND', 'No such key.'],
  ERR_KMS_UNSUPPORTED: [409, 'UNSUPPORTED', 'The backend does not support this operation.'],
  ERR_KMS_PAYLOAD_TOO_LARGE: [400, 'PAYLOAD_TOO_LARGE', 'The plaintext is too large for this backend.'],
};

/** Answers a KMS failure in the envelope shape; rethrows anything else (the frame answers 500). */
export function kmsErrorResponse(c: Context, error: unknown): Response {
  if (!(error instanceof KmsError)) throw error;
  const known = CLIENT[error.code];
  if (known !== undefined) return c.json(errorBody('envelope', known[0], known[1], known[2]), known[0]);
  const status = error.retryable ? 503 : 500;
  return c.json(
    errorBody(
      'envelope',
      status,
      status === 503 ? 'BACKEND_UNAVAILABLE' : 'BACKEND_FAILURE',
      'The key backend failed.',
    ),
    status,
  );
}
