import type { Clock, KeyValueStore, RandomSource } from '@provisioning/core';
import { systemClock, systemRandom, uuidv7 } from '@provisioning/core';
import { AuthError, authError, invalidOptions } from './errors.js';
import { enc, storePrefix } from './revocation.js';
import type { AccessTokenClaims, TokenService } from './tokens.js';

/** Break-glass hard limits. Configuration may tighten them, never lift them. */
export const BREAK_GLASS_LIMITS: Readonly<{
  maxDurationSeconds: number;
  minApprovers: number;
  minApproverTeams: number;
  maxInactivitySeconds: number;
}> = Object.freeze({
  /** Longest emergency session: 4 hours. */
  maxDurationSeconds: 4 * 3600,
  /** Fewest distinct approvers. */
  minApprovers: 2,
  /** Fewest distinct teams among the approvers. */
  minApproverTeams: 2,
  /** Longest inactivity timeout (a longer one would amount to switching it off). */
  maxInactivitySeconds: 4 * 3600,
});

/** Audit records of break-glass are kept for 7 years (2,555 days). */
export const BREAK_GLASS_RETENTION_DAYS = 2555;

/** A person taking part in break-glass. The host application vouches for `id` and `team`. */
export interface BreakGlassActor {
  readonly id: string;
  readonly team: string;
}

/** The audit event of every break-glass step. */
export interface BreakGlassAuditEvent {
  readonly type:
    | 'breakglass.requested'
    | 'breakglass.approved'
    | 'breakglass.denied'
    | 'breakglass.activated'
    | 'breakglass.revoked'
    | 'breakglass.expired'
    | 'breakglass.inactive';
  readonly at: Date;
  readonly requestId: string;
  readonly sessionId?: string;
  /** Who acted; `system` for the monitor. */
  readonly actor: BreakGlassActor | 'system';
  /** Secret-free facts (reason, scope, approvers, duration …). Never a token. */
  readonly details: Readonly<Record<string, unknown>>;
  /** Always 2,555 days (7 years): sinks must keep the event at least this long. */
  readonly retentionDays: number;
  readonly severity: 'critical' | 'high';
}

/**
 * Where break-glass audit events go (e.g. `@provisioning/audit`'s writer, through an adapter).
 * A rejected `write` aborts the step (fail closed): no emergency access without its audit record.
 */
export interface AuditSink {
  write(event: BreakGlassAuditEvent): Promise<void>;
}

/** An alert about a break-glass step, for people on call. */
export interface BreakGlassAlert {
  readonly event: BreakGlassAuditEvent;
  /** One line for a chat message or page. */
  readonly summary: string;
}

/** Sends alerts. Failures are reported to `onError` and do not block the step (the audit record is the guarantee). */
export interface Notifier {
  notify(alert: BreakGlassAlert): Promise<void>;
}

/** The state of a break-glass request. */
export type BreakGlassStatus = 'pending' | 'approved' | 'denied' | 'active' | 'ended' | 'expired';

/** A break-glass request with its approvals and session. */
export interface BreakGlassRequest {
  readonly id: string;
  readonly requester: BreakGlassActor;
  readonly reason: string;
  readonly justification: string;
  readonly scope: readonly string[];
  readonly durationSeconds: number;
  readonly createdAt: Date;
  readonly status: BreakGlassStatus;
  readonly approvals: ReadonlyArray<{
    readonly approver: BreakGlassActor;
    readonly at: Date;
    readonly comment?: string;
  }>;
  readonly denial?: { readonly by: BreakGlassActor; readonly at: Date; readonly reason: string };
  readonly sessionId?: string;
  readonly activatedAt?: Date;
  readonly expiresAt?: Date;
  readonly ended?: { readonly at: Date; readonly reason: 'revoked' | 'expired' | 'inactive'; readonly by: string };
}

