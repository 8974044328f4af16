import type { Clock, KeyValueStore, RandomSource } from '@provisioning/core';
import { pooledRandom, systemClock, uuidv7 } from '@provisioning/core';
import type { ClientIpOptions, HeaderReader } from './client-ip.js';
import { createClientIpResolver } from './client-ip.js';
import type { MiddlewareErrorCode } from './errors.js';
import { HTTP_ERRORS, MiddlewareError } from './errors.js';
import type { RateLimiter } from './rate-limit.js';
import { createRateLimiter } from './rate-limit.js';
import type {
  AuditRecorder,
  Authenticator,
  AuthorizationDecision,
  Authorizer,
  Credential,
  Principal,
  ResourceRef,
  RouteSecurity,
  SecurityAuditEvent,
  SecurityContext,
  SecurityRequest,
} from './types.js';

/** Options of {@link createSecurityChain}. Misconfiguration throws at construction. */
export interface SecurityChainOptions {
  /** Verifies bearer tokens and API keys (with the revocation check). */
  readonly authenticator: Authenticator;
  /** Decides each request; a rejection or any evaluation error denies. */
  readonly authorizer: Authorizer;
  /** Receives one event per decision and per completed operation, off the response path. */
  readonly audit?: AuditRecorder;
  /** Called when the audit recorder fails, so the failure is loud without failing the request. */
  readonly onAuditError?: (error: unknown, event: SecurityAuditEvent) => void;
  /** Rate limiting; omit to disable. Both limiters share `store`. */
  readonly rateLimit?: {
    readonly store: KeyValueStore;
    /** Per client IP, per window. Default 100. */
    readonly perIp?: number;
    /** Per authenticated principal, per window. Default 100. */
    readonly perPrincipal?: number;
    /** Default 60. */
    readonly windowSeconds?: number;
  };
  /** Which proxies' forwarding headers to believe. Default: none. */
  readonly clientIp?: ClientIpOptions;
  /** Maximum MFA age for sensitive routes, in seconds. Default 900 (15 min). */
  readonly mfaMaxAgeSeconds?: number;
  /** Header carrying API keys (besides `Authorization: ApiKey …`). Default `x-api-key`. */
  readonly apiKeyHeader?: string;
  /** `realm` of `WWW-Authenticate`. Default `provisioning`. */
  readonly realm?: string;
  readonly clock?: Clock;
  /** Randomness for request ids (UUIDv7). Default: the OS CSPRNG, read 4 KiB at a time. */
  readonly random?: RandomSource;
  /**
   * The JSON body of a refusal, for services whose error shape differs (e.g.
   * an `{ success: false, error, code }` envelope). It gets only the
   * {@link HTTP_ERRORS} row and the request id, so a custom body cannot leak
   * the refused credential or the reason either. Default
   * {@link defaultErrorBody}: `{ error, message, code: "<status>", request_id }`.
   */
  readonly errorBody?: (refusal: RefusalSummary) => Readonly<Record<string, unknown>>;
}

/** What an `errorBody` function is given: the refusal's table row, nothing request-specific but its id. */
export interface RefusalSummary {
  readonly status: number;
  /** The machine-readable `error` of {@link HTTP_ERRORS}, e.g. `mfa_required`. */
  readonly error: string;
  readonly message: string;
  readonly code: MiddlewareErrorCode;
  readonly requestId: string;
}

/**
 * The default refusal body, the platform API server's error shape:
 * `{ error, message, code: "<status>", request_id }`.
 *
 * @example
 * ```ts
 * defaultErrorBody({ status: 403, error: 'forbidden', message: '…', code: 'ERR_MW_FORBIDDEN', requestId: 'r1' });
 * // { error: 'forbidden', message: '…', code: '403', request_id: 'r1' }
 * ```
 */
export function defaultErrorBody(refusal: RefusalSummary): Readonly<Record<string, unknown>> {
  return {
    error: refusal.error,
    message: refusal.message,
    code: String(refusal.status),
    request_id: refusal.requestId,
  };
}

