import type { KeyObject } from 'node:crypto';
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { MfaError } from './errors.js';

/**
 * Who a ciphertext belongs to. Bound to the ciphertext as additional
 * authenticated data (AAD), so a ciphertext copied to another user's or
 * device's row does not decrypt.
 */
export interface EncryptionContext {
  /** The user the secret belongs to. */
  readonly userId: string;
  /** The device (factor) the secret belongs to. */
  readonly deviceId: string;
  /** What the secret is for, e.g. `mfa-totp`. */
  readonly purpose: string;
}

/**
 * Encrypts the secrets the MFA service must be able to read back (TOTP
 * seeds). Inject the KMS package's envelope encrypter in production, or
 * {@link localAesGcmEncrypter} with a key you keep outside the database.
 *
 * Implementations must authenticate `context` (AAD or an encryption context)
 * and reject with an error when it does not match.
 * @example
 * ```ts
 * // Adapting a KMS envelope encrypter (names illustrative):
 * const encrypter: SecretEncrypter = {
 *   id: 'kms',
 *   encrypt: (plaintext, context) => kms.encrypt(plaintext, { context: { ...context } }),
 *   decrypt: (ciphertext, context) => kms.decrypt(ciphertext, { context: { ...context } }),
 * };
 * ```
 */
export interface SecretEncrypter {
  /** Which implementation this is (`local-aes-256-gcm`, `kms` …). */
  readonly id: string;
  /** Encrypts `plaintext`, binding `context`; resolves a printable ASCII string. */
  encrypt(plaintext: Uint8Array, context: EncryptionContext): Promise<string>;
  /** Decrypts a value from {@link SecretEncrypter.encrypt}; rejects if it was tampered with or `context` differs. */
  decrypt(ciphertext: string, context: EncryptionContext): Promise<Uint8Array>;
}

/** A key of {@link localAesGcmEncrypter}. */
export interface LocalEncryptionKey {
  /** Short id written into every ciphertext (letters, digits, `_`, `-`), so keys can rotate. */
  readonly id: string;
  /** 32 random bytes. */
  readonly key: Uint8Array;
}

/** Options of {@link localAesGcmEncrypter}. */
export interface LocalAesGcmEncrypterOptions {
  /** The keys; the first encrypts, all of them decrypt (rotation: prepend a new key, keep the old ones until rewrapped). */
  readonly keys: readonly LocalEncryptionKey[];
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const VERSION = 'v1';
const GCM_TAG = { authTagLength: 16 } as const;

/** Canonical AAD: fixed field order, length-prefixed, so no two contexts encode alike. */
function aad(context: EncryptionContext): Buffer {
  const { userId, deviceId, purpose } = context ?? ({} as EncryptionContext);
  if (typeof userId !== 'string' || typeof deviceId !== 'string' || typeof purpose !== 'string') {
    throw encryptionError('the encryption context is incomplete');
  }
  // One string, one encode (this runs on every TOTP verification).
  return Buffer.from(
    `provisioning-mfa|${Buffer.byteLength(userId)}:${userId}|${Buffer.byteLength(deviceId)}:${deviceId}|${Buffer.byteLength(purpose)}:${purpose}`,
    'utf8',
  );
}

function encryptionError(message: string, cause?: unknown): MfaError {
  // `cause` is a node:crypto error ("Unsupported state or unable to authenticate data"): never data.
  return new MfaError(message, { code: 'ERR_MFA_ENCRYPTION', fault: 'server', ...(cause ? { cause } : {}) });
}

/**
 * A {@link SecretEncrypter} with AES-256-GCM and keys held in process memory:
 * 96-bit random IV per message, 128-bit tag, the context as AAD. The output is
 * `v1.<keyId>.<iv>.<ciphertext+tag>` (base64url).
 *
 * @throws MfaError `ERR_MFA_INVALID_OPTIONS` at construction for a missing, short or duplicate key.
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * const encrypter = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
 * const box = await encrypter.encrypt(secret, { userId, deviceId, purpose: 'mfa-totp' });
 * ```
 */
export function localAesGcmEncrypter(options: LocalAesGcmEncrypterOptions): SecretEncrypter {
  // KeyObjects, made once: createDecipheriv then uses the key as it is,
  // where a Buffer key is copied into a fresh native key on every call (this
  // runs on every TOTP verification). createSecretKey copies the bytes, so
  // the caller's array can be wiped or reused.
  const keys = new Map<string, KeyObject>();
  for (const k of options?.keys ?? []) {
    if (!KEY_ID.test(k?.id ?? '') || !(k.key instanceof Uint8Array) || k.key.length !== 32 || keys.has(k.id)) {
      throw new MfaError('localAesGcmEncrypter needs unique key ids and 32-byte keys', {
        code: 'ERR_MFA_INVALID_OPTIONS',
        fault: 'client',
      });
    }
    keys.set(k.id, createSecretKey(k.key));
  }
  const current = options?.keys?.[0];
  if (current === undefined) {
    throw new MfaError('localAesGcmEncrypter needs at least one key', {
      code: 'ERR_MFA_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const currentKey = keys.get(current.id) as KeyObject;
  return {
    id: 'local-aes-256-gcm',
    async encrypt(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      cipher.setAAD(aad(context));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${current.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    async decrypt(ciphertext, context) {
      // `v1.<keyId>.<iv>.<body>`, parsed by position rather than split():
      // this runs on every TOTP verification.
      const text = typeof ciphertext === 'string' ? ciphertext : '';
      const a = text.indexOf('.');
      const b = a < 0 ? -1 : text.indexOf('.', a + 1);
      const c = b < 0 ? -1 : text.indexOf('.', b + 1);
      const key = b < 0 ? undefined : keys.get(text.slice(a + 1, b));
      if (
        c < 0 ||
        text.indexOf('.', c + 1) >= 0 ||
        text.slice(0, a) !== VERSION ||
        key === undefined ||
        c === b + 1 ||
        c === text.length - 1
      ) {
        throw encryptionError('the ciphertext is malformed or its key is unknown');
      }
      const iv = Buffer.from(text.slice(b + 1, c), 'base64url');
      const body = Buffer.from(text.slice(c + 1), 'base64url');
      if (iv.length !== 12 || body.length < 16) throw encryptionError('the ciphertext is malformed');
      let plaintext: Buffer | undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, GCM_TAG);
        decipher.setAAD(aad(context));
        decipher.setAuthTag(body.subarray(body.length - 16));
        plaintext = decipher.update(body.subarray(0, body.length - 16));
        // final() authenticates (throws on a bad tag; nothing is returned
        // then) and, for GCM, adds no bytes. The plaintext is handed over as a
        // view of update()'s own buffer, not copied: the caller's fill(0)
        // then wipes the only copy (a Buffer.concat copy would sit in Node's
        // shared buffer pool, out of the caller's reach).
        decipher.final();
        return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length);
      } catch (error) {
        // With a wrong context (a ciphertext copied to another row) update()
        // has already produced the real secret: wipe it before refusing.
        plaintext?.fill(0);
        throw encryptionError('the ciphertext does not authenticate (wrong key or context, or tampered)', error);
      }
    },
  };
}
