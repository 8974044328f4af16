import { type NamedSchema, type Schema, SchemaError, s } from '../schema.js';

/** The five platform services this contract covers. */
export type ServiceName = 'orchestrator' | 'controlCenter' | 'kms' | 'apiServer' | 'extensionRegistry';

/** Every {@link ServiceName}, in a stable order (the order `health()` reports them). */
export const SERVICE_NAMES: readonly ServiceName[] = Object.freeze([
  'orchestrator',
  'controlCenter',
  'kms',
  'apiServer',
  'extensionRegistry',
]);

/**
 * Default TCP ports, those of the platform's "Platform Services" page. The
 * platform's docs disagree elsewhere (orchestrator 8080 or 9090, control
 * center 9080/8081/9090, extension registry 8082/8084): every base URL is
 * configuration.
 */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = Object.freeze({
  orchestrator: 8080,
  controlCenter: 9090,
  kms: 8082,
  apiServer: 8083,
  extensionRegistry: 8084,
});

/** Default port of the platform's OCI registry. */
export const OCI_REGISTRY_DEFAULT_PORT = 5000;

/** HTTP methods the contract uses. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One query parameter of a route. */
export interface QueryParam {
  readonly name: string;
  readonly schema: Schema<unknown>;
  readonly required?: boolean;
  readonly description?: string;
}

/**
 * One route of a service: the single definition the client calls and the
 * reference servers implement (and publish as OpenAPI).
 */
export interface Route {
  /** Which service serves it. */
  readonly service: ServiceName;
  /** Stable operation id (`listTasks`), used as the OpenAPI `operationId`. */
  readonly id: string;
  readonly method: HttpMethod;
  /** Path template with `{param}` placeholders, e.g. `/tasks/{id}`. */
  readonly path: string;
  /** One line for docs. */
  readonly summary: string;
  /** `known` when PLATFORM-API.md documents it; `designed` when we designed it in the same style. */
  readonly origin: 'known' | 'designed';
  /**
   * Whether it needs `Authorization` (or an API key). `'optional'`: the
   * platform accepts anonymous calls, a deployment may demand credentials;
   * the client sends them when it has them and nothing otherwise.
   */
  readonly auth: boolean | 'optional';
  /**
   * Whether a retry may repeat it safely. GET/HEAD/PUT/DELETE are; a POST is
   * only when the server deduplicates it (e.g. login, encrypt: no side effect
   * beyond the answer).
   */
  readonly idempotent: boolean;
  /** The JSON body, if any. */
  readonly request?: Schema<unknown>;
  /** Query parameters. */
  readonly query?: readonly QueryParam[];
  /** The decoded success body (the `data` of an envelope when `envelope` is true). */
  readonly response: Schema<unknown>;
  /** Whether success bodies are wrapped in `{ success: true, data }`. */
  readonly envelope: boolean;
  /** The success content type; `application/json` unless stated. */
  readonly contentType?: string;
  /** The success status; 200 unless stated. */
  readonly status?: number;
}

/** The per-service defaults of {@link routeBuilder}. */
export interface RouteDefaults {
  readonly origin: Route['origin'];
  readonly auth: Route['auth'];
  readonly envelope: boolean;
  /** Default: every method but POST is idempotent. */
  readonly idempotent?: boolean;
}

/** A route factory made by {@link routeBuilder}. */
export type RouteFactory<Id extends string, R extends Route = Route> = (
  id: Id,
  method: HttpMethod,
  path: string,
  summary: string,
  response: Schema<unknown>,
  extra?: Partial<Omit<R, 'service' | 'id' | 'method' | 'path' | 'summary' | 'response'>>,
) => R;

/**
 * The route factory of one service: each contract file builds its routes
 * with it, so a route is its id, method, path, summary and response schema
 * plus only what differs from the service's `defaults`.
 *
 * @example
 * ```ts
 * const r = routeBuilder<KmsRouteId>('kms', { origin: 'known', auth: true, envelope: true, idempotent: true });
 * const status = r('status', 'GET', '/api/v1/kms/status', 'Backend and key status', KmsStatusSchema);
 * ```
 */
export function routeBuilder<Id extends string, R extends Route = Route>(
  service: ServiceName,
  defaults: RouteDefaults,
): RouteFactory<Id, R> {
  return (id, method, path, summary, response, extra = {}) => {
    const route: Route = {
      service,
      id,
      method,
      path,
      summary,
      origin: defaults.origin,
      auth: defaults.auth,
      idempotent: defaults.idempotent ?? method !== 'POST',
      response,
      envelope: defaults.envelope,
      ...extra,
    };
    // `extra` holds the fields R adds to Route (e.g. the API server's `permission`).
    return route as R;
  };
}

/**
 * Fills a route's `{param}` placeholders (URL-encoded). Throws `TypeError` for
 * a missing parameter.
 *
 * @example
 * ```ts
 * routePath(ORCHESTRATOR_ROUTES.getTask, { id }); // "/tasks/0193…"
 * ```
 */
export function routePath(route: Pick<Route, 'path'>, params: Readonly<Record<string, string>> = {}): string {
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === '') throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

/**
 * A route's path in the `:param` form that Hono, Express and Fastify routers
 * take (`/tasks/{id}` → `/tasks/:id`), so servers register the contract's
 * own path instead of a copy of it. Takes a route or a path template.
 *
 * @example
 * ```ts
 * app.get(routePattern(ORCHESTRATOR_ROUTES.getTask), handler); // "/tasks/:id"
 * ```
 */
export function routePattern(route: Pick<Route, 'path'> | string): string {
  return (typeof route === 'string' ? route : route.path).replace(/\{(\w+)\}/g, ':$1');
}

