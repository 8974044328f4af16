// What the Express and Fastify adapters share over Node's request and response.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { SecurityChain } from './chain.js';
import type { HeaderReader } from './client-ip.js';
import type { SecurityContext } from './types.js';

/**
 * The chain's {@link HeaderReader} over Node's parsed request headers, for the
 * Express and Fastify adapters: repeated headers are joined with `, ` as
 * `Headers.get()` does. A class rather than an object literal with a `get`
 * closure: one small object per request, one shared method.
 */
export class NodeHeaderReader implements HeaderReader {
  readonly #headers: IncomingHttpHeaders;
  constructor(headers: IncomingHttpHeaders) {
    this.#headers = headers;
  }
  get(name: string): string | null {
    const value = this.#headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : String(value);
  }
}

/**
 * Completes a passed request's context when its Node response finishes:
 * `track(res, context)` runs `chain.complete(context, res.statusCode)` once.
 * The context rides on the response under a key of this tracker's own (one
 * tracker per protected middleware or hook, so two on one route do not
 * collide), for one shared 'finish' listener: no closure and no `once`
 * wrapper per request.
 */
export function completeOnFinish(chain: SecurityChain): (res: ServerResponse, context: SecurityContext) => void {
  const key = Symbol('provisioning.security');
  type Tracked = ServerResponse & { [key]?: SecurityContext };
  function onFinish(this: Tracked): void {
    const context = this[key];
    if (context === undefined) return;
    // Once only, as `once` did, should 'finish' come twice (Fastify's inject() emits it twice).
    this[key] = undefined;
    chain.complete(context, this.statusCode);
  }
  return (res, context) => {
    const tracked = res as Tracked;
    if (tracked[key] === undefined) {
      tracked[key] = context;
      res.on('finish', onFinish);
    } else {
      // The same middleware twice on one route: each run completes its own context.
      res.once('finish', () => chain.complete(context, res.statusCode));
    }
  };
}
