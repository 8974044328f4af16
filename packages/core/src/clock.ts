import { CoreError } from './errors.js';

/**
 * The source of time for everything the SDK decides by time (expiry, TTLs,
 * windows). Inject one instead of patching `Date`: tests freeze and advance it.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real clock: `Date.now()`. */
export const systemClock: Clock = Object.freeze({ now: (): number => Date.now() });

/** A clock that only moves when told to, for tests and simulations. */
export interface ManualClock extends Clock {
  /** Moves the clock forward by `ms` milliseconds (must be >= 0). */
  advance(ms: number): void;
  /** Sets the clock to an absolute time. */
  set(time: Date | number): void;
}

/**
 * Creates a {@link ManualClock} starting at `start` (default: the current time).
 *
 * @example
 * ```ts
 * const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
 * clock.advance(15 * 60_000); // fifteen minutes later
 * ```
 */
export function createManualClock(start: Date | number = Date.now()): ManualClock {
  let current = toMs(start);
  return {
    now: () => current,
    advance(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) {
        throw new CoreError('a manual clock only moves forward by a finite amount', {
          code: 'ERR_INVALID_OPTIONS',
          fault: 'client',
        });
      }
      current += ms;
    },
    set(time: Date | number) {
      current = toMs(time);
    },
  };
}

function toMs(time: Date | number): number {
  const ms = typeof time === 'number' ? time : time.getTime();
  if (!Number.isFinite(ms)) {
    throw new CoreError('invalid time', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  return ms;
}