/** Where a request came from, as the adapter knows it. */
export interface RequestInfo {
  /** The TCP peer address. */
  readonly clientAddress?: string;
  /** Route parameters, for resource resolution. */
  readonly params?: Readonly<Record<string, string>>;
  /**
   * The request's headers for the chain's own reads (credential, request id,
   * user agent, forwarding headers), when the adapter has a cheaper view of
   * exactly the same headers than `request.headers` (the Hono adapter on
   * `@hono/node-server`: Node's parsed headers instead of a Web `Headers`
   * built on first use). The request itself is still what the authenticator
   * and the route's `resource()` / `context()` get. Default `request.headers`.
   */
  readonly headers?: HeaderReader;
}

/** A refusal: what to send instead of running the handler. */
export interface ChainRefusal {
  readonly ok: false;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body: `options.errorBody`'s, by default {@link defaultErrorBody}'s. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly code: MiddlewareErrorCode;
  readonly context: SecurityContext;
}

/** A pass: run the handler with this context, then call `complete`. */
export interface ChainPass {
  readonly ok: true;
  readonly context: SecurityContext;
}

/** The request security chain. */
export interface SecurityChain {
  /** Runs rate limit → authenticate → MFA step-up → authorize for one request. */
  check(request: SecurityRequest, route: RouteSecurity, info?: RequestInfo): Promise<ChainPass | ChainRefusal>;
  /** Records the completed operation (status, latency) off the response path. */
  complete(context: SecurityContext, status: number): void;
  /** The whole chain around a Web handler: refusals become JSON responses, headers are added. */
  handle(
    request: Request,
    route: RouteSecurity,
    info: RequestInfo,
    handler: (context: SecurityContext) => Response | Promise<Response>,
  ): Promise<Response>;
  /** Turns a refusal into a Web `Response`. */
  toResponse(refusal: ChainRefusal): Response;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const AUTHORIZATION = /^(Bearer|ApiKey)\s+([\x21-\x7e]+)\s*$/i;
const PRINTABLE = /^[\x21-\x7e]+$/;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Builds the platform's request chain: rate limit (per IP, then per
 * principal) → authenticate (Bearer JWT or API key) → MFA step-up → authorize
 * (deny by default; errors deny) → audit. Each layer short-circuits with the
 * response of {@link HTTP_ERRORS}; the chain never throws for a request.
 *
 * @throws MiddlewareError `ERR_MW_INVALID_OPTIONS` when a required option is missing or invalid.
 * @example
 * ```ts
 * const chain = createSecurityChain({ authenticator, authorizer, audit, rateLimit: { store } });
 * const response = await chain.handle(request, { action: 'read' }, { clientAddress }, (ctx) => Response.json({ user: ctx.principal?.id }));
 * ```
 */
