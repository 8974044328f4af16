/**
 * Fastify adapter: `security(chain, route)` is a `preHandler` hook that runs
 * the chain and sets `request.security`.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { SecurityChain } from './chain.js';
import { NodeHeaderReader } from './node-headers.js';
import type { RouteSecurity, SecurityContext, SecurityRequest } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `@provisioning/middleware`'s Fastify adapter. */
    security?: SecurityContext;
  }
}

/** A {@link SecurityRequest} view of a Fastify request. */
export function toSecurityRequest(request: FastifyRequest): SecurityRequest {
  return { method: request.method, url: request.url, headers: new NodeHeaderReader(request.headers) };
}

/**
 * Protects a Fastify route: `{ preHandler: security(chain, route) }`. The peer
 * address is the raw socket's; the chain's `clientIp.trustedProxies` decides
 * about forwarding headers (Fastify's `trustProxy` is not consulted).
 *
 * @example
 * ```ts
 * app.get('/tasks', { preHandler: security(chain, { action: 'list' }) }, async (request) => ({ by: request.security?.principal?.id }));
 * ```
 */
export function security(chain: SecurityChain, route: RouteSecurity): preHandlerAsyncHookHandler {
  // The context of a passed request rides on its raw response, for one shared
  // 'finish' listener (no closure and no `once` wrapper per request); the key
  // is this hook's own, so two protected hooks on one route do not collide.
  const key = Symbol('provisioning.security');
  type Tracked = ServerResponse & { [key]?: SecurityContext };
  // The raw status is the one Fastify sent.
  function onFinish(this: Tracked): void {
    const context = this[key];
    if (context === undefined) return;
    // Once only, as `once` did: Fastify's inject() emits 'finish' twice.
    this[key] = undefined;
    chain.complete(context, this.statusCode);
  }
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const result = await chain.check(toSecurityRequest(request), route, {
      clientAddress: request.raw.socket.remoteAddress,
      params: (request.params ?? {}) as Record<string, string>,
    });
    if (!result.ok) {
      await reply
        .code(result.status)
        .headers({ ...result.headers, 'x-request-id': result.context.requestId, 'cache-control': 'no-store' })
        .send(result.body);
      return reply;
    }
    request.security = result.context;
    const headers = result.context.responseHeaders;
    for (const name in headers) reply.header(name, headers[name]);
    reply.header('x-request-id', result.context.requestId);
    const raw = reply.raw as Tracked;
    if (raw[key] === undefined) {
      raw[key] = result.context;
      raw.on('finish', onFinish);
    } else {
      // The same hook listed twice on one route: each run completes its own context.
      const context = result.context;
      raw.once('finish', () => chain.complete(context, raw.statusCode));
    }
  };
}
