import { createCipheriv, createDecipheriv, createHash, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Clock, RandomSource } from '@provisioning/core';
import { systemClock, systemRandom } from '@provisioning/core';
import type { BackendCiphertext, KmsBackend } from './backend.js';
import type { EncryptionContext } from './context.js';
import { canonicalContext, contextDigest } from './context.js';
import { clientError, decryptFailed, KmsError } from './errors.js';

/** Limits of the data-key cache of {@link createEnvelope}. A key is retired when any limit is reached. */
export interface DataKeyCacheOptions {
  /** How long one data key may be reused, in milliseconds. Default 300 000 (5 minutes). */
  readonly maxAgeMs?: number;
  /** How many messages one data key may encrypt. Default 1 000 000 (well under the 2^32 messages per key that random 128-bit message ids make safe). */
  readonly maxMessages?: number;
  /** How many plaintext bytes one data key may encrypt. Default 2^36 (64 GiB). */
  readonly maxBytes?: number;
  /** How many different contexts are cached at once (least recently used goes first). Default 100. */
  readonly maxEntries?: number;
}

/** Options of {@link createEnvelope}. */
export interface EnvelopeOptions {
  /** Backends to wrap every data key with (encrypt to all, decrypt with any). At least one. */
  readonly backends: readonly KmsBackend[];
  /** Plaintext bytes per authenticated chunk. Default 65 536. From 1 to 16 777 216. */
  readonly chunkBytes?: number;
  /**
   * Cache data keys (off by default: every message gets a fresh data key). Encryption reuses a
   * data key per context within the limits; decryption remembers unwrapped data keys per
   * (wrapped keys, context) within `maxAgeMs`, `maxMessages` and `maxEntries`.
   */
  readonly cache?: DataKeyCacheOptions | boolean;
  /** Clock for the cache's age limit. Default: system clock. */
  readonly clock?: Clock;
  /** Source of message ids. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
}

/** One wrapped data key in an envelope header. */
export interface EnvelopeKeyInfo {
  /** The backend id that wrapped it. */
  readonly backend: string;
  /** The key id inside that backend. */
  readonly keyId: string;
  /** The key version (0 when unversioned or unknown). */
  readonly keyVersion: number;
  /** Size of the wrapped key in bytes. */
  readonly wrappedBytes: number;
}

/** What {@link Envelope.inspect} reads from a header (nothing secret). */
export interface EnvelopeInfo {
  /** The format version (1). */
  readonly formatVersion: number;
  /** The payload algorithm. */
  readonly algorithm: 'AES-256-GCM-HKDF-SHA256';
  /** Plaintext bytes per chunk. */
  readonly chunkBytes: number;
  /** Hex of the 16-byte message id. */
  readonly messageId: string;
  /** Hex SHA-256 of the canonical encryption context. */
  readonly contextDigest: string;
  /** The wrapped data keys, one per backend. */
  readonly keys: readonly EnvelopeKeyInfo[];
  /** Length of the header (where the chunks start), in bytes. */
  readonly headerBytes: number;
}

/** Options of {@link Envelope.rewrap}. */
export interface RewrapOptions {
  /** Drop wrapped keys of backends this envelope does not have. Default `false` (kept as they are). */
  readonly dropUnknown?: boolean;
}

/** Envelope encryption over one or more {@link KmsBackend}s. */
export interface Envelope {
  /** Encrypts `plaintext` into a self-describing ciphertext bound to `context`. */
  encrypt(plaintext: Uint8Array, context?: EncryptionContext): Promise<Uint8Array>;
  /** Decrypts a ciphertext from `encrypt` or `encryptStream`. */
  decrypt(ciphertext: Uint8Array, context?: EncryptionContext): Promise<Uint8Array>;
  /** Encrypts a stream chunk by chunk; yields the header, then one ciphertext chunk per `chunkBytes` of input. */
  encryptStream(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    context?: EncryptionContext,
  ): AsyncGenerator<Uint8Array>;
  /**
   * Decrypts a stream; yields each chunk's plaintext only after that chunk authenticated.
   * A truncated stream rejects at the end (`ERR_KMS_TRUNCATED`): treat the output as
   * incomplete until the iteration finishes without error.
   */
  decryptStream(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    context?: EncryptionContext,
  ): AsyncGenerator<Uint8Array>;
  /** Re-wraps the data key under each backend's newest key version (and adds missing backends); the chunks are copied unchanged. */
  rewrap(ciphertext: Uint8Array, context?: EncryptionContext, options?: RewrapOptions): Promise<Uint8Array>;
  /** Reads the header without decrypting. */
  inspect(ciphertext: Uint8Array): EnvelopeInfo;
  /** Forgets every cached data key (and zeroes them). */
  clearCache(): void;
}

const MAGIC = Buffer.from('PKMS', 'ascii');
const FORMAT_VERSION = 1;
const ALG_AES256GCM_HKDF = 1;
const FIXED_HEADER_BYTES = 58;
const TAG_BYTES = 16;
const MAX_CHUNK = 16 * 1024 * 1024;
const HKDF_INFO = Buffer.from('provisioning-kms envelope v1 AES-256-GCM', 'ascii');

interface CacheEntry {
  dataKey: Buffer;
  keySection: Buffer;
  createdAt: number;
  messages: number;
  bytes: number;
}

interface ParsedHeader {
  fixed: Buffer;
  chunkBytes: number;
  messageId: Buffer;
  digest: Buffer;
  entries: BackendCiphertext[];
  headerBytes: number;
}

/**
 * Creates envelope encryption: each message is encrypted with AES-256-GCM
 * under a key derived (HKDF-SHA256, salt = random 16-byte message id) from a
 * data key; the data key is wrapped by every configured backend and stored in
 * the header. The payload is cut into authenticated chunks whose additional
 * data binds the header, the chunk index and a final-chunk flag, so
 * truncation, reordering and splicing are detected. See the README for the
 * byte layout.
 *
 * Throws `ERR_KMS_INVALID_OPTIONS` for bad options. Its methods reject with
 * `ERR_KMS_CONTEXT_MISMATCH`, `ERR_KMS_MALFORMED_CIPHERTEXT`, `ERR_KMS_TRUNCATED`,
 * `ERR_KMS_DECRYPT_FAILED`, `ERR_KMS_NO_MATCHING_KEY` and the backends' errors.
 *
 * @example
 * ```ts
 * import { createEnvelope } from '@provisioning/kms';
 * import { localBackend } from '@provisioning/kms/local';
 * const envelope = createEnvelope({ backends: [await localBackend({ path: 'keyring.json' })], cache: true });
 * const blob = await envelope.encrypt(Buffer.from('secret'), { tenant: 't1' });
 * const plain = await envelope.decrypt(blob, { tenant: 't1' });
 * ```
 */
export function createEnvelope(options: EnvelopeOptions): Envelope {
  const backends = [...(options.backends ?? [])];
  if (backends.length === 0 || backends.length > 255) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'an envelope needs from 1 to 255 backends');
  }
  const chunkBytes = options.chunkBytes ?? 65_536;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'chunkBytes must be an integer from 1 to 16777216');
  }
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const cacheOptions = options.cache === true ? {} : options.cache === false ? undefined : options.cache;
  const limits = cacheOptions
    ? {
        maxAgeMs: positive(cacheOptions.maxAgeMs, 300_000, 'maxAgeMs'),
        maxMessages: positive(cacheOptions.maxMessages, 1_000_000, 'maxMessages'),
        maxBytes: positive(cacheOptions.maxBytes, 2 ** 36, 'maxBytes'),
        maxEntries: positive(cacheOptions.maxEntries, 100, 'maxEntries'),
      }
    : undefined;
  const cache = new Map<string, CacheEntry>();

  const newDataKey = async (
    context: EncryptionContext | undefined,
  ): Promise<{ dataKey: Buffer; keySection: Buffer }> => {
    const [first, ...rest] = backends as [KmsBackend, ...KmsBackend[]];
    const generated = await first.generateDataKey(context);
    const dataKey = Buffer.from(generated.plaintext);
    const wrapped: BackendCiphertext[] = [generated.ciphertext];
    for (const backend of rest) wrapped.push(await backend.encrypt(dataKey, context));
    return { dataKey, keySection: encodeKeySection(wrapped) };
  };

  const dataKeyFor = async (
    context: EncryptionContext | undefined,
    digest: Buffer,
    plaintextBytes: number,
  ): Promise<{ dataKey: Buffer; keySection: Buffer; cached: boolean }> => {
    if (!limits) return { ...(await newDataKey(context)), cached: false };
    const key = digest.toString('hex');
    const now = clock.now();
    let entry = cache.get(key);
    if (
      entry &&
      (now - entry.createdAt >= limits.maxAgeMs ||
        entry.messages + 1 > limits.maxMessages ||
        entry.bytes + plaintextBytes > limits.maxBytes)
    ) {
      // Retire the key; zero it so it does not linger in memory.
      entry.dataKey.fill(0);
      cache.delete(key);
      entry = undefined;
    }
    if (!entry) {
      if (plaintextBytes > limits.maxBytes) return { ...(await newDataKey(context)), cached: false };
      const fresh = await newDataKey(context);
      entry = { ...fresh, createdAt: now, messages: 0, bytes: 0 };
      cache.set(key, entry);
      while (cache.size > limits.maxEntries) {
        const oldest = cache.keys().next().value as string;
        cache.get(oldest)?.dataKey.fill(0);
        cache.delete(oldest);
      }
    } else {
      // LRU: move to the back.
      cache.delete(key);
      cache.set(key, entry);
    }
    entry.messages += 1;
    entry.bytes += plaintextBytes;
    return { dataKey: entry.dataKey, keySection: entry.keySection, cached: true };
  };

  // Decrypt side: unwrapped data keys by (wrapped keys, context), so messages under one cached
  // data key do not each cost a backend call. Same age and entry limits; keys are copies.
  const unwrapCache = new Map<string, { dataKey: Buffer; createdAt: number; uses: number }>();
  const unwrap = async (
    entries: readonly BackendCiphertext[],
    context: EncryptionContext | undefined,
  ): Promise<Buffer> => {
    if (!limits) return unwrapUncached(entries, context);
    const hash = createHash('sha256').update(encodeKeySection(entries)).update(canonicalContext(context));
    const key = hash.digest('hex');
    const now = clock.now();
    const hit = unwrapCache.get(key);
    if (hit && now - hit.createdAt < limits.maxAgeMs && hit.uses < limits.maxMessages) {
      hit.uses += 1;
      return Buffer.from(hit.dataKey);
    }
    if (hit) {
      hit.dataKey.fill(0);
      unwrapCache.delete(key);
    }
    const dataKey = await unwrapUncached(entries, context);
    unwrapCache.set(key, { dataKey: Buffer.from(dataKey), createdAt: now, uses: 1 });
    while (unwrapCache.size > limits.maxEntries) {
      const oldest = unwrapCache.keys().next().value as string;
      unwrapCache.get(oldest)?.dataKey.fill(0);
      unwrapCache.delete(oldest);
    }
    return dataKey;
  };

  const unwrapUncached = async (
    entries: readonly BackendCiphertext[],
    context: EncryptionContext | undefined,
  ): Promise<Buffer> => {
    let lastError: unknown;
    // Exact (backend, key id) matches first, then other keys of the same backend kind
    // (an AWS multi-region replica, a key addressed by alias).
    const attempts: [BackendCiphertext, KmsBackend][] = [];
    for (const entry of entries) {
      for (const backend of backends) {
        if (backend.id === entry.backend && backend.keyId === entry.keyId) attempts.push([entry, backend]);
      }
    }
    for (const entry of entries) {
      for (const backend of backends) {
        if (backend.id === entry.backend && backend.keyId !== entry.keyId) attempts.push([entry, backend]);
      }
    }
    for (const [entry, backend] of attempts) {
      try {
        return Buffer.from(await backend.decrypt(entry, context));
      } catch (err) {
        lastError ??= err;
      }
    }
    if (lastError instanceof KmsError) throw lastError;
    throw clientError('ERR_KMS_NO_MATCHING_KEY', 'no configured backend can unwrap the data key', {
      backends: entries.map((e) => e.backend),
    });
  };

  const fixedHeader = (digest: Buffer, messageId: Buffer): Buffer => {
    const fixed = Buffer.alloc(FIXED_HEADER_BYTES);
    MAGIC.copy(fixed, 0);
    fixed.writeUInt8(FORMAT_VERSION, 4);
    fixed.writeUInt8(ALG_AES256GCM_HKDF, 5);
    fixed.writeUInt32BE(chunkBytes, 6);
    messageId.copy(fixed, 10);
    digest.copy(fixed, 26);
    return fixed;
  };

  const checkDigest = (header: ParsedHeader, context: EncryptionContext | undefined): void => {
    if (!timingSafeEqual(header.digest, contextDigest(context))) {
      throw clientError('ERR_KMS_CONTEXT_MISMATCH', 'the encryption context does not match');
    }
  };

  return {
    async encrypt(plaintext: Uint8Array, context?: EncryptionContext): Promise<Uint8Array> {
      const digest = contextDigest(context);
      const { dataKey, keySection } = await dataKeyFor(context, digest, plaintext.byteLength);
      const messageId = Buffer.from(random.bytes(16));
      const fixed = fixedHeader(digest, messageId);
      const key = messageKey(dataKey, messageId, digest);
      const chunkCount = Math.max(1, Math.ceil(plaintext.byteLength / chunkBytes));
      const out = Buffer.allocUnsafe(fixed.length + keySection.length + plaintext.byteLength + chunkCount * TAG_BYTES);
      let offset = fixed.copy(out, 0);
      offset += keySection.copy(out, offset);
      const input = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
      for (let i = 0; i < chunkCount; i++) {
        const part = input.subarray(i * chunkBytes, Math.min(input.length, (i + 1) * chunkBytes));
        offset += sealChunk(key, fixed, i, i === chunkCount - 1, part, out, offset);
      }
      key.fill(0);
      return new Uint8Array(out.buffer, out.byteOffset, offset);
    },

    async decrypt(ciphertext: Uint8Array, context?: EncryptionContext): Promise<Uint8Array> {
      const buf = asBuffer(ciphertext);
      const header = parseHeader(buf);
      checkDigest(header, context);
      const dataKey = await unwrap(header.entries, context);
      const key = messageKey(dataKey, header.messageId, header.digest);
      dataKey.fill(0);
      try {
        const body = buf.subarray(header.headerBytes);
        const full = header.chunkBytes + TAG_BYTES;
        if (body.length < TAG_BYTES) throw clientError('ERR_KMS_TRUNCATED', 'the ciphertext is truncated');
        const out = Buffer.allocUnsafe(Math.max(0, body.length - TAG_BYTES * Math.ceil(body.length / full)));
        let offset = 0;
        let index = 0;
        for (let pos = 0; pos < body.length; index++) {
          const end = Math.min(body.length, pos + full);
          const isLast = end === body.length;
          const plain = openChunk(key, header.fixed, index, isLast, body.subarray(pos, end));
          offset += plain.copy(out, offset);
          pos = end;
        }
        return new Uint8Array(out.buffer, out.byteOffset, offset);
      } finally {
        key.fill(0);
      }
    },

    async *encryptStream(source, context) {
      const digest = contextDigest(context);
      // Streams never use the cache: their length is unknown up front, so the byte limit could not be honoured.
      const { dataKey, keySection } = await newDataKey(context);
      const messageId = Buffer.from(random.bytes(16));
      const fixed = fixedHeader(digest, messageId);
      const key = messageKey(dataKey, messageId, digest);
      dataKey.fill(0);
      try {
        yield new Uint8Array(Buffer.concat([fixed, keySection]));
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        let index = 0;
        for await (const piece of source) {
          pending.push(asBuffer(piece));
          pendingBytes += piece.byteLength;
          // Keep at least one byte back: the final chunk must be flagged, so a chunk is only
          // sealed as non-final once we know more input follows it.
          while (pendingBytes > chunkBytes) {
            const all = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
            const out = Buffer.allocUnsafe(chunkBytes + TAG_BYTES);
            sealChunk(key, fixed, index++, false, all.subarray(0, chunkBytes), out, 0);
            pending = [all.subarray(chunkBytes)];
            pendingBytes = all.length - chunkBytes;
            yield new Uint8Array(out.buffer, out.byteOffset, out.length);
          }
        }
        const rest = Buffer.concat(pending);
        const out = Buffer.allocUnsafe(rest.length + TAG_BYTES);
        sealChunk(key, fixed, index, true, rest, out, 0);
        yield new Uint8Array(out.buffer, out.byteOffset, out.length);
      } finally {
        key.fill(0);
      }
    },

    async *decryptStream(source, context) {
      let buffered: Buffer = Buffer.alloc(0);
      let header: ParsedHeader | undefined;
      let key: Buffer | undefined;
      let index = 0;
      try {
        for await (const piece of source) {
          buffered = buffered.length === 0 ? asBuffer(piece) : Buffer.concat([buffered, asBuffer(piece)]);
          if (!header) {
            const h = tryParseHeader(buffered);
            if (!h) continue;
            header = h;
            checkDigest(header, context);
            const dataKey = await unwrap(header.entries, context);
            key = messageKey(dataKey, header.messageId, header.digest);
            dataKey.fill(0);
            buffered = buffered.subarray(header.headerBytes);
          }
          const full = header.chunkBytes + TAG_BYTES;
          // Only open a full chunk when more bytes follow it: otherwise it may be the final one.
          while (buffered.length > full) {
            yield new Uint8Array(openChunk(key as Buffer, header.fixed, index++, false, buffered.subarray(0, full)));
            buffered = buffered.subarray(full);
          }
        }
        if (!header) {
          if (buffered.length === 0) throw clientError('ERR_KMS_TRUNCATED', 'the ciphertext is empty');
          parseHeader(buffered); // throws the precise error
          throw clientError('ERR_KMS_TRUNCATED', 'the ciphertext is truncated');
        }
        if (buffered.length < TAG_BYTES) throw clientError('ERR_KMS_TRUNCATED', 'the ciphertext is truncated');
        yield new Uint8Array(openChunk(key as Buffer, header.fixed, index, true, buffered));
      } finally {
        key?.fill(0);
      }
    },

    async rewrap(
      ciphertext: Uint8Array,
      context?: EncryptionContext,
      rewrapOptions?: RewrapOptions,
    ): Promise<Uint8Array> {
      const buf = asBuffer(ciphertext);
      const header = parseHeader(buf);
      checkDigest(header, context);
      const next: BackendCiphertext[] = [];
      let dataKey: Buffer | undefined;
      const covered = new Set<KmsBackend>();
      for (const entry of header.entries) {
        const backend = backends.find((b) => b.id === entry.backend && b.keyId === entry.keyId && !covered.has(b));
        if (!backend) {
          if (!rewrapOptions?.dropUnknown) next.push(entry);
          continue;
        }
        covered.add(backend);
        next.push(await backend.rewrap(entry, context));
      }
      for (const backend of backends) {
        if (covered.has(backend)) continue;
        dataKey ??= await unwrap(header.entries, context);
        next.push(await backend.encrypt(dataKey, context));
      }
      dataKey?.fill(0);
      if (next.length === 0) throw clientError('ERR_KMS_NO_MATCHING_KEY', 'rewrapping would leave no wrapped key');
      // The chunks' additional data covers only the fixed header, so they are reused byte for byte.
      return new Uint8Array(Buffer.concat([header.fixed, encodeKeySection(next), buf.subarray(header.headerBytes)]));
    },

    inspect(ciphertext: Uint8Array): EnvelopeInfo {
      const header = parseHeader(asBuffer(ciphertext));
      return {
        formatVersion: FORMAT_VERSION,
        algorithm: 'AES-256-GCM-HKDF-SHA256',
        chunkBytes: header.chunkBytes,
        messageId: header.messageId.toString('hex'),
        contextDigest: header.digest.toString('hex'),
        keys: header.entries.map((e) => ({
          backend: e.backend,
          keyId: e.keyId,
          keyVersion: e.keyVersion,
          wrappedBytes: e.data.byteLength,
        })),
        headerBytes: header.headerBytes,
      };
    },

    clearCache(): void {
      for (const entry of cache.values()) entry.dataKey.fill(0);
      cache.clear();
      for (const entry of unwrapCache.values()) entry.dataKey.fill(0);
      unwrapCache.clear();
    },
  };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !(v > 0)) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', `cache ${name} must be a positive number`);
  }
  return v;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function messageKey(dataKey: Buffer, messageId: Buffer, digest: Buffer): Buffer {
  // A fresh key per message: with cached data keys, chunk nonces (the chunk index)
  // repeat across messages, so the key must not.
  return Buffer.from(hkdfSync('sha256', dataKey, messageId, Buffer.concat([HKDF_INFO, digest]), 32));
}

