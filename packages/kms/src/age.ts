import { armor, Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import type { BackendCiphertext, HealthStatus, KeyMetadata, KmsBackend } from './backend.js';
import { clientSideKeyOps, frameWithContext, measureHealth, unframeWithContext } from './backend.js';
import type { EncryptionContext } from './context.js';
import type { KmsErrorCode } from './errors.js';
import { clientError, KmsError } from './errors.js';

/** Options of {@link ageEncrypt}: X25519 recipients or one passphrase (age forbids mixing them). */
export interface AgeEncryptOptions {
  /** `age1…` recipients. */
  readonly recipients?: readonly string[];
  /** A passphrase (scrypt recipient). Must be the only recipient. */
  readonly passphrase?: string;
  /** Write the ASCII armor (`-----BEGIN AGE ENCRYPTED FILE-----`). Default `false` (binary). */
  readonly armor?: boolean;
  /** scrypt work factor log2(N) for passphrases. Default 18 (age's default). */
  readonly scryptWorkFactor?: number;
}

/** Options of {@link ageDecrypt}. */
export interface AgeDecryptOptions {
  /** `AGE-SECRET-KEY-1…` identities to try. */
  readonly identities?: readonly string[];
  /** Passphrases to try. */
  readonly passphrases?: readonly string[];
}

/** Options of {@link ageBackend}. */
export interface AgeBackendOptions extends AgeEncryptOptions, AgeDecryptOptions {
  /** Key id reported in ciphertexts and metadata. Default: the first recipient, or `passphrase`. */
  readonly keyId?: string;
}

/** An X25519 identity and its recipient, from {@link generateAgeIdentity}. */
export interface AgeKeyPair {
  /** `AGE-SECRET-KEY-1…`. Secret. */
  readonly identity: string;
  /** `age1…`. Public. */
  readonly recipient: string;
}

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

/**
 * Generates a new X25519 identity and its recipient.
 *
 * @example
 * ```ts
 * const { identity, recipient } = await generateAgeIdentity();
 * ```
 */
export async function generateAgeIdentity(): Promise<AgeKeyPair> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/**
 * Encrypts `data` into an age file (binary, or armored with `armor: true`)
 * readable by the `age` CLI and any age implementation.
 *
 * Throws `ERR_KMS_INVALID_OPTIONS` for a bad recipient, none, or a passphrase mixed with recipients.
 *
 * @example
 * ```ts
 * const file = await ageEncrypt(Buffer.from('hi'), { recipients: [recipient], armor: true });
 * ```
 */
export async function ageEncrypt(data: Uint8Array, options: AgeEncryptOptions): Promise<Uint8Array> {
  const e = encrypterFor(options);
  const out = await mapAgeErrors(() => e.encrypt(data), 'encrypt');
  return options.armor ? new TextEncoder().encode(armor.encode(out)) : out;
}

/**
 * Decrypts an age file, binary or armored (detected), with the given identities
 * and/or passphrases. The library's plain errors become typed ones:
 * `ERR_KMS_NO_MATCHING_KEY` (no identity or passphrase fits), `ERR_KMS_MALFORMED_CIPHERTEXT`
 * (bad header or armor), `ERR_KMS_DECRYPT_FAILED` (header MAC or payload does not authenticate),
 * `ERR_KMS_INVALID_OPTIONS` (a bad identity string).
 *
 * @example
 * ```ts
 * const plain = await ageDecrypt(file, { identities: [identity] });
 * ```
 */
export async function ageDecrypt(data: Uint8Array, options: AgeDecryptOptions): Promise<Uint8Array> {
  const d = new Decrypter();
  const identities = options.identities ?? [];
  const passphrases = options.passphrases ?? [];
  for (const id of identities) {
    try {
      d.addIdentity(id);
    } catch {
      throw clientError('ERR_KMS_INVALID_OPTIONS', 'an age identity is invalid');
    }
  }
  for (const p of passphrases) d.addPassphrase(p);
  const binary = await mapAgeErrors(async () => dearmor(data), 'decrypt');
  return mapAgeErrors(() => d.decrypt(binary), 'decrypt');
}

/**
 * A {@link KmsBackend} over age: encrypts to X25519 recipients or a
 * passphrase, decrypts with identities or passphrases. age has no additional
 * data, so a non-empty encryption context is bound by a digest inside the
 * encrypted payload (an empty context leaves files plain age, readable by the
 * CLI). age keys have no versions: `rotate` and `setMinDecryptionVersion`
 * throw `ERR_KMS_UNSUPPORTED`; rotate by changing recipients and calling `rewrap`.
 *
 * Throws `ERR_KMS_INVALID_OPTIONS` for bad recipients/identities.
 *
 * @example
 * ```ts
 * import { ageBackend } from '@provisioning/kms/age';
 * const kms = await ageBackend({ identities: [process.env.AGE_KEY!] }); // recipients derived
 * ```
 */
export async function ageBackend(options: AgeBackendOptions): Promise<KmsBackend> {
  let recipients = [...(options.recipients ?? [])];
  const identities = [...(options.identities ?? [])];
  if (recipients.length === 0 && options.passphrase === undefined) {
    for (const identity of identities) {
      try {
        recipients.push(await identityToRecipient(identity));
      } catch {
        throw clientError('ERR_KMS_INVALID_OPTIONS', 'an age identity is invalid');
      }
    }
  }
  recipients = [...new Set(recipients)];
  const encryptOptions: AgeEncryptOptions = {
    recipients,
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    ...(options.armor !== undefined ? { armor: options.armor } : {}),
    ...(options.scryptWorkFactor !== undefined ? { scryptWorkFactor: options.scryptWorkFactor } : {}),
  };
  encrypterFor(encryptOptions); // validates eagerly
  const decryptOptions: AgeDecryptOptions = {
    identities,
    passphrases: [...(options.passphrases ?? []), ...(options.passphrase !== undefined ? [options.passphrase] : [])],
  };
  const id = 'age';
  const keyId = options.keyId ?? recipients[0] ?? 'passphrase';
  const algorithm = options.passphrase !== undefined ? 'age-scrypt' : 'age-x25519';

  const encrypt = async (plaintext: Uint8Array, context?: EncryptionContext): Promise<BackendCiphertext> => ({
    backend: id,
    keyId,
    keyVersion: 0,
    data: await ageEncrypt(frameWithContext(plaintext, context), encryptOptions),
  });
  const decrypt = async (ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<Uint8Array> =>
    unframeWithContext(await ageDecrypt(ciphertext.data, decryptOptions), context);
  const metadata = async (): Promise<KeyMetadata> => ({
    backend: id,
    keyId,
    algorithm,
    latestVersion: 0,
    minDecryptionVersion: 0,
    versions: [],
    rotatable: false,
  });
  return {
    id,
    keyId,
    maxPlaintextBytes: Number.POSITIVE_INFINITY,
    encrypt,
    decrypt,
    // rewrap re-encrypts to the current recipient set: how age keys "rotate".
    ...clientSideKeyOps(encrypt, decrypt),
    async rotate(): Promise<KeyMetadata> {
      throw clientError('ERR_KMS_UNSUPPORTED', 'age keys have no versions: change recipients and rewrap');
    },
    metadata,
    async setMinDecryptionVersion(): Promise<void> {
      throw clientError('ERR_KMS_UNSUPPORTED', 'age keys have no versions');
    },
    health(): Promise<HealthStatus> {
      return measureHealth(id, async () => {
        if (decryptOptions.identities?.length === 0 && decryptOptions.passphrases?.length === 0) return;
        const probe = await encrypt(new Uint8Array([1]));
        await decrypt(probe);
      });
    },
  };
}

function encrypterFor(options: AgeEncryptOptions): Encrypter {
  const e = new Encrypter();
  const recipients = options.recipients ?? [];
  if (options.passphrase !== undefined) {
    if (recipients.length > 0) {
      throw clientError('ERR_KMS_INVALID_OPTIONS', 'age cannot encrypt to both recipients and a passphrase');
    }
    if (typeof options.passphrase !== 'string' || options.passphrase.length === 0) {
      throw clientError('ERR_KMS_INVALID_OPTIONS', 'the passphrase must be a non-empty string');
    }
    e.setPassphrase(options.passphrase);
    if (options.scryptWorkFactor !== undefined) e.setScryptWorkFactor(options.scryptWorkFactor);
    return e;
  }
  if (recipients.length === 0)
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'age encryption needs a recipient or a passphrase');
  for (const r of recipients) {
    try {
      e.addRecipient(r);
    } catch {
      throw clientError('ERR_KMS_INVALID_OPTIONS', 'an age recipient is invalid');
    }
  }
  return e;
}

function dearmor(data: Uint8Array): Uint8Array {
  // age's armor may be preceded by whitespace; anything else is the binary format.
  let i = 0;
  while (i < data.length && (data[i] === 0x20 || data[i] === 0x09 || data[i] === 0x0a || data[i] === 0x0d)) i++;
  const head = Buffer.from(data.buffer, data.byteOffset + i, Math.min(ARMOR_BEGIN.length, data.length - i)).toString(
    'latin1',
  );
  if (head !== ARMOR_BEGIN) return data;
  return armor.decode(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1'));
}

const SAFE_REASON = /^[A-Za-z0-9 '():_.-]{1,80}$/;

/** @internal Runs an age call and turns its plain `Error`/`DOMException`s into {@link KmsError}s. */
async function mapAgeErrors<T>(fn: () => Promise<T>, op: 'encrypt' | 'decrypt'): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KmsError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    // age's messages are fixed strings (no data, no key material); keep them as a reason only when they look so.
    const details = SAFE_REASON.test(message) ? { reason: message, op } : { op };
    throw new KmsError(`age ${op} failed`, { code: classify(message, op), fault: 'client', details });
  }
}

function classify(message: string, op: 'encrypt' | 'decrypt'): KmsErrorCode {
  if (op === 'encrypt') return 'ERR_KMS_INVALID_OPTIONS';
  if (message.includes('no identity matched')) return 'ERR_KMS_NO_MATCHING_KEY';
  if (message.includes('invalid identity') || message.includes('unrecognized identity'))
    return 'ERR_KMS_INVALID_OPTIONS';
  if (message.includes('header HMAC')) return 'ERR_KMS_DECRYPT_FAILED';
  if (
    /header|stanza|version|armor|base64|line|footer|non-ASCII|cbor|work factor|recipient is not the only/i.test(message)
  ) {
    return 'ERR_KMS_MALFORMED_CIPHERTEXT';
  }
  if (/too small|size is invalid|stream ended|final chunk/i.test(message)) return 'ERR_KMS_TRUNCATED';
  return 'ERR_KMS_DECRYPT_FAILED';
}
