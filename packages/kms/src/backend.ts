import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { EncryptionContext } from './context.js';
import { contextDigest, hasContext } from './context.js';
import { clientError } from './errors.js';

/**
 * A ciphertext made by one backend: an opaque blob plus the key that made it.
 * `keyVersion` is `0` when the backend has no key versions (age, RustyVault)
 * or does not reveal them (AWS KMS).
 */
export interface BackendCiphertext {
  /** Which backend made it (the backend's `id`). */
  readonly backend: string;
  /** The key id (or recipient set) inside that backend. */
  readonly keyId: string;
  /** The key version, `0` when unknown or not versioned. */
  readonly keyVersion: number;
  /** The backend's own ciphertext bytes (a Vault `vault:vN:…` string as UTF-8, an AWS CiphertextBlob …). */
  readonly data: Uint8Array;
}

/** A fresh data key: use `plaintext`, store `ciphertext`, forget `plaintext` after use. */
export interface DataKey {
  /** The raw key bytes. Secret. */
  readonly plaintext: Uint8Array;
  /** The key wrapped by the backend, bound to the context it was generated with. */
  readonly ciphertext: BackendCiphertext;
}

/** One version of a key. */
export interface KeyVersionInfo {
  /** The version number, from 1. */
  readonly version: number;
  /** When it was created, if the backend says. */
  readonly createdAt?: Date;
  /** Whether it may still decrypt (at or above the minimum decryption version). */
  readonly decryptable: boolean;
}

/** What a backend says about its key. */
export interface KeyMetadata {
  /** The backend id. */
  readonly backend: string;
  /** The key id. */
  readonly keyId: string;
  /** The algorithm of the key (`aes-256-gcm`, `age-x25519`, `SYMMETRIC_DEFAULT` …). */
  readonly algorithm: string;
  /** The newest version (what encrypts), `0` when not versioned. */
  readonly latestVersion: number;
  /** Ciphertexts below this version are refused. `0` or `1` means all decrypt. */
  readonly minDecryptionVersion: number;
  /** Known versions, oldest first (empty when not versioned). */
  readonly versions: readonly KeyVersionInfo[];
  /** Whether the backend can rotate this key. */
  readonly rotatable: boolean;
}

/** The result of {@link KmsBackend.health}. */
export interface HealthStatus {
  /** Whether the backend answered and the key is usable. */
  readonly ok: boolean;
  /** The backend id. */
  readonly backend: string;
  /** How long the check took, in milliseconds. */
  readonly latencyMs: number;
  /** A secret-free reason when not ok (an error code). */
  readonly reason?: string;
}

/** Options of {@link KmsBackend.generateDataKey}. */
export interface GenerateDataKeyOptions {
  /** Key length in bytes. Default 32 (AES-256). */
  readonly bytes?: number;
}

/**
 * One key-management backend. Every backend binds the encryption context to
 * what it encrypts (as AAD where the backend has it, otherwise by a context
 * digest inside the encrypted payload) and rejects a different context.
 *
 * Errors are {@link KmsError}s: `ERR_KMS_DECRYPT_FAILED`, `ERR_KMS_CONTEXT_MISMATCH`,
 * `ERR_KMS_KEY_NOT_FOUND`, `ERR_KMS_KEY_VERSION_TOO_OLD`, `ERR_KMS_ACCESS_DENIED`,
 * `ERR_KMS_PAYLOAD_TOO_LARGE`, `ERR_KMS_UNSUPPORTED`, `ERR_KMS_BACKEND_UNAVAILABLE`
 * (retryable), `ERR_KMS_BACKEND_FAILURE`.
 *
 * @example
 * ```ts
 * const ct = await backend.encrypt(new TextEncoder().encode('s3cret'), { tenant: 't1' });
 * const pt = await backend.decrypt(ct, { tenant: 't1' });
 * ```
 */
