/**
 * Adapters from the Provisioning packages to the chain's three interfaces:
 * `@provisioning/auth` (tokens, API keys, break-glass) → {@link Authenticator},
 * `@provisioning/authz` (the Cedar engine) → {@link Authorizer},
 * `@provisioning/audit` (the audit log) → {@link AuditRecorder}, and
 * break-glass's audit sink → the audit log ({@link breakGlassAuditFrom}).
 *
 * All three packages are optional peers: this module imports only their types,
 * and `@provisioning/authz` (for its context builder) lazily on the first
 * decision, so an application using only some of them installs only those.
 *
 * @module
 */
import type {
  AuditAction,
  ActorType as AuditActorType,
  AuditEventInput,
  AuditSink,
  JsonValue,
} from '@provisioning/audit';
import type {
  AccessTokenClaims,
  ApiKeyInfo,
  ApiKeyService,
  BreakGlass,
  BreakGlassAuditEvent,
  AuditSink as BreakGlassAuditSink,
  TokenService,
} from '@provisioning/auth';
import type {
  Authorizer as AuthzAuthorizer,
  CedarEntity,
  CedarValue,
  ContextBuilder,
  ContextBuilderOptions,
  ContextInput,
  EntityRef,
} from '@provisioning/authz';
import { MiddlewareError } from './errors.js';
import type {
  AuditRecorder,
  Authenticator,
  AuthorizationDecision,
  AuthorizationRequest,
  Authorizer,
  EmergencyGrant,
  Principal,
  SecurityAuditEvent,
} from './types.js';

const invalidOptions = (message: string): MiddlewareError =>
  new MiddlewareError(message, { code: 'ERR_MW_INVALID_OPTIONS', fault: 'client' });

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

/** Options of {@link authenticatorFrom}. */
export interface AuthenticatorFromOptions {
  /** Verifies Bearer access tokens (signature, claims and revocation on every call). */
  readonly tokens: Pick<TokenService, 'verify'>;
  /** Verifies API keys (`Authorization: ApiKey …` or `X-API-Key`). Without it, API keys are refused. */
  readonly apiKeys?: Pick<ApiKeyService, 'verify'>;
  /**
   * Verifies emergency tokens (claims `emergency` / `bg_sid`). Without it,
   * emergency tokens are refused: `tokens.verify()` alone does not check that
   * the break-glass session is still active (expiry, inactivity, revocation).
   */
  readonly breakGlass?: Pick<BreakGlass, 'verify'>;
  /** Roles of an API-key principal (API keys carry scopes, not roles). Default: none. */
  readonly apiKeyRoles?: (info: ApiKeyInfo) => readonly string[] | Promise<readonly string[]>;
  /**
   * Turns a break-glass token's approved scope (`bg_scope`) into the grant the
   * chain enforces. Default: any action (`*`), resources = the scope entries
   * (no entries: nothing at all),
   * matched by the chain as resource ids or `Type::id` prefixes ending in `*`
   * (e.g. `Provisioning::Server::prod-*` or `prod-web`).
   */
  readonly emergencyScope?: (scope: readonly string[]) => {
    readonly actions: readonly string[];
    readonly resources?: readonly string[];
  };
}

/** Names of the claims that mark a token as a break-glass emergency token. */
const EMERGENCY_CLAIMS = ['emergency', 'bg_sid'] as const;

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

// Principals that authenticatorFrom built and froze, arrays included: nothing
// can change them, so authorizerFrom may keep per-principal work (the inline
// entity) by their identity instead of by their content.
const frozenPrincipals = new WeakSet<Principal>();

