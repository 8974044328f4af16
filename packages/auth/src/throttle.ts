import type { Clock, KeyValueStore } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import { AuthError, invalidOptions } from './errors.js';
import { enc, storePrefix } from './revocation.js';

/** Limits of one throttling dimension (per account or per IP address). */
export interface ThrottleLimit {
  /** Failures within the window after which the key is locked. */
  readonly maxFailures: number;
  /** The counting window in seconds (fixed, from the first failure). */
  readonly windowSeconds: number;
}

/** Options of {@link createLoginThrottle}. */
export interface LoginThrottleOptions {
  /** Shared store: counters and locks apply across every instance using it. */
  readonly store: KeyValueStore;
  /** Per account. Default 5 failures in 900 s. */
  readonly account?: ThrottleLimit;
  /** Per IP address. Default 50 failures in 900 s. */
  readonly ip?: ThrottleLimit;
  /** First lockout in seconds; each further failure doubles it. Default 60. */
  readonly lockoutSeconds?: number;
  /** Longest lockout in seconds. Default 3600. */
  readonly maxLockoutSeconds?: number;
  /** Key prefix. Default `auth:`. */
  readonly prefix?: string;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
}

/** Who is trying to log in. */
export interface LoginAttempt {
  /** Normalised username (the account, whether or not it exists). */
  readonly username: string;
  /** Client IP address, if known. */
  readonly ip?: string;
}

/**
 * Login throttling with lockout and exponential backoff, per account and per
 * IP, on a shared {@link KeyValueStore}. Accounts are keyed by username
 * whether or not the user exists, so the throttle reveals nothing.
 */
export interface LoginThrottle {
  /** @throws AuthError `ERR_AUTH_LOCKED_OUT` (retryable, `details.retryAfterSeconds`) while the account or IP is locked. */
  check(attempt: LoginAttempt): Promise<void>;
  /** Counts a failure; locks the account or IP once its limit is reached (60 s, 120 s, 240 s … up to the maximum). */
  recordFailure(attempt: LoginAttempt): Promise<void>;
  /** Clears the account's failure count (the IP's count stays: one good account must not launder an IP's failures). */
  recordSuccess(attempt: LoginAttempt): Promise<void>;
}

function limit(name: string, value: ThrottleLimit | undefined, fallback: ThrottleLimit): ThrottleLimit {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v.maxFailures) || v.maxFailures < 1 || !(v.windowSeconds >= 1)) {
    throw invalidOptions(`${name} needs maxFailures >= 1 and windowSeconds >= 1`);
  }
  return v;
}

/**
 * Creates a {@link LoginThrottle}.
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` for bad limits.
 * @example
 * ```ts
 * const throttle = createLoginThrottle({ store: redisStore({ client }) });
 * await throttle.check({ username, ip });
 * ```
 */
export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { store } = options;
  if (typeof store?.increment !== 'function') throw invalidOptions('store (a KeyValueStore) is required');
  const clock = options.clock ?? systemClock;
  const account = limit('account', options.account, { maxFailures: 5, windowSeconds: 900 });
  const ip = limit('ip', options.ip, { maxFailures: 50, windowSeconds: 900 });
  const base = options.lockoutSeconds ?? 60;
  const max = options.maxLockoutSeconds ?? 3600;
  if (!(base >= 1) || !(max >= base))
    throw invalidOptions('lockoutSeconds >= 1 and maxLockoutSeconds >= lockoutSeconds');
  const p = storePrefix(options.prefix);
  const keys = (a: LoginAttempt): Array<{ counter: string; lock: string; limit: ThrottleLimit; kind: string }> => [
    { counter: `${p}lf:a:${enc(a.username)}`, lock: `${p}ll:a:${enc(a.username)}`, limit: account, kind: 'account' },
    ...(a.ip === undefined
      ? []
      : [{ counter: `${p}lf:i:${enc(a.ip)}`, lock: `${p}ll:i:${enc(a.ip)}`, limit: ip, kind: 'ip' }]),
  ];

  return {
    async check(attempt) {
      const entries = keys(attempt);
      const locks = await Promise.all(entries.map((e) => store.get(e.lock)));
      const now = clock.now();
      const until = Math.max(0, ...locks.map((v) => Number(v ?? 0)));
      if (until > now) {
        throw new AuthError('too many failed logins; try again later', {
          code: 'ERR_AUTH_LOCKED_OUT',
          fault: 'client',
          retryable: true,
          details: { retryAfterSeconds: Math.ceil((until - now) / 1000) },
        });
      }
    },
    async recordFailure(attempt) {
      for (const e of keys(attempt)) {
        const { value } = await store.increment(e.counter, { ttlSeconds: e.limit.windowSeconds });
        if (value >= e.limit.maxFailures) {
          // Exponential backoff: each failure past the limit doubles the lock, up to the maximum.
          const seconds = Math.min(max, base * 2 ** Math.min(30, value - e.limit.maxFailures));
          await store.set(e.lock, String(clock.now() + seconds * 1000), { ttlSeconds: seconds });
        }
      }
    },
    async recordSuccess(attempt) {
      await store.delete(`${p}lf:a:${enc(attempt.username)}`);
    },
  };
}
