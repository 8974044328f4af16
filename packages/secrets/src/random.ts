import { pooledRandom, type RandomSource } from '@provisioning/core';

/**
 * @internal Where the package takes the random bytes of public values when
 * the caller injects no `random`: lease ids, certificate serials and nonces,
 * the check integers of a private key. One OpenSSL `randomBytes` call costs
 * ~5 µs here, and a certificate took four of them (a fifth of its overhead);
 * the pool reads the same CSPRNG 4 KiB at a time and hands each byte out once
 * (and wipes it from the pool).
 *
 * Safe because none of these values is secret: the pool only holds future
 * ids, serials and nonces, which are published anyway. Key seeds, OTPs and
 * passwords never come from here (they use `systemRandom` or the keygen's
 * own CSPRNG), so no future secret waits in the heap.
 */
export const publicValueRandom: RandomSource = pooledRandom();
