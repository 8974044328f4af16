/**
 * Express adapter: `security(chain, route)` is an Express middleware that runs
 * the chain and sets `req.security` (and `res.locals.security`).
 *
 * @module
 */
import type { Request as ExpressRequest, Response as ExpressResponse, NextFunction, RequestHandler } from 'express';
import type { SecurityChain } from './chain.js';
import { completeOnFinish, NodeHeaderReader } from './node-http.js';
import type { RouteSecurity, SecurityContext, SecurityRequest } from './types.js';

declare global {
  namespace Express {
    interface Request {
      /** Set by `@provisioning/middleware`'s Express adapter. */
      security?: SecurityContext;
    }
  }
}

/** A {@link SecurityRequest} view of an Express request (no body copy, no Web Request). */
export function toSecurityRequest(req: ExpressRequest): SecurityRequest {
  return {
    method: req.method,
    url: req.originalUrl ?? req.url,
    headers: new NodeHeaderReader(req.headers, req.rawHeaders),
  };
}

/**
 * Protects an Express route. The peer address is `req.socket.remoteAddress`;
 * Express's own `trust proxy` setting is not consulted — the chain's
 * `clientIp.trustedProxies` decides, so there is one rule.
 *
 * @example
 * ```ts
 * app.delete('/servers/:id', security(chain, { action: 'delete', sensitive: true }), (req, res) => res.json({ ok: true }));
 * ```
 */
export function security(chain: SecurityChain, route: RouteSecurity): RequestHandler {
  const track = completeOnFinish(chain);
  return (req: ExpressRequest, res: ExpressResponse, next: NextFunction) => {
    chain
      .check(toSecurityRequest(req), route, {
        clientAddress: req.socket.remoteAddress,
        params: req.params as Record<string, string>,
      })
      .then((result) => {
        if (!result.ok) {
          res
            .status(result.status)
            .set({ ...result.headers, 'x-request-id': result.context.requestId, 'cache-control': 'no-store' })
            .json(result.body);
          return;
        }
        req.security = result.context;
        res.locals.security = result.context;
        const headers = result.context.responseHeaders;
        for (const name in headers) res.setHeader(name, headers[name] as string);
        res.setHeader('x-request-id', result.context.requestId);
        track(res, result.context);
        next();
      }, next);
  };
}