/** The success envelope of the orchestrator, control center, KMS and extension registry. */
export interface SuccessEnvelope<T> {
  readonly success: true;
  readonly data: T;
}

/**
 * The failure envelope of the enveloped services (designed: the known API
 * shows only successes). `error` is a human-readable message, `code` a
 * machine-readable code such as `TASK_NOT_FOUND`.
 */
export interface FailureEnvelope {
  readonly success: false;
  readonly data?: null;
  readonly error: string;
  readonly code?: string;
}

/** `{ success, data }` or a failure. */
export type Envelope<T> = SuccessEnvelope<T> | FailureEnvelope;

/** The API server's error body (known): `code` is the HTTP status as a string. */
export interface ApiErrorBody {
  /** Machine-readable code, e.g. `VALIDATION_ERROR`. */
  readonly error: string;
  readonly message: string;
  /** The HTTP status as a string, e.g. `"400"`. */
  readonly code: string;
}

/** Schema of {@link FailureEnvelope}. */
export const FailureEnvelopeSchema: NamedSchema<FailureEnvelope> = s.named(
  'FailureEnvelope',
  s.object({
    success: s.literal(false),
    data: s.optional(s.nullable(s.unknown())) as Schema<null | undefined>,
    error: s.string(),
    code: s.optional(s.string()),
  }),
);

/** Schema of {@link ApiErrorBody}. */
export const ApiErrorBodySchema: NamedSchema<ApiErrorBody> = s.named(
  'ApiErrorBody',
  s.object({ error: s.string(), message: s.string(), code: s.string({ pattern: /^\d{3}$/ }) }),
);

/** Wraps a data schema in the success envelope (for servers building bodies and for OpenAPI). */
export function envelopeSchema<T>(data: Schema<T>): Schema<SuccessEnvelope<T>> {
  return s.object({ success: s.literal(true), data }) as Schema<SuccessEnvelope<T>>;
}

/**
 * Builds a success envelope. Servers use it so their bodies match the client's checks.
 *
 * @example
 * ```ts
 * return Response.json(ok(tasks));
 * ```
 */
export function ok<T>(data: T): SuccessEnvelope<T> {
  return { success: true, data };
}

/**
 * Builds a failure envelope (`{ success: false, data: null, error, code }`).
 *
 * @example
 * ```ts
 * return Response.json(fail('task not found', 'TASK_NOT_FOUND'), { status: 404 });
 * ```
 */
export function fail(error: string, code?: string): FailureEnvelope {
  return code === undefined ? { success: false, data: null, error } : { success: false, data: null, error, code };
}

/**
 * Builds the API server's error body (`code` is the status as a string).
 *
 * @example
 * ```ts
 * return Response.json(apiError(400, 'VALIDATION_ERROR', 'hostname is required'), { status: 400 });
 * ```
 */
export function apiError(status: number, error: string, message: string): ApiErrorBody {
  return { error, message, code: String(status) };
}

/** A health answer of the designed health routes. */
export interface HealthStatus {
  /** `healthy`, `degraded` or `unhealthy`. */
  readonly status: 'healthy' | 'degraded' | 'unhealthy';
  /** Service version, when it tells. */
  readonly version?: string;
  /** Per-dependency checks (database, backend …). */
  readonly checks?: Readonly<Record<string, string>>;
}

/** Schema of {@link HealthStatus}. */
export const HealthStatusSchema: NamedSchema<HealthStatus> = s.named(
  'HealthStatus',
  s.object({
    status: s.literal('healthy', 'degraded', 'unhealthy'),
    version: s.optional(s.string()),
    checks: s.optional(s.record(s.string())),
  }),
);

/** `limit`/`offset` query parameters with the orchestrator's bounds (1–1000, default 50). */
export const PAGINATION_QUERY: readonly QueryParam[] = Object.freeze([
  {
    name: 'limit',
    schema: s.number({ integer: true, minimum: 1, maximum: 1000 }),
    description: 'page size, default 50',
  },
  { name: 'offset', schema: s.number({ integer: true, minimum: 0 }), description: 'items to skip, default 0' },
]);

/** Page bounds shared by the paginated routes. */
export const PAGE_LIMITS: Readonly<{ defaultLimit: number; maxLimit: number }> = Object.freeze({
  defaultLimit: 50,
  maxLimit: 1000,
});

/** RFC 3339 timestamp string schema. */
export const timestamp: Schema<string> = s.string({ format: 'date-time' });
/**
 * Base64 (standard alphabet, padded) string schema: whole 4-character groups
 * only. Node's decoder skips what it cannot read, so a lax pattern would let
 * a damaged plaintext through as fewer, different bytes.
 */
export const base64: Schema<string> = s.string({
  pattern: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
  description: 'base64',
});

/**
 * Validates a decoded success body against a route's contract: the
 * `{ success: true, data }` envelope when the route has one, then the
 * response schema. Returns the `data` (or the bare body). Throws
 * {@link SchemaError} naming the JSON path. The client decodes with it, and
 * server tests can use it to check their answers against the same contract.
 *
 * @example
 * ```ts
 * const tasks = parseRouteResponse(ORCHESTRATOR_ROUTES.listTasks, await res.json());
 * ```
 */
export function parseRouteResponse(route: Pick<Route, 'envelope' | 'response'>, body: unknown): unknown {
  if (!route.envelope) return route.response.parse(body, '$');
  if (typeof body !== 'object' || body === null || (body as { success?: unknown }).success !== true) {
    throw new SchemaError({ path: '$.success', expected: 'true (a { success: true, data } envelope)' });
  }
  if (!('data' in body)) throw new SchemaError({ path: '$.data', expected: 'the envelope data' });
  return route.response.parse((body as { data: unknown }).data, '$.data');
}