function chunkNonce(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
}

function chunkAad(fixed: Buffer, index: number, final: boolean): Buffer {
  const aad = Buffer.allocUnsafe(fixed.length + 9);
  fixed.copy(aad, 0);
  aad.writeBigUInt64BE(BigInt(index), fixed.length);
  aad.writeUInt8(final ? 1 : 0, fixed.length + 8);
  return aad;
}

function sealChunk(
  key: Buffer,
  fixed: Buffer,
  index: number,
  final: boolean,
  plain: Buffer,
  out: Buffer,
  at: number,
): number {
  const cipher = createCipheriv('aes-256-gcm', key, chunkNonce(index));
  cipher.setAAD(chunkAad(fixed, index, final));
  let n = 0;
  if (plain.length > 0) n += cipher.update(plain).copy(out, at);
  n += cipher.final().copy(out, at + n);
  n += cipher.getAuthTag().copy(out, at + n);
  return n;
}

function openChunk(key: Buffer, fixed: Buffer, index: number, final: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG_BYTES) throw clientError('ERR_KMS_TRUNCATED', 'the ciphertext is truncated');
  const attempt = (flag: boolean): Buffer | undefined => {
    const decipher = createDecipheriv('aes-256-gcm', key, chunkNonce(index));
    decipher.setAAD(chunkAad(fixed, index, flag));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      return undefined;
    }
  };
  const plain = attempt(final);
  if (plain) return plain;
  // A last chunk that authenticates as non-final means the chunks after it were cut off.
  if (final && attempt(false)) throw clientError('ERR_KMS_TRUNCATED', 'the ciphertext is truncated');
  throw decryptFailed({ chunk: index });
}