/**
 * An {@link Authenticator} over `@provisioning/auth`: Bearer JWTs through
 * `tokens.verify()` (which checks revocation on every call), emergency tokens
 * through `breakGlass.verify()` (which also enforces the session's expiry and
 * inactivity and records the use), API keys through `apiKeys.verify()`.
 * Rejections are auth's `AuthError`s (their `code` goes to the audit trail,
 * never to the client); store failures are retryable and answer 500.
 *
 * Principals: `id` = `sub`, `roles`, `sessionId` = `sid`, `amr`, `mfaAt` from
 * `mfa_at`; an emergency token adds `emergency` (session `bg_sid`, approvers,
 * the approved scope, `expiresAt` = `exp`) and `attributes.approvalId`
 * (`EMERGENCY-…`, for the Cedar policies); an API key gives type `api-key`,
 * `id` = the key id, `scopes`, `attributes.owner`.
 *
 * @throws MiddlewareError `ERR_MW_INVALID_OPTIONS` without a token service.
 * @example
 * ```ts
 * const authenticator = authenticatorFrom({ tokens, apiKeys, breakGlass: bg });
 * const chain = createSecurityChain({ authenticator, authorizer, audit });
 * ```
 */
export function authenticatorFrom(options: AuthenticatorFromOptions): Authenticator {
  if (typeof options?.tokens?.verify !== 'function')
    throw invalidOptions('authenticatorFrom needs tokens (a TokenService)');
  if (options.apiKeys !== undefined && typeof options.apiKeys.verify !== 'function')
    throw invalidOptions('apiKeys must be an ApiKeyService');
  if (options.breakGlass !== undefined && typeof options.breakGlass.verify !== 'function')
    throw invalidOptions('breakGlass must be a BreakGlass');
  const { tokens, apiKeys, breakGlass } = options;
  // Security: the chain reads an empty resource list as "any resource"; a token
  // without an approved scope must grant nothing instead.
  const scopeOf =
    options.emergencyScope ??
    ((scope: readonly string[]) => (scope.length === 0 ? { actions: [] } : { actions: ['*'], resources: [...scope] }));
  // The chain answers 401 and records the code; the credential is never part of the error.
  const refused = (why: string): MiddlewareError =>
    new MiddlewareError(`the credential was refused: ${why}`, { code: 'ERR_MW_INVALID_CREDENTIALS', fault: 'client' });

  // One principal per verified claims object: on a verified-token cache hit
  // tokens.verify() returns the same frozen claims, so a repeated token gets
  // the principal built on its first use (frozen: it is shared by requests)
  // instead of a new one each time. Weak: it goes with the cache entry. A
  // token with `mfa_at` gets a new principal every time: a Date cannot be
  // frozen, and one shared Date changed by a handler would change the MFA age
  // every later request of that token is judged by.
  const principals = new WeakMap<AccessTokenClaims, Principal>();
  const userPrincipal = (claims: AccessTokenClaims): Principal => {
    if (typeof claims.mfa_at === 'number') {
      return {
        id: claims.sub,
        type: 'user',
        roles: strings(claims.roles),
        sessionId: claims.sid,
        amr: strings(claims.amr),
        mfaAt: new Date(claims.mfa_at * 1000),
      };
    }
    const known = principals.get(claims);
    if (known !== undefined) return known;
    const principal: Principal = Object.freeze({
      id: claims.sub,
      type: 'user',
      roles: Object.freeze(strings(claims.roles)),
      sessionId: claims.sid,
      amr: Object.freeze(strings(claims.amr)),
    });
    // Only claims nobody can change may stand for their principal.
    if (Object.isFrozen(claims)) {
      principals.set(claims, principal);
      frozenPrincipals.add(principal);
    }
    return principal;
  };

  return {
    async authenticate(credential) {
      if (credential.kind === 'api-key') {
        if (apiKeys === undefined) throw refused('API keys are not accepted');
        const info = await apiKeys.verify(credential.key);
        const roles = options.apiKeyRoles === undefined ? [] : [...(await options.apiKeyRoles(info))];
        return {
          id: info.id,
          type: 'api-key',
          roles,
          scopes: info.scopes,
          attributes: { owner: info.owner, name: info.name },
        };
      }
      const claims = await tokens.verify(credential.token);
      if (!EMERGENCY_CLAIMS.some((name) => claims[name] !== undefined)) return userPrincipal(claims);
      // Security: an emergency token is only as good as its break-glass session,
      // which tokens.verify() does not look at (an ended or idle session's token
      // still has a valid signature until it is revoked). Fail closed without it.
      if (breakGlass === undefined) throw refused('emergency tokens are not accepted');
      const bg = await breakGlass.verify(credential.token);
      const sessionId = typeof bg.bg_sid === 'string' ? bg.bg_sid : bg.sid;
      const scope = scopeOf(strings(bg.bg_scope));
      const emergency: EmergencyGrant = {
        sessionId,
        approvers: strings(bg.approvers),
        actions: [...scope.actions],
        ...(scope.resources === undefined ? {} : { resources: [...scope.resources] }),
        expiresAt: new Date(bg.exp * 1000),
      };
      return {
        ...userPrincipal(bg),
        emergency,
        attributes: {
          ...(typeof bg.approval_id === 'string' ? { approvalId: bg.approval_id } : {}),
          ...(typeof bg.bg_request === 'string' ? { breakGlassRequestId: bg.bg_request } : {}),
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------

/** Options of {@link authorizerFrom}. */
export interface AuthorizerFromOptions {
  /** Cedar namespace of the principal, resource and break-glass entity types. Default `Provisioning`. */
  readonly namespace?: string;
  /**
   * Options of authz's `createContextBuilder` (trusted CIDR ranges, time zone,
   * named windows). Default: the authorizer's clock, no trusted ranges.
   */
  readonly context?: ContextBuilderOptions;
  /** A context builder to use instead of building one from `context`. */
  readonly contextBuilder?: ContextBuilder;
  /**
   * How the principal's entity reaches Cedar.
   * - `'inline'` (default): built from the principal — parents `Role::"<role>"` for each
   *   token role and `Team::"<team>"` for each `attributes.teams`; attributes
   *   `email`, `username`, `mfa_enabled`, `created_at` from `attributes` (schema-required,
   *   empty strings when unknown).
   * - `'provider'`: not sent; the authorizer's entity provider loads it.
   * - a function returning the entity (or `undefined` to let the provider load it).
   */
  readonly principalEntity?: 'inline' | 'provider' | ((principal: Principal) => CedarEntity | undefined);
  /** More entities to send with a request (they win over the provider's). */
  readonly entities?: (request: AuthorizationRequest) => readonly CedarEntity[];
  /**
   * Reuse decisions for identical Cedar requests within the same second.
   * Default off: every request is evaluated by Cedar.
   *
   * The key is the whole request as sent to Cedar — policy-set version,
   * principal, inline entities (roles, teams, break-glass session), action,
   * resource and the complete context, which holds the time to the second and
   * the MFA age — so a cached decision is the one Cedar would return, except
   * that entities loaded by the authorizer's provider (resource attributes,
   * memberships) are seen up to one second later (on top of the provider's own
   * cache TTL). A policy reload changes the version and takes effect at once.
   * Decisions with evaluation errors are never cached. The cache is emptied
   * every second and when it reaches `maxEntries` (default 10,000).
   */
  readonly decisionCache?: boolean | { readonly maxEntries?: number };
}

// The errors of a decision without any (shared: decisions are frozen and only read).
const NO_ERRORS: readonly string[] = Object.freeze([]);

// The most inline principal entities authorizerFrom keeps as snapshots.
const PRINCIPAL_SNAPSHOTS = 10_000;

// Keys of the chain's context that are translated, not passed through.
const CHAIN_CONTEXT_KEYS = new Set(['mfa', 'ip', 'time', 'emergency', 'approvalId', 'force', 'request']);

/**
 * An {@link Authorizer} over `@provisioning/authz`'s Cedar engine: the
 * principal becomes `<ns>::User::"<id>"` (an API key acts as its owner, and
 * only within its scopes: an action outside them is denied before Cedar),
 * the resource `<ns>::<Type>::"<id>"` (bare types are put in the namespace),
 * and the chain's context goes through authz's context builder (MFA and its
 * age, client IP and trusted ranges, time, approval id, break-glass session,
 * `force`, `request`; other route context keys are passed as they are).
 * An emergency principal's approval id and `BreakGlassSession` entity come
 * from its verified token, never from the request; a client-supplied
 * `EMERGENCY-…` approval id from a non-emergency principal is dropped.
 *
 * Any engine error rejects (the chain denies), and evaluation errors are
 * returned in `errors` (the chain denies): fail closed twice.
 *
 * @example
 * ```ts
 * const authz = await createAuthorizer({ policyDir: shippedPolicyDir, entities });
 * const authorizer = authorizerFrom(authz, { context: { trustedRanges: ['203.0.113.0/24'] } });
 * ```
 */
export function authorizerFrom(
  authz: Pick<AuthzAuthorizer, 'authorize' | 'clock' | 'version'>,
  options: AuthorizerFromOptions = {},
): Authorizer {
  if (typeof authz?.authorize !== 'function') throw invalidOptions('authorizerFrom needs an authz Authorizer');
  const cacheOption = options.decisionCache ?? false;
  const maxCached = cacheOption === true ? 10_000 : cacheOption === false ? 0 : (cacheOption.maxEntries ?? 10_000);
  if (!Number.isSafeInteger(maxCached) || maxCached < 0) throw invalidOptions('decisionCache.maxEntries must be >= 0');
  const cache = new Map<string, AuthorizationDecision>();
  let cacheSecond = Number.NaN;
  const ns = options.namespace ?? 'Provisioning';
  if (!/^(?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*$/.test(ns)) throw invalidOptions('invalid namespace');
  const mode = options.principalEntity ?? 'inline';
  if (mode !== 'inline' && mode !== 'provider' && typeof mode !== 'function')
    throw invalidOptions("principalEntity must be 'inline', 'provider' or a function");
  const userType = `${ns}::User`;

  // authz is an optional peer: load its context builder only when a decision is made.
  // Once loaded it is used directly, without an await per decision.
  let loadedBuilder: ContextBuilder | undefined = options.contextBuilder;
  let builder: Promise<ContextBuilder> | undefined;
  // authz's snapshotEntity, once the module is loaded (until then, and if it
  // cannot be loaded, inline entities are sent as plain objects).
  let snapshotOf: ((entity: CedarEntity) => CedarEntity) | undefined;
  let snapshotsLoading = false;
  const contexts = (): Promise<ContextBuilder> => {
    builder ??= import('@provisioning/authz').then((m) => {
      loadedBuilder = m.createContextBuilder({ clock: authz.clock, ...options.context });
      return loadedBuilder;
    });
    return builder;
  };
  const loadSnapshots = (): void => {
    if (snapshotsLoading) return;
    snapshotsLoading = true;
    void import('@provisioning/authz').then(
      (m) => {
        if (typeof m.snapshotEntity === 'function') snapshotOf = m.snapshotEntity;
      },
      () => undefined,
    );
  };

  const principalUid = (p: Principal): EntityRef => {
    const owner = p.attributes?.owner;
    return { type: userType, id: p.type === 'api-key' && typeof owner === 'string' ? owner : p.id };
  };
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
  const roleType = `${ns}::Role`;
  const teamType = `${ns}::Team`;
  const inlinePrincipal = (p: Principal, uid: EntityRef): CedarEntity => {
    const a = p.attributes ?? {};
    // Loops rather than two mapped arrays spread into a third: one array per request.
    const parents: EntityRef[] = [];
    for (const role of p.roles) parents.push({ type: roleType, id: role });
    if (Array.isArray(a.teams)) {
      for (const team of a.teams) if (typeof team === 'string') parents.push({ type: teamType, id: team });
    }
    return {
      uid,
      attrs: {
        email: text(a.email, ''),
        username: text(a.username, uid.id),
        mfa_enabled: p.mfaAt !== undefined || a.mfaEnabled === true,
        created_at: text(a.createdAt, ''),
      },
      parents,
    };
  };
  // The inline principal entity as a frozen snapshot, kept by its content:
  // authz converts and checks a snapshot once and reuses that in every
  // decision (a plain object is converted afresh each time, ~10% of a
  // decision). Safe because the key is everything the entity is made of (the
  // uid, roles, teams and the four attributes, JSON-encoded, so two
  // principals with any difference get two entities) and a snapshot cannot
  // be changed by anyone. This reuses an input, never a decision. Bounded:
  // emptied when full.
  const principalSnapshots = new Map<string, CedarEntity>();
  // A frozen principal of authenticatorFrom's (see frozenPrincipals) finds its
  // entity by identity, without building the content key.
  const snapshotByPrincipal = new WeakMap<Principal, CedarEntity>();
  // A number per content key, kept on the entities made from it, for the
  // decision cache's key: numbers are never reused and a key's entity never
  // changes, so the same number is the same entity. The plain entities sent
  // before authz's snapshotEntity is loaded get their content's number too,
  // so a decision cached then still answers once snapshots are sent.
  const contentIds = new Map<string, number>();
  const entityIds = new WeakMap<CedarEntity, number>();
  let nextId = 0;
  const inlineSnapshot = (p: Principal, uid: EntityRef): CedarEntity => {
    const known = snapshotByPrincipal.get(p);
    if (known !== undefined) return known;
    // Roles other than strings make an entity authz refuses: sent as they are, not kept.
    if (!p.roles.every((r) => typeof r === 'string')) return inlinePrincipal(p, uid);
    const a = p.attributes ?? {};
    const key = JSON.stringify([
      uid.id,
      p.roles,
      Array.isArray(a.teams) ? a.teams.filter((t) => typeof t === 'string') : [],
      text(a.email, ''),
      text(a.username, uid.id),
      p.mfaAt !== undefined || a.mfaEnabled === true,
      text(a.createdAt, ''),
    ]);
    if (principalSnapshots.size >= PRINCIPAL_SNAPSHOTS) {
      principalSnapshots.clear();
      contentIds.clear();
    }
    let id = contentIds.get(key);
    if (id === undefined) {
      id = nextId++;
      contentIds.set(key, id);
    }
    const snap = snapshotOf;
    if (snap === undefined) {
      const plain = inlinePrincipal(p, uid);
      entityIds.set(plain, id);
      return plain;
    }
    let entity = principalSnapshots.get(key);
    if (entity === undefined) {
      entity = snap(inlinePrincipal(p, uid));
      entityIds.set(entity, id);
      principalSnapshots.set(key, entity);
    }
    if (frozenPrincipals.has(p)) snapshotByPrincipal.set(p, entity);
    return entity;
  };
  const resourceUid = (type: string, id: string): EntityRef => ({
    type: type.includes('::') ? type : `${ns}::${type}`,
    id,
  });

  return {
    async authorize(request) {
      const { principal, action, resource, context } = request;
      // API keys act for their owner, but only within their scopes.
      if (principal.type === 'api-key') {
        const scopes = principal.scopes ?? [];
        if (!scopes.includes('*') && !scopes.includes(action)) {
          return { allowed: false, policyIds: ['api-key-scope'], errors: [] };
        }
      }
      const uid = principalUid(principal);
      const entities: CedarEntity[] = [];
      if (snapshotOf === undefined) loadSnapshots();
      const own =
        typeof mode === 'function' ? mode(principal) : mode === 'inline' ? inlineSnapshot(principal, uid) : undefined;
      if (own !== undefined) entities.push(own);

      const emergency = principal.emergency;
      let approvalId: string | undefined;
      let breakGlassSession: EntityRef | undefined;
      if (emergency !== undefined) {
        approvalId = text(principal.attributes?.approvalId, '') || undefined;
        breakGlassSession = { type: `${ns}::BreakGlassSession`, id: emergency.sessionId };
        // The session's facts come from the verified emergency token (break-glass
        // verified it is active); its reason is not in the token: the approval id stands in.
        entities.push({
          uid: breakGlassSession,
          attrs: {
            requester: { __entity: uid },
            approved: true,
            reason: approvalId ?? emergency.sessionId,
            expires_at: Math.floor((emergency.expiresAt?.getTime() ?? 0) / 1000),
          },
          parents: [],
        });
      } else if (typeof context.approvalId === 'string' && !context.approvalId.startsWith('EMERGENCY-')) {
        // Security: EMERGENCY-… ids lift production guards; only a verified emergency token carries one.
        approvalId = context.approvalId;
      }

      const mfa = context.mfa as { present?: unknown } | undefined;
      let extra: Record<string, CedarValue> | undefined;
      for (const key of Object.keys(context)) {
        const value = context[key];
        if (CHAIN_CONTEXT_KEYS.has(key) || value === undefined) continue;
        extra ??= {};
        extra[key] = value as CedarValue;
      }
      const timeText = typeof context.time === 'string' ? context.time : undefined;
      const request_ = context.request as { method?: string; path?: string; requestId?: string } | undefined;
      // Only the keys that apply, as before (the builder tells absent from undefined).
      const input: { -readonly [K in keyof ContextInput]: ContextInput[K] } = {
        clientIp: text(context.ip, ''),
        mfaVerifiedAt: mfa?.present === true && principal.mfaAt !== undefined ? principal.mfaAt : null,
      };
      if (timeText !== undefined) input.at = Date.parse(timeText);
      if (approvalId !== undefined) input.approvalId = approvalId;
      if (breakGlassSession !== undefined) input.breakGlassSession = breakGlassSession;
      if (typeof context.force === 'boolean') input.force = context.force;
      if (request_ !== undefined) input.request = request_;
      if (extra !== undefined) input.extra = extra;
      const cedarContext = (loadedBuilder ?? (await contexts())).build(input);
      if (options.entities !== undefined) entities.push(...options.entities(request));

      const cedarRequest = {
        principal: uid,
        action,
        resource: resourceUid(resource.type, resource.id),
        context: cedarContext,
        entities,
      };
      let key: string | undefined;
      let version: string | undefined;
      if (maxCached > 0) {
        // The context carries the decision time to the second: a new second is a new key space.
        const second = (cedarContext.time as { epoch_seconds?: number } | undefined)?.epoch_seconds ?? Number.NaN;
        if (second !== cacheSecond || cache.size >= maxCached) {
          cache.clear();
          cacheSecond = second;
        }
        version = authz.version;
        // The inline principal entity (always entities[0] when there is one)
        // goes into the key as its content's number rather than as its JSON:
        // same number, same entity. Any other entity is in the key in full.
        const ownId = own === undefined ? undefined : entityIds.get(own);
        key =
          ownId === undefined
            ? JSON.stringify([version, cedarRequest])
            : JSON.stringify([
                version,
                ownId,
                uid,
                action,
                cedarRequest.resource,
                cedarContext,
                entities.length === 1 ? [] : entities.slice(1),
              ]);
        const hit = cache.get(key);
        if (hit !== undefined) return hit;
      }
      const decision = await authz.authorize(cedarRequest);
      const result: AuthorizationDecision = Object.freeze({
        allowed: decision.allowed,
        policyIds: decision.policyIds,
        errors:
          decision.errors.length === 0
            ? NO_ERRORS
            : decision.errors.map((e) => (e.policyId === undefined ? e.message : `${e.policyId}: ${e.message}`)),
        version: decision.policySetVersion,
      });
      // Only the version that decided may answer for it (a reload may have happened meanwhile).
      if (key !== undefined && result.errors?.length === 0 && decision.policySetVersion === version) {
        cache.set(key, result);
      }
      return result;
    },
  };
}

// ---------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------

/** The chain's audit action names (`SecurityAuditEvent.action`). */
export type ChainAuditAction =
  | 'authz.allowed'
  | 'breakglass.used'
  | 'authz.denied'
  | 'authz.error'
  | 'auth.missing'
  | 'auth.failed'
  | 'auth.error'
  | 'mfa.required'
  | 'breakglass.denied'
  | 'ratelimit.exceeded'
  | 'chain.error'
  | 'operation.completed';

/**
 * How the chain's events map to `@provisioning/audit` actions (schema version 1,
 * which has no action of its own for API requests, refused credentials or rate
 * limits): the nearest action, with the chain's own name kept in `metadata.event`.
 * `operation.completed` takes the action of the request's decision
 * (`authz.allowed`, or `break_glass.used` with emergency access).
 */
export const DEFAULT_AUDIT_ACTIONS: Readonly<Record<ChainAuditAction, AuditAction | 'decision'>> = Object.freeze({
  'authz.allowed': 'authz.allowed',
  'breakglass.used': 'break_glass.used',
  'authz.denied': 'authz.denied',
  'authz.error': 'authz.denied',
  'auth.missing': 'authz.denied',
  'auth.failed': 'auth.login.failed',
  'auth.error': 'auth.login.failed',
  'mfa.required': 'authz.denied',
  'breakglass.denied': 'authz.denied',
  'ratelimit.exceeded': 'authz.denied',
  'chain.error': 'authz.denied',
  'operation.completed': 'decision',
});

/** Options of {@link auditRecorderFrom}. */
export interface AuditRecorderFromOptions {
  /**
   * Overrides of {@link DEFAULT_AUDIT_ACTIONS}; `null` skips the chain event
   * (e.g. `{ 'operation.completed': null }` to keep only decisions).
   */
  readonly actions?: Partial<Record<ChainAuditAction, AuditAction | 'decision' | null>>;
  /** The retention class of events done with emergency access. Default `break_glass` (7 years). */
  readonly breakGlassRetention?: string;
}

const ACTOR_TYPES: Readonly<Record<Principal['type'], AuditActorType>> = {
  user: 'user',
  'api-key': 'api_key',
  service: 'service',
};

// A loose IP check (audit validates strictly): the chain writes `unknown` when
// it has no socket address, which audit would refuse.
const IP_CHARS = /^[0-9a-fA-F:.]+$/;
const IP_SEPARATOR = /[.:]/;
const looksLikeIp = (value: string): boolean => IP_CHARS.test(value) && IP_SEPARATOR.test(value);

/**
 * An {@link AuditRecorder} over `@provisioning/audit`'s log (or any of its
 * `AuditSink`s): each chain event becomes one audit event — action per
 * {@link DEFAULT_AUDIT_ACTIONS}, outcome as the chain says, actor (`anonymous`
 * before authentication; `api_key` for API keys) with IP and user agent,
 * resource `Type::id`, reason, request and session ids, policy-set version,
 * and `metadata` (`event`, `kind`, `operation`, `status`, `latencyMs`,
 * `policyIds`, `emergencySessionId`). Anything done with emergency access is
 * kept in the `break_glass` retention class (7 years). `record()` only
 * validates and queues; the chain already calls it off the response path and
 * reports its failures to `onAuditError`.
 *
 * @example
 * ```ts
 * const log = await createAuditLog({ sinks: [jsonlSink({ directory: './data/audit' })] });
 * const chain = createSecurityChain({ authenticator, authorizer, audit: auditRecorderFrom(log) });
 * ```
 */
export function auditRecorderFrom(log: AuditSink, options: AuditRecorderFromOptions = {}): AuditRecorder {
  if (typeof log?.record !== 'function') throw invalidOptions('auditRecorderFrom needs an audit log or sink');
  const table: Record<string, AuditAction | 'decision' | null> = { ...DEFAULT_AUDIT_ACTIONS, ...options.actions };
  const breakGlassRetention = options.breakGlassRetention ?? 'break_glass';

  return {
    record(event: SecurityAuditEvent) {
      const emergency = event.retention === 'break-glass';
      let action = Object.hasOwn(table, event.action) ? table[event.action] : 'authz.denied';
      if (action === null || action === undefined) return undefined;
      if (action === 'decision') action = emergency ? 'break_glass.used' : 'authz.allowed';
      const metadata: Record<string, JsonValue> = { event: event.action, kind: event.kind };
      if (event.operation !== undefined) metadata.operation = event.operation;
      if (event.status !== undefined) metadata.status = event.status;
      if (event.latencyMs !== undefined) metadata.latencyMs = Math.round(event.latencyMs * 1000) / 1000;
      if (event.policyIds !== undefined) metadata.policyIds = [...event.policyIds];
      if (event.emergencySessionId !== undefined) metadata.emergencySessionId = event.emergencySessionId;
      const { actor } = event;
      // Optional fields are set only when present, as the spreads did (audit
      // rebuilds the event in canonical order, so the order here is free).
      const actorIn: { -readonly [K in keyof AuditEventInput['actor']]: AuditEventInput['actor'][K] } = {
        id: actor.id ?? 'anonymous',
        type: actor.id === undefined ? 'anonymous' : (ACTOR_TYPES[actor.type ?? 'user'] ?? 'user'),
      };
      if (actor.roles !== undefined && actor.roles.length > 0) actorIn.roles = [...actor.roles];
      if (looksLikeIp(actor.ip)) actorIn.ip = actor.ip;
      if (actor.userAgent !== undefined) actorIn.userAgent = actor.userAgent;
      const input: { -readonly [K in keyof AuditEventInput]: AuditEventInput[K] } = {
        action,
        outcome: event.outcome,
        actor: actorIn,
        requestId: event.requestId,
        metadata,
      };
      if (event.resource !== undefined) input.resource = { type: event.resource.type, id: event.resource.id };
      if (event.reason !== undefined) input.reason = event.reason;
      if (event.sessionId !== undefined) input.sessionId = event.sessionId;
      if (event.policyVersion !== undefined) input.policyVersion = event.policyVersion;
      if (emergency) input.retention = breakGlassRetention;
      return log.record(input);
    },
  };
}

// ---------------------------------------------------------------------------
// Break-glass audit
// ---------------------------------------------------------------------------

const BREAK_GLASS_ACTIONS: Readonly<Record<BreakGlassAuditEvent['type'], AuditAction>> = Object.freeze({
  'breakglass.requested': 'break_glass.requested',
  'breakglass.approved': 'break_glass.approved',
  'breakglass.denied': 'break_glass.denied',
  'breakglass.activated': 'break_glass.activated',
  'breakglass.revoked': 'break_glass.revoked',
  'breakglass.expired': 'break_glass.expired',
  // Audit schema v1 has no action of its own for the inactivity timeout: the
  // session expired early; `metadata.event` keeps break-glass's name.
  'breakglass.inactive': 'break_glass.expired',
});

/** Options of {@link breakGlassAuditFrom}. */
export interface BreakGlassAuditFromOptions {
  /** The retention class of break-glass events. Default `break_glass` (7 years). */
  readonly retention?: string;
  /**
   * Wait for stable storage before the step goes ahead. Default `true`:
   * break-glass performs no step whose audit record failed, and a record that
   * is only queued has not been stored yet.
   */
  readonly durable?: boolean;
}

/**
 * A break-glass {@link BreakGlassAuditSink} (what `createBreakGlass({ audit })`
 * takes) over `@provisioning/audit`'s log: each step becomes one
 * `break_glass.*` event in the `break_glass` retention class (7 years), actor
 * the person (`user`) or `system` (the monitor), resource
 * `break_glass_request`, the session id, and the step's secret-free details in
 * `metadata`. Writes are durable by default, so a step never happens without
 * its record on disk.
 *
 * @example
 * ```ts
 * const bg = createBreakGlass({ tokens, store, audit: breakGlassAuditFrom(log), notifier });
 * ```
 */
export function breakGlassAuditFrom(
  log: { record(event: AuditEventInput, options?: { durable?: boolean }): unknown },
  options: BreakGlassAuditFromOptions = {},
): BreakGlassAuditSink {
  if (typeof log?.record !== 'function') throw invalidOptions('breakGlassAuditFrom needs an audit log or sink');
  const retention = options.retention ?? 'break_glass';
  const durable = options.durable ?? true;
  return {
    async write(event) {
      const metadata: Record<string, JsonValue> = {
        event: event.type,
        severity: event.severity,
        retentionDays: event.retentionDays,
      };
      for (const [key, value] of Object.entries(event.details)) metadata[key] = toJson(value);
      await log.record(
        {
          action: BREAK_GLASS_ACTIONS[event.type] ?? 'break_glass.used',
          outcome: event.type === 'breakglass.denied' ? 'denied' : 'success',
          actor: event.actor === 'system' ? { id: 'system', type: 'system' } : { id: event.actor.id, type: 'user' },
          resource: { type: 'break_glass_request', id: event.requestId },
          ...(event.sessionId === undefined ? {} : { sessionId: event.sessionId }),
          metadata,
          retention,
        },
        { durable },
      );
    },
  };
}

// Break-glass details are plain data (strings, numbers, lists); anything else is dropped to a string.
function toJson(value: unknown): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toJson(v)]));
  }
  return String(value);
}
