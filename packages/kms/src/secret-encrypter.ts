import type { EncryptionContext } from './context.js';
import { toContextRecord } from './context.js';
import type { Envelope } from './envelope.js';
import { clientError } from './errors.js';

/**
 * Encrypts small secrets (TOTP seeds, tokens, connection strings) bound to a
 * context, as printable strings that fit a database column. The same shape as
 * `SecretEncrypter` in `@provisioning/mfa`, so it can be injected there.
 */
export interface SecretEncrypter {
  /** Which implementation this is. */
  readonly id: string;
  /** Encrypts `plaintext`, binding `context` (an object of string values); resolves printable ASCII. */
  encrypt(plaintext: Uint8Array, context: object): Promise<string>;
  /** Decrypts a value from `encrypt`; rejects if it was tampered with or `context` differs. */
  decrypt(ciphertext: string, context: object): Promise<Uint8Array>;
}

const PREFIX = 'pkms1.';

/**
 * Adapts an {@link Envelope} to {@link SecretEncrypter}: ciphertexts are
 * `pkms1.` followed by base64url of the envelope bytes. Enable the envelope's
 * data-key cache for throughput (see `createEnvelope`).
 *
 * `decrypt` rejects with `ERR_KMS_MALFORMED_CIPHERTEXT` for a foreign string and
 * with the envelope's errors (`ERR_KMS_CONTEXT_MISMATCH`, `ERR_KMS_DECRYPT_FAILED` …).
 *
 * @example
 * ```ts
 * const secrets = secretEncrypter(createEnvelope({ backends: [kms], cache: true }));
 * const stored = await secrets.encrypt(seed, { userId: 'u1', deviceId: 'd1', purpose: 'mfa-totp' });
 * ```
 */
export function secretEncrypter(envelope: Envelope, id = 'kms-envelope'): SecretEncrypter {
  return {
    id,
    async encrypt(plaintext: Uint8Array, context: object): Promise<string> {
      const blob = await envelope.encrypt(plaintext, toContextRecord(context) as EncryptionContext);
      return PREFIX + Buffer.from(blob).toString('base64url');
    },
    async decrypt(ciphertext: string, context: object): Promise<Uint8Array> {
      if (typeof ciphertext !== 'string' || !ciphertext.startsWith(PREFIX)) {
        throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'not a KMS secret ciphertext');
      }
      const blob = Buffer.from(ciphertext.slice(PREFIX.length), 'base64url');
      return envelope.decrypt(blob, toContextRecord(context) as EncryptionContext);
    },
  };
}