function encodeKeySection(entries: readonly BackendCiphertext[]): Buffer {
  if (entries.length === 0 || entries.length > 255) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'an envelope holds from 1 to 255 wrapped keys');
  }
  const parts: Buffer[] = [Buffer.from([entries.length])];
  for (const e of entries) {
    const backend = Buffer.from(e.backend, 'utf8');
    const keyId = Buffer.from(e.keyId, 'utf8');
    if (backend.length > 255 || keyId.length > 65_535) {
      throw clientError('ERR_KMS_INVALID_OPTIONS', 'backend id or key id too long for the envelope header');
    }
    const fixed = Buffer.alloc(1 + backend.length + 2 + keyId.length + 8);
    let o = fixed.writeUInt8(backend.length, 0);
    o += backend.copy(fixed, o);
    o = fixed.writeUInt16BE(keyId.length, o);
    o += keyId.copy(fixed, o);
    o = fixed.writeUInt32BE(e.keyVersion >>> 0, o);
    fixed.writeUInt32BE(e.data.byteLength, o);
    parts.push(fixed, asBuffer(e.data));
  }
  return Buffer.concat(parts);
}

class Short extends Error {}

function tryParseHeader(buf: Buffer): ParsedHeader | undefined {
  try {
    return parseHeaderOrShort(buf);
  } catch (err) {
    if (err instanceof Short) return undefined;
    throw err;
  }
}

