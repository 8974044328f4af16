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
