import { createManualClock, type ManualClock } from '@provisioning/core';
import {
  createPlatformClient,
  type PlatformClient,
  PlatformClientError,
  type PlatformClientOptions,
} from '../src/index.js';

/** A request the fake fetch received. */
export interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: unknown;
}

export type Handler = (req: Seen, signal: AbortSignal | undefined) => Response | Promise<Response>;

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export const ok = (data: unknown, status = 200): Response => json({ success: true, data }, status);

/** A fake fetch that records requests and answers with `handler`. */
export function fakeFetch(handler: Handler): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const fn = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const headers = new Headers(init.headers);
    const raw = typeof init.body === 'string' ? init.body : undefined;
    const req: Seen = { method: init.method ?? 'GET', url, headers, body: raw ? JSON.parse(raw) : undefined };
    seen.push(req);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    return handler(req, signal);
  };
  return { fetch: fn as typeof fetch, seen };
}

/** A fetch that never answers until its signal aborts. */
export const hangUntilAbort = (_req: Seen, signal: AbortSignal | undefined): Promise<Response> =>
  new Promise((_, reject) => {
    signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true });
  });

export const loginAnswer = (n = 1, expiresIn = 900) => ({
  access_token: `access-${n}`,
  refresh_token: `refresh-${n}`,
  token_type: 'Bearer',
  expires_in: expiresIn,
  user: { id: 'u1', username: 'ada', email: 'ada@example.com', roles: ['Admin'] },
});

export const task = (id: string, status = 'Running') => ({
  id,
  name: `task ${id}`,
  command: 'servers create',
  args: [],
  dependencies: [],
  status,
  created_at: '2026-01-01T00:00:00Z',
  started_at: null,
  completed_at: null,
  output: null,
  error: null,
  progress: null,
});

/** A client on a fake fetch with a manual clock, no real sleeping (sleeps are recorded). */
export function testClient(
  handler: Handler,
  options: Partial<PlatformClientOptions> = {},
): { client: PlatformClient; seen: Seen[]; clock: ManualClock; sleeps: number[] } {
  const { fetch, seen } = fakeFetch(handler);
  const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
  const sleeps: number[] = [];
  const client = createPlatformClient({
    baseUrl: 'http://platform.test',
    fetch,
    clock,
    random: () => 0.5,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      clock.advance(ms);
    },
    ...options,
  });
  return { client, seen, clock, sleeps };
}

/** The PlatformClientError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function failure(promise: Promise<unknown>): Promise<PlatformClientError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PlatformClientError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}
