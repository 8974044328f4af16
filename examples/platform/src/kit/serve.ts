import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { serve as honoServe } from '@hono/node-server';
import type { Hono } from 'hono';

/** A running HTTP server. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** The Node HTTP server (for WebSocket upgrades). */
  readonly node: import('node:http').Server;
  /** Stops accepting connections, waits for in-flight requests (at most `timeoutMs`), then resolves. */
  close(timeoutMs?: number): Promise<void>;
}

/** Serves `app` on `host:port` (port 0: a free one). */
export async function serve(app: Hono, options: { host: string; port: number }): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    // Upgraded connections (WebSockets) are not HTTP connections any more:
    // server.close() would wait for them forever. They are tracked and ended on close.
    const upgraded = new Set<Duplex>();
    const server = honoServe({ fetch: app.fetch, hostname: options.host, port: options.port }, (info: AddressInfo) => {
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        node: server as unknown as import('node:http').Server,
        close(timeoutMs = 10_000) {
          return new Promise<void>((done) => {
            // Event streams have no end to wait for: close them now, then drain the requests.
            for (const socket of upgraded) socket.end();
            setTimeout(() => {
              for (const socket of upgraded) socket.destroy();
            }, 1000).unref();
            const timer = setTimeout(() => {
              // Drain time is over: drop idle and remaining connections.
              (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            }, timeoutMs);
            timer.unref();
            (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
            server.close(() => {
              clearTimeout(timer);
              done();
            });
          });
        },
      });
    });
    server.on('upgrade', (_request: unknown, socket: Duplex) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
    });
    server.once('error', reject);
  });
}
