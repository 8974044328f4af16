import { randomFillSync } from 'node:crypto';
import type { RandomSource } from '@provisioning/core';

/**
 * A CSPRNG that fills a 4 KiB pool at a time: event ids need 16 random bytes
 * each, and one `randomFillSync` per id would cost more than the rest of
 * `record()`. Bytes are handed out once and never reused.
 *
 * @example
 * ```ts
 * const id = uuidv7(systemClock, pooledRandom());
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
      // Wipe what was handed out so the pool never holds bytes already used.
      pool.fill(0, offset, offset + length);
      offset += length;
      return out;
    },
  };
}