function parseHeader(buf: Buffer): ParsedHeader {
  try {
    return parseHeaderOrShort(buf);
  } catch (err) {
    if (err instanceof Short) throw clientError('ERR_KMS_TRUNCATED', 'the ciphertext header is truncated');
    throw err;
  }
}

function parseHeaderOrShort(buf: Buffer): ParsedHeader {
  const need = (n: number): void => {
    if (buf.length < n) throw new Short();
  };
  need(4);
  if (!buf.subarray(0, 4).equals(MAGIC))
    throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'not an envelope ciphertext');
  need(FIXED_HEADER_BYTES + 1);
  if (buf[4] !== FORMAT_VERSION) {
    throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'unsupported envelope format version', { formatVersion: buf[4] });
  }
  if (buf[5] !== ALG_AES256GCM_HKDF) {
    throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'unsupported envelope algorithm', { algorithm: buf[5] });
  }
  const chunkBytes = buf.readUInt32BE(6);
  if (chunkBytes < 1 || chunkBytes > MAX_CHUNK) {
    throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'invalid chunk size in the envelope header');
  }
  const count = buf.readUInt8(FIXED_HEADER_BYTES);
  if (count === 0) throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'the envelope holds no wrapped key');
  let o = FIXED_HEADER_BYTES + 1;
  const entries: BackendCiphertext[] = [];
  for (let i = 0; i < count; i++) {
    need(o + 1);
    const bl = buf.readUInt8(o);
    o += 1;
    need(o + bl + 2);
    const backend = buf.toString('utf8', o, o + bl);
    o += bl;
    const kl = buf.readUInt16BE(o);
    o += 2;
    need(o + kl + 8);
    const keyId = buf.toString('utf8', o, o + kl);
    o += kl;
    const keyVersion = buf.readUInt32BE(o);
    const wl = buf.readUInt32BE(o + 4);
    o += 8;
    if (wl > 1 << 20) throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'wrapped key too large');
    need(o + wl);
    entries.push({ backend, keyId, keyVersion, data: new Uint8Array(buf.subarray(o, o + wl)) });
    o += wl;
  }
  return {
    fixed: Buffer.from(buf.subarray(0, FIXED_HEADER_BYTES)),
    chunkBytes,
    messageId: Buffer.from(buf.subarray(10, 26)),
    digest: Buffer.from(buf.subarray(26, 58)),
    entries,
    headerBytes: o,
  };
}
