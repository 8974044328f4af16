import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import * as ed from '@noble/ed25519';
import type { RandomSource } from '@provisioning/core';
import { systemRandom } from '@provisioning/core';

/**
 * An Ed25519 implementation: key generation from a 32-byte seed and signing.
 * Ed25519 is deterministic, so every engine gives the same keys and
 * signatures for the same seed (the tests check it).
 */
export interface Ed25519Engine {
  /** `noble` or `node`. */
  readonly name: string;
  /** The 32-byte public key of a 32-byte seed. */
  publicKey(seed: Uint8Array): Uint8Array;
  /** A signing function for a seed (prepared once: keep it for many signatures). */
  signer(seed: Uint8Array): (message: Uint8Array) => Uint8Array;
  /** Generates a fresh pair with the engine's own CSPRNG, when it has a faster path than `publicKey(randomSeed)`. */
  generate?(): { seed: Uint8Array; publicKey: Uint8Array };
}

/**
 * Ed25519 from `@noble/ed25519` (audited, pure JavaScript, synchronous API
 * with SHA-512 from `node:crypto`). About 3–4k key pairs/s and 2k signatures/s
 * per core here.
 */
export const nobleEd25519: Ed25519Engine = Object.freeze({
  name: 'noble',
  publicKey(seed: Uint8Array): Uint8Array {
    ensureNobleHash();
    return ed.getPublicKey(seed);
  },
  signer(seed: Uint8Array): (message: Uint8Array) => Uint8Array {
    ensureNobleHash();
    return (message) => ed.sign(message, seed);
  },
});

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): the fixed 16-byte prefix.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
// SPKI DER of an Ed25519 key: a 12-byte prefix, then the 32 raw bytes.
const SPKI_PREFIX_LENGTH = 12;

function nodeKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/**
 * Ed25519 from `node:crypto` (OpenSSL, native): about 5x faster than noble
 * here, which the issuance throughput targets need. The default engine.
 */
export const nodeEd25519: Ed25519Engine = Object.freeze({
  name: 'node',
  publicKey(seed: Uint8Array): Uint8Array {
    return new Uint8Array(
      createPublicKey(nodeKey(seed)).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX_LENGTH),
    );
  },
  signer(seed: Uint8Array): (message: Uint8Array) => Uint8Array {
    const key = nodeKey(seed);
    // The KeyObject is made once per signer and reused; the signature is a fresh Buffer (a Uint8Array).
    return (message) => sign(null, message, key);
  },
  generate(): { seed: Uint8Array; publicKey: Uint8Array } {
    // OpenSSL's own keygen, about 10x faster than importing a DER seed
    // (OpenSSL 3's decoder dominates that path). The keys come back encoded by
    // the keygen job itself: exporting the KeyObject afterwards deadlocked
    // Node 20 now and then, when a garbage collection during the export
    // destroyed the finished keygen job, whose destructor waits for the key's
    // mutex that the export holds (the process hangs at 0% CPU). JWK, not DER:
    // it reads the raw key (~55 µs a pair here) where DER runs OpenSSL 3's
    // encoder (~230 µs). The cost: the seed passes through a base64url string,
    // which cannot be wiped; the caller gets it as OpenSSH text anyway. The
    // public key is JWK-encoded by the job too (its `x` is also in the private
    // JWK): otherwise the job wraps it in a KeyObject, which cost ~6 µs and
    // left one more keygen-made KeyObject for the garbage collector.
    // @types/node has no overload for a JWK private key encoding.
    const { privateKey } = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { format: 'jwk' },
      publicKeyEncoding: { format: 'jwk' },
    } as never) as unknown as { privateKey: JsonWebKey };
    // The seed is decoded straight into a zero-filled buffer of its own:
    // Buffer.from(text) would put it in Node's shared allocation pool. Not a
    // `new Uint8Array(32)` written through `Buffer.from(seed.buffer)`: a typed
    // array that small lives on V8's heap, and reading its `.buffer` moves it
    // to a new ArrayBuffer first. The public key is public: the pool is fine.
    const seed = Buffer.alloc(32);
    const seedBytes = seed.write(String(privateKey.d), 'base64url');
    const publicKey = Buffer.from(String(privateKey.x), 'base64url');
    if (seedBytes !== 32 || publicKey.length !== 32 || privateKey.d?.length !== 43 || privateKey.x?.length !== 43) {
      seed.fill(0);
      throw new Error('OpenSSL returned a malformed Ed25519 key');
    }
    return { seed, publicKey };
  },
});

let nobleReady = false;
function ensureNobleHash(): void {
  if (nobleReady) return;
  // noble's synchronous API needs a SHA-512; node:crypto's is native. Only set
  // if the host application has not configured one itself.
  if (ed.hashes.sha512 === undefined) {
    ed.hashes.sha512 = (message: Uint8Array) => new Uint8Array(createHash('sha512').update(message).digest());
  }
  nobleReady = true;
}

/** @internal A fresh 32-byte seed. */
export function newSeed(random: RandomSource = systemRandom): Uint8Array {
  const seed = random.bytes(32);
  if (seed.length !== 32) throw new RangeError('the random source returned the wrong length');
  return seed;
}
