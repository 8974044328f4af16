import { createCipheriv, createDecipheriv } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Clock, RandomSource } from '@provisioning/core';
import { systemClock, systemRandom } from '@provisioning/core';
import { writeFileAtomic } from './atomic-file.js';
import type { BackendCiphertext, HealthStatus, KeyMetadata, KmsBackend } from './backend.js';
import { clientSideKeyOps, measureHealth } from './backend.js';
import type { EncryptionContext } from './context.js';
import { canonicalContext } from './context.js';
import { clientError, decryptFailed, serverError } from './errors.js';

/** Options of {@link localBackend}. */
export interface LocalBackendOptions {
  /** Path of the keyring file (JSON, mode 0600). */
  readonly path: string;
  /** The key to use inside the keyring. Default `default`. */
  readonly keyId?: string;
  /** Create the file and/or the key when missing. Default `true`. */
  readonly create?: boolean;
  /** Source of key material and IVs. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
  /** Clock for version creation times. Default: system clock. */
  readonly clock?: Clock;
}

/** A {@link KmsBackend} over a local keyring file, with `reload()` for files changed by another process. */
export interface LocalBackend extends KmsBackend {
  /** Re-reads the keyring file. */
  reload(): Promise<void>;
}

interface StoredVersion {
  version: number;
  createdAt: string;
  key: string;
}
interface StoredKey {
  minDecryptionVersion: number;
  versions: StoredVersion[];
}
interface KeyringFile {
  format: 'provisioning-kms-keyring';
  version: 1;
  keys: Record<string, StoredKey>;
}

const FORMAT = 'provisioning-kms-keyring';
const CT_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A development backend: AES-256-GCM with versioned keys kept in a JSON
 * keyring file. Rotation appends a version; old versions decrypt until the
 * minimum decryption version passes them. Every change is written atomically
 * (temp file, fsync, rename) with mode 0600.
 *
 * The key material sits on disk unencrypted: use it for development and
 * tests, a real KMS in production.
 *
 * Ciphertext (`data`): `0x01 | key version (u32 BE) | IV (12) | ciphertext | tag (16)`,
 * AAD = `provisioning-kms/local/v1 | key id | version | canonical context`.
 *
 * Throws `ERR_KMS_INVALID_OPTIONS` for a bad key id, `ERR_KMS_KEYRING` for a
 * missing or corrupt file.
 *
 * @example
 * ```ts
 * import { localBackend } from '@provisioning/kms/local';
 * const kms = await localBackend({ path: './data/keyring.json' });
 * const ct = await kms.encrypt(Buffer.from('hi'), { purpose: 'demo' });
 * ```
 */
