import argon2 from 'argon2';
import { authError, invalidOptions } from './errors.js';

/** Argon2id parameters. Defaults are OWASP's minimum (m=19 MiB, t=2, p=1). */
export interface PasswordHasherOptions {
  /** Memory in KiB. Default 19,456 (19 MiB). At least 7,168 (OWASP's lowest row, paired with t=5). */
  readonly memoryCost?: number;
  /** Iterations. Default 2. From 1 to 20. */
  readonly timeCost?: number;
  /** Lanes. Default 1. From 1 to 16. */
  readonly parallelism?: number;
  /** Longest accepted password in UTF-8 bytes (bounds the work an attacker can ask for). Default 1024. */
  readonly maxPasswordBytes?: number;
}

/**
 * Hashes and verifies passwords with Argon2id. Hashing runs on libuv's thread
 * pool (the argon2 binding), so it never blocks the event loop.
 */
export interface PasswordHasher {
  /** The parameters new hashes are made with. */
  readonly parameters: { readonly memoryCost: number; readonly timeCost: number; readonly parallelism: number };
  /**
   * Hashes `password` (NFKC-normalised, as NIST SP 800-63B advises) into a PHC string `$argon2id$v=19$m=…`.
   * @throws AuthError `ERR_AUTH_WEAK_PASSWORD` when the password is empty or longer than `maxPasswordBytes`.
   */
  hash(password: string): Promise<string>;
  /** Whether `password` matches `hash`. A malformed hash or password verifies as `false` (fail closed). */
  verify(hash: string, password: string): Promise<boolean>;
  /** Whether `hash` was made with other (older) parameters or another algorithm and should be replaced after a successful login. */
  needsRehash(hash: string): boolean;
}

function range(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max)
    throw invalidOptions(`${name} must be an integer from ${min} to ${max}`, { [name]: value });
  return v;
}

/**
 * Creates a {@link PasswordHasher} (Argon2id).
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` for parameters below the floor or out of range.
 * @example
 * ```ts
 * const hasher = createPasswordHasher();              // m=19456 KiB, t=2, p=1
 * const hash = await hasher.hash('correct horse battery staple');
 * await hasher.verify(hash, 'correct horse battery staple'); // true
 * ```
 */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const memoryCost = range('memoryCost', options.memoryCost, 19_456, 7_168, 4 * 1024 * 1024);
  const timeCost = range('timeCost', options.timeCost, 2, 1, 20);
  const parallelism = range('parallelism', options.parallelism, 1, 1, 16);
  const maxBytes = range('maxPasswordBytes', options.maxPasswordBytes, 1024, 8, 64 * 1024);
  const params = { type: argon2.argon2id, memoryCost, timeCost, parallelism } as const;

  const prepare = (password: unknown): string | undefined => {
    if (typeof password !== 'string' || password.length === 0) return undefined;
    const normalized = password.normalize('NFKC');
    return Buffer.byteLength(normalized, 'utf8') > maxBytes ? undefined : normalized;
  };

  return {
    parameters: Object.freeze({ memoryCost, timeCost, parallelism }),
    async hash(password) {
      const normalized = prepare(password);
      if (normalized === undefined) {
        throw authError('ERR_AUTH_WEAK_PASSWORD', `passwords are 1 to ${maxBytes} bytes`, {
          maxPasswordBytes: maxBytes,
        });
      }
      return argon2.hash(normalized, params);
    },
    async verify(hash, password) {
      const normalized = prepare(password);
      if (normalized === undefined || typeof hash !== 'string' || !hash.startsWith('$argon2')) return false;
      try {
        return await argon2.verify(hash, normalized);
      } catch {
        return false;
      }
    },
    needsRehash(hash) {
      if (typeof hash !== 'string' || !hash.startsWith('$argon2id$')) return true;
      try {
        return argon2.needsRehash(hash, { memoryCost, timeCost, parallelism });
      } catch {
        return true;
      }
    },
  };
}
