import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderReader } from './client-ip.js';

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
 * The same over Node's `headersDistinct` (every value of every header, as
 * received), for the Hono adapter on `@hono/node-server`: repeated headers
 * are joined with `, ` like the Web `Headers` that node-server would
 * otherwise build for each request (a repeated `Authorization` therefore
 * stays malformed instead of Node's first-one-wins).
 */
export class DistinctHeaderReader implements HeaderReader {
  readonly #headers: NodeJS.Dict<string[]>;
  constructor(headers: NodeJS.Dict<string[]>) {
    this.#headers = headers;
  }
  get(name: string): string | null {
    const values = this.#headers[name.toLowerCase()];
    if (values === undefined || values.length === 0) return null;
    return values.length === 1 ? (values[0] as string) : values.join(', ');
  }
}
