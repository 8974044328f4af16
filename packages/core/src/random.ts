import { randomBytes as nodeRandomBytes, randomFillSync } from 'node:crypto';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

/**
 * A source of cryptographically secure random bytes. Inject one for
 * deterministic tests; production code uses {@link systemRandom}.
 */
export interface RandomSource {
  /** Returns `length` random bytes. */
  bytes(length: number): Uint8Array;
}

/** The operating system's CSPRNG (`crypto.randomBytes`). */
export const systemRandom: RandomSource = Object.freeze({
  bytes: (length: number): Uint8Array => new Uint8Array(nodeRandomBytes(length)),
});

/**
 * The OS CSPRNG read `poolBytes` (default 4 KiB) at a time, for hot paths that
 * take a few random bytes per call (a UUIDv7 per request or audit event): one
 * `randomBytes` call costs microseconds, a slice of the pool almost nothing.
 * Bytes are handed out once and wiped from the pool.
 *
 * @example
 * ```ts
 * const random = pooledRandom();
 * const id = uuidv7(systemClock, random);
 * ```
 */
export function pooledRandom(poolBytes = 4096): RandomSource {
  const pool = Buffer.alloc(poolBytes);
  let offset = poolBytes;
  return {
    bytes(length: number): Uint8Array {
      if (length > poolBytes) return new Uint8Array(randomFillSync(Buffer.alloc(length)));
      if (offset + length > poolBytes) {
        randomFillSync(pool);
        offset = 0;
      }
      const out = new Uint8Array(pool.subarray(offset, offset + length));
      pool.fill(0, offset, offset + length);
      offset += length;
      return out;
    },
  };
}

/**
 * Base64url encoding of `length` random bytes: a token for URLs, headers and keys.
 *
 * @example
 * ```ts
 * const secret = randomToken(32); // 256 bits, 43 characters
 * ```
 */
export function randomToken(length = 32, random: RandomSource = systemRandom): string {
  return Buffer.from(random.bytes(length)).toString('base64url');
}

/**
 * A UUID version 7 (RFC 9562): 48 bits of millisecond time then random bits,
 * so ids sort by creation time. Ids made in the same millisecond are ordered
 * by a monotonic counter within this process.
 *
 * @example
 * ```ts
 * const id = uuidv7(); // "01936b2e-8c3f-7a4e-9d2b-5f1e3c7a9b01"
 * ```
 */
export function uuidv7(clock: Clock = systemClock, random: RandomSource = systemRandom): string {
  let ms = clock.now();
  if (ms <= lastMs) {
    // Same (or earlier) millisecond: keep ids strictly increasing by bumping the
    // 12-bit counter, and borrow a millisecond when it wraps.
    ms = lastMs;
    seq += 1;
    if (seq > 0xfff) {
      ms = lastMs + 1;
      seq = 0;
    }
  } else {
    seq = 0;
  }
  lastMs = ms;
  const bytes = random.bytes(16);
  const out = new Uint8Array(16);
  out.set(bytes);
  const hi = Math.floor(ms / 2 ** 16);
  const lo = ms % 2 ** 16;
  out[0] = (hi >>> 24) & 0xff;
  out[1] = (hi >>> 16) & 0xff;
  out[2] = (hi >>> 8) & 0xff;
  out[3] = hi & 0xff;
  out[4] = (lo >>> 8) & 0xff;
  out[5] = lo & 0xff;
  out[6] = 0x70 | ((seq >>> 8) & 0x0f);
  out[7] = seq & 0xff;
  out[8] = 0x80 | ((out[8] ?? 0) & 0x3f);
  const hex = Buffer.from(out).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

let lastMs = 0;
let seq = 0;
