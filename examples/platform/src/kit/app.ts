import { defaultErrorBody, type RefusalSummary, type SecurityChain } from '@provisioning/middleware';
import { security } from '@provisioning/middleware/hono';
import { apiError, fail } from '@provisioning/platform-client/api';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { mapError } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { PLATFORM_RESOURCE } from './resources.js';

/** Options of {@link createServiceApp}. */
export interface ServiceAppOptions {
  readonly service: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The chain that guards `/metrics`, refusing in the service's error shape. */
  readonly chain: SecurityChain;
  /** Largest request body in bytes. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** The service's OpenAPI document, served at `/openapi.json`. */
  readonly openapi?: unknown;
  /** Shape of error bodies: the envelope services answer `{ success: false, … }`, the API server `{ error, message, code }`. */
  readonly errorShape?: ErrorShape;
}

/** The two error shapes of the platform's services. */
export type ErrorShape = 'envelope' | 'api';

/**
 * An error body in the service's shape: the contract's failure envelope
 * `{ success: false, data: null, error: <message>, code: <CODE> }`, or the API
 * server's `{ error: <CODE>, message, code: "<status>" }`.
 */
export function errorBody(shape: ErrorShape, status: number, code: string, message: string): Record<string, unknown> {
  return shape === 'api' ? { ...apiError(status, code, message) } : { ...fail(message, code) };
}

/**
 * A refusal of the security chain in the service's shape, with the request id:
 * the API server's `{ error, message, code: "<status>", request_id }`, or the
 * failure envelope `{ success: false, data: null, error: <message>, code:
 * <ERROR>, request_id }` (e.g. `MFA_REQUIRED`, which the client maps to
 * `ERR_CLIENT_MFA_REQUIRED`).
 */
export function refusalBody(shape: ErrorShape, refusal: RefusalSummary): Record<string, unknown> {
  return shape === 'api'
    ? { ...defaultErrorBody(refusal) }
    : { ...fail(refusal.message, refusal.error.toUpperCase()), request_id: refusal.requestId };
}

/**
 * The common frame of every reference server: request logging without bodies
 * or headers, Prometheus metrics at `/metrics` (behind the chain: Cedar
 * `monitor` on the platform), the OpenAPI document at
 * `/openapi.json`, a request body limit (413), and JSON answers for 404, for
 * the SDK's and the routes' typed errors (`mapError`: fixed messages), and for
 * unexpected errors (500, nothing internal in the body).
 */
export function createServiceApp(options: ServiceAppOptions): Hono {
  const app = new Hono();
  const shape = options.errorShape ?? 'envelope';
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath ?? 'unknown';
    const seconds = (performance.now() - started) / 1000;
    options.metrics.requests.inc({
      service: options.service,
      method: c.req.method,
      route,
      status: String(c.res.status),
    });
    options.metrics.duration.observe({ service: options.service, method: c.req.method, route }, seconds);
    options.logger.info(
      { method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) },
      'request',
    );
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: options.bodyLimitBytes ?? 1024 * 1024,
      onError: (c) => {
        // The refused body is not read. `Connection: close` tells the client
        // the connection ends with this answer: fetch (undici) then stops
        // uploading and reports the 413. On a kept-alive connection it would
        // keep sending, and @hono/node-server, which discards at most 64 MiB
        // for 500 ms after the answer, resets it: the client sees a socket
        // error instead of the 413.
        c.header('connection', 'close');
        return c.json(errorBody(shape, 413, 'PAYLOAD_TOO_LARGE', 'The request body is too large.'), 413);
      },
    }),
  );
  // Metrics name every route with its error rate and timings: they are not
  // public. Cedar decides `monitor` on the platform (every role may; an API
  // key needs the `monitor` scope), so Prometheus scrapes with
  // `authorization: { type: ApiKey, credentials_file: … }`. Only refusals and
  // failures are audited: a scrape every 15 s would flood the trail.
  app.get(
    '/metrics',
    security(options.chain, { action: 'monitor', resource: () => PLATFORM_RESOURCE, audit: 'failures' }),
    async (c) => {
      c.header('content-type', options.metrics.registry.contentType);
      c.header('cache-control', 'no-store');
      return c.body(await options.metrics.registry.metrics());
    },
  );
  if (options.openapi !== undefined) app.get('/openapi.json', (c) => c.json(options.openapi as object));
  app.notFound((c) => c.json(errorBody(shape, 404, 'NOT_FOUND', 'No such route.'), 404));
  app.onError((error, c) => {
    const mapped = mapError(error);
    if (mapped !== undefined) {
      if (mapped.retryAfterSeconds !== undefined) c.header('retry-after', String(mapped.retryAfterSeconds));
      c.header('cache-control', 'no-store');
      return c.json(errorBody(shape, mapped.status, mapped.code, mapped.message), mapped.status as 400);
    }
    options.logger.error({ err: { name: error.name, code: (error as { code?: unknown }).code } }, 'unhandled error');
    return c.json(errorBody(shape, 500, 'INTERNAL_ERROR', 'The request could not be processed.'), 500);
  });
  return app;
}
