import { type OrchestratorEvent, OrchestratorEventSchema, type OrchestratorEventType } from './api/orchestrator.js';
import { invalidOptions, PlatformClientError } from './errors.js';
import { SchemaError } from './schema.js';
import type { Authenticator } from './transport.js';

/** The subset of the WHATWG `WebSocket` the event stream uses. */
export interface WebSocketLike {
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: { data?: unknown; code?: number }) => void,
  ): void;
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` constructor (the global one on Node ≥ 22, or `ws`'s). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of `orchestrator.events()`. */
export interface EventStreamOptions {
  /** Event classes to receive. Default all: `task`, `batch`, `system`. */
  readonly events?: readonly OrchestratorEventType[];
  /** Ends the stream. */
  readonly signal?: AbortSignal;
  /** WebSocket implementation. Default `globalThis.WebSocket` (Node 22+, or Node 20 with `--experimental-websocket`). */
  readonly WebSocket?: WebSocketConstructor;
}

/**
 * @internal Streams the orchestrator's `/ws?token=…&events=…` events as an
 * async iterator, validating each message against the contract.
 *
 * The token travels in the query string because that is the platform's
 * known API (browsers cannot set headers on WebSockets); this client never
 * logs the URL.
 */
export async function* orchestratorEvents(
  baseUrl: string,
  auth: Authenticator | undefined,
  options: EventStreamOptions = {},
): AsyncGenerator<OrchestratorEvent, void, undefined> {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) {
    throw invalidOptions(
      'no WebSocket available: pass options.WebSocket (Node 20 needs --experimental-websocket or the ws package)',
    );
  }
  const headers = auth ? await auth.headers(options.signal) : {};
  const token = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
  if (!token) {
    throw new PlatformClientError('the event stream needs a bearer token (log in first; API keys cannot open it)', {
      code: 'ERR_CLIENT_NOT_AUTHENTICATED',
      fault: 'client',
      service: 'orchestrator',
    });
  }
  const url = new URL(`${baseUrl}/ws`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('token', token);
  url.searchParams.set('events', (options.events ?? ['task', 'batch', 'system']).join(','));

  const queue: OrchestratorEvent[] = [];
  let failure: unknown;
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const socket = new Ctor(url.toString());
  socket.addEventListener('message', (event) => {
    try {
      const text = typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data as Uint8Array);
      queue.push(OrchestratorEventSchema.parse(JSON.parse(text)));
    } catch (error) {
      failure = new PlatformClientError('malformed orchestrator event', {
        code: 'ERR_CLIENT_MALFORMED_RESPONSE',
        fault: 'server',
        service: 'orchestrator',
        ...(error instanceof SchemaError
          ? { details: { path: error.issue.path, expected: error.issue.expected } }
          : {}),
      });
      socket.close(1003, 'malformed event');
    }
    notify();
  });
  socket.addEventListener('error', () => {
    failure ??= new PlatformClientError('orchestrator event stream failed', {
      code: 'ERR_CLIENT_NETWORK',
      fault: 'server',
      retryable: true,
      service: 'orchestrator',
    });
    notify();
  });
  socket.addEventListener('close', () => {
    closed = true;
    notify();
  });
  const onAbort = (): void => {
    closed = true;
    socket.close(1000, 'client closed');
    notify();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (failure) throw failure;
      if (closed) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (!closed) socket.close(1000, 'client closed');
  }
}
