import type { ChainedRecord } from '../chain.js';
import { AuditError } from '../errors.js';
import type { ExportOptions } from '../exports.js';
import { toSplunkHec } from '../exports.js';
import type { EventSink } from '../store.js';

/** Options of {@link splunkHecSink}. */
export interface SplunkHecSinkOptions {
  /** Base URL of the collector, e.g. `https://splunk.example.com:8088`. */
  readonly url: string;
  /** The HEC token (sent as `Authorization: Splunk <token>`; never logged). */
  readonly token: string;
  /** Envelope fields (index, host, source, sourcetype). */
  readonly splunk?: ExportOptions['splunk'];
  /** Most events per HTTP request. Default 500. */
  readonly maxBatchEvents?: number;
  /** Attempts per request, including the first. Default 5. */
  readonly attempts?: number;
  /** Delay before the first retry, doubled each time. Default 200 ms. */
  readonly baseDelayMs?: number;
  /** Per-request timeout. Default 10,000 ms. */
  readonly timeoutMs?: number;
  /** `fetch` to use (tests, proxies). Default the global `fetch`. */
  readonly fetch?: typeof fetch;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A forwarder to Splunk's HTTP Event Collector: `POST /services/collector/event`
 * with `Authorization: Splunk <token>`, each batch as concatenated JSON
 * objects (not an array), `time` in epoch seconds. Retries network errors,
 * 429 and 5xx with exponential backoff; other 4xx fail at once. Best effort
 * (`durability: 'none'`): a durable `record()` does not wait for Splunk, and
 * a failure is signalled through the log's `onError`.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS` at construction; writes reject with `ERR_AUDIT_FORWARD_FAILED`.
 * @example
 * ```ts
 * const log = await createAuditLog({ sinks: [jsonlSink({ directory }), splunkHecSink({ url: 'https://splunk:8088', token })] });
 * ```
 */
export function splunkHecSink(options: SplunkHecSinkOptions): EventSink {
  let endpoint: URL;
  try {
    endpoint = new URL('/services/collector/event', options.url);
  } catch (error) {
    throw new AuditError('splunkHecSink needs a valid url', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
      cause: error,
    });
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw new AuditError('splunkHecSink needs an http(s) url', { code: 'ERR_AUDIT_INVALID_OPTIONS', fault: 'client' });
  }
  if (typeof options.token !== 'string' || options.token === '') {
    throw new AuditError('splunkHecSink needs a token', { code: 'ERR_AUDIT_INVALID_OPTIONS', fault: 'client' });
  }
  const doFetch = options.fetch ?? fetch;
  const maxBatch = options.maxBatchEvents ?? 500;
  const attempts = options.attempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // The id names the host only: never the token, never a path with credentials.
  const id = `splunk:${endpoint.host}`;

  async function post(body: string): Promise<void> {
    let status: number | undefined;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await doFetch(endpoint, {
          method: 'POST',
          headers: { authorization: `Splunk ${options.token}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = response.status;
        await response.body?.cancel().catch(() => {});
        if (response.ok) return;
        if (status !== 429 && status < 500) break;
      } catch (error) {
        lastError = error;
        status = undefined;
      }
      if (attempt < attempts) await sleep(baseDelayMs * 2 ** (attempt - 1));
    }
    throw new AuditError(`${id}: the HTTP Event Collector did not accept a batch${status ? ` (HTTP ${status})` : ''}`, {
      code: 'ERR_AUDIT_FORWARD_FAILED',
      fault: 'server',
      retryable: status === undefined || status === 429 || status >= 500,
      ...(lastError !== undefined && status === undefined ? { cause: lastError } : {}),
      details: { sink: id, ...(status !== undefined ? { status } : {}) },
    });
  }

  return {
    id,
    durability: 'none',
    open: async () => ({}),
    async write(records: readonly ChainedRecord[]) {
      for (let i = 0; i < records.length; i += maxBatch) {
        let body = '';
        for (const r of records.slice(i, i + maxBatch)) {
          body += JSON.stringify(toSplunkHec({ seq: r.seq, hash: r.hash, event: r.event }, options.splunk));
          body += '\n';
        }
        await post(body);
      }
    },
    // Checkpoints are not events: the forwarder does not send them.
    writeCheckpoint: async () => {},
    close: async () => {},
  };
}
