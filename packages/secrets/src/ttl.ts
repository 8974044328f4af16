import { clientError } from './errors.js';
import type { LeaseManager, RevokeSummary } from './manager.js';

/** The timer functions the TTL manager schedules with (injectable for tests). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link createTtlManager}. */
export interface TtlManagerOptions {
  /** The lease manager whose expired leases are revoked. */
  readonly leases: LeaseManager;
  /** Time between the end of one sweep and the start of the next, in ms. Default 300,000 (5 minutes). */
  readonly intervalMs?: number;
  /** Leases fetched per query. Default 100. */
  readonly batchSize?: number;
  /** Called after each sweep with what it did (failed revocations are also reported as `lease.revoke_failed` events). */
  readonly onSweep?: (summary: RevokeSummary) => void;
  /** Called when a sweep itself fails (the store is down); the next sweep still runs. */
  readonly onError?: (error: unknown) => void;
  /** Default: the global `setTimeout`/`clearTimeout`. */
  readonly timers?: Timers;
}

/** Revokes expired leases in the background. Made by {@link createTtlManager}. */
export interface TtlManager {
  /** Whether the background loop is running. */
  readonly running: boolean;
  /**
   * Starts the loop: one sweep right away (so leases that expired while the
   * process was down are revoked at start-up), then one every `intervalMs`.
   * Calling it twice is harmless.
   */
  start(): void;
  /** Stops the loop, waits for a sweep in progress, and leaves no timer behind. */
  stop(): Promise<void>;
  /** Runs one sweep now (also while stopped). */
  sweepNow(): Promise<RevokeSummary>;
}

const globalTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Creates the TTL manager: a background loop that calls
 * {@link LeaseManager.sweep}, which revokes expired leases through their
 * providers and retries failed revocations once their backoff has passed.
 *
 * Sweeps never overlap: the next one is scheduled when the previous ends.
 * The timer is `unref`'d so it does not keep a process alive by itself.
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_OPTIONS` for a bad interval or batch size.
 * @example
 * ```ts
 * const ttl = createTtlManager({ leases, intervalMs: 60_000, onError: (e) => log.warn(e) });
 * ttl.start();
 * process.on('SIGTERM', () => void ttl.stop());
 * ```
 */
export function createTtlManager(options: TtlManagerOptions): TtlManager {
  const leases = options?.leases;
  if (leases === undefined || typeof leases.sweep !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'createTtlManager needs a LeaseManager');
  }
  const intervalMs = options.intervalMs ?? 300_000;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'intervalMs must be a positive integer', { intervalMs });
  }
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'batchSize must be an integer from 1 to 10000', { batchSize });
  }
  const timers = options.timers ?? globalTimers;
  let running = false;
  let timer: unknown;
  let inFlight: Promise<unknown> | undefined;

  const sweepNow = (): Promise<RevokeSummary> => {
    const sweep = leases.sweep({ batchSize });
    const tracked = sweep.then(
      (summary) => {
        try {
          options.onSweep?.(summary);
        } catch {
          // A failing listener does not stop the loop.
        }
      },
      (error: unknown) => {
        try {
          options.onError?.(error);
        } catch {
          // idem
        }
      },
    );
    inFlight = tracked;
    void tracked.finally(() => {
      if (inFlight === tracked) inFlight = undefined;
    });
    return sweep;
  };

  const schedule = (): void => {
    if (!running) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      if (!running) return;
      void sweepNow()
        .catch(() => {})
        .finally(schedule);
    }, intervalMs);
    (timer as { unref?: () => void } | undefined)?.unref?.();
  };

  return {
    get running() {
      return running;
    },
    start() {
      if (running) return;
      running = true;
      void sweepNow()
        .catch(() => {})
        .finally(schedule);
    },
    async stop() {
      running = false;
      if (timer !== undefined) {
        timers.clearTimeout(timer);
        timer = undefined;
      }
      while (inFlight !== undefined) await inFlight;
      // A sweep that ended during the wait may have scheduled again before seeing `running`.
      if (timer !== undefined) {
        timers.clearTimeout(timer);
        timer = undefined;
      }
    },
    sweepNow,
  };
}
