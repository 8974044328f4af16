import type { Clock, KeyValueStore } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import { MiddlewareError } from './errors.js';

// Subjects used as they are in store keys (a regex literal in `hit` would be a new RegExp object per call).
const STORE_SAFE = /^[\x21-\x7e]{1,200}$/;

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Shared store: every instance using the same store enforces one limit. */
  readonly store: KeyValueStore;
  /** Requests allowed per window. Default 100. */
  readonly limit?: number;
  /** Window length in seconds. Default 60. */
  readonly windowSeconds?: number;
  /** Key prefix in the store. Default `ratelimit:`. */
  readonly prefix?: string;
  /** Policy name in the `RateLimit` headers. Default `default`. */
  readonly policyName?: string;
  /** Time source for the reset computation. Default: the system clock. */
  readonly clock?: Clock;
}

/** The outcome of one {@link RateLimiter.hit}. */
export interface RateLimitResult {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets (at least 1). */
  readonly resetSeconds: number;
  /** The IETF `RateLimit-Policy` and `RateLimit` headers, plus `Retry-After` when refused. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A fixed-window rate limiter. */
export interface RateLimiter {
  /** Counts one request for `subject` (e.g. `ip:203.0.113.9`) and says whether it is allowed. */
  hit(subject: string): Promise<RateLimitResult>;
}

/**
 * A fixed-window limiter on the core store's atomic `increment` (the TTL is
 * set when the window's first request creates the counter), so N instances
 * sharing PostgreSQL or Redis enforce one limit. Headers follow the IETF
 * RateLimit header fields draft: `RateLimit-Policy: "default";q=100;w=60` and
 * `RateLimit: "default";r=42;t=17`.
 *
 * @throws MiddlewareError `ERR_MW_INVALID_OPTIONS` for a non-positive limit or window.
 * @example
 * ```ts
 * const limiter = createRateLimiter({ store, limit: 100, windowSeconds: 60 });
 * const { allowed, headers } = await limiter.hit(`ip:${clientIp}`);
 * ```
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const limit = options.limit ?? 100;
  const windowSeconds = options.windowSeconds ?? 60;
  if (!Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(windowSeconds) || windowSeconds < 1) {
    throw new MiddlewareError('rate limit and window must be positive integers', {
      code: 'ERR_MW_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  if (options.store === undefined) {
    throw new MiddlewareError('createRateLimiter needs a store', { code: 'ERR_MW_INVALID_OPTIONS', fault: 'client' });
  }
  const prefix = options.prefix ?? 'ratelimit:';
  const name = options.policyName ?? 'default';
  const clock = options.clock ?? systemClock;
  const policy = `"${name}";q=${limit};w=${windowSeconds}`;
  // The same options on every call (frozen: a store cannot change them for the next).
  const incrementOptions = Object.freeze({ ttlSeconds: windowSeconds });

  return {
    async hit(subject) {
      // Store keys are printable ASCII; IPv6 and user ids are, but encode anything else.
      const key = `${prefix}${STORE_SAFE.test(subject) ? subject : encodeURIComponent(subject).slice(0, 200)}`;
      const { value, expiresAt } = await options.store.increment(key, incrementOptions);
      // Clamped to the window: a store on its own clock (Redis) may report an
      // expiry slightly beyond ours.
      const now = clock.now();
      const resetSeconds = Math.min(
        windowSeconds,
        Math.max(1, Math.ceil(((expiresAt?.getTime() ?? now + windowSeconds * 1000) - now) / 1000)),
      );
      const remaining = Math.max(0, limit - value);
      const allowed = value <= limit;
      const headers: Record<string, string> = {
        'RateLimit-Policy': policy,
        RateLimit: `"${name}";r=${remaining};t=${resetSeconds}`,
      };
      if (!allowed) headers['Retry-After'] = String(resetSeconds);
      return { allowed, limit, remaining, resetSeconds, headers };
    },
  };
}
