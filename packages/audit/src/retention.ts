/**
 * Days each retention class is kept: `standard` 365 days, `break_glass`
 * 2,555 days (7 years). Override or add classes with `retentionDays`.
 */
export const DEFAULT_RETENTION_DAYS: Readonly<Record<string, number>> = Object.freeze({
  standard: 365,
  break_glass: 2555,
});

/** What {@link startRetentionJob} needs of a log. */
export interface PurgeableLog {
  purge(): Promise<readonly { readonly purged: number }[]>;
}

/** Options of {@link startRetentionJob}. */
export interface RetentionJobOptions {
  /** How often to purge. Default 24 h. */
  readonly everyMs?: number;
  /** Called when a purge fails (the job keeps running). Default `process.emitWarning`. */
  readonly onError?: (error: unknown) => void;
  /** Called after each purge with the number of events removed. */
  readonly onPurged?: (count: number) => void;
}

/**
 * Runs `log.purge()` every `everyMs` (the timer does not keep the process
 * alive) and returns a function that stops it. Purges never overlap.
 *
 * @example
 * ```ts
 * const stop = startRetentionJob(log, { everyMs: 86_400_000 });
 * process.on('SIGTERM', stop);
 * ```
 */
export function startRetentionJob(log: PurgeableLog, options: RetentionJobOptions = {}): () => void {
  const everyMs = options.everyMs ?? 86_400_000;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    log
      .purge()
      .then((outcomes) => options.onPurged?.(outcomes.reduce((n, o) => n + o.purged, 0)))
      .catch((error: unknown) => {
        if (options.onError) options.onError(error);
        else process.emitWarning(`audit retention purge failed: ${(error as Error)?.message ?? 'error'}`);
      })
      .finally(() => {
        running = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
