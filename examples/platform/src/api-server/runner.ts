import { randomUUID } from 'node:crypto';
import type { Clock } from '@provisioning/core';
import type { OperationStatus } from '@provisioning/platform-client/api';
import type { Logger } from '../kit/logger.js';
import type { ApiStore, NewServer, StoredOperation } from './store.js';

/** A failure the work reports on purpose; its message becomes the operation's `error` (keep it secret-free). */
export class OperationFailure extends Error {}

/** What a finished piece of work returns: the operation's result and its effect on the servers. */
export interface WorkOutcome {
  readonly result: unknown;
  readonly effect?: { readonly insert?: NewServer; readonly delete?: string };
}

/** One kind of work (`server.create` …). It must stop promptly when `signal` aborts. */
export type OperationWork = (op: StoredOperation, signal: AbortSignal) => Promise<WorkOutcome>;

/** Options of {@link OperationRunner}. */
export interface OperationRunnerOptions {
  readonly store: ApiStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly work: Readonly<Record<string, OperationWork>>;
  /** At most this many operations run at once; the rest wait, pending. Default 10. */
  readonly maxConcurrent?: number;
  /** A running operation is failed after this long, in milliseconds. Default 300 000. */
  readonly timeoutMs?: number;
}

type CancelOutcome =
  | { kind: 'cancelled' | 'already-cancelled'; op: StoredOperation }
  | { kind: 'final'; op: StoredOperation };

/**
 * Runs operations asynchronously with bounded concurrency and a timeout,
 * persisting every transition: pending → running → completed | failed, or
 * → cancelled from pending or running. State lives in the database only; the
 * in-memory queue is rebuilt from it on start.
 */
export class OperationRunner {
  readonly #o: Required<OperationRunnerOptions>;
  readonly #queue: string[] = [];
  readonly #running = new Map<string, AbortController>();
  readonly #settled = new Set<Promise<void>>();
  #closed = false;

  constructor(options: OperationRunnerOptions) {
    const maxConcurrent = options.maxConcurrent ?? 10;
    const timeoutMs = options.timeoutMs ?? 300_000;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
      throw new Error('maxConcurrent must be a positive integer');
    if (!(timeoutMs > 0)) throw new Error('timeoutMs must be positive');
    this.#o = { ...options, maxConcurrent, timeoutMs };
  }

  get maxConcurrent(): number {
    return this.#o.maxConcurrent;
  }

  /** How many operations run now. */
  get running(): number {
    return this.#running.size;
  }

  #now(): string {
    return new Date(this.#o.clock.now()).toISOString();
  }

  /**
   * Recovers after a restart: operations that were running are failed (their
   * work was lost with the process), pending ones are queued again.
   */
  async start(): Promise<void> {
    for (const op of await this.#o.store.unfinished()) {
      if (op.status === 'running') {
        await this.#o.store.transition(op.id, ['running'], 'failed', this.#now(), {
          error: 'interrupted by a restart',
        });
      } else {
        this.#queue.push(op.id);
      }
    }
    this.#pump();
  }

  /** Records a new pending operation and queues it. */
  async submit(type: string, params: Record<string, unknown>, createdBy: string): Promise<StoredOperation> {
    if (this.#o.work[type] === undefined) throw new Error(`no work registered for ${type}`);
    if (this.#closed) throw new Error('the runner is closed');
    const op = await this.#o.store.createOperation({ id: randomUUID(), type, params, createdBy, now: this.#now() });
    this.#queue.push(op.id);
    this.#pump();
    return op;
  }

  /** Cancels a pending or running operation; cancelling a cancelled one is harmless. */
  async cancel(id: string): Promise<CancelOutcome | undefined> {
    const cancelled = await this.#o.store.transition(id, ['pending', 'running'], 'cancelled', this.#now());
    const op = await this.#o.store.getOperation(id);
    if (op === undefined) return undefined;
    if (cancelled) {
      this.#running.get(id)?.abort('cancelled');
      const queued = this.#queue.indexOf(id);
      if (queued >= 0) this.#queue.splice(queued, 1);
      return { kind: 'cancelled', op };
    }
    return { kind: op.status === 'cancelled' ? 'already-cancelled' : 'final', op };
  }

  /** Stops taking work, aborts what runs (failed: interrupted by shutdown) and waits for it to settle. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    for (const controller of this.#running.values()) controller.abort('shutdown');
    await Promise.allSettled([...this.#settled]);
  }

  /** Resolves once every started operation has settled (tests). */
  async idle(): Promise<void> {
    while (this.#settled.size > 0) await Promise.allSettled([...this.#settled]);
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#o.maxConcurrent && this.#queue.length > 0) {
      const id = this.#queue.shift() as string;
      const controller = new AbortController();
      this.#running.set(id, controller);
      const done = this.#run(id, controller)
        .catch((error: unknown) => {
          this.#o.logger.error(
            { err: { name: (error as Error)?.name }, operation: id },
            'operation bookkeeping failed',
          );
        })
        .finally(() => {
          this.#running.delete(id);
          this.#settled.delete(done);
          this.#pump();
        });
      this.#settled.add(done);
    }
  }

  async #run(id: string, controller: AbortController): Promise<void> {
    const store = this.#o.store;
    if (!(await store.transition(id, ['pending'], 'running', this.#now(), { progress: 10 }))) return; // cancelled meanwhile
    const op = await store.getOperation(id);
    const work = op === undefined ? undefined : this.#o.work[op.type];
    if (op === undefined || work === undefined) {
      await store.transition(id, ['running'], 'failed', this.#now(), { error: 'unknown operation type' });
      return;
    }
    const timer = setTimeout(() => controller.abort('timeout'), this.#o.timeoutMs);
    let outcome: WorkOutcome;
    try {
      outcome = await abortable(work(op, controller.signal), controller.signal);
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      // A cancel already wrote `cancelled`; the guarded transition below then changes nothing.
      const message =
        reason === 'timeout'
          ? `timed out after ${Math.round(this.#o.timeoutMs / 1000)} s`
          : reason === 'shutdown'
            ? 'interrupted by shutdown'
            : error instanceof OperationFailure
              ? error.message
              : 'the operation failed';
      if (!(error instanceof OperationFailure) && reason === undefined) {
        this.#o.logger.error(
          { err: { name: (error as Error)?.name }, operation: id, type: op.type },
          'operation failed',
        );
      }
      await store.transition(id, ['running'], 'failed', this.#now(), { error: message });
      return;
    } finally {
      clearTimeout(timer);
    }
    try {
      await store.complete(id, this.#now(), outcome.result, outcome.effect);
    } catch {
      await store.transition(id, ['running'], 'failed', this.#now(), { error: 'the result could not be recorded' });
    }
  }
}

// Stops waiting as soon as the signal aborts, even if the work ignores it.
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Whether a status is final. */
export const isFinal = (status: OperationStatus): boolean =>
  status === 'completed' || status === 'failed' || status === 'cancelled';
