import { describe, expect, it } from 'vitest';
import { base32Decode, totp } from './totp.js';

// RFC 6238 appendix B (SHA-1 rows), secret "12345678901234567890".
const VECTORS: ReadonlyArray<[seconds: number, code: string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('the tests’ own TOTP (RFC 6238)', () => {
  it('matches the RFC 6238 SHA-1 test vectors, from the base32 secret', () => {
    const secret = base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(secret.toString()).toBe('12345678901234567890');
    for (const [seconds, code] of VECTORS) expect(totp(secret, seconds * 1000, 8)).toBe(code);
    expect(totp(secret, 59_000)).toBe('287082');
  });
});
