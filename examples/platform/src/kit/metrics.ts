import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one process: HTTP requests per service and the process defaults. */
export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'service' | 'method' | 'route' | 'status'>;
  readonly duration: Histogram<'service' | 'method' | 'route'>;
}

/** One registry for the process; every service labels its series with `service`. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by service, method, route and status',
      labelNames: ['service', 'method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by service, method and route',
      labelNames: ['service', 'method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}
