import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatformClient, PlatformClientError } from '../src/index.js';

describe('the client over real HTTP against misbehaving servers (built-in fetch)', () => {
  let raw: Server;
  let rawUrl: string;
  beforeAll(async () => {
    raw = createServer((req, res) => {
      if (req.url === '/tasks') {
        // Promise 1000 bytes, send 20, drop the connection.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"success":true,"da');
        setTimeout(() => res.socket?.destroy(), 10);
      } else if (req.url === '/health') {
        setTimeout(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true,"data":"late"}'),
          2000,
        );
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    rawUrl = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => raw?.close(r));
  });

  it('turns a connection dropped mid-body into ERR_CLIENT_TRUNCATED_RESPONSE', async () => {
    const client = createPlatformClient({ baseUrl: rawUrl, auth: { type: 'apiKey', apiKey: 'k' }, retry: false });
    const error = await client.orchestrator.listTasks().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformClientError);
    expect((error as PlatformClientError).code).toBe('ERR_CLIENT_TRUNCATED_RESPONSE');
  });

  it('times out a slow server', async () => {
    const client = createPlatformClient({ baseUrl: rawUrl, timeoutMs: 100, retry: false });
    await expect(client.orchestrator.health()).rejects.toMatchObject({ code: 'ERR_CLIENT_TIMEOUT' });
  });

  it('reports a refused connection as a retryable ERR_CLIENT_NETWORK', async () => {
    const client = createPlatformClient({ baseUrl: 'http://127.0.0.1:9', retry: false });
    await expect(client.orchestrator.health()).rejects.toMatchObject({ code: 'ERR_CLIENT_NETWORK', retryable: true });
  });
});