export interface KmsBackend {
  /** Backend kind and instance, e.g. `local`, `age`, `aws`, `vault`, `cosmian`, `rustyvault`. */
  readonly id: string;
  /** The key this backend encrypts with. */
  readonly keyId: string;
  /** The largest plaintext `encrypt` accepts, in bytes (`Infinity` when unlimited). */
  readonly maxPlaintextBytes: number;
  /** Encrypts a (small) plaintext under the newest key version, binding `context`. */
  encrypt(plaintext: Uint8Array, context?: EncryptionContext): Promise<BackendCiphertext>;
  /** Decrypts; `context` must equal the one given to `encrypt`. */
  decrypt(ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<Uint8Array>;
  /** A new random data key, returned both in plaintext and wrapped. */
  generateDataKey(context?: EncryptionContext, options?: GenerateDataKeyOptions): Promise<DataKey>;
  /** Re-encrypts under the newest key version without exposing the plaintext to the caller. */
  rewrap(ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<BackendCiphertext>;
  /** Creates a new key version; new encryptions use it, old versions still decrypt. */
  rotate(): Promise<KeyMetadata>;
  /** The key's metadata and versions. */
  metadata(): Promise<KeyMetadata>;
  /** Refuses ciphertexts of versions below `version` from now on. */
  setMinDecryptionVersion(version: number): Promise<void>;
  /** Checks that the backend answers and the key is usable; never throws. */
  health(): Promise<HealthStatus>;
}

const FRAME_MAGIC = Buffer.from('PKMSCTX1', 'ascii');

/**
 * @internal For backends without additional authenticated data (age, Vault
 * without derived keys): prefix the plaintext with a magic and the context
 * digest, so the encrypted payload itself carries the binding. With an empty
 * context the plaintext is left as is, so files stay readable by other tools.
 */
export function frameWithContext(plaintext: Uint8Array, context: EncryptionContext | undefined): Uint8Array {
  if (!hasContext(context)) return plaintext;
  return Buffer.concat([FRAME_MAGIC, contextDigest(context), plaintext]);
}

/** @internal The inverse of {@link frameWithContext}; throws `ERR_KMS_CONTEXT_MISMATCH`. */
export function unframeWithContext(payload: Uint8Array, context: EncryptionContext | undefined): Uint8Array {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const framed = buf.length >= 40 && buf.subarray(0, 8).equals(FRAME_MAGIC);
  if (!framed) {
    if (hasContext(context)) throw clientError('ERR_KMS_CONTEXT_MISMATCH', 'the encryption context does not match');
    return payload;
  }
  if (!timingSafeEqual(buf.subarray(8, 40), contextDigest(context))) {
    throw clientError('ERR_KMS_CONTEXT_MISMATCH', 'the encryption context does not match');
  }
  return new Uint8Array(buf.subarray(40));
}

/** @internal Measures a health check and turns any failure into `ok: false` with the error code. */
export async function measureHealth(backend: string, check: () => Promise<void>): Promise<HealthStatus> {
  const start = performance.now();
  try {
    await check();
    return { ok: true, backend, latencyMs: performance.now() - start };
  } catch (err) {
    const reason = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'ERROR';
    return { ok: false, backend, latencyMs: performance.now() - start, reason };
  }
}

/** @internal Validates a requested data key length. */
export function dataKeyBytes(options: GenerateDataKeyOptions | undefined): number {
  const n = options?.bytes ?? 32;
  if (!Number.isInteger(n) || n < 16 || n > 64) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'data key length must be an integer from 16 to 64 bytes');
  }
  return n;
}

/**
 * @internal `generateDataKey` and `rewrap` for backends whose server has no
 * data-key or re-encrypt operation (age, Cosmian, RustyVault, local): a random
 * key made here and encrypted by the backend, and decrypt-then-encrypt under
 * the current key with the plaintext wiped afterwards.
 */
export function clientSideKeyOps(
  encrypt: KmsBackend['encrypt'],
  decrypt: KmsBackend['decrypt'],
  random: (length: number) => Uint8Array = (length) => new Uint8Array(randomBytes(length)),
): Pick<KmsBackend, 'generateDataKey' | 'rewrap'> {
  return {
    async generateDataKey(context?: EncryptionContext, opts?: GenerateDataKeyOptions): Promise<DataKey> {
      const plaintext = random(dataKeyBytes(opts));
      return { plaintext, ciphertext: await encrypt(plaintext, context) };
    },
    async rewrap(ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<BackendCiphertext> {
      const pt = await decrypt(ciphertext, context);
      try {
        return await encrypt(pt, context);
      } finally {
        pt.fill(0);
      }
    },
  };
}