/** What {@link BreakGlass.request} takes. */
export interface BreakGlassRequestInput {
  readonly requester: BreakGlassActor;
  /** Short reason (incident id …), 1–200 characters. */
  readonly reason: string;
  /** Why normal access does not suffice, 10–4000 characters. */
  readonly justification: string;
  /** What the access covers (resource patterns, environments). At least one entry. */
  readonly scope: readonly string[];
  /** Session length in seconds, 60 to 14,400 (4 h) or the configured lower maximum. */
  readonly durationSeconds: number;
}

/** Options of {@link createBreakGlass}. Limits may only be tightened. */
export interface BreakGlassOptions {
  /** Issues and revokes the emergency tokens. */
  readonly tokens: TokenService;
  /** Shared state (requests, approvals, sessions). */
  readonly store: KeyValueStore;
  /** Required: every step is audited. */
  readonly audit: AuditSink;
  /** Required: every step alerts. */
  readonly notifier: Notifier;
  /** Longest session, seconds. Default and maximum 14,400 (4 h). */
  readonly maxDurationSeconds?: number;
  /** Session ends after this long without use, seconds. Default 1800 (30 min); 60 to 14,400. */
  readonly inactivityTimeoutSeconds?: number;
  /** Approvers needed. Default and minimum 2. */
  readonly requiredApprovals?: number;
  /** Distinct approver teams needed. Default and minimum 2. */
  readonly requiredTeams?: number;
  /** How long a request may wait for approval and activation, seconds. Default 3600. */
  readonly requestTtlSeconds?: number;
  /** Roles of the emergency token. Default `['Admin']`. */
  readonly emergencyRoles?: readonly string[];
  /** How often the background monitor checks sessions, ms. Default 30,000; 100 to 60,000. */
  readonly monitorIntervalMs?: number;
  /** Receives notifier and monitor failures (never secrets). */
  readonly onError?: (error: unknown) => void;
  readonly prefix?: string;
  readonly clock?: Clock;
  readonly random?: RandomSource;
}

/**
 * How the requester authenticated for the session they activate from, as their
 * verified access token says (`amr`, `mfa_at`, `auth_time`). The emergency
 * token carries these facts, so an MFA step-up rule sees what the requester
 * actually proved; without them the emergency token claims no MFA and such
 * rules refuse it. Nothing here is invented by break-glass.
 */
export interface ActivationAuthentication {
  /** Authentication methods (RFC 8176), e.g. `['pwd', 'otp']`. Default `['pwd']`. */
  readonly amr?: readonly string[];
  /** When the requester last passed MFA. */
  readonly mfaAt?: Date;
  /** When the requester authenticated. Default: the activation time. */
  readonly authTime?: Date;
}

/** What {@link BreakGlass.activate} returns. */
export interface EmergencyAccess {
  /** The emergency access token (claims `emergency: true`, `bg_sid`, `bg_request`, `approvers`, `approval_id`). */
  readonly token: string;
  readonly sessionId: string;
  readonly expiresAt: Date;
}

