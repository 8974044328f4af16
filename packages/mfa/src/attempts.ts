import type { Clock, GuardedClaimOptions, GuardedClaimResult, KeyValueStore } from '@provisioning/core';
import { clientError, MfaError } from './errors.js';

/**
 * Limits on failed verifications, per user, shared by every instance through the key/value store.
 *
 * @example
 * ```ts
 * createMfaService({ ...options, attempts: { maxFailures: 10, windowSeconds: 900 } });
 * ```
 */
export interface AttemptLimits {
  /** Failed verifications allowed in one window. Default 5. */
  readonly maxFailures: number;
  /** Length of the window in seconds, counted from the first failure. Default 300. */
  readonly windowSeconds: number;
}

/** The default limits: 5 failures per 5 minutes. */
export const DEFAULT_ATTEMPT_LIMITS: AttemptLimits = Object.freeze({ maxFailures: 5, windowSeconds: 300 });

/** @internal Validates limits (construction time). */
export function attemptLimits(input: Partial<AttemptLimits> | undefined): AttemptLimits {
  const l = { ...DEFAULT_ATTEMPT_LIMITS, ...input };
  if (!Number.isSafeInteger(l.maxFailures) || l.maxFailures < 1 || !(l.windowSeconds > 0) || l.windowSeconds > 86_400) {
    throw new MfaError('attempt limits need maxFailures >= 1 and windowSeconds in (0, 86400]', {
      code: 'ERR_MFA_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  return Object.freeze(l);
}

/**
 * @internal Per-user failure accounting on a {@link KeyValueStore}.
 *
 * TOTP codes are decided by {@link AttemptLimiter.attempt}: one atomic
 * `guardedClaim` that checks the count, then claims or counts. Backup codes
 * (whose check is a store operation of its own) first *reserve* an attempt
 * with an atomic `increment` and are refused once the count exceeds the
 * limit. Either way the check and the count are one atomic step, which is
 * what makes the cap hold under concurrency: a burst of parallel guesses
 * cannot all pass a "fewer than 5 failures so far?" read before any of them
 * is counted. A success deletes the counter; a failure leaves it.
 */
export class AttemptLimiter {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly prefix: string,
    private readonly limits: AttemptLimits,
    private readonly clock: Clock,
  ) {}

  /** Reserves one attempt for `userId`; throws `ERR_MFA_TOO_MANY_ATTEMPTS` when over the limit. Backup codes use it. */
  async reserve(userId: string): Promise<void> {
    const { value, expiresAt } = await this.kv.increment(this.counterKey(userId), {
      ttlSeconds: this.limits.windowSeconds,
    });
    if (value > this.limits.maxFailures) throw this.tooMany(expiresAt);
  }

  /**
   * Decides a code verification whose result is already known, in one
   * atomic store operation (`guardedClaim`): locked users are refused
   * whatever the code (`ERR_MFA_TOO_MANY_ATTEMPTS`, nothing changes); a
   * right code claims `claimKey` (its replay marker) and resets the count;
   * a wrong code or a replay adds one failure. Because the store checks the
   * count and updates it in the same step, concurrent attempts on any number
   * of instances are serialised, and at most `maxFailures` wrong codes are
   * ever answered anything but "too many" before the window ends or a right
   * code resets it; the marker makes the code single-use across instances.
   */
  async attempt(
    userId: string,
    claimKey: string | undefined,
    claimTtlSeconds: number,
    combined?: (options: GuardedClaimOptions) => Promise<GuardedClaimResult> | undefined,
  ): Promise<'claimed' | 'replayed' | 'failed'> {
    const counterKey = this.counterKey(userId);
    const { maxFailures, windowSeconds } = this.limits;
    const options: GuardedClaimOptions =
      claimKey === undefined
        ? { counterKey, maxFailures, windowSeconds }
        : { counterKey, maxFailures, windowSeconds, claim: { key: claimKey, value: '1', ttlSeconds: claimTtlSeconds } };
    // `combined` (the same decision, committed with a follow-up write) may
    // decline with undefined; then the plain guardedClaim decides.
    const { outcome, expiresAt } = await (combined?.(options) ?? this.kv.guardedClaim(options));
    if (outcome === 'locked') throw this.tooMany(expiresAt);
    return outcome;
  }

  private tooMany(expiresAt: Date | undefined): MfaError {
    const retryAt = expiresAt ?? new Date(this.clock.now() + this.limits.windowSeconds * 1000);
    // Clamped to the window: a store on its own clock (Redis) may report an
    // expiry a few milliseconds beyond ours, which must not round up past it.
    const retryAfterSeconds = Math.min(
      this.limits.windowSeconds,
      Math.max(1, Math.ceil((retryAt.getTime() - this.clock.now()) / 1000)),
    );
    return clientError(
      'ERR_MFA_TOO_MANY_ATTEMPTS',
      `too many failed verifications; try again in ${retryAfterSeconds} s`,
      { retryAfterSeconds, retryAt: retryAt.toISOString(), maxFailures: this.limits.maxFailures },
      true,
    );
  }

  /** A verification succeeded: the count starts again from zero. */
  async reset(userId: string): Promise<void> {
    await this.kv.delete(this.counterKey(userId));
  }

  /** The store key of `userId`'s count, for a success that deletes it in the same operation as another write. */
  counterKey(userId: string): string {
    return `${this.prefix}attempts:${userId}`;
  }
}
