/**
 * Hono adapter: `security(chain, route)` is a Hono middleware that runs the
 * chain and puts the {@link SecurityContext} at `c.get('security')`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { RequestInfo, SecurityChain } from './chain.js';
import type { HeaderReader } from './client-ip.js';
import { NodeHeaderReader } from './node-http.js';
import type { RouteSecurity, SecurityContext } from './types.js';

/** Variables the middleware sets on the Hono context. */
export interface SecurityVariables {
  security: SecurityContext;
}

/** Options of {@link security}. */
export interface HonoSecurityOptions {
  /**
   * The TCP peer address. Default: `c.env.incoming.socket.remoteAddress`
   * (`@hono/node-server`), else undefined (the chain then uses forwarding
   * headers only from trusted proxies, i.e. none).
   */
  readonly clientAddress?: (c: Context) => string | undefined;
}

interface NodeIncoming {
  readonly socket?: { readonly remoteAddress?: string };
  readonly headersDistinct?: Record<string, string[]>;
}

const incomingOf = (c: Context): NodeIncoming | undefined =>
  (c.env as { incoming?: NodeIncoming } | undefined)?.incoming;

const nodeAddress = (c: Context): string | undefined => incomingOf(c)?.socket?.remoteAddress;

/**
 * The headers the chain reads itself. On `@hono/node-server` (HTTP/1),
 * Node's parsed request: `c.req.raw.headers` there is a Web `Headers` built
 * from every raw header on first use, which the bare route never pays for.
 * `headersDistinct` keeps every value of a repeated header in order, and the
 * reader joins them with `, ` as `Headers.get()` does, so the chain sees the
 * same values either way (a doubled `Authorization` stays one malformed
 * value).
 *
 * Only while `c.req.raw` is still node-server's untouched view of this very
 * request: its own properties are then just its two internal slots (the Node
 * request and the URL). Once anything has read its headers (and so may have
 * changed them, e.g. an earlier middleware turning a cookie into an
 * `Authorization` header) or built the full `Request`, or it is another
 * object, `undefined`: the chain reads `c.req.raw.headers` as it always did.
 * A node-server version with other internals takes that path too.
 */
const nodeHeaders = (c: Context): HeaderReader | undefined => {
  const incoming = incomingOf(c);
  const distinct = incoming?.headersDistinct;
  if (typeof distinct !== 'object' || distinct === null) return undefined;
  const raw = c.req.raw as unknown as Record<symbol, unknown>;
  if (Object.hasOwn(raw, 'headers')) return undefined;
  let ours = false;
  for (const slot of Object.getOwnPropertySymbols(raw)) {
    const name = slot.description;
    if (name === 'incomingKey' && raw[slot] === incoming) ours = true;
    else if (name !== 'urlKey') return undefined;
  }
  return ours ? new NodeHeaderReader(distinct) : undefined;
};

/**
 * Protects a Hono route (or a group, with `app.use`).
 *
 * @example
 * ```ts
 * app.get('/servers/:id', security(chain, { action: 'read', resource: (_r, p) => ({ type: 'Provisioning::Server', id: p.id }) }), (c) =>
 *   c.json({ by: c.get('security').principal?.id }));
 * ```
 */
export function security(
  chain: SecurityChain,
  route: RouteSecurity,
  options: HonoSecurityOptions = {},
): MiddlewareHandler<{ Variables: SecurityVariables }> {
  const address = options.clientAddress ?? nodeAddress;
  return async (c, next) => {
    const fromNode = nodeHeaders(c);
    const info: RequestInfo = {
      clientAddress: address(c),
      params: c.req.param() as Record<string, string>,
      ...(fromNode === undefined ? {} : { headers: fromNode }),
    };
    // The Web Request is handed on as it is (the authenticator and the route's
    // resolvers get it); on @hono/node-server it is built only if they read it.
    const result = await chain.check(c.req.raw, route, info);
    if (!result.ok) return chain.toResponse(result);
    c.set('security', result.context);
    // Headers set before the handler are merged into the response it builds
    // (c.json, c.text …), and the handler may still override them. Setting
    // them afterwards makes Hono copy the finished response, which pushes
    // @hono/node-server off its fast path (a stream per response: measured
    // ~3x the cost of the whole chain). Only a response built without the
    // context (a plain `new Response`) still gets them afterwards.
    const headers: [string, string][] = [
      ...Object.entries(result.context.responseHeaders),
      ['x-request-id', result.context.requestId],
    ];
    for (const [name, value] of headers) c.header(name, value);
    await next();
    for (const [name, value] of headers) {
      if (!c.res.headers.has(name)) c.header(name, value);
    }
    chain.complete(result.context, c.res.status);
  };
}
