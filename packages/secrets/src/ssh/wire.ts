/**
 * @internal The OpenSSH wire formats the package writes: public key blobs
 * (RFC 4253 §6.6), the `openssh-key-v1` private key (OpenSSH's
 * PROTOCOL.key) and certificates (OpenSSH's PROTOCOL.certkeys). They are
 * plain sequences of big-endian integers and length-prefixed strings; writing
 * them directly costs a fraction of sshpk's general-purpose formatting, which
 * was about half the time of issuing a certificate. sshpk still parses keys
 * that come from outside; the tests compare these bytes with sshpk's and
 * ssh-keygen's for the same inputs.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** Appends SSH wire-format values (RFC 4251 §5) to a growing buffer. */
export class SshWriter {
  private buf: Buffer;
  private at = 0;

  constructor(sizeHint = 256) {
    // Zero-filled: some of what is written here is private key material.
    this.buf = Buffer.alloc(sizeHint);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf.fill(0);
    this.buf = next;
  }

  /** `uint32`. */
  uint32(value: number): this {
    this.room(4);
    this.buf.writeUInt32BE(value, this.at);
    this.at += 4;
    return this;
  }

  /** `uint64`. */
  uint64(value: bigint): this {
    this.room(8);
    this.buf.writeBigUInt64BE(value, this.at);
    this.at += 8;
    return this;
  }

  /** Bytes as they are, without a length. */
  raw(bytes: Uint8Array): this {
    this.room(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }

  /** `string`: a uint32 length, then the bytes (text is UTF-8). */
  string(value: Uint8Array | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.uint32(bytes.length).raw(bytes);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** A copy of what was written; the writer's own buffer is zeroed. */
  finish(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.at));
    this.buf.fill(0);
    this.at = 0;
    return out;
  }
}

/** The public key blob of an Ed25519 key: `string "ssh-ed25519"`, `string key`. */
export function ed25519PublicBlob(publicKey: Uint8Array): Buffer {
  return new SshWriter(51).string('ssh-ed25519').string(publicKey).finish();
}

/** `ssh-ed25519 AAAA… comment` (no trailing comment when it is empty), as in `id_ed25519.pub`. */
export function publicKeyLine(blob: Uint8Array, comment: string): string {
  const line = `${readAlgorithm(blob)} ${Buffer.from(blob).toString('base64')}`;
  return comment === '' ? line : `${line} ${comment}`;
}

/** `SHA256:…`, the fingerprint `ssh-keygen -l` prints: unpadded base64 of the blob's SHA-256. */
export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name a public key blob starts with (`ssh-ed25519`, `ssh-rsa` …). */
export function readAlgorithm(blob: Uint8Array): string {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 4) throw new RangeError('truncated key blob');
  const n = b.readUInt32BE(0);
  if (4 + n > b.length) throw new RangeError('truncated key blob');
  return b.toString('latin1', 4, 4 + n);
}

/**
 * An unencrypted OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`)
 * for an Ed25519 seed: cipher and KDF `none`, one key, a private section of
 * the two check integers, the key (`seed ‖ public`), the comment and padding
 * 1, 2, 3 … to the 8-byte block, base64 in lines of 70 characters.
 */
export function opensshPrivateKey(seed: Uint8Array, publicKey: Uint8Array, comment: string, checkInt: number): string {
  const secret = new Uint8Array(64);
  secret.set(seed, 0);
  secret.set(publicKey, 32);
  const priv = new SshWriter(160)
    .uint32(checkInt)
    .uint32(checkInt)
    .string('ssh-ed25519')
    .string(publicKey)
    .string(secret)
    .string(comment);
  secret.fill(0);
  for (let pad = 1; priv.length % 8 !== 0; pad++) priv.raw(Uint8Array.of(pad));
  const section = priv.finish();
  const body = new SshWriter(section.length + 128)
    .raw(Buffer.from('openssh-key-v1\0', 'latin1'))
    .string('none')
    .string('none')
    .string('')
    .uint32(1)
    .string(ed25519PublicBlob(publicKey))
    .string(section)
    .finish();
  section.fill(0);
  const base64 = body.toString('base64');
  body.fill(0);
  const lines: string[] = ['-----BEGIN OPENSSH PRIVATE KEY-----'];
  for (let i = 0; i < base64.length; i += 70) lines.push(base64.slice(i, i + 70));
  lines.push('-----END OPENSSH PRIVATE KEY-----', '');
  return lines.join('\n');
}

/** One critical option or extension of a certificate: `data` is empty for flags, an SSH string for options. */
export interface CertificateOption {
  readonly name: string;
  readonly data: Uint8Array;
}

/** What a certificate says (PROTOCOL.certkeys), before it is signed. */
export interface CertificateFields {
  /** The subject's public key blob (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-*`). */
  readonly subjectBlob: Uint8Array;
  readonly nonce: Uint8Array;
  readonly serial: bigint;
  /** 1 = user, 2 = host. */
  readonly type: 1 | 2;
  readonly keyId: string;
  readonly principals: readonly string[];
  /** Seconds since the epoch. */
  readonly validAfter: bigint;
  /** Seconds since the epoch. */
  readonly validBefore: bigint;
  /** Sorted by name (OpenSSH requires it). */
  readonly criticalOptions: readonly CertificateOption[];
  /** Sorted by name (OpenSSH requires it). */
  readonly extensions: readonly CertificateOption[];
  /** The CA's public key blob. */
  readonly caBlob: Uint8Array;
}

/** The certificate's type name: the subject key's algorithm with `-cert-v01@openssh.com`. */
export function certificateType(subjectBlob: Uint8Array): string {
  return `${readAlgorithm(subjectBlob)}-cert-v01@openssh.com`;
}

/**
 * The bytes the CA signs: the certificate from its type name to the
 * signature key. The subject key's parts follow the nonce exactly as they
 * follow the algorithm name in its own blob.
 */
export function certificateToBeSigned(f: CertificateFields): Buffer {
  const algorithm = readAlgorithm(f.subjectBlob);
  const w = new SshWriter(512)
    .string(`${algorithm}-cert-v01@openssh.com`)
    .string(f.nonce)
    .raw(f.subjectBlob.subarray(4 + Buffer.byteLength(algorithm, 'latin1')))
    .uint64(f.serial)
    .uint32(f.type)
    .string(f.keyId);
  const principals = new SshWriter(64);
  for (const p of f.principals) principals.string(p);
  w.string(principals.finish());
  w.uint64(f.validAfter).uint64(f.validBefore);
  w.string(optionList(f.criticalOptions)).string(optionList(f.extensions));
  return w.string('').string(f.caBlob).finish();
}

/** The signed certificate blob: what it signs, then `string signature` (`string "ssh-ed25519"`, `string sig`). */
export function signedCertificate(toBeSigned: Uint8Array, ed25519Signature: Uint8Array): Buffer {
  const signature = new SshWriter(83).string('ssh-ed25519').string(ed25519Signature).finish();
  return new SshWriter(toBeSigned.length + 4 + signature.length).raw(toBeSigned).string(signature).finish();
}

function optionList(options: readonly CertificateOption[]): Buffer {
  const w = new SshWriter(64);
  for (const o of options) w.string(o.name).string(o.data);
  return w.finish();
}
