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
import { hash } from 'node:crypto';

/** Bytes of `value` as an SSH `string`: the uint32 length and the bytes (text is UTF-8). */
export function stringLength(value: Uint8Array | string): number {
  return 4 + (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length);
}

/**
 * Appends SSH wire-format values (RFC 4251 §5) to a buffer. Given the exact
 * size (what {@link stringLength} and friends add up to), it writes everything
 * into one allocation and {@link SshWriter.finish} hands that buffer over
 * without a copy; otherwise it grows as needed.
 */
export class SshWriter {
  private buf: Buffer;
  private at = 0;

  /**
   * @param sizeHint the exact size, or a starting capacity.
   * @param publicData `true` only for public bytes (certificates, public
   *   keys): the buffer then comes from Node's shared pool, not zero-filled,
   *   which is safe because only written bytes are ever handed out. Default
   *   `false`: a zero-filled buffer of its own, for private key material.
   */
  constructor(sizeHint = 256, publicData = false) {
    this.buf = publicData ? Buffer.allocUnsafe(sizeHint) : Buffer.alloc(sizeHint);
  }

  /**
   * A writer into `buffer`, which must be zero-filled where it is written:
   * for a caller that reads {@link SshWriter.written} and wipes the buffer
   * itself (it never calls `finish`, which would hand the buffer over).
   */
  static into(buffer: Buffer): SshWriter {
    const w = new SshWriter(0, true);
    w.buf = buffer;
    return w;
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

  /** `uint64`, of a bigint or of a non-negative safe integer (written as two uint32s, without BigInt arithmetic). */
  uint64(value: bigint | number): this {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('uint64 needs a non-negative safe integer');
      return this.uint32(Math.floor(value / 0x1_0000_0000)).uint32(value % 0x1_0000_0000);
    }
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

  /** `string`: a uint32 length, then the bytes (text is UTF-8, written in place). */
  string(value: Uint8Array | string): this {
    if (typeof value !== 'string') return this.uint32(value.length).raw(value);
    const n = Buffer.byteLength(value, 'utf8');
    this.room(4 + n);
    this.buf.writeUInt32BE(n, this.at);
    this.buf.write(value, this.at + 4, n, 'utf8');
    this.at += 4 + n;
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** A view of the bytes written so far (not a copy: valid until the next write or `finish`). */
  written(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /**
   * What was written. When the buffer is exactly full it is handed over as it
   * is (the writer keeps no reference, so the caller holds the only copy);
   * otherwise a copy, and the writer's own buffer is zeroed.
   */
  finish(): Buffer {
    const full = this.buf;
    const n = this.at;
    this.buf = EMPTY;
    this.at = 0;
    if (n === full.length) return full;
    const out = Buffer.from(full.subarray(0, n));
    full.fill(0);
    return out;
  }
}

const EMPTY = Buffer.alloc(0);

/** The public key blob of an Ed25519 key: `string "ssh-ed25519"`, `string key`. */
export function ed25519PublicBlob(publicKey: Uint8Array): Buffer {
  return new SshWriter(ED25519_BLOB_LENGTH, true).string(SSH_ED25519).string(publicKey).finish();
}

// Names written into every key and certificate, encoded once.
const SSH_ED25519 = Buffer.from('ssh-ed25519', 'latin1');
const NONE = Buffer.from('none', 'latin1');
// `string "ssh-ed25519"`, `string key`.
const ED25519_BLOB_LENGTH = 4 + 11 + 4 + 32;

/**
 * A big-endian uint32 of `bytes` at `at`. Byte arithmetic, not a
 * DataView: reading `.buffer` of a small typed array (the random pool's
 * slices live on V8's heap) first moves its bytes to a new off-heap
 * ArrayBuffer, which cost more than the rest of the read.
 */
export function readUint32(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] as number) << 24) |
      ((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number)) >>>
    0
  );
}

/** `ssh-ed25519 AAAA… comment` (no trailing comment when it is empty), as in `id_ed25519.pub`. */
export function publicKeyLine(blob: Uint8Array, comment: string): string {
  // Blobs are Buffers here (SshWriter's): base64 of the bytes in place, no copy first.
  const bytes = Buffer.isBuffer(blob) ? blob : Buffer.from(blob);
  const line = `${readAlgorithm(blob)} ${bytes.toString('base64')}`;
  return comment === '' ? line : `${line} ${comment}`;
}

/** `SHA256:…`, the fingerprint `ssh-keygen -l` prints: unpadded base64 of the blob's SHA-256. */
export function sshFingerprint(blob: Uint8Array): string {
  // A SHA-256 is 32 bytes: 43 base64 characters and one `=`.
  return `SHA256:${hash('sha256', blob, 'base64').slice(0, 43)}`;
}

