// What the Express and Fastify adapters share over Node's request and response.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { SecurityChain } from './chain.js';
import type { HeaderReader } from './client-ip.js';
import type { SecurityContext } from './types.js';

// Headers of which Node's parser keeps only the first line in `headers`
// (node:http's "discard duplicates" list) while the chain needs to know of a
// second: a proxy in front may have read the other one.
const FIRST_ONLY = new Set(['authorization', 'user-agent']);

/**
 * The chain's {@link HeaderReader} over Node's parsed request headers, for the
 * Express and Fastify adapters: repeated headers are joined with `, ` as
 * `Headers.get()` does. A class rather than an object literal with a `get`
 * closure: one small object per request, one shared method.
 *
 * Node keeps only the first of two `Authorization` lines, where `Headers.get()`
 * (the Hono adapter) joins them into one value the credential parser refuses.
 * Accepting one of two credentials is ambiguous (which one did the proxy
 * check?), so when `rawHeaders` is given, those headers are joined from the
 * raw lines: every adapter refuses a doubled credential alike. Only while
 * `headers` still holds the first raw line: a value an earlier middleware set
 * is its decision and is read as it is.
 */
export class NodeHeaderReader implements HeaderReader {
  readonly #headers: IncomingHttpHeaders;
  readonly #raw: readonly string[] | undefined;
  constructor(headers: IncomingHttpHeaders, rawHeaders?: readonly string[]) {
    this.#headers = headers;
    this.#raw = rawHeaders;
  }
  get(name: string): string | null {
    const key = name.toLowerCase();
    const value = this.#headers[key];
    if (value === undefined) return null;
    if (this.#raw !== undefined && FIRST_ONLY.has(key)) {
      const lines = rawValues(this.#raw, key, value);
      if (lines !== undefined) return lines;
    }
    return Array.isArray(value) ? value.join(', ') : String(value);
  }
}

/**
 * The values of `key` in Node's `rawHeaders` joined with `, ` when there are
 * two or more and the first is `parsed` (what Node kept), else `undefined`.
 */
function rawValues(raw: readonly string[], key: string, parsed: string | string[]): string | undefined {
  let first: string | undefined;
  let joined: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== key.length || name.toLowerCase() !== key) continue;
    const value = raw[i + 1] as string;
    if (first === undefined) first = value;
    else joined = `${joined ?? first}, ${value}`;
  }
  return first === parsed ? joined : undefined;
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
