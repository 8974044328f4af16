// HMAC-SHA-1 (RFC 2104 over FIPS 180-4's SHA-1) for TOTP's default
// algorithm, in plain JavaScript.
//
// Why not node:crypto: a TOTP code is one HMAC of an 8-byte counter, and
// `createHmac` costs ~6.5 µs of CPU here, almost all of it OpenSSL 3's
// per-call set-up (context, key object, digest fetch), not the four SHA-1
// blocks; this does the same four blocks in ~1 µs. That is a quarter of a
// whole cached verification (`npm run bench -- mfa`).
//
// Why it is safe to have our own:
// - It is exact: `hmac-sha1.test.ts` checks RFC 2202's vectors and compares
//   it with node:crypto on thousands of random keys and messages of every
//   length it accepts; the RFC 6238 vectors pass through the public API.
// - No secret-dependent branch or memory index: SHA-1 is 32-bit adds,
//   rotations and bitwise logic in a fixed order (branches depend on the
//   round number and lengths only, which are public).
// - The scratch state that held key-derived words is zeroed before return.
// - Only what TOTP needs: a key of at most one block (64 bytes; our secrets
//   are 20–64) and a message that fits in one block with its padding (at most
//   55 bytes; a counter is 8). Anything else is refused, and callers fall back
//   to node:crypto.

const BLOCK = 64;
/** Longest message: one block less the 0x80 byte and the 8-byte length. */
export const MAX_MESSAGE_BYTES: number = BLOCK - 9;

const w = new Int32Array(80);
const inner = new Int32Array(5);
const outer = new Int32Array(5);

function init(state: Int32Array): void {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
  state[4] = 0xc3d2e1f0 | 0;
}

/**
 * One SHA-1 compression of the block in `w[0..15]` into `state`. The 80
 * rounds are four loops of 20, one per round function, rather than one loop
 * choosing the function every round (the branch cost more than the round).
 */
function compress(state: Int32Array): void {
  for (let t = 16; t < 80; t++) {
    const x = (w[t - 3] as number) ^ (w[t - 8] as number) ^ (w[t - 14] as number) ^ (w[t - 16] as number);
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let t = 0;
  for (; t < 20; t++) {
    const next = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + (w[t] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  for (; t < 40; t++) {
    const next = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + (w[t] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  for (; t < 60; t++) {
    const next =
      (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + (w[t] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  for (; t < 80; t++) {
    const next = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + (w[t] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
}

/** Loads `key` XOR `pad` (zero-padded to a block) into `w[0..15]`. */
function loadKeyBlock(key: Uint8Array, pad: number): void {
  for (let j = 0; j < 16; j++) {
    let word = 0;
    for (let i = 0; i < 4; i++) {
      const at = 4 * j + i;
      word = (word << 8) | ((at < key.length ? (key[at] as number) : 0) ^ pad);
    }
    w[j] = word;
  }
}

/**
 * HMAC-SHA-1 of `message` under `key`: 20 bytes.
 *
 * @throws RangeError for a key longer than 64 bytes or a message longer
 *   than {@link MAX_MESSAGE_BYTES} (use node:crypto for those).
 */
export function hmacSha1(key: Uint8Array, message: Uint8Array): Uint8Array {
  if (key.length > BLOCK || message.length > MAX_MESSAGE_BYTES) {
    throw new RangeError('hmacSha1 takes keys of at most 64 bytes and messages of at most 55');
  }
  try {
    // Inner hash: (key ^ ipad) || message.
    init(inner);
    loadKeyBlock(key, 0x36);
    compress(inner);
    for (let j = 0; j < 16; j++) {
      let word = 0;
      for (let i = 0; i < 4; i++) {
        const at = 4 * j + i;
        const byte = at < message.length ? (message[at] as number) : at === message.length ? 0x80 : 0;
        word = (word << 8) | byte;
      }
      w[j] = word;
    }
    w[15] = (BLOCK + message.length) * 8; // the length in bits (its high word, w[14], is 0)
    compress(inner);
    // Outer hash: (key ^ opad) || inner digest.
    init(outer);
    loadKeyBlock(key, 0x5c);
    compress(outer);
    for (let j = 0; j < 5; j++) w[j] = inner[j] as number;
    w[5] = 0x80000000 | 0;
    for (let j = 6; j < 15; j++) w[j] = 0;
    w[15] = (BLOCK + 20) * 8;
    compress(outer);
    const mac = new Uint8Array(20);
    for (let j = 0; j < 5; j++) {
      const word = outer[j] as number;
      mac[4 * j] = word >>> 24;
      mac[4 * j + 1] = word >>> 16;
      mac[4 * j + 2] = word >>> 8;
      mac[4 * j + 3] = word;
    }
    return mac;
  } finally {
    // The schedule and the inner state were derived from the key.
    w.fill(0);
    inner.fill(0);
    outer.fill(0);
  }
}
