import { inspect } from 'node:util';
import type { RandomSource } from '@provisioning/core';
import sshpk from 'sshpk';
import { clientError } from '../errors.js';
import { publicValueRandom } from '../random.js';
import type { Ed25519Engine } from './ed25519.js';
import { newSeed, nodeEd25519 } from './ed25519.js';
import { ed25519PublicBlob, opensshPrivateKey, publicKeyLine, readUint32, sshFingerprint } from './wire.js';

/**
 * An Ed25519 SSH key pair. The private key lives only in memory: it is not
 * enumerable, `JSON.stringify` and `util.inspect` leave it out, and nothing
 * in this package logs or persists it.
 */
export interface SshKeyPair {
  readonly type: 'ssh-ed25519';
  /** OpenSSH public key line: `ssh-ed25519 AAAA… comment`. */
  readonly publicKey: string;
  /** `SHA256:…` fingerprint of the public key, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  /** The comment written into both formats. */
  readonly comment: string;
  /** OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), unencrypted: hand it over a secure channel only. */
  readonly privateKey: string;
}

/** Options of {@link generateSshKeyPair}. */
export interface GenerateSshKeyPairOptions {
  /** Comment of the key (printable ASCII, no newline). Default empty. */
  readonly comment?: string;
  /** Ed25519 implementation. Default `nodeEd25519` (OpenSSL); `nobleEd25519` gives the same keys. */
  readonly engine?: Ed25519Engine;
  /** Randomness for the seed. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
}

const COMMENT = /^[\x20-\x7e]{0,256}$/;

/** @internal The public key blob of a generated pair, if it is one (saves re-parsing its line). */
export function publicBlobOf(value: unknown): Buffer | undefined {
  return GeneratedKeyPair.blobOf(value);
}

/** @internal Checks a key comment. */
export function checkComment(comment: string): string {
  if (typeof comment !== 'string' || !COMMENT.test(comment)) {
    throw clientError('ERR_SECRETS_INVALID_REQUEST', 'key comments are up to 256 printable ASCII characters');
  }
  return comment;
}

/**
 * A generated pair. The seed sits in private fields and the private key is a
 * getter on the prototype, formatted on first use: `JSON.stringify`,
 * `Object.keys`, spreading and `structuredClone` see only the public fields,
 * and `util.inspect` prints a redacted line. A class rather than a plain
 * object given hidden properties by `Object.defineProperty`, which cost ~4 µs
 * a pair (it takes the object off V8's fast path).
 */
class GeneratedKeyPair implements SshKeyPair {
  readonly type = 'ssh-ed25519' as const;
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly comment: string;
  readonly #seed: Uint8Array;
  readonly #publicKey: Uint8Array;
  readonly #blob: Buffer;
  readonly #random: RandomSource;
  #formatted: string | undefined;

  constructor(seed: Uint8Array, publicKey: Uint8Array, comment: string, random: RandomSource) {
    const blob = ed25519PublicBlob(publicKey);
    this.publicKey = publicKeyLine(blob, comment);
    this.fingerprint = sshFingerprint(blob);
    this.comment = comment;
    this.#seed = seed;
    this.#publicKey = publicKey;
    this.#blob = blob;
    this.#random = random;
    // Private fields stay writable on a frozen object: the lazy format still caches.
    Object.freeze(this);
  }

  get privateKey(): string {
    // The check integers are random, as ssh-keygen makes them (they only detect a wrong passphrase).
    this.#formatted ??= opensshPrivateKey(this.#seed, this.#publicKey, this.comment, checkInt(this.#random.bytes(4)));
    return this.#formatted;
  }

  // Logging the object shows that there is a private key, never the key.
  [inspect.custom](): string {
    return `SshKeyPair { ${this.fingerprint} ${this.comment} [private key redacted] }`;
  }