/** The algorithm name a public key blob starts with (`ssh-ed25519`, `ssh-rsa` …). */
export function readAlgorithm(blob: Uint8Array): string {
  // Nearly every blob here is an Ed25519 key: recognised without making a string.
  if (blob.length >= ED25519_PREFIX.length && startsWith(blob, ED25519_PREFIX)) return 'ssh-ed25519';
  const b = Buffer.isBuffer(blob) ? blob : Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 4) throw new RangeError('truncated key blob');
  const n = b.readUInt32BE(0);
  if (4 + n > b.length) throw new RangeError('truncated key blob');
  return b.toString('latin1', 4, 4 + n);
}

// `string "ssh-ed25519"`: how an Ed25519 key blob starts.
const ED25519_PREFIX = Buffer.from('0000000b7373682d65643235353139', 'hex');

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/**
 * An unencrypted OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`)
 * for an Ed25519 seed: cipher and KDF `none`, one key, a private section of
 * the two check integers, the key (`seed ‖ public`), the comment and padding
 * 1, 2, 3 … to the 8-byte block, base64 in lines of 70 characters.
 */
export function opensshPrivateKey(seed: Uint8Array, publicKey: Uint8Array, comment: string, checkInt: number): string {
  // Sized exactly and written in one zero-filled buffer (the private section
  // sits inside the body as a string), wiped once it is base64. The buffer
  // is the module's own scratch, reused: a fresh zero-filled buffer of this
  // size lives outside V8's heap (~0.5 µs to allocate, then a free per key).
  // The key bytes are in it only during this synchronous call, which nothing
  // can interleave with, and the finally wipes them whatever happens: the
  // same lifetime as a fresh buffer that is wiped, then freed.
  const unpadded = 8 + stringLength('ssh-ed25519') + stringLength(publicKey) + 4 + 64 + stringLength(comment);
  const padding = (8 - (unpadded % 8)) % 8;
  const section = unpadded + padding;
  const size = MAGIC.length + 8 + 8 + 4 + 4 + 4 + ED25519_BLOB_LENGTH + 4 + section;
  const scratch = size <= PRIVATE_SCRATCH.length ? PRIVATE_SCRATCH : Buffer.alloc(size);
  let body: Buffer | undefined;
  try {
    body = privateKeyBody(SshWriter.into(scratch), publicKey, section, checkInt, seed, comment, padding);
    return pem(body);
  } finally {
    // `body` is a view of the scratch (the size is exact, so the writer never grew into another buffer).
    body?.fill(0);
    scratch.fill(0, 0, size);
  }
}

function privateKeyBody(
  w: SshWriter,
  publicKey: Uint8Array,
  section: number,
  checkInt: number,
  seed: Uint8Array,
  comment: string,
  padding: number,
): Buffer {
  return (
    w
      .raw(MAGIC)
      .string(NONE)
      .string(NONE)
      .uint32(0)
      .uint32(1)
      .uint32(ED25519_BLOB_LENGTH)
      .string(SSH_ED25519)
      .string(publicKey)
      .uint32(section)
      .uint32(checkInt)
      .uint32(checkInt)
      .string(SSH_ED25519)
      .string(publicKey)
      // The private key string: seed ‖ public key.
      .uint32(64)
      .raw(seed)
      .raw(publicKey)
      .string(comment)
      .raw(PADDING.subarray(0, padding))
      .written()
  );
}

/**
 * The PEM text of a private key body: base64 in lines of 70 characters
 * between the armour lines. Encoded here, into a reused scratch buffer that is
 * wiped afterwards, and read out as one flat string: the key's text then
 * exists once on the heap, where a base64 string, its line slices and the
 * concatenation (flattened again when the caller writes it out) held it two
 * or three times over, and allocated ~0.8 KB a key.
 */
function pem(body: Buffer): string {
  const n = body.length;
  const chars = 4 * Math.ceil(n / 3);
  const length = PEM_BEGIN.length + chars + Math.ceil(chars / 70) + PEM_END.length;
  const out = length <= PEM_SCRATCH.length ? PEM_SCRATCH : Buffer.alloc(length);
  try {
    let o = PEM_BEGIN.copy(out, 0);
    let column = 0;
    for (let i = 0; i < n; i += 3) {
      const rest = n - i;
      const v =
        ((body[i] as number) << 16) |
        (rest > 1 ? (body[i + 1] as number) << 8 : 0) |
        (rest > 2 ? (body[i + 2] as number) : 0);
      for (let k = 0; k < 4; k++) {
        // `=` pads the last group: one byte left gives two characters, two give three.
        out[o++] = k <= rest ? (BASE64[(v >>> (18 - 6 * k)) & 63] as number) : 0x3d;
        if (++column === 70) {
          out[o++] = 0x0a;
          column = 0;
        }
      }
    }
    if (column !== 0) out[o++] = 0x0a;
    o += PEM_END.copy(out, o);
    return out.toString('latin1', 0, o);
  } finally {
    out.fill(0, 0, length);
  }
}

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const PEM_BEGIN = Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\n', 'latin1');
const PEM_END = Buffer.from('-----END OPENSSH PRIVATE KEY-----\n', 'latin1');
// Where the PEM text is assembled (zero-filled; wiped after each key).
const PEM_SCRATCH = Buffer.alloc(4096);

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
// Where private key bodies are written (zero-filled; wiped after each key).
// Generated pairs' comments are at most 256 ASCII characters (checkComment),
// a body at most ~500 bytes; a larger one gets a fresh zero-filled buffer.
const PRIVATE_SCRATCH = Buffer.alloc(2048);