/** Break-glass emergency access. See {@link createBreakGlass}. */
export interface BreakGlass {
  /** Files a request. @throws AuthError `ERR_AUTH_INVALID_INPUT`, `ERR_AUTH_BREAK_GLASS_DENIED` (duration over the limit), `ERR_AUTH_AUDIT_FAILED`. */
  request(input: BreakGlassRequestInput): Promise<BreakGlassRequest>;
  /**
   * Approves. The requester cannot approve; each approver counts once.
   * @throws AuthError `ERR_AUTH_BREAK_GLASS_DENIED` (self, duplicate, not pending), `ERR_AUTH_BREAK_GLASS_NOT_FOUND`, `ERR_AUTH_AUDIT_FAILED`.
   */
  approve(requestId: string, approver: BreakGlassActor, comment?: string): Promise<BreakGlassRequest>;
  /** Denies: the request ends for good. @throws AuthError `ERR_AUTH_BREAK_GLASS_DENIED` when already activated or denied. */
  deny(requestId: string, by: BreakGlassActor, reason: string): Promise<BreakGlassRequest>;
  /**
   * The requester starts the emergency session once approved (2 approvers from 2 teams).
   * `authentication` passes on how the requester authenticated (from their verified token).
   * @throws AuthError `ERR_AUTH_BREAK_GLASS_DENIED` (not approved, denied, expired, already activated, not the requester), `ERR_AUTH_INVALID_INPUT` (authentication facts in the future).
   */
  activate(requestId: string, by: BreakGlassActor, authentication?: ActivationAuthentication): Promise<EmergencyAccess>;
  /**
   * Verifies an emergency token and records the use: token checks and revocation
   * (via the token service), then expiry and inactivity, enforced here even if the monitor lags.
   * @throws AuthError any token code, or `ERR_AUTH_BREAK_GLASS_INACTIVE`.
   */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Ends a session now. Resolves `false` if it had already ended. */
  revoke(requestId: string, by: BreakGlassActor, reason: string): Promise<boolean>;
  /** The request, or `undefined`. */
  get(requestId: string): Promise<BreakGlassRequest | undefined>;
  /** Ends every session past its expiry or inactivity timeout; resolves how many ended. The monitor calls it. */
  enforce(): Promise<number>;
  /** Starts the background monitor (idempotent). Its timer is unref'd. */
  start(): void;
  /** Stops the monitor and waits for a running check: no timer is left behind. */
  stop(): Promise<void>;
  /** The effective limits. */
  readonly limits: Readonly<{
    maxDurationSeconds: number;
    inactivityTimeoutSeconds: number;
    requiredApprovals: number;
    requiredTeams: number;
  }>;
}

interface Base {
  id: string;
  requester: BreakGlassActor;
  reason: string;
  justification: string;
  scope: string[];
  durationSeconds: number;
  createdAt: number;
}
interface Activation {
  sessionId: string;
  activatedAt: number;
  expiresAt: number;
  jti: string;
  exp: number;
}

const NAME = /^[^\s\p{Cc}]{1,128}$/u;

function actor(value: unknown, field: string): BreakGlassActor {
  const a = value as BreakGlassActor;
  if (typeof a?.id !== 'string' || !NAME.test(a.id) || typeof a.team !== 'string' || !NAME.test(a.team)) {
    throw authError('ERR_AUTH_INVALID_INPUT', `${field} needs an id and a team`);
  }
  return { id: a.id, team: a.team };
}

// The requester's authentication facts for the emergency token. A time in the
// future would let a stale MFA look fresh to step-up rules, so it is refused;
// the list itself is validated by the token service.
function authenticationFacts(
  value: ActivationAuthentication | undefined,
  nowMs: number,
): { amr?: readonly string[]; mfaAt?: Date; authTime?: Date } {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw authError('ERR_AUTH_INVALID_INPUT', 'authentication must be an object');
  }
  const time = (field: 'mfaAt' | 'authTime'): Date | undefined => {
    const d = value[field];
    if (d === undefined) return undefined;
    if (!(d instanceof Date) || Number.isNaN(d.getTime()) || d.getTime() > nowMs) {
      throw authError('ERR_AUTH_INVALID_INPUT', `authentication.${field} must be a date not in the future`);
    }
    return d;
  };
  const mfaAt = time('mfaAt');
  const authTime = time('authTime');
  return {
    ...(value.amr === undefined ? {} : { amr: value.amr }),
    ...(mfaAt === undefined ? {} : { mfaAt }),
    ...(authTime === undefined ? {} : { authTime }),
  };
}

function text(value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== 'string' || value.trim().length < min || value.length > max) {
    throw authError('ERR_AUTH_INVALID_INPUT', `${field} must be ${min}-${max} characters`);
  }
  return value;
}

/**
 * A notifier that calls `callback` for every alert.
 *
 * @example
 * ```ts
 * const notifier = callbackNotifier(async (alert) => pager.send(alert.summary));
 * ```
 */
