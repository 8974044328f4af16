import type { Clock } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import type { EncryptionContext, SecretEncrypter } from './encrypter.js';
import { MfaError } from './errors.js';

/** Options of {@link cachingSecretEncrypter}. */
export interface CachingSecretEncrypterOptions {
  /**
   * How long a decrypted secret may be served from memory, counted from its
   * decryption, in milliseconds: more than 0, at most 300,000 (5 minutes).
   * Default 30,000.
   */
  readonly maxAgeMs?: number;
  /** Most secrets held at once (the oldest is wiped first): an integer from 1 to 1,000,000. Default 10,000. */
  readonly maxEntries?: number;
  /** Time source for the age. Default: the system clock. */
  readonly clock?: Clock;
}

/** A {@link SecretEncrypter} that serves recent decryptions from memory. Made by {@link cachingSecretEncrypter}. */
export interface CachingSecretEncrypter extends SecretEncrypter {
  /**
   * Wipes (zero-fills) and drops every cached secret now. Call it when a
   * KMS key is revoked or disabled, so nothing decrypted under it is served
   * again; later decryptions go to the inner encrypter (and fail there).
   */
  clear(): void;
  /** How many secrets are cached right now (for metrics and tests). */
  readonly size: number;
}

const DEFAULT_MAX_AGE_MS = 30_000;
const MAX_MAX_AGE_MS = 300_000;
const DEFAULT_MAX_ENTRIES = 10_000;
const MAX_MAX_ENTRIES = 1_000_000;

interface Entry {
  readonly plaintext: Uint8Array;
  readonly expiresAt: number;
}

/**
 * The cache key: the exact ciphertext and the canonical encryption context,
 * length-prefixed so no two (ciphertext, context) pairs share a key. The
 * context is part of the key because the inner encrypter authenticates it:
 * a ciphertext copied to another user's or device's row must still go to the
 * inner encrypter and fail there, never be answered from this cache.
 */
function cacheKey(ciphertext: string, context: EncryptionContext): string | undefined {
  const { userId, deviceId, purpose } = context ?? ({} as EncryptionContext);
  if (
    typeof ciphertext !== 'string' ||
    typeof userId !== 'string' ||
    typeof deviceId !== 'string' ||
    typeof purpose !== 'string'
  ) {
    return undefined; // not cacheable: the inner encrypter decides (and refuses)
  }
  return `${ciphertext.length}:${ciphertext}|${userId.length}:${userId}|${deviceId.length}:${deviceId}|${purpose.length}:${purpose}`;
}

function invalidOptions(message: string): MfaError {
  return new MfaError(message, { code: 'ERR_MFA_INVALID_OPTIONS', fault: 'client' });
}

/**
 * Wraps a {@link SecretEncrypter} with a bounded, short-lived cache of
 * decrypted secrets. Opt-in: `createMfaService` never adds it by itself.
 *
 * Why: in production the encrypter is a KMS envelope encrypter, so without a
 * cache every TOTP verification is a KMS call (or at least an AES-GCM
 * unwrap), which costs more than the verification itself. This is the AWS
 * Encryption SDK's "caching cryptographic materials manager" pattern: reuse a
 * decryption for a bounded time and a bounded number of entries.
 *
 * Why it is safe, and what it costs:
 * - The key is the exact ciphertext *and* the canonical encryption context,
 *   so a ciphertext moved to another user or device is a miss and is
 *   refused by the inner encrypter as before.
 * - Only successful decryptions are cached; a failure (wrong key, tampering,
 *   a KMS outage) is never remembered, so it is retried on the next call.
 * - Each call returns a fresh copy: the caller may (and the MFA service
 *   does) wipe what it receives without touching the cached copy.
 * - Entries are zero-filled when they expire (`maxAgeMs` after their
 *   decryption, at the next call or by an unref'd timer), when they are
 *   evicted (`maxEntries`, oldest first) and on {@link CachingSecretEncrypter.clear}.
 * - The trade-off: up to `maxEntries` decrypted secrets live in process
 *   memory for up to `maxAgeMs`, and a revoked KMS key keeps "working" for
 *   cached secrets until they expire, unless you call `clear()` on revocation.
 *
 * `encrypt` passes straight through.
 *
 * @throws MfaError `ERR_MFA_INVALID_OPTIONS` for a missing inner encrypter, `maxAgeMs` not in (0, 300000] or a bad `maxEntries`.
 * @example
 * ```ts
 * import { cachingSecretEncrypter, createMfaService } from '@provisioning/mfa';
 * const encrypter = cachingSecretEncrypter(kmsEncrypter, { maxAgeMs: 30_000, maxEntries: 10_000 });
 * const mfa = createMfaService({ store, kv, encrypter, rp });
 * onKeyRevoked(() => encrypter.clear());
 * ```
 */
