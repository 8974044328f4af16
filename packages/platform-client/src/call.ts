import { parseRouteResponse, type Route, routePath } from './api/common.js';
import { isPlatformClientError, PlatformClientError } from './errors.js';
import { SchemaError } from './schema.js';
import {
  type Authenticator,
  type CallOptions,
  type HttpResponse,
  isJsonContentType,
  type Transport,
} from './transport.js';

/** @internal Input of {@link callRoute}. */
export interface RouteInput {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
}

/** @internal How a service client reaches its service. */
export interface ServiceContext {
  readonly transport: Transport;
  readonly baseUrl: string;
  readonly auth: Authenticator | undefined;
}

/**
 * Credentials for an `auth: 'optional'` route: the client's, when it has
 * them; none (rather than `ERR_CLIENT_NOT_AUTHENTICATED`) before a login.
 */
function optionalAuth(auth: Authenticator | undefined): Authenticator | undefined {
  if (auth === undefined) return undefined;
  return {
    async headers(signal) {
      try {
        return await auth.headers(signal);
      } catch (error) {
        if (isPlatformClientError(error) && error.code === 'ERR_CLIENT_NOT_AUTHENTICATED') return {};
        throw error;
      }
    },
    unauthorized: (sent, signal) => auth.unauthorized(sent, signal),
  };
}

function unexpectedType(route: Route, status: number, contentType: string | null): PlatformClientError {
  return new PlatformClientError(
    `${route.service}: ${route.method} ${route.path}: unexpected content type ${contentType ?? '(none)'}`,
    {
      code: 'ERR_CLIENT_UNEXPECTED_CONTENT_TYPE',
      fault: 'server',
      status,
      service: route.service,
      request: `${route.method} ${route.path}`,
    },
  );
}

function malformed(route: Route, reason: string, cause?: unknown): PlatformClientError {
  return new PlatformClientError(`${route.service}: ${route.method} ${route.path}: malformed response (${reason})`, {
    code: 'ERR_CLIENT_MALFORMED_RESPONSE',
    fault: 'server',
    service: route.service,
    request: `${route.method} ${route.path}`,
    ...(cause instanceof SchemaError ? { details: { path: cause.issue.path, expected: cause.issue.expected } } : {}),
  });
}

/**
 * @internal Sends one contract route (path filled, query, JSON body, the
 * route's auth and idempotency) and resolves with the fully read 2xx
 * response, or one of `passStatuses`, whose body the caller reads itself.
 */
export function sendRoute(
  ctx: ServiceContext,
  route: Route,
  input: RouteInput = {},
  options: CallOptions = {},
  passStatuses?: readonly number[],
): Promise<HttpResponse> {
  return ctx.transport.send(
    {
      service: route.service,
      baseUrl: ctx.baseUrl,
      method: route.method,
      path: routePath(route, input.params),
      ...(input.query ? { query: input.query } : {}),
      ...(input.body !== undefined ? { json: input.body } : {}),
      ...(route.contentType && route.contentType !== 'application/json' ? { headers: { accept: '*/*' } } : {}),
      idempotent: route.idempotent,
      auth: route.auth === true ? ctx.auth : route.auth === 'optional' ? optionalAuth(ctx.auth) : undefined,
      ...(passStatuses ? { passStatuses } : {}),
    },
    options,
  );
}

/**
 * @internal Calls one contract route: fills the path, sends, checks the
 * content type, decodes JSON, unwraps the envelope and validates the result
 * against the route's schema. Never returns data that failed validation.
 */
export async function callRoute<T>(
  ctx: ServiceContext,
  route: Route,
  input: RouteInput = {},
  options: CallOptions = {},
): Promise<T> {
  return decodeRoute<T>(route, await sendRoute(ctx, route, input, options));
}

/**
 * @internal Decodes a 2xx answer of `route` as {@link callRoute} does. A
 * route that is not JSON answers text in one of `textTypes` (default: the
 * route's `contentType`).
 */
export function decodeRoute<T>(
  route: Route,
  response: HttpResponse,
  textTypes: readonly string[] = route.contentType ? [route.contentType] : [],
): T {
  const contentType = response.headers.get('content-type');
  // Invalid UTF-8 is refused, not replaced with U+FFFD: a decoded answer is the server's bytes or an error.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(response.body);
  } catch (error) {
    throw malformed(route, 'not UTF-8', error);
  }
  if (route.contentType && route.contentType !== 'application/json') {
    const type = contentType?.split(';')[0]?.trim().toLowerCase();
    if (type === undefined || !textTypes.includes(type)) throw unexpectedType(route, response.status, contentType);
    return text as T;
  }
  if (response.status === 204 || response.body.byteLength === 0) {
    // No body: only a contract that allows "nothing" accepts it.
    try {
      return route.response.parse(undefined) as T;
    } catch (error) {
      throw malformed(route, 'empty body', error);
    }
  }
  if (!isJsonContentType(contentType)) throw unexpectedType(route, response.status, contentType);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw malformed(route, 'not JSON', error);
  }
  try {
    return parseRouteResponse(route, value) as T;
  } catch (error) {
    if (error instanceof SchemaError)
      throw malformed(route, `${error.issue.path} is not ${error.issue.expected}`, error);
    throw error;
  }
}
