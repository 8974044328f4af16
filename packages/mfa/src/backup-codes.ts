import { createHash } from 'node:crypto';
import type { RandomSource } from '@provisioning/core';
import { systemRandom } from '@provisioning/core';
import { malformed } from './errors.js';
import { encodeBase32 } from './totp.js';

/** Backup codes issued per user by default. */
export const DEFAULT_BACKUP_CODE_COUNT: number = 10;

// 10 random bytes = 80 bits = exactly 16 base32 characters: above the 64-bit
// floor, short enough to type, and base32 has no 0/1/8/9 to confuse with O/I/B/g.
const CODE_BYTES = 10;
const CODE_PATTERN = /^[A-Z2-7]{16}$/;

/**
 * Generates one backup code: 80 random bits as 16 base32 characters in four
 * groups, e.g. `K7QF-M2XA-PL4D-9ZTR` (base32 letters and digits 2-7).
 *
 * @example
 * ```ts
 * generateBackupCode(); // "K7QF-M2XA-PL4D-WZTR"
 * ```
 */
export function generateBackupCode(random: RandomSource = systemRandom): string {
  const text = encodeBase32(random.bytes(CODE_BYTES));
  return `${text.slice(0, 4)}-${text.slice(4, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}`;
}

/**
 * @internal Normalises a typed backup code (case, spaces and dashes ignored).
 * Throws `ERR_MFA_MALFORMED_INPUT` when it cannot be a backup code.
 */
export function normalizeBackupCode(code: unknown): string {
  if (typeof code !== 'string' || code.length > 64) throw malformed('backup code', 'expected 16 base32 characters');
  const clean = code.replace(/[\s-]/g, '').toUpperCase();
  if (!CODE_PATTERN.test(clean)) throw malformed('backup code', 'expected 16 base32 characters');
  return clean;
}

/**
 * @internal The stored form of a normalised code: SHA-256 over a domain tag,
 * the user id and the code. A fast hash suffices here (unlike passwords): an
 * 80-bit random code cannot be brute-forced offline. Binding the user id
 * means a hash copied to another user matches nothing.
 */
export function hashBackupCode(userId: string, normalized: string): string {
  return createHash('sha256').update(`provisioning-mfa-backup-v1\0${userId}\0${normalized}`).digest('base64url');
}