export function cachingSecretEncrypter(
  inner: SecretEncrypter,
  options: CachingSecretEncrypterOptions = {},
): CachingSecretEncrypter {
  if (typeof inner?.decrypt !== 'function' || typeof inner.encrypt !== 'function') {
    throw invalidOptions('cachingSecretEncrypter needs a SecretEncrypter to wrap');
  }
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (typeof maxAgeMs !== 'number' || !(maxAgeMs > 0 && maxAgeMs <= MAX_MAX_AGE_MS)) {
    throw invalidOptions(`maxAgeMs must be more than 0 and at most ${MAX_MAX_AGE_MS}`);
  }
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_MAX_ENTRIES) {
    throw invalidOptions(`maxEntries must be an integer from 1 to ${MAX_MAX_ENTRIES}`);
  }
  const clock = options.clock ?? systemClock;
  // Insertion order is decryption order, so the first entry is always the
  // oldest: expiry and eviction both take from the front (FIFO, not LRU:
  // a hit does not extend an entry's life, as maxAgeMs promises).
  const entries = new Map<string, Entry>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Bumped by clear(): a decryption that was in flight when clear() ran (a
  // KMS key revoked meanwhile) answers its caller but is not cached.
  let generation = 0;

  const drop = (key: string, entry: Entry): void => {
    entry.plaintext.fill(0);
    entries.delete(key);
  };

  const sweep = (now: number): void => {
    for (const [key, entry] of entries) {
      if (entry.expiresAt > now) break;
      drop(key, entry);
    }
  };

  // Wipes expired secrets even when no call comes: one pending timer for
  // the oldest entry, unref'd so it never keeps the process alive.
  const schedule = (): void => {
    if (timer !== undefined) return;
    const first = entries.values().next();
    if (first.done) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        sweep(clock.now());
        schedule();
      },
      Math.max(1, first.value.expiresAt - clock.now()),
    );
    timer.unref?.();
  };

  const encrypter: CachingSecretEncrypter = {
    id: inner.id,
    get size() {
      return entries.size;
    },
    encrypt: (plaintext, context) => inner.encrypt(plaintext, context),
    async decrypt(ciphertext, context) {
      const now = clock.now();
      sweep(now);
      const key = cacheKey(ciphertext, context);
      if (key === undefined) return inner.decrypt(ciphertext, context);
      const hit = entries.get(key);
      if (hit !== undefined) return hit.plaintext.slice();
      // A failure rejects here and caches nothing.
      const started = generation;
      const plaintext = await inner.decrypt(ciphertext, context);
      if (started !== generation) return plaintext;
      const copy = new Uint8Array(plaintext); // our own copy: the caller wipes theirs
      const previous = entries.get(key); // a concurrent miss of the same key got there first
      if (previous !== undefined) drop(key, previous);
      entries.set(key, { plaintext: copy, expiresAt: clock.now() + maxAgeMs });
      if (entries.size > maxEntries) {
        const [oldestKey, oldest] = entries.entries().next().value as [string, Entry];
        drop(oldestKey, oldest);
      }
      schedule();
      return plaintext;
    },
    clear() {
      generation += 1;
      for (const [key, entry] of entries) drop(key, entry);
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
  return encrypter;
}