export function createSecurityChain(options: SecurityChainOptions): SecurityChain {
  const invalid = (message: string): MiddlewareError =>
    new MiddlewareError(message, { code: 'ERR_MW_INVALID_OPTIONS', fault: 'client' });
  if (typeof options?.authenticator?.authenticate !== 'function') throw invalid('an authenticator is required');
  if (typeof options.authorizer?.authorize !== 'function') throw invalid('an authorizer is required');
  const mfaMaxAge = options.mfaMaxAgeSeconds ?? 900;
  if (!(mfaMaxAge > 0)) throw invalid('mfaMaxAgeSeconds must be positive');
  const clock = options.clock ?? systemClock;
  const random = options.random ?? pooledRandom();
  const resolveIp = createClientIpResolver(options.clientIp);
  const apiKeyHeader = (options.apiKeyHeader ?? 'x-api-key').toLowerCase();
  const realm = options.realm ?? 'provisioning';
  const errorBody = options.errorBody ?? defaultErrorBody;
  if (typeof errorBody !== 'function') throw invalid('errorBody must be a function');
  if (!/^[\x20-\x7e]*$/.test(realm) || realm.includes('"'))
    throw invalid('realm must be printable ASCII without quotes');
  let ipLimiter: RateLimiter | undefined;
  let principalLimiter: RateLimiter | undefined;
  if (options.rateLimit !== undefined) {
    const { store, windowSeconds } = options.rateLimit;
    ipLimiter = createRateLimiter({
      store,
      clock,
      windowSeconds,
      limit: options.rateLimit.perIp ?? 100,
      prefix: 'ratelimit:ip:',
      policyName: 'ip',
    });
    principalLimiter = createRateLimiter({
      store,
      clock,
      windowSeconds,
      limit: options.rateLimit.perPrincipal ?? 100,
      prefix: 'ratelimit:principal:',
      policyName: 'principal',
    });
  }

  const auditing = options.audit !== undefined;
  // Events waiting for the next turn of the event loop, in the order emitted.
  let pending: SecurityAuditEvent[] = [];
  const record = (event: SecurityAuditEvent): void => {
    try {
      const result = options.audit?.record(event);
      if (result instanceof Promise) result.catch((error: unknown) => options.onAuditError?.(error, event));
    } catch (error) {
      options.onAuditError?.(error, event);
    }
  };
  const flush = (): void => {
    const events = pending;
    pending = [];
    for (const event of events) {
      try {
        record(event);
      } catch (error) {
        // Only a throwing onAuditError gets here. It stays an uncaught
        // exception, as it was with one setImmediate per event, without
        // costing the events after it their record.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  };
  const emit = (event: SecurityAuditEvent): void => {
    // Never on the response path: the recorder runs after the response is
    // handed back (next turn of the event loop), and its failure is reported,
    // not thrown into the request. One setImmediate serves every event of the
    // turn (a decision and a completion, or many requests' under load) rather
    // than one per event; each event is still recorded on its own.
    if (pending.push(event) === 1) setImmediate(flush);
  };

  // One object literal with every field, so events share one shape (spreading
  // a base object into each event cost more than the rest of the chain's work).
  const eventOf = (
    ctx: SecurityContext,
    kind: SecurityAuditEvent['kind'],
    action: string,
    outcome: SecurityAuditEvent['outcome'],
    reason?: string,
    status?: number,
    latencyMs?: number,
  ): SecurityAuditEvent => ({
    kind,
    action,
    outcome,
    timestamp: new Date(clock.now()),
    requestId: ctx.requestId,
    actor: {
      id: ctx.principal?.id,
      type: ctx.principal?.type,
      roles: ctx.principal?.roles,
      ip: ctx.clientIp,
      userAgent: ctx.userAgent,
    },
    sessionId: ctx.sessionId,
    resource: ctx.resource,
    operation: ctx.action,
    reason,
    status,
    latencyMs,
    policyIds: ctx.decision?.policyIds,
    policyVersion: ctx.decision?.version,
    retention: ctx.emergency ? 'break-glass' : 'default',
    emergencySessionId: ctx.emergency?.sessionId,
  });

  const refuse = (
    ctx: SecurityContext,
    code: MiddlewareErrorCode,
    auditAction: string,
    extraHeaders: Record<string, string> = {},
    reason?: string,
  ): ChainRefusal => {
    const mapping = HTTP_ERRORS[code];
    if (auditing) {
      emit(
        eventOf(
          ctx,
          'decision',
          auditAction,
          code === 'ERR_MW_FORBIDDEN' || code === 'ERR_MW_MFA_REQUIRED' || code === 'ERR_MW_EMERGENCY_SCOPE'
            ? 'denied'
            : 'failure',
          reason ?? mapping.error,
          mapping.status,
          clock.now() - ctx.startedAt,
        ),
      );
    }
    return {
      ok: false,
      status: mapping.status,
      headers: { ...ctx.responseHeaders, ...extraHeaders },
      body: errorBody({
        status: mapping.status,
        error: mapping.error,
        message: mapping.message,
        code,
        requestId: ctx.requestId,
      }),
      code,
      context: ctx,
    };
  };

  const challenge = (error?: string): Record<string, string> => ({
    'WWW-Authenticate': `Bearer realm="${realm}"${error === undefined ? '' : `, error="${error}"`}`,
  });

  const credentialOf = (headers: HeaderReader): Credential | 'malformed' | undefined => {
    const authorization = headers.get('authorization');
    if (authorization !== null) {
      const match = AUTHORIZATION.exec(authorization);
      if (match === null) return 'malformed';
      const [, scheme = '', value = ''] = match;
      return scheme.toLowerCase() === 'bearer' ? { kind: 'bearer', token: value } : { kind: 'api-key', key: value };
    }
    const apiKey = headers.get(apiKeyHeader);
    if (apiKey !== null) return PRINTABLE.test(apiKey.trim()) ? { kind: 'api-key', key: apiKey.trim() } : 'malformed';
    return undefined;
  };

  const emergencyCovers = (
    grant: NonNullable<Principal['emergency']>,
    action: string,
    resource: ResourceRef,
  ): boolean => {
    if (grant.expiresAt !== undefined && grant.expiresAt.getTime() <= clock.now()) return false;
    if (!grant.actions.includes('*') && !grant.actions.includes(action)) return false;
    if (grant.resources === undefined || grant.resources.length === 0) return true;
    const id = `${resource.type}::${resource.id}`;
    return grant.resources.some((r) =>
      r.endsWith('*')
        ? id.startsWith(r.slice(0, -1)) || resource.id.startsWith(r.slice(0, -1))
        : r === id || r === resource.id,
    );
  };

  // Both limiters' `RateLimit-Policy` items joined: each limiter's is fixed at
  // construction, so the joined value is the same string on every request.
  const joinedPolicy: { first?: string; second?: string; joined?: string } = {};

  // Contexts of routes audited with `audit: 'failures'` that passed the chain:
  // their completion is recorded only if it failed.
  const failuresOnly = new WeakSet<SecurityContext>();

  const check: SecurityChain['check'] = async (request, route, info = {}) => {
    const headers = info.headers ?? request.headers;
    const incomingId = headers.get('x-request-id');
    // Built once with every field and filled in as the layers pass: copying
    // it at each layer (object spread) cost more than the layers' own work.
    const ctx: Mutable<SecurityContext> = {
      requestId: incomingId !== null && REQUEST_ID.test(incomingId) ? incomingId : uuidv7(clock, random),
      clientIp: resolveIp(info.clientAddress, headers),
      userAgent: headers.get('user-agent') ?? undefined,
      startedAt: clock.now(),
      principal: undefined,
      sessionId: undefined,
      roles: [],
      amr: [],
      mfaAgeSeconds: undefined,
      emergency: undefined,
      action: undefined,
      resource: undefined,
      decision: undefined,
      responseHeaders: {},
    };
    try {
      // 1. Rate limit per client IP, before any expensive work.
      if (ipLimiter !== undefined) {
        const result = await ipLimiter.hit(ctx.clientIp);
        ctx.responseHeaders = result.headers;
        if (!result.allowed) return refuse(ctx, 'ERR_MW_RATE_LIMITED', 'ratelimit.exceeded', {}, 'per-ip');
      }
      if (route.public === true) return { ok: true, context: ctx };
      if (route.action === undefined) {
        // A protected route without an action cannot be authorized: deny.
        return refuse(ctx, 'ERR_MW_AUTHORIZATION_FAILED', 'authz.error', {}, 'route has no action');
      }

      // 2. Authenticate.
      const credential = credentialOf(headers);
      if (credential === undefined) return refuse(ctx, 'ERR_MW_UNAUTHENTICATED', 'auth.missing', challenge());
      if (credential === 'malformed') {
        return refuse(ctx, 'ERR_MW_INVALID_CREDENTIALS', 'auth.failed', challenge('invalid_request'), 'malformed');
      }
      let principal: Principal;
      try {
        principal = await options.authenticator.authenticate(credential, request);
      } catch (error) {
        const retryable = (error as { retryable?: unknown })?.retryable === true;
        if (retryable) return refuse(ctx, 'ERR_MW_INTERNAL', 'auth.error', {}, 'authenticator unavailable');
        const code = (error as { code?: unknown })?.code;
        return refuse(
          ctx,
          'ERR_MW_INVALID_CREDENTIALS',
          'auth.failed',
          challenge('invalid_token'),
          typeof code === 'string' ? code : 'refused',
        );
      }
      const mfaAgeSeconds =
        principal.mfaAt === undefined ? undefined : Math.max(0, (clock.now() - principal.mfaAt.getTime()) / 1000);
      ctx.principal = principal;
      ctx.sessionId = principal.sessionId;
      ctx.roles = principal.roles;
      ctx.amr = principal.amr ?? [];
      ctx.mfaAgeSeconds = mfaAgeSeconds;
      ctx.emergency = principal.emergency;
      ctx.action = route.action;

      // 3. Rate limit per principal.
      if (principalLimiter !== undefined) {
        const result = await principalLimiter.hit(`${principal.type}:${principal.id}`);
        ctx.responseHeaders = mergeRateLimitHeaders(ctx.responseHeaders, result.headers, joinedPolicy);
        if (!result.allowed) {
          return refuse(
            ctx,
            'ERR_MW_RATE_LIMITED',
            'ratelimit.exceeded',
            { 'Retry-After': result.headers['Retry-After'] ?? '60' },
            'per-principal',
          );
        }
      }

      // 4. Resolve the resource (a failure to parse it is the client's fault).
      let resource: ResourceRef;
      try {
        if (route.resource === undefined) {
          resource = { type: 'Provisioning::Api', id: new URL(request.url, 'http://local').pathname };
        } else {
          // A synchronous resolver (the usual case) is not awaited: that saves a turn of the microtask queue.
          const resolved = route.resource(request, info.params ?? {}, principal);
          resource =
            typeof (resolved as { then?: unknown }).then === 'function' ? await resolved : (resolved as ResourceRef);
        }
      } catch {
        return refuse(ctx, 'ERR_MW_BAD_REQUEST', 'authz.error', {}, 'resource not resolvable');
      }
      ctx.resource = resource;

      // 5. Break-glass tokens work only inside their approved scope.
      if (principal.emergency !== undefined && !emergencyCovers(principal.emergency, route.action, resource)) {
        return refuse(ctx, 'ERR_MW_EMERGENCY_SCOPE', 'breakglass.denied', {}, 'outside approved scope');
      }

      // 6. MFA step-up for sensitive routes.
      const maxAge = route.mfaMaxAgeSeconds ?? mfaMaxAge;
      if (route.sensitive === true && (mfaAgeSeconds === undefined || mfaAgeSeconds > maxAge)) {
        return refuse(
          ctx,
          'ERR_MW_MFA_REQUIRED',
          'mfa.required',
          {},
          mfaAgeSeconds === undefined ? 'no mfa' : 'mfa too old',
        );
      }

      // 7. Authorize: deny by default, and any error or evaluation error denies.
      let decision: AuthorizationDecision;
      try {
        const base: Record<string, unknown> = {
          mfa: {
            present: mfaAgeSeconds !== undefined,
            ageSeconds: mfaAgeSeconds === undefined ? -1 : Math.floor(mfaAgeSeconds),
          },
          ip: ctx.clientIp,
          time: new Date(clock.now()).toISOString(),
          emergency: principal.emergency !== undefined,
        };
        if (principal.emergency !== undefined) base.approvalId = principal.emergency.sessionId;
        // The route's own keys come last and win. Spread, not Object.assign: a
        // `__proto__` key from request data stays a plain key.
        const context = route.context === undefined ? base : { ...base, ...route.context(request) };
        decision = await options.authorizer.authorize({ principal, action: route.action, resource, context });
      } catch {
        return refuse(ctx, 'ERR_MW_AUTHORIZATION_FAILED', 'authz.error', {}, 'authorizer failed');
      }
      ctx.decision = decision;
      if ((decision.errors?.length ?? 0) > 0)
        return refuse(ctx, 'ERR_MW_AUTHORIZATION_FAILED', 'authz.error', {}, 'evaluation error');
      if (decision.allowed !== true) return refuse(ctx, 'ERR_MW_FORBIDDEN', 'authz.denied');
      // Emergency access is always audited in full, whatever the route asks.
      if (route.audit === 'failures' && principal.emergency === undefined) {
        failuresOnly.add(ctx);
        return { ok: true, context: ctx };
      }
      if (auditing) {
        emit(
          eventOf(ctx, 'decision', principal.emergency === undefined ? 'authz.allowed' : 'breakglass.used', 'success'),
        );
      }
      return { ok: true, context: ctx };
    } catch {
      // A failing dependency (e.g. the rate-limit store) fails closed.
      return refuse(ctx, 'ERR_MW_INTERNAL', 'chain.error', {}, 'dependency failed');
    }
  };

  const complete: SecurityChain['complete'] = (ctx, status) => {
    if (auditing && (status >= 400 || !failuresOnly.has(ctx))) {
      emit(
        eventOf(
          ctx,
          'operation',
          'operation.completed',
          status < 400 ? 'success' : 'failure',
          undefined,
          status,
          clock.now() - ctx.startedAt,
        ),
      );
    }
  };

  const toResponse = (refusal: ChainRefusal): Response =>
    Response.json(refusal.body, {
      status: refusal.status,
      headers: { ...refusal.headers, 'x-request-id': refusal.context.requestId, 'cache-control': 'no-store' },
    });

  return {
    check,
    complete,
    toResponse,
    async handle(request, route, info, handler) {
      const result = await check(request, route, info);
      if (!result.ok) return toResponse(result);
      let response: Response;
      try {
        response = await handler(result.context);
      } catch (error) {
        complete(result.context, 500);
        throw error;
      }
      const out = withHeaders(response, {
        ...result.context.responseHeaders,
        'x-request-id': result.context.requestId,
      });
      complete(result.context, out.status);
      return out;
    },
  };
}

// The per-principal limiter's policy goes beside the per-IP one in the same
// header fields, comma-separated as the RateLimit draft's lists allow. Both
// come from this chain's own createRateLimiter, whose headers are exactly
// `RateLimit-Policy` and `RateLimit` (plus `Retry-After` on a refusal, which
// is not merged), so the result is one object literal. A limiter's policy is
// fixed at construction: the joined policy is kept in `memo` and rebuilt only
// if either policy string differs from the ones it was made of.
function mergeRateLimitHeaders(
  first: Readonly<Record<string, string>>,
  second: Readonly<Record<string, string>>,
  memo: { first?: string; second?: string; joined?: string },
): Record<string, string> {
  const firstPolicy = first['RateLimit-Policy'] as string;
  const secondPolicy = second['RateLimit-Policy'] as string;
  if (memo.first !== firstPolicy || memo.second !== secondPolicy) {
    memo.first = firstPolicy;
    memo.second = secondPolicy;
    memo.joined = `${firstPolicy}, ${secondPolicy}`;
  }
  return { 'RateLimit-Policy': memo.joined as string, RateLimit: `${first.RateLimit}, ${second.RateLimit}` };
}

// Copies the chain's headers onto the handler's response; a response with
// immutable headers (e.g. from fetch) is re-wrapped rather than failing.
function withHeaders(response: Response, headers: Readonly<Record<string, string>>): Response {
  const missing = Object.entries(headers).filter(([name]) => !response.headers.has(name));
  if (missing.length === 0) return response;
  try {
    for (const [name, value] of missing) response.headers.set(name, value);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const [name, value] of missing) copy.headers.set(name, value);
    return copy;
  }
}
