/**
 * Fastify adapter: `security(chain, route)` is a `preHandler` hook that runs
 * the chain and sets `request.security`.
 *
 * @module
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { SecurityChain } from './chain.js';
import { completeOnFinish, NodeHeaderReader } from './node-http.js';
import type { RouteSecurity, SecurityContext, SecurityRequest } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `@provisioning/middleware`'s Fastify adapter. */
    security?: SecurityContext;
  }
}

/** A {@link SecurityRequest} view of a Fastify request. */
export function toSecurityRequest(request: FastifyRequest): SecurityRequest {
  return {
    method: request.method,
    url: request.url,
    headers: new NodeHeaderReader(request.headers, request.raw.rawHeaders),
  };
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
  // The raw response's status is the one Fastify sent.
  const track = completeOnFinish(chain);
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
    track(reply.raw, result.context);
  };
}
