import type { Clock } from '@provisioning/core';
import { API_SERVER_ROUTES, type Operation } from './api/api-server.js';
import { callRoute, type ServiceContext } from './call.js';
import { PlatformClientError } from './errors.js';
import type { CallOptions, Sleep } from './transport.js';

/** Options of {@link OperationHandle.wait}. */
export interface WaitOptions {
  /** Give up after this many ms (`ERR_CLIENT_WAIT_TIMEOUT`). Default 300 000 (the server's `timeout_seconds=300`). */
  readonly timeoutMs?: number;
  /** First polling interval in ms; grows ×1.5 up to `maxIntervalMs`. Default 1000. */
  readonly intervalMs?: number;
  /** Longest polling interval in ms. Default 10 000. */
  readonly maxIntervalMs?: number;
  /** Called with each polled state that differs from the previous one (status or progress). */
  readonly onProgress?: (operation: Operation) => void;
  /** Stops waiting (`ERR_CLIENT_ABORTED`); the operation itself continues: call `cancel()` to stop it. */
  readonly signal?: AbortSignal;
}

/**
 * An asynchronous operation of the API server.
 *
 * @example
 * ```ts
 * const op = await client.apiServer.createServer(request);
 * const done = await op.wait({ timeoutMs: 600_000, onProgress: (o) => console.log(o.status, o.progress) });
 * console.log(done.result);
 * ```
 */
export interface OperationHandle {
  /** The operation id. */
  readonly id: string;
  /** The last state seen. */
  readonly current: Operation;
  /** Fetches the current state once. */
  poll(options?: CallOptions): Promise<Operation>;
  /**
   * Polls until a final state. Resolves with the operation when `completed`;
   * throws `ERR_CLIENT_OPERATION_FAILED` (with the server's error text,
   * redacted) when `failed`, `ERR_CLIENT_OPERATION_CANCELLED` when
   * `cancelled`, `ERR_CLIENT_WAIT_TIMEOUT` after `timeoutMs`.
   */
  wait(options?: WaitOptions): Promise<Operation>;
  /** Asks the server to cancel; resolves with the new state. */
  cancel(options?: CallOptions): Promise<Operation>;
}

/** @internal */
export function operationHandle(
  ctx: ServiceContext,
  initial: Operation,
  deps: { readonly clock: Clock; readonly sleep: Sleep },
): OperationHandle {
  let current = initial;
  const handle: OperationHandle = {
    id: initial.id,
    get current() {
      return current;
    },
    async poll(options: CallOptions = {}) {
      current = sameOperation(
        handle.id,
        await callRoute<Operation>(ctx, API_SERVER_ROUTES.getOperation, { params: { id: handle.id } }, options),
      );
      return current;
    },
    async cancel(options: CallOptions = {}) {
      current = sameOperation(
        handle.id,
        await callRoute<Operation>(ctx, API_SERVER_ROUTES.cancelOperation, { params: { id: handle.id } }, options),
      );
      return current;
    },
    async wait(options: WaitOptions = {}) {
      const timeoutMs = options.timeoutMs ?? 300_000;
      const maxInterval = options.maxIntervalMs ?? 10_000;
      let interval = options.intervalMs ?? 1000;
      const deadline = deps.clock.now() + timeoutMs;
      let last = '';
      const report = (op: Operation): void => {
        const key = `${op.status}:${op.progress ?? ''}`;
        if (key !== last) {
          last = key;
          options.onProgress?.(op);
        }
      };
      report(current);
      for (;;) {
        if (current.status === 'completed') return current;
        if (current.status === 'failed' || current.status === 'cancelled') throw finalError(current);
        const now = deps.clock.now();
        if (now >= deadline) {
          throw new PlatformClientError(`operation ${handle.id} did not finish within ${timeoutMs} ms`, {
            code: 'ERR_CLIENT_WAIT_TIMEOUT',
            fault: 'server',
            retryable: true,
            service: 'apiServer',
            details: { operationId: handle.id, status: current.status, timeoutMs },
          });
        }
        try {
          await deps.sleep(Math.min(interval, deadline - now), options.signal);
        } catch (cause) {
          throw new PlatformClientError(`waiting for operation ${handle.id} was aborted`, {
            code: 'ERR_CLIENT_ABORTED',
            fault: 'client',
            service: 'apiServer',
            cause: cause instanceof Error ? cause : undefined,
            details: { operationId: handle.id },
          });
        }
        interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
        await handle.poll(options.signal ? { signal: options.signal } : {});
        report(current);
      }
    },
  };
  return handle;
}

// The state of another operation (a confused cache or proxy) must not end a wait as this one's.
function sameOperation(id: string, op: Operation): Operation {
  if (op.id !== id) {
    throw new PlatformClientError(`the server answered operation ${op.id} for ${id}`, {
      code: 'ERR_CLIENT_MALFORMED_RESPONSE',
      fault: 'server',
      service: 'apiServer',
      details: { operationId: id },
    });
  }
  return op;
}

function finalError(op: Operation): PlatformClientError {
  const failed = op.status === 'failed';
  return new PlatformClientError(
    failed ? `operation ${op.id} failed: ${op.error ?? 'no reason given'}` : `operation ${op.id} was cancelled`,
    {
      code: failed ? 'ERR_CLIENT_OPERATION_FAILED' : 'ERR_CLIENT_OPERATION_CANCELLED',
      fault: 'server',
      service: 'apiServer',
      details: { operationId: op.id, status: op.status },
    },
  );
}
