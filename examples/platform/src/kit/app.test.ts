import { createSecurityChain } from '@provisioning/middleware';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceApp } from './app.js';
import { createMetrics } from './metrics.js';
import { type RunningServer, serve } from './serve.js';

let server: RunningServer;
beforeAll(async () => {
  // (Nothing here is behind the chain but /metrics, which these tests do not call.)
  const chain = createSecurityChain({
    authenticator: {
      authenticate: async () => {
        throw new Error('no credentials here');
      },
    },
    authorizer: { authorize: async () => ({ allowed: false }) },
  });
  const app = createServiceApp({ service: 'test', logger: pino({ level: 'silent' }), metrics: createMetrics(), chain });
  app.post('/echo', async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  server = await serve(app, { host: '127.0.0.1', port: 0 });
});
afterAll(() => server.close(100));

const MiB = 1024 * 1024;
const post = (body: BodyInit, init: RequestInit = {}) =>
  fetch(`${server.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, ...init });

describe('oversize bodies over real HTTP, seen by fetch', () => {
  it('answers a declared length over the limit with a typed 413 that fetch receives, then closes the connection', async () => {
    // One after the other, as a client reusing its connection sends them:
    // without `Connection: close` the last one (beyond what the server
    // discards after answering) fails in fetch with a socket error.
    for (const size of [MiB + 1, 8 * MiB, 65 * MiB]) {
      const res = await post(new Uint8Array(size));
      expect([size, res.status]).toEqual([size, 413]);
      expect(res.headers.get('connection')).toBe('close');
      expect(await res.json()).toEqual({
        success: false,
        data: null,
        error: 'The request body is too large.',
        code: 'PAYLOAD_TOO_LARGE',
      });
    }
    // The next request gets a fresh connection and is served.
    const ok = await post(new Uint8Array(MiB));
    expect([ok.status, await ok.json()]).toEqual([200, { bytes: MiB }]);
  });

  it('refuses a streamed body (no declared length) once it passes the limit', async () => {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 4 * MiB) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await post(body, { duplex: 'half' } as RequestInit);
    expect([res.status, (await res.json()).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(res.headers.get('connection')).toBe('close');
  });
});
