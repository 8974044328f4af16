import { cpus, loadavg } from 'node:os';
import type { Bench, Task } from 'tinybench';

/** One benchmark task's figures, or the error that stopped it. */
export interface BenchFigure {
  readonly name: string;
  /** Completed operations per second of measured time (samples / total time); NaN if the task failed. */
  readonly opsPerSecond: number;
  /** 99th percentile latency in microseconds; NaN if the task failed. */
  readonly p99Us: number;
  readonly samples: number;
  /** The message of the error that stopped the task. */
  readonly error?: string;
}

/**
 * The figures of every task of a finished tinybench run. tinybench records a
 * task's error and reports no throughput, which used to read as "0 ops/s":
 * here a failed task is printed with its stack on stderr and marks the
 * process as failed (exit code 1), so a broken benchmark cannot pass for a slow one.
 *
 * Throughput is samples divided by measured time (the reciprocal of the mean
 * latency), not tinybench's mean of per-sample rates, which overstates it
 * whenever latencies vary (a GC pause, a slow fsync).
 */
export function benchFigures(bench: Bench): BenchFigure[] {
  return bench.tasks.map(taskFigure);
}

/** The figures of one task (see {@link benchFigures}). */
export function taskFigure(task: Task): BenchFigure {
  const result = task.result as
    | { error?: unknown; latency?: { mean: number; p99?: number; samples: number[] } }
    | undefined;
  const error = result?.error;
  if (error !== undefined || result?.latency === undefined) {
    const message = error instanceof Error ? error.message : String(error ?? 'no result');
    console.error(`benchmark task "${task.name}" failed:`, error instanceof Error ? error.stack : message);
    process.exitCode = 1;
    return { name: task.name, opsPerSecond: Number.NaN, p99Us: Number.NaN, samples: 0, error: message };
  }
  const { mean, p99, samples } = result.latency;
  return { name: task.name, opsPerSecond: 1000 / mean, p99Us: (p99 ?? Number.NaN) * 1000, samples: samples.length };
}

/**
 * Prints each task's name on stderr as its warm-up and its run start, so a
 * benchmark that hangs shows where (the figures only print at the end).
 * Returns the bench.
 */
export function announceTasks<B extends Bench>(bench: B): B {
  for (const task of bench.tasks) {
    task.addEventListener('warmup', () => console.error(`  warming up: ${task.name}`));
    task.addEventListener('start', () => console.error(`  running: ${task.name}`));
  }
  return bench;
}

/** `12,345` or `error: …` for a table cell. */
export function formatOps(figure: BenchFigure): string {
  return figure.error === undefined
    ? Math.round(figure.opsPerSecond).toLocaleString('en-US')
    : `error: ${figure.error}`;
}

/** Node version, CPU and load averages, to print with every set of figures. */
export function machineLine(): string {
  const [one, five, fifteen] = loadavg().map((l) => l.toFixed(2));
  return `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, load average ${one} / ${five} / ${fifteen} (1 / 5 / 15 min)`;
}

/**
 * Process CPU time (user + system, which includes libuv thread-pool work such
 * as WebCrypto) per call of each function, in microseconds: the median over
 * `rounds` rounds of `perRound` awaited calls each, the functions taking turns
 * in an order that flips every round, after two discarded warm-up rounds.
 * CPU time per operation is throughput per core, and taking turns keeps a
 * shared machine's drifting load from favouring one function.
 */
export async function cpuMicrosPerCall(
  fns: Readonly<Record<string, () => Promise<unknown>>>,
  options: { readonly rounds?: number; readonly perRound?: number } = {},
): Promise<Record<string, number>> {
  const rounds = options.rounds ?? 11;
  const perRound = options.perRound ?? 500;
  const names = Object.keys(fns);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds + 2; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const fn = fns[name] as () => Promise<unknown>;
      const start = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await fn();
      const used = process.cpuUsage(start);
      if (round >= 2) samples[name]?.push((used.user + used.system) / perRound);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return Object.fromEntries(names.map((n) => [n, median(samples[n] as number[])]));
}