  static blobOf(value: unknown): Buffer | undefined {
    return typeof value === 'object' && value !== null && #blob in value
      ? (value as GeneratedKeyPair).#blob
      : undefined;
  }
}

const checkInt = (bytes: Uint8Array): number => {
  if (bytes.length !== 4) throw new RangeError('the random source returned the wrong length');
  return readUint32(bytes, 0);
};

/** @internal Builds the {@link SshKeyPair} object with a hidden, lazily formatted private key. */
export function keyPairObject(
  seed: Uint8Array,
  publicKey: Uint8Array,
  comment: string,
  random: RandomSource = publicValueRandom,
): SshKeyPair {
  return new GeneratedKeyPair(seed, publicKey, comment, random);
}

/**
 * Generates an Ed25519 SSH key pair in OpenSSH formats.
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_REQUEST` for a bad comment.
 * @example
 * ```ts
 * const pair = generateSshKeyPair({ comment: 'deploy@ci' });
 * pair.publicKey;   // "ssh-ed25519 AAAAC3Nza… deploy@ci"
 * pair.fingerprint; // "SHA256:…"
 * ```
 */
export function generateSshKeyPair(options: GenerateSshKeyPairOptions = {}): SshKeyPair {
  const comment = checkComment(options.comment ?? '');
  const engine = options.engine ?? nodeEd25519;
  if (options.random === undefined && engine.generate !== undefined) {
    const { seed, publicKey } = engine.generate();
    return keyPairObject(seed, publicKey, comment);
  }
  const seed = newSeed(options.random);
  return keyPairObject(seed, engine.publicKey(seed), comment, options.random);
}

/** What {@link parseSshPublicKey} returns. */
export interface ParsedSshPublicKey {
  /** `ed25519`, `ecdsa` or `rsa`. */
  readonly type: string;
  /** Key size in bits. */
  readonly bits: number;
  /** The key as a normalised OpenSSH line (no comment). */
  readonly publicKey: string;
  /** `SHA256:` fingerprint. */
  readonly fingerprint: string;
}

/**
 * Parses and checks an OpenSSH public key line (`ssh-ed25519 …`,
 * `ecdsa-sha2-…`, `ssh-rsa …` of at least 2048 bits).
 *
 * @throws SecretsError `ERR_SECRETS_MALFORMED_KEY` (the key text is not echoed).
 * @example
 * ```ts
 * const { fingerprint } = parseSshPublicKey(readFileSync('id_ed25519.pub', 'utf8'));
 * ```
 */
export function parseSshPublicKey(text: string): ParsedSshPublicKey {
  const key = parseSshpkPublicKey(text);
  return Object.freeze({
    type: key.type,
    bits: key.size,
    publicKey: key.toString('ssh').split(' ').slice(0, 2).join(' '),
    fingerprint: key.fingerprint('sha256').toString(),
  });
}

/** @internal {@link parseSshPublicKey} returning the sshpk key. */
export function parseSshpkPublicKey(text: string): sshpk.Key {
  let key: sshpk.Key;
  try {
    if (typeof text !== 'string' || text.length > 16_384 || /[\r\n]./.test(text.trim())) throw new Error('shape');
    key = sshpk.parseKey(text.trim(), 'ssh');
  } catch {
    throw clientError('ERR_SECRETS_MALFORMED_KEY', 'not an OpenSSH public key');
  }
  if (sshpk.PrivateKey.isPrivateKey(key, [1, 0]))
    throw clientError('ERR_SECRETS_MALFORMED_KEY', 'expected a public key');
  if (key.type === 'dsa' || (key.type === 'rsa' && key.size < 2048)) {
    throw clientError('ERR_SECRETS_MALFORMED_KEY', `${key.type} keys of ${key.size} bits are refused`, {
      type: key.type,
      bits: key.size,
    });
  }
  return key;
}

/**
 * Parses an unencrypted Ed25519 private key (OpenSSH or PKCS#8 PEM) and
 * returns its seed and public key.
 *
 * @internal Used by the certificate authority; throws `ERR_SECRETS_MALFORMED_KEY`
 * without echoing the key.
 */
export function parseEd25519PrivateKey(text: string): { seed: Uint8Array; publicKey: Uint8Array } {
  let key: sshpk.PrivateKey;
  try {
    key = sshpk.parsePrivateKey(text, 'auto');
  } catch {
    throw clientError('ERR_SECRETS_MALFORMED_KEY', 'not an unencrypted private key');
  }
  if (key.type !== 'ed25519') {
    // Certificates are signed with Ed25519 only (sshpk signed RSA ones with SHA-1, which OpenSSH 9.2 refuses).
    throw clientError('ERR_SECRETS_MALFORMED_KEY', 'only Ed25519 keys are accepted', { type: key.type });
  }
  // @types/sshpk names parts by algorithm; sshpk keys them by part name (A, k).
  const parts = key.part as unknown as Record<string, { data: Buffer } | undefined>;
  const k = parts.k?.data;
  const A = parts.A?.data;
  if (k === undefined || A === undefined || k.length < 32 || A.length !== 32) {
    throw clientError('ERR_SECRETS_MALFORMED_KEY', 'malformed Ed25519 key');
  }
  return { seed: new Uint8Array(k.subarray(0, 32)), publicKey: new Uint8Array(A) };
}