export async function localBackend(options: LocalBackendOptions): Promise<LocalBackend> {
  const keyId = options.keyId ?? 'default';
  if (!KEY_ID.test(keyId)) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'key id must be 1-64 letters, digits, dots, dashes or underscores');
  }
  if (typeof options.path !== 'string' || options.path.length === 0) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'a keyring path is required');
  }
  const random = options.random ?? systemRandom;
  const clock = options.clock ?? systemClock;
  const create = options.create ?? true;
  const id = 'local';
  let file: KeyringFile = await load(options.path, create);

  const save = async (next: KeyringFile): Promise<void> => {
    await writeFileAtomic(options.path, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    file = next;
  };

  const newVersion = (version: number): StoredVersion => ({
    version,
    createdAt: new Date(clock.now()).toISOString(),
    key: Buffer.from(random.bytes(32)).toString('base64'),
  });

  if (!file.keys[keyId]) {
    if (!create) throw serverError('ERR_KMS_KEY_NOT_FOUND', 'the key is not in the keyring', { details: { keyId } });
    await save({ ...file, keys: { ...file.keys, [keyId]: { minDecryptionVersion: 1, versions: [newVersion(1)] } } });
  }

  const current = (): StoredKey => {
    const k = file.keys[keyId];
    if (!k) throw serverError('ERR_KMS_KEY_NOT_FOUND', 'the key is not in the keyring', { details: { keyId } });
    return k;
  };

  const keyFor = (version: number): Buffer => {
    const k = current();
    if (version < k.minDecryptionVersion) {
      throw clientError('ERR_KMS_KEY_VERSION_TOO_OLD', 'the key version is below the minimum decryption version', {
        keyId,
        version,
        minDecryptionVersion: k.minDecryptionVersion,
      });
    }
    const v = k.versions.find((x) => x.version === version);
    if (!v) throw clientError('ERR_KMS_KEY_NOT_FOUND', 'the key version is not in the keyring', { keyId, version });
    return Buffer.from(v.key, 'base64');
  };

  const aad = (version: number, context: EncryptionContext | undefined): Buffer => {
    const head = Buffer.from(`provisioning-kms/local/v1\0${keyId}\0`, 'utf8');
    const v = Buffer.alloc(4);
    v.writeUInt32BE(version);
    return Buffer.concat([head, v, canonicalContext(context)]);
  };

  const encrypt = async (plaintext: Uint8Array, context?: EncryptionContext): Promise<BackendCiphertext> => {
    const k = current();
    const latest = k.versions[k.versions.length - 1] as StoredVersion;
    const iv = Buffer.from(random.bytes(IV_BYTES));
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(latest.key, 'base64'), iv);
    cipher.setAAD(aad(latest.version, context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const head = Buffer.alloc(5);
    head.writeUInt8(CT_VERSION, 0);
    head.writeUInt32BE(latest.version, 1);
    const data = new Uint8Array(Buffer.concat([head, iv, body, cipher.getAuthTag()]));
    return { backend: id, keyId, keyVersion: latest.version, data };
  };

  const decrypt = async (ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<Uint8Array> => {
    const data = Buffer.from(ciphertext.data.buffer, ciphertext.data.byteOffset, ciphertext.data.byteLength);
    if (data.length < 5 + IV_BYTES + TAG_BYTES || data[0] !== CT_VERSION) {
      throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'not a local backend ciphertext');
    }
    if (ciphertext.keyId !== keyId) {
      throw clientError('ERR_KMS_NO_MATCHING_KEY', 'the ciphertext was made with another key', {
        keyId: ciphertext.keyId,
      });
    }
    const version = data.readUInt32BE(1);
    const key = keyFor(version);
    const iv = data.subarray(5, 5 + IV_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad(version, context));
    decipher.setAuthTag(tag);
    try {
      return new Uint8Array(
        Buffer.concat([decipher.update(data.subarray(5 + IV_BYTES, data.length - TAG_BYTES)), decipher.final()]),
      );
    } catch {
      // node:crypto says only "unable to authenticate data"; we say less still.
      throw decryptFailed({ backend: id, keyId, keyVersion: version });
    }
  };

  const metadata = async (): Promise<KeyMetadata> => {
    const k = current();
    return {
      backend: id,
      keyId,
      algorithm: 'aes-256-gcm',
      latestVersion: (k.versions[k.versions.length - 1] as StoredVersion).version,
      minDecryptionVersion: k.minDecryptionVersion,
      versions: k.versions.map((v) => ({
        version: v.version,
        createdAt: new Date(v.createdAt),
        decryptable: v.version >= k.minDecryptionVersion,
      })),
      rotatable: true,
    };
  };

  return {
    id,
    keyId,
    maxPlaintextBytes: Number.POSITIVE_INFINITY,
    encrypt,
    decrypt,
    ...clientSideKeyOps(encrypt, decrypt, (length) => random.bytes(length)),
    async rotate(): Promise<KeyMetadata> {
      const k = current();
      const latest = (k.versions[k.versions.length - 1] as StoredVersion).version;
      const nextKey: StoredKey = { ...k, versions: [...k.versions, newVersion(latest + 1)] };
      await save({ ...file, keys: { ...file.keys, [keyId]: nextKey } });
      return metadata();
    },
    metadata,
    async setMinDecryptionVersion(version: number): Promise<void> {
      const k = current();
      const latest = (k.versions[k.versions.length - 1] as StoredVersion).version;
      if (!Number.isInteger(version) || version < 1 || version > latest) {
        throw clientError(
          'ERR_KMS_INVALID_OPTIONS',
          'minimum decryption version must be from 1 to the latest version',
          {
            latestVersion: latest,
          },
        );
      }
      await save({ ...file, keys: { ...file.keys, [keyId]: { ...k, minDecryptionVersion: version } } });
    },
    health(): Promise<HealthStatus> {
      return measureHealth(id, async () => {
        const probe = await encrypt(new Uint8Array(1), { health: 'probe' });
        await decrypt(probe, { health: 'probe' });
      });
    },
    async reload(): Promise<void> {
      file = await load(options.path, false);
    },
  };
}

async function load(path: string, create: boolean): Promise<KeyringFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && create) {
      return { format: FORMAT, version: 1, keys: {} };
    }
    throw serverError('ERR_KMS_KEYRING', 'cannot read the keyring file', {
      details: { path, errno: (err as NodeJS.ErrnoException).code },
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // No cause: a JSON.parse message can quote part of the file, i.e. key material.
    throw serverError('ERR_KMS_KEYRING', 'the keyring file is not valid JSON', { details: { path } });
  }
  if (!isKeyring(parsed))
    throw serverError('ERR_KMS_KEYRING', 'the keyring file has an unknown shape', { details: { path } });
  return parsed;
}

function isKeyring(value: unknown): value is KeyringFile {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<KeyringFile>;
  if (v.format !== FORMAT || v.version !== 1 || typeof v.keys !== 'object' || v.keys === null) return false;
  for (const k of Object.values(v.keys)) {
    if (typeof k !== 'object' || k === null || !Array.isArray(k.versions) || k.versions.length === 0) return false;
    if (!Number.isInteger(k.minDecryptionVersion)) return false;
    let prev = 0;
    for (const ver of k.versions) {
      if (!Number.isInteger(ver.version) || ver.version <= prev || typeof ver.key !== 'string') return false;
      if (Buffer.from(ver.key, 'base64').length !== 32) return false;
      prev = ver.version;
    }
  }
  return true;
}