/** @internal For the tests: whether the private key scratches hold only zeros (they are wiped after every key). */
export function privateScratchIsWiped(): boolean {
  return PRIVATE_SCRATCH.every((b) => b === 0) && PEM_SCRATCH.every((b) => b === 0);
}
// Padding of the private section: 1, 2, 3 … up to the 8-byte block.
const PADDING = Uint8Array.of(1, 2, 3, 4, 5, 6, 7);

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
  /** Seconds since the epoch (a number for times the CA writes: no BigInt per certificate). */
  readonly validAfter: bigint | number;
  /** Seconds since the epoch. */
  readonly validBefore: bigint | number;
  /** Sorted by name (OpenSSH requires it). */
  readonly criticalOptions: readonly CertificateOption[];
  /** Sorted by name (OpenSSH requires it). */
  readonly extensions: readonly CertificateOption[];
  /** The CA's public key blob. */
  readonly caBlob: Uint8Array;
}

/** The certificate's type name: the subject key's algorithm with `-cert-v01@openssh.com`. */
export function certificateType(subjectBlob: Uint8Array): string {
  const algorithm = readAlgorithm(subjectBlob);
  // One string per subject key algorithm (a handful), not one per certificate.
  let name = typeNameStrings.get(algorithm);
  if (name === undefined) {
    name = `${algorithm}-cert-v01@openssh.com`;
    if (typeNameStrings.size < 64) typeNameStrings.set(algorithm, name);
  }
  return name;
}

const typeNameStrings = new Map<string, string>();

/**
 * The signed certificate blob: the certificate from its type name to the
 * signature key (the subject key's parts follow the nonce exactly as they
 * follow the algorithm name in its own blob), which `sign` signs, then
 * `string signature` (`string "ssh-ed25519"`, `string sig`). Sized first and
 * written into one buffer; `sign` gets a view of its first part.
 *
 * @throws Error if `sign` does not return a 64-byte Ed25519 signature.
 */
export function signedCertificate(f: CertificateFields, sign: (toBeSigned: Uint8Array) => Uint8Array): Buffer {
  const algorithm = readAlgorithm(f.subjectBlob);
  const typeName = certificateTypeBytes(algorithm);
  const subjectParts = f.subjectBlob.subarray(4 + algorithm.length);
  let principals = 0;
  for (const p of f.principals) principals += stringLength(p);
  const critical = optionsLength(f.criticalOptions);
  const extensions = optionsLength(f.extensions);
  const toBeSigned =
    stringLength(typeName) +
    stringLength(f.nonce) +
    subjectParts.length +
    8 +
    4 +
    stringLength(f.keyId) +
    4 +
    principals +
    8 +
    8 +
    4 +
    critical +
    4 +
    extensions +
    4 +
    stringLength(f.caBlob);
  const w = new SshWriter(toBeSigned + SIGNATURE_LENGTH, true)
    .string(typeName)
    .string(f.nonce)
    .raw(subjectParts)
    .uint64(f.serial)
    .uint32(f.type)
    .string(f.keyId)
    .uint32(principals);
  for (const p of f.principals) w.string(p);
  w.uint64(f.validAfter).uint64(f.validBefore).uint32(critical);
  for (const o of f.criticalOptions) w.string(o.name).string(o.data);
  w.uint32(extensions);
  for (const o of f.extensions) w.string(o.name).string(o.data);
  // The reserved string is empty.
  w.uint32(0).string(f.caBlob);
  const signature = sign(w.written());
  if (signature.length !== 64) throw new Error('the Ed25519 engine returned a malformed signature');
  return w
    .uint32(SIGNATURE_LENGTH - 4)
    .string(SSH_ED25519)
    .string(signature)
    .finish();
}

// `string signature`: `string "ssh-ed25519"`, `string` of 64 bytes.
const SIGNATURE_LENGTH = 4 + 4 + 11 + 4 + 64;

// Certificate type names, encoded once per subject key algorithm (a handful).
const typeNames = new Map<string, Buffer>();
function certificateTypeBytes(algorithm: string): Buffer {
  let bytes = typeNames.get(algorithm);
  if (bytes === undefined) {
    bytes = Buffer.from(`${algorithm}-cert-v01@openssh.com`, 'utf8');
    if (typeNames.size < 64) typeNames.set(algorithm, bytes);
  }
  return bytes;
}

function optionsLength(options: readonly CertificateOption[]): number {
  let n = 0;
  for (const o of options) n += stringLength(o.name) + stringLength(o.data);
  return n;
}
