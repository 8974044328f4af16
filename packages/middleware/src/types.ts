import type { HeaderReader } from './client-ip.js';

/** Break-glass facts carried by an emergency token. */
export interface EmergencyGrant {
  /** The break-glass session id. */
  readonly sessionId: string;
  /** Who approved it. */
  readonly approvers: readonly string[];
  /** The Cedar actions it was approved for (`*` for any). */
  readonly actions: readonly string[];
  /** Resource ids or prefixes (ending in `*`) it was approved for; empty means any. */
  readonly resources?: readonly string[];
  /** When it ends. */
  readonly expiresAt?: Date;
}

/** Who is making the request, as established by the authenticator. */
export interface Principal {
  readonly id: string;
  readonly type: 'user' | 'api-key' | 'service';
  readonly roles: readonly string[];
  /** The login session (`sid`), if any. */
  readonly sessionId?: string;
  /** Authentication methods (`pwd`, `otp`, `hwk`, …), as in the `amr` claim. */
  readonly amr?: readonly string[];
  /** When MFA was last performed, for step-up decisions. */
  readonly mfaAt?: Date;
  /** API-key scopes, if the credential was an API key. */
  readonly scopes?: readonly string[];
  /** Present when the credential is a break-glass emergency token. */
  readonly emergency?: EmergencyGrant;
  /** Extra attributes handed to the authorizer (team, workspace …). */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** A credential found on the request. */
export type Credential =
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'api-key'; readonly key: string };

/**
 * Establishes who presented a credential. Reject (throw anything) when the
 * credential is invalid, expired or revoked; the chain answers 401 and never
 * echoes the reason. The revocation check belongs here.
 */
export interface Authenticator {
  authenticate(credential: Credential, request: SecurityRequest): Promise<Principal>;
}

/** What a route is about, for the policy. */
export interface ResourceRef {
  /** Cedar entity type, e.g. `Provisioning::Server`. */
  readonly type: string;
  readonly id: string;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** The input of one authorization decision. */
export interface AuthorizationRequest {
  readonly principal: Principal;
  readonly action: string;
  readonly resource: ResourceRef;
  /** MFA, IP, time and request facts (see the chain's `buildContext`). */
  readonly context: Readonly<Record<string, unknown>>;
}

/** The outcome of one authorization decision. */
export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** The policies that determined it. */
  readonly policyIds?: readonly string[];
  /** Evaluation errors; any error makes the chain deny (fail closed). */
  readonly errors?: readonly string[];
  /** The policy-set version, for the audit trail. */
  readonly version?: string;
}

/** Decides requests (the authz package's engine, or any policy engine). */
export interface Authorizer {
  authorize(request: AuthorizationRequest): Promise<AuthorizationDecision>;
}

/** The audit event the chain emits, one per decision and one per completed operation. */
export interface SecurityAuditEvent {
  readonly kind: 'decision' | 'operation';
  /** e.g. `authz.allowed`, `authz.denied`, `auth.failed`, `ratelimit.exceeded`, `operation.completed`. */
  readonly action: string;
  readonly outcome: 'success' | 'failure' | 'denied';
  readonly timestamp: Date;
  readonly requestId: string;
  readonly actor: {
    readonly id?: string;
    readonly type?: Principal['type'];
    readonly roles?: readonly string[];
    readonly ip: string;
    readonly userAgent?: string;
  };
  readonly sessionId?: string;
  readonly resource?: ResourceRef;
  readonly operation?: string;
  readonly reason?: string;
  readonly status?: number;
  readonly latencyMs?: number;
  readonly policyIds?: readonly string[];
  readonly policyVersion?: string;
  /** `break-glass` (7 years) for anything done with emergency access; `default` otherwise. */
  readonly retention: 'default' | 'break-glass';
  readonly emergencySessionId?: string;
}

/** Where the chain's audit events go. Called off the response path; it may return a promise. */
export interface AuditRecorder {
  record(event: SecurityAuditEvent): unknown;
}

/** The part of a request the chain reads: a Web `Request` satisfies it, adapters build it cheaply. */
export interface SecurityRequest {
  readonly method: string;
  /** Absolute URL or path with query. */
  readonly url: string;
  readonly headers: HeaderReader;
}

/** How one route is protected. */
export interface RouteSecurity {
  /** Cedar action, e.g. `read`, `deploy`, `delete`. Required unless `public`. */
  readonly action?: string;
  /**
   * How to find the resource; default: `{ type: 'Provisioning::Api', id: <path> }`.
   * Runs after authentication and is given the principal, for resources whose
   * facts depend on who asks (e.g. a request filed by the caller, which a
   * policy compares with `principal`). A throw is a 400 (`bad_request`).
   */
  readonly resource?: (
    request: SecurityRequest,
    params: Readonly<Record<string, string>>,
    principal: Principal,
  ) => ResourceRef | Promise<ResourceRef>;
  /** No authentication or authorization (health checks, login). Rate limits still apply. */
  readonly public?: boolean;
  /** Needs an MFA performed within `mfaMaxAgeSeconds` (step-up). */
  readonly sensitive?: boolean;
  /** Overrides the chain's MFA age for this route, in seconds. */
  readonly mfaMaxAgeSeconds?: number;
  /** Extra context for the policy. */
  readonly context?: (request: SecurityRequest) => Readonly<Record<string, unknown>>;
  /**
   * What the chain audits for this route. `all` (default): every decision and
   * every completed operation. `failures`: refusals (401, 403, 429 …) and
   * operations that end with a status of 400 or more, not the allowed
   * decision and success of each call — for routes machines poll (a
   * Prometheus scrape every 15 s would write two events per scrape and
   * service). Anything done with an emergency token is audited in full.
   */
  readonly audit?: 'all' | 'failures';
}

/** Everything the chain learnt about a request, built once and handed to the handler. */
export interface SecurityContext {
  readonly requestId: string;
  readonly clientIp: string;
  readonly userAgent?: string;
  readonly startedAt: number;
  readonly principal?: Principal;
  readonly sessionId?: string;
  readonly roles: readonly string[];
  readonly amr: readonly string[];
  /** Seconds since the last MFA, if any. */
  readonly mfaAgeSeconds?: number;
  readonly emergency?: EmergencyGrant;
  readonly action?: string;
  readonly resource?: ResourceRef;
  readonly decision?: AuthorizationDecision;
  /** Rate-limit headers to put on the response. */
  readonly responseHeaders: Readonly<Record<string, string>>;
}