export function callbackNotifier(callback: (alert: BreakGlassAlert) => void | Promise<void>): Notifier {
  if (typeof callback !== 'function') throw invalidOptions('callbackNotifier needs a function');
  return { notify: async (alert) => callback(alert) };
}

/** Options of {@link webhookNotifier}. */
export interface WebhookNotifierOptions {
  /** Where to POST the alert as JSON (`{ summary, event }`). Use HTTPS outside tests. */
  readonly url: string | URL;
  /** Extra headers (an authorization header for the receiver). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Request timeout, ms. Default 5000. */
  readonly timeoutMs?: number;
  /** The fetch to use. Default: the global fetch. */
  readonly fetch?: typeof fetch;
}

/**
 * A notifier that POSTs each alert as JSON to a webhook (Slack/Teams relays,
 * PagerDuty Events …). A non-2xx answer or a timeout rejects.
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` for a URL that is not http(s).
 * @example
 * ```ts
 * const notifier = webhookNotifier({ url: 'https://hooks.example/breakglass', headers: { authorization: `Bearer ${hookToken}` } });
 * ```
 */
export function webhookNotifier(options: WebhookNotifierOptions): Notifier {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw invalidOptions('webhookNotifier needs a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalidOptions('webhookNotifier needs an http(s) URL');
  const timeoutMs = options.timeoutMs ?? 5000;
  const doFetch = options.fetch ?? fetch;
  return {
    async notify(alert) {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body: JSON.stringify({ summary: alert.summary, event: alert.event }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`webhook answered ${response.status}`);
    },
  };
}

/**
 * Creates break-glass emergency access: request → ≥ 2 approvals from ≥ 2 teams
 * (never the requester; one denial ends it) → activation issues a ≤ 4 h
 * emergency token → automatic revocation at expiry or after inactivity, or
 * manual revocation. Every step is written to the audit sink (7-year
 * retention) and alerted. Limits are validated at construction: options can
 * tighten them but never switch break-glass off or lift them.
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` for a missing sink/notifier/token service or a lifted limit.
 * @example
 * ```ts
 * const bg = createBreakGlass({ tokens, store, audit: auditSink, notifier: webhookNotifier({ url }) });
 * bg.start();
 * const req = await bg.request({ requester, reason: 'INC-42', justification: 'database down, on-call needs prod access', scope: ['prod/*'], durationSeconds: 3600 });
 * await bg.approve(req.id, alice); await bg.approve(req.id, bob);
 * const { token } = await bg.activate(req.id, requester);
 * ```
 */
export function createBreakGlass(options: BreakGlassOptions): BreakGlass {
  if (options === null || typeof options !== 'object') throw invalidOptions('createBreakGlass needs options');
  // There is no switch to turn break-glass off: refuse anything that looks like one.
  for (const off of ['enabled', 'disabled', 'requireApproval', 'skipApproval']) {
    if (off in options) throw invalidOptions(`break-glass cannot be configured with "${off}"`);
  }
  const { tokens, store, audit, notifier } = options;
  if (typeof tokens?.issue !== 'function') throw invalidOptions('tokens (a TokenService) is required');
  if (typeof store?.setIfAbsent !== 'function') throw invalidOptions('store (a KeyValueStore) is required');
  if (typeof audit?.write !== 'function') throw invalidOptions('audit (an AuditSink) is required');
  if (typeof notifier?.notify !== 'function') throw invalidOptions('notifier is required');
  const L = BREAK_GLASS_LIMITS;
  const int = (name: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    const v = value ?? fallback;
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw invalidOptions(`${name} must be an integer from ${min} to ${max} (limits can be tightened, not lifted)`, {
        [name]: value,
      });
    }
    return v;
  };
  const limits = Object.freeze({
    maxDurationSeconds: int(
      'maxDurationSeconds',
      options.maxDurationSeconds,
      L.maxDurationSeconds,
      60,
      L.maxDurationSeconds,
    ),
    inactivityTimeoutSeconds: int(
      'inactivityTimeoutSeconds',
      options.inactivityTimeoutSeconds,
      1800,
      60,
      L.maxInactivitySeconds,
    ),
    requiredApprovals: int('requiredApprovals', options.requiredApprovals, L.minApprovers, L.minApprovers, 10),
    requiredTeams: int('requiredTeams', options.requiredTeams, L.minApproverTeams, L.minApproverTeams, 10),
  });
  const requestTtl = int('requestTtlSeconds', options.requestTtlSeconds, 3600, 60, 86400);
  const intervalMs = int('monitorIntervalMs', options.monitorIntervalMs, 30_000, 100, 60_000);
  const roles = options.emergencyRoles ?? ['Admin'];
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const p = storePrefix(options.prefix);
  // State outlives the request by a day so late revocations and lookups still resolve.
  const stateTtl = requestTtl + limits.maxDurationSeconds + 86400;
  const onError = (error: unknown): void => {
    try {
      options.onError?.(error);
    } catch {
      // ignore
    }
  };

  const k = {
    base: (id: string) => `${p}bg:r:${enc(id)}`,
    approval: (id: string, approver: string) => `${p}bg:a:${enc(id)}:${enc(approver)}`,
    approvals: (id: string) => `${p}bg:a:${enc(id)}:`,
    final: (id: string) => `${p}bg:f:${enc(id)}`,
    denial: (id: string) => `${p}bg:d:${enc(id)}`,
    activation: (id: string) => `${p}bg:x:${enc(id)}`,
    ended: (id: string) => `${p}bg:e:${enc(id)}`,
    active: (id: string) => `${p}bg:act:${enc(id)}`,
    activeAll: () => `${p}bg:act:`,
    lastUse: (sid: string) => `${p}bg:l:${enc(sid)}`,
    bySession: (sid: string) => `${p}bg:s:${enc(sid)}`,
  };
  const ttl = { ttlSeconds: stateTtl };
  const json = async <T>(key: string): Promise<T | undefined> => {
    const raw = await store.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  };

  const record = async (
    event: Omit<BreakGlassAuditEvent, 'at' | 'retentionDays' | 'severity'> & { severity?: 'critical' | 'high' },
    summary: string,
  ): Promise<void> => {
    const full: BreakGlassAuditEvent = {
      severity: 'critical',
      ...event,
      at: new Date(clock.now()),
      retentionDays: BREAK_GLASS_RETENTION_DAYS,
    };
    try {
      await audit.write(full);
    } catch (error) {
      throw new AuthError('the audit sink refused the break-glass event; the step was not performed', {
        code: 'ERR_AUTH_AUDIT_FAILED',
        fault: 'server',
        retryable: true,
        cause: error,
        details: { type: event.type, requestId: event.requestId },
      });
    }
    // Alerts are best effort: a chat outage must not block emergency access. The audit record is mandatory.
    notifier.notify({ event: full, summary }).catch(onError);
  };

  const load = async (id: string): Promise<BreakGlassRequest | undefined> => {
    if (typeof id !== 'string' || !NAME.test(id)) return undefined;
    const base = await json<Base>(k.base(id));
    if (base === undefined) return undefined;
    const approvalKeys = await store.list(k.approvals(id));
    const [approvals, denial, activation, ended] = await Promise.all([
      Promise.all(approvalKeys.map((key) => json<{ approver: BreakGlassActor; at: number; comment?: string }>(key))),
      json<{ by: BreakGlassActor; at: number; reason: string }>(k.denial(id)),
      json<Activation>(k.activation(id)),
      json<{ at: number; reason: 'revoked' | 'expired' | 'inactive'; by: string }>(k.ended(id)),
    ]);
    const list = approvals
      .filter((a): a is NonNullable<typeof a> => a !== undefined)
      .sort((a, b) => a.at - b.at)
      .map((a) => ({
        approver: a.approver,
        at: new Date(a.at),
        ...(a.comment === undefined ? {} : { comment: a.comment }),
      }));
    const now = clock.now();
    const teams = new Set(list.map((a) => a.approver.team));
    const enough = list.length >= limits.requiredApprovals && teams.size >= limits.requiredTeams;
    let status: BreakGlassStatus;
    if (denial !== undefined) status = 'denied';
    else if (ended !== undefined) status = 'ended';
    else if (activation !== undefined) status = now >= activation.expiresAt ? 'ended' : 'active';
    else if (now >= base.createdAt + requestTtl * 1000) status = 'expired';
    else status = enough ? 'approved' : 'pending';
    return {
      id: base.id,
      requester: base.requester,
      reason: base.reason,
      justification: base.justification,
      scope: base.scope,
      durationSeconds: base.durationSeconds,
      createdAt: new Date(base.createdAt),
      status,
      approvals: list,
      ...(denial === undefined ? {} : { denial: { by: denial.by, at: new Date(denial.at), reason: denial.reason } }),
      ...(activation === undefined
        ? {}
        : {
            sessionId: activation.sessionId,
            activatedAt: new Date(activation.activatedAt),
            expiresAt: new Date(activation.expiresAt),
          }),
      ...(ended === undefined ? {} : { ended: { at: new Date(ended.at), reason: ended.reason, by: ended.by } }),
    };
  };

  const mustLoad = async (id: string): Promise<BreakGlassRequest> => {
    const request = await load(id);
    if (request === undefined) throw authError('ERR_AUTH_BREAK_GLASS_NOT_FOUND', 'no such break-glass request');
    return request;
  };
  const denied = (reason: string, details: Record<string, unknown> = {}): AuthError =>
    authError('ERR_AUTH_BREAK_GLASS_DENIED', `break-glass step refused: ${reason}`, { reason, ...details });

  // Ends a session exactly once (setIfAbsent), whichever instance or path gets there first.
  const end = async (
    id: string,
    reason: 'revoked' | 'expired' | 'inactive',
    by: BreakGlassActor | 'system',
    note?: string,
  ): Promise<boolean> => {
    const activation = await json<Activation>(k.activation(id));
    const won = await store.setIfAbsent(
      k.ended(id),
      JSON.stringify({ at: clock.now(), reason, by: by === 'system' ? 'system' : by.id }),
      ttl,
    );
    if (!won) return false;
    if (activation !== undefined) {
      // Revoke first: the token must die even if the audit write below fails.
      await tokens.revokeSession(activation.sessionId);
      await tokens.revokeToken({ jti: activation.jti, exp: activation.exp });
    }
    await store.delete(k.active(id));
    await record(
      {
        type:
          reason === 'revoked'
            ? 'breakglass.revoked'
            : reason === 'expired'
              ? 'breakglass.expired'
              : 'breakglass.inactive',
        requestId: id,
        ...(activation === undefined ? {} : { sessionId: activation.sessionId }),
        actor: by,
        details: { reason, ...(note === undefined ? {} : { note }) },
        severity: 'high',
      },
      `Break-glass ${id} ended (${reason})`,
    );
    return true;
  };

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let started = false;

  const breakGlass: BreakGlass = {
    limits,

    async request(input) {
      const requester = actor(input?.requester, 'requester');
      const reason = text(input.reason, 'reason', 1, 200);
      const justification = text(input.justification, 'justification', 10, 4000);
      const scope = input.scope;
      if (!Array.isArray(scope) || scope.length === 0 || scope.some((s) => typeof s !== 'string' || !NAME.test(s))) {
        throw authError('ERR_AUTH_INVALID_INPUT', 'scope is a non-empty list of names');
      }
      const duration = input.durationSeconds;
      if (!Number.isSafeInteger(duration) || duration < 60)
        throw authError('ERR_AUTH_INVALID_INPUT', 'durationSeconds is an integer >= 60');
      if (duration > limits.maxDurationSeconds)
        throw denied('duration exceeds the maximum', { maxDurationSeconds: limits.maxDurationSeconds });
      const base: Base = {
        id: uuidv7(clock, random),
        requester,
        reason,
        justification,
        scope: [...scope],
        durationSeconds: duration,
        createdAt: clock.now(),
      };
      await store.set(k.base(base.id), JSON.stringify(base), ttl);
      try {
        await record(
          {
            type: 'breakglass.requested',
            requestId: base.id,
            actor: requester,
            details: { reason, justification, scope: base.scope, durationSeconds: duration },
          },
          `Break-glass requested by ${requester.id} (${requester.team}): ${reason}`,
        );
      } catch (error) {
        await store.delete(k.base(base.id)).catch(onError);
        throw error;
      }
      return mustLoad(base.id);
    },

    async approve(requestId, approverInput, comment) {
      const approver = actor(approverInput, 'approver');
      const request = await mustLoad(requestId);
      if (request.requester.id === approver.id) throw denied('the requester cannot approve their own request');
      if (request.status !== 'pending' && request.status !== 'approved')
        throw denied(`the request is ${request.status}`);
      const entry = JSON.stringify({
        approver,
        at: clock.now(),
        ...(comment === undefined ? {} : { comment: text(comment, 'comment', 0, 1000) }),
      });
      // Atomic: the same approver can never count twice, even when clicking on two instances at once.
      if (!(await store.setIfAbsent(k.approval(requestId, approver.id), entry, ttl)))
        throw denied('this approver has already approved');
      try {
        await record(
          {
            type: 'breakglass.approved',
            requestId,
            actor: approver,
            details: { approvals: request.approvals.length + 1 },
          },
          `Break-glass ${requestId} approved by ${approver.id} (${approver.team})`,
        );
      } catch (error) {
        await store.delete(k.approval(requestId, approver.id)).catch(onError);
        throw error;
      }
      return mustLoad(requestId);
    },

    async deny(requestId, byInput, reasonInput) {
      const by = actor(byInput, 'by');
      const reason = text(reasonInput, 'reason', 1, 1000);
      const request = await mustLoad(requestId);
      if (request.status !== 'pending' && request.status !== 'approved')
        throw denied(`the request is ${request.status}`);
      // Denial and activation race for one key: exactly one of them happens.
      if (!(await store.setIfAbsent(k.final(requestId), 'denied', ttl)))
        throw denied('the request was already decided');
      await store.set(k.denial(requestId), JSON.stringify({ by, at: clock.now(), reason }), ttl);
      await record(
        { type: 'breakglass.denied', requestId, actor: by, details: { reason } },
        `Break-glass ${requestId} denied by ${by.id}`,
      );
      return mustLoad(requestId);
    },

    async activate(requestId, byInput, authentication) {
      const by = actor(byInput, 'by');
      const facts = authenticationFacts(authentication, clock.now());
      const request = await mustLoad(requestId);
      if (request.requester.id !== by.id) throw denied('only the requester can activate');
      if (request.status === 'pending') {
        const teams = new Set(request.approvals.map((a) => a.approver.team)).size;
        throw denied('not enough approvals', {
          approvals: request.approvals.length,
          teams,
          requiredApprovals: limits.requiredApprovals,
          requiredTeams: limits.requiredTeams,
        });
      }
      if (request.status !== 'approved') throw denied(`the request is ${request.status}`);
      if (!(await store.setIfAbsent(k.final(requestId), 'activated', ttl)))
        throw denied('the request was already decided');
      const duration = Math.min(request.durationSeconds, limits.maxDurationSeconds);
      const sessionId = `bg-${uuidv7(clock, random)}`;
      const approvers = request.approvals.map((a) => a.approver.id);
      try {
        await record(
          {
            type: 'breakglass.activated',
            requestId,
            sessionId,
            actor: by,
            details: { approvers, scope: request.scope, durationSeconds: duration },
          },
          `Break-glass ${requestId} ACTIVE for ${by.id}, ${duration} s, approved by ${approvers.join(', ')}`,
        );
      } catch (error) {
        await store.delete(k.final(requestId)).catch(onError);
        throw error;
      }
      const issued = await tokens.issue({
        subject: by.id,
        roles,
        refresh: false,
        accessTtlSeconds: duration,
        sessionId,
        ...facts,
        claims: {
          emergency: true,
          bg_sid: sessionId,
          bg_request: requestId,
          approval_id: `EMERGENCY-${requestId}`,
          approvers,
          bg_scope: request.scope,
        },
        metadata: { label: `break-glass ${requestId}` },
      });
      const now = clock.now();
      const activation: Activation = {
        sessionId,
        activatedAt: now,
        expiresAt: issued.accessExpiresAt.getTime(),
        jti: issued.jti,
        exp: Math.floor(issued.accessExpiresAt.getTime() / 1000),
      };
      await Promise.all([
        store.set(k.activation(requestId), JSON.stringify(activation), ttl),
        store.set(k.active(requestId), '1', ttl),
        store.set(k.lastUse(sessionId), String(now), ttl),
        store.set(k.bySession(sessionId), requestId, ttl),
      ]);
      return { token: issued.accessToken, sessionId, expiresAt: issued.accessExpiresAt };
    },

    async verify(token) {
      const claims = await tokens.verify(token);
      const sid = claims.bg_sid;
      if (claims.emergency !== true || typeof sid !== 'string' || claims.sid !== sid) {
        throw authError('ERR_AUTH_WRONG_TOKEN_TYPE', 'not an emergency token');
      }
      const requestId = await store.get(k.bySession(sid));
      const activation = requestId === undefined ? undefined : await json<Activation>(k.activation(requestId));
      if (requestId === undefined || activation === undefined || (await store.get(k.ended(requestId))) !== undefined) {
        throw authError('ERR_AUTH_BREAK_GLASS_INACTIVE', 'the break-glass session has ended');
      }
      const now = clock.now();
      const last = Number((await store.get(k.lastUse(sid))) ?? activation.activatedAt);
      if (now >= activation.expiresAt) {
        await end(requestId, 'expired', 'system');
        throw authError('ERR_AUTH_BREAK_GLASS_INACTIVE', 'the break-glass session has expired');
      }
      if (now - last >= limits.inactivityTimeoutSeconds * 1000) {
        await end(requestId, 'inactive', 'system');
        throw authError('ERR_AUTH_BREAK_GLASS_INACTIVE', 'the break-glass session ended after inactivity');
      }
      await store.set(k.lastUse(sid), String(now), ttl);
      return claims;
    },

    async revoke(requestId, byInput, reason) {
      const by = actor(byInput, 'by');
      await mustLoad(requestId);
      return end(requestId, 'revoked', by, text(reason, 'reason', 1, 1000));
    },

    get: load,

    async enforce() {
      let ended = 0;
      const now = clock.now();
      const keys = await store.list(k.activeAll(), { limit: 10_000 });
      for (const key of keys) {
        const id = decodeURIComponent(key.slice(k.activeAll().length));
        const activation = await json<Activation>(k.activation(id));
        if (activation === undefined) continue;
        const last = Number((await store.get(k.lastUse(activation.sessionId))) ?? activation.activatedAt);
        try {
          if (now >= activation.expiresAt) ended += (await end(id, 'expired', 'system')) ? 1 : 0;
          else if (now - last >= limits.inactivityTimeoutSeconds * 1000)
            ended += (await end(id, 'inactive', 'system')) ? 1 : 0;
        } catch (error) {
          onError(error);
        }
      }
      return ended;
    },

    start() {
      if (started) return;
      started = true;
      const tick = (): void => {
        running = breakGlass
          .enforce()
          .catch(onError)
          .finally(() => {
            running = undefined;
            if (started) {
              timer = setTimeout(tick, intervalMs);
              // The monitor never keeps a process alive on its own.
              timer.unref();
            }
          });
      };
      timer = setTimeout(tick, intervalMs);
      timer.unref();
    },

    async stop() {
      started = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
  return breakGlass;
}
