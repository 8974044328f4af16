import { isIP } from 'node:net';
import type { Clock, RandomSource } from '@provisioning/core';
import { isSensitiveFieldName, REDACTED, redactString, uuidv7 } from '@provisioning/core';
import { eventJson, markCanonical } from './canonical.js';
import { AuditError } from './errors.js';

/** The version of the event schema written in every event's `v` field. */
export const AUDIT_SCHEMA_VERSION = 1 as const;

/** The families of audit actions. */
export type AuditCategory =
  | 'authentication'
  | 'mfa'
  | 'authorization'
  | 'policy'
  | 'kms'
  | 'secrets'
  | 'break_glass'
  | 'compliance'
  | 'administration'
  | 'audit';

/** The name of an audit action, e.g. `auth.login.failed` (schema version 1). */
export type AuditAction =
  | 'auth.login.succeeded'
  | 'auth.login.failed'
  | 'auth.logout'
  | 'auth.token.issued'
  | 'auth.token.refreshed'
  | 'auth.token.revoked'
  | 'auth.refresh.reuse_detected'
  | 'auth.api_key.created'
  | 'auth.api_key.used'
  | 'auth.api_key.revoked'
  | 'mfa.enrolled'
  | 'mfa.verified'
  | 'mfa.failed'
  | 'mfa.locked_out'
  | 'mfa.backup_code.used'
  | 'mfa.device.removed'
  | 'authz.allowed'
  | 'authz.denied'
  | 'policy.reload.succeeded'
  | 'policy.reload.failed'
  | 'kms.encrypt'
  | 'kms.decrypt'
  | 'kms.key.rotated'
  | 'kms.rewrap'
  | 'secrets.lease.created'
  | 'secrets.lease.renewed'
  | 'secrets.lease.revoked'
  | 'secrets.lease.expired'
  | 'break_glass.requested'
  | 'break_glass.approved'
  | 'break_glass.denied'
  | 'break_glass.activated'
  | 'break_glass.used'
  | 'break_glass.revoked'
  | 'break_glass.expired'
  | 'compliance.data.exported'
  | 'compliance.data.erased'
  | 'compliance.data.rectified'
  | 'compliance.request.extended'
  | 'compliance.incident.opened'
  | 'compliance.incident.closed'
  | 'admin.user.created'
  | 'admin.user.updated'
  | 'admin.user.deleted'
  | 'admin.role.created'
  | 'admin.role.updated'
  | 'admin.role.deleted'
  | 'admin.role.assigned'
  | 'admin.role.unassigned'
  | 'admin.config.changed'
  | 'audit.events.dropped'
  | 'audit.retention.purged';

/** What the SDK knows about one action: its family and whether the `drop` overflow policy may shed it. */
export interface AuditActionInfo {
  readonly category: AuditCategory;
  /**
   * Routine, high-volume successes the `drop` overflow policy may shed under
   * overload (counted and reported). Every other action is a security event
   * and is never dropped.
   */
  readonly droppable: boolean;
}

const a = (category: AuditCategory, droppable = false): AuditActionInfo => Object.freeze({ category, droppable });

/**
 * Every action the schema knows, with its category. Middleware and servers
 * use these names; the exports map each to ECS and OCSF.
 *
 * @example
 * ```ts
 * AUDIT_ACTIONS['auth.login.failed'].category; // 'authentication'
 * ```
 */
export const AUDIT_ACTIONS: Readonly<Record<AuditAction, AuditActionInfo>> = Object.freeze({
  'auth.login.succeeded': a('authentication'),
  'auth.login.failed': a('authentication'),
  'auth.logout': a('authentication'),
  'auth.token.issued': a('authentication'),
  'auth.token.refreshed': a('authentication', true),
  'auth.token.revoked': a('authentication'),
  'auth.refresh.reuse_detected': a('authentication'),
  'auth.api_key.created': a('authentication'),
  'auth.api_key.used': a('authentication', true),
  'auth.api_key.revoked': a('authentication'),
  'mfa.enrolled': a('mfa'),
  'mfa.verified': a('mfa'),
  'mfa.failed': a('mfa'),
  'mfa.locked_out': a('mfa'),
  'mfa.backup_code.used': a('mfa'),
  'mfa.device.removed': a('mfa'),
  'authz.allowed': a('authorization', true),
  'authz.denied': a('authorization'),
  'policy.reload.succeeded': a('policy'),
  'policy.reload.failed': a('policy'),
  'kms.encrypt': a('kms', true),
  'kms.decrypt': a('kms', true),
  'kms.key.rotated': a('kms'),
  'kms.rewrap': a('kms'),
  'secrets.lease.created': a('secrets'),
  'secrets.lease.renewed': a('secrets', true),
  'secrets.lease.revoked': a('secrets'),
  'secrets.lease.expired': a('secrets'),
  'break_glass.requested': a('break_glass'),
  'break_glass.approved': a('break_glass'),
  'break_glass.denied': a('break_glass'),
  'break_glass.activated': a('break_glass'),
  'break_glass.used': a('break_glass'),
  'break_glass.revoked': a('break_glass'),
  'break_glass.expired': a('break_glass'),
  'compliance.data.exported': a('compliance'),
  'compliance.data.erased': a('compliance'),
  'compliance.data.rectified': a('compliance'),
  'compliance.request.extended': a('compliance'),
  'compliance.incident.opened': a('compliance'),
  'compliance.incident.closed': a('compliance'),
  'admin.user.created': a('administration'),
  'admin.user.updated': a('administration'),
  'admin.user.deleted': a('administration'),
  'admin.role.created': a('administration'),
  'admin.role.updated': a('administration'),
  'admin.role.deleted': a('administration'),
  'admin.role.assigned': a('administration'),
  'admin.role.unassigned': a('administration'),
  'admin.config.changed': a('administration'),
  'audit.events.dropped': a('audit'),
  'audit.retention.purged': a('audit'),
});

/** Every action name, in schema order. */
export const AUDIT_ACTION_NAMES: readonly AuditAction[] = Object.freeze(Object.keys(AUDIT_ACTIONS) as AuditAction[]);

/** Every category name. */
export const AUDIT_CATEGORIES: readonly AuditCategory[] = Object.freeze([
  'authentication',
  'mfa',
  'authorization',
  'policy',
  'kms',
  'secrets',
  'break_glass',
  'compliance',
  'administration',
  'audit',
]);

/**
 * Whether `name` is a known action.
 *
 * @example
 * ```ts
 * if (!isAuditAction(body.action)) return badRequest();
 * ```
 */
export function isAuditAction(name: unknown): name is AuditAction {
  return typeof name === 'string' && Object.hasOwn(AUDIT_ACTIONS, name);
}

/**
 * The actions of one category.
 *
 * @example
 * ```ts
 * await log.query({ action: [...actionsOf('break_glass')] });
 * ```
 */
export function actionsOf(category: AuditCategory): readonly AuditAction[] {
  return AUDIT_ACTION_NAMES.filter((name) => AUDIT_ACTIONS[name].category === category);
}

/** How an action ended. `denied` is a refusal by policy; `failure` an error or bad credentials. */
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'unknown';
/** The outcomes, for validation and UIs. */
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = Object.freeze(['success', 'failure', 'denied', 'unknown']);

/** Who acted. */
export type ActorType = 'user' | 'service' | 'api_key' | 'system' | 'anonymous';
const ACTOR_TYPES: ReadonlySet<string> = new Set(['user', 'service', 'api_key', 'system', 'anonymous']);

/** The principal behind an event. */
export interface AuditActor {
  /** Stable identifier (user id, service name, API key id). */
  readonly id: string;
  readonly type: ActorType;
  readonly roles?: readonly string[];
  /** IPv4 or IPv6 address of the client (validated). */
  readonly ip?: string;
  readonly userAgent?: string;
}

/** What was acted on. */
export interface AuditResource {
  /** Kind of resource, e.g. `user`, `kms_key`, `secret_lease`, `policy_set`. */
  readonly type: string;
  readonly id?: string;
}

/** A JSON value allowed in `metadata`. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** What a caller passes to `record()`: the log fills in `id`, `time`, `category`, `retention` and `v`. */
export interface AuditEventInput {
  readonly action: AuditAction;
  readonly outcome: AuditOutcome;
  readonly actor: AuditActor;
  readonly resource?: AuditResource;
  /** Why (a denial reason, a ticket number). Free text; never a secret. */
  readonly reason?: string;
  readonly requestId?: string;
  readonly sessionId?: string;
  /** Version of the policy set that decided (authorization events). */
  readonly policyVersion?: string;
  /** Extra structured data. Sensitive-looking field names are redacted. */
  readonly metadata?: Readonly<Record<string, JsonValue>>;
  /** Retention class; default `break_glass` for break-glass actions, else `standard`. */
  readonly retention?: string;
}

/** A complete, normalized audit event (schema version 1). */
export interface AuditEvent {
  /** Schema version. */
  readonly v: typeof AUDIT_SCHEMA_VERSION;
  /** UUIDv7: unique and sortable by creation time. */
  readonly id: string;
  /** ISO 8601 UTC time with milliseconds. */
  readonly time: string;
  readonly action: AuditAction;
  readonly category: AuditCategory;
  readonly outcome: AuditOutcome;
  readonly actor: AuditActor;
  readonly resource?: AuditResource;
  readonly reason?: string;
  readonly requestId?: string;
  readonly sessionId?: string;
  readonly policyVersion?: string;
  readonly metadata?: Readonly<Record<string, JsonValue>>;
  /** Retention class name (see `DEFAULT_RETENTION_CLASSES`). */
  readonly retention: string;
}

/**
 * The minimal interface a component takes to emit audit events (break-glass,
 * middleware, servers): an audit log implements it, and so can a test double.
 *
 * @example
 * ```ts
 * function createBreakGlass(options: { audit: AuditSink }) {
 *   void options.audit.record({ action: 'break_glass.activated', outcome: 'success', actor: { id: 'ada', type: 'user' } });
 * }
 * ```
 */
export interface AuditSink {
  // biome-ignore lint/suspicious/noConfusingVoidType: implementations that return nothing (`void`) must fit too
  record(event: AuditEventInput): Promise<unknown> | undefined | void;
}

/** Limits applied by {@link normalizeEvent}. */
export interface EventLimits {
  /** Largest serialized event in bytes (UTF-8). Default 16 KiB. */
  readonly maxEventBytes?: number;
}

/** Default of {@link EventLimits.maxEventBytes}. */
export const DEFAULT_MAX_EVENT_BYTES: number = 16 * 1024;

const MAX_ID = 256;
const MAX_TEXT = 2048;
const MAX_ROLES = 64;
const MAX_DEPTH = 6;
const MAX_KEYS = 128;

// Metadata keys repeat: remember which names are sensitive (bounded).
const sensitiveCache = new Map<string, boolean>();
function sensitiveName(name: string): boolean {
  let hit = sensitiveCache.get(name);
  if (hit === undefined) {
    hit = isSensitiveFieldName(name);
    if (sensitiveCache.size > 4096) sensitiveCache.clear();
    sensitiveCache.set(name, hit);
  }
  return hit;
}

// redactString runs several regular expressions; most strings hold none of their anchors.
const SECRET_HINT = /eyJ|bearer|basic|splunk|-----BEGIN|AGE-SECRET-KEY|:\/\//i;
function scrub(value: string): string {
  return SECRET_HINT.test(value) ? redactString(value) : value;
}

// Many events share a millisecond: format each millisecond once.
let lastMs = Number.NaN;
let lastIso = '';
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

// U+0000 and lone surrogates cannot be stored as UTF-8 text everywhere (PostgreSQL rejects them).
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is what we look for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function invalid(field: string, reason: string): AuditError {
  // Only the field name and a fixed reason: the value itself may be personal data or a secret.
  return new AuditError(`invalid audit event: ${field} ${reason}`, {
    code: 'ERR_AUDIT_INVALID_EVENT',
    fault: 'client',
    details: { field, reason },
  });
}

// The reason a string field is invalid, or undefined. Field names are only built when
// something is wrong: building `metadata.<key>` for every value costs every event.
// U+0000 and lone surrogates are checked once on the serialized event (see prepareEvent).
function textProblem(value: unknown, max: number, required: boolean): string | undefined {
  if (typeof value !== 'string') return value === undefined && !required ? undefined : 'must be a string';
  if (required && value.length === 0) return 'must not be empty';
  if (value.length > max) return `is longer than ${max} characters`;
  return undefined;
}

function text(value: unknown, field: string, max: number, required: boolean): string | undefined {
  const problem = textProblem(value, max, required);
  if (problem !== undefined) throw invalid(field, problem);
  return value as string | undefined;
}

const at = (parent: string, key: string | number): string =>
  typeof key === 'number' ? `${parent}[${key}]` : `${parent}.${key}`;

// Cleared by json() when it builds an object whose keys JSON.stringify would not write in
// sorted order (see there); buildEvent then marks neither the metadata nor the event as
// canonical, and canonicalJson sorts them itself. Read and reset synchronously by buildEvent.
let insertionOrderSorted = true;

function json(value: unknown, field: string, depth: number): JsonValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return scrub(text(value, field, MAX_TEXT * 4, false) as string);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(field, 'is not a finite number');
    return value;
  }
  if (depth >= MAX_DEPTH) throw invalid(field, `is nested deeper than ${MAX_DEPTH}`);
  if (Array.isArray(value)) {
    if (value.length > MAX_KEYS * 8) throw invalid(field, 'has too many items');
    const out: JsonValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = member(value[i], field, i, depth + 1);
    return out;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value);
    if (keys.length > MAX_KEYS) throw invalid(field, `has more than ${MAX_KEYS} keys`);
    // Built in sorted key order: the event's canonical JSON is then plain JSON.stringify.
    keys.sort();
    const out: Record<string, JsonValue> = {};
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k];
      if (v === undefined) continue;
      // JavaScript enumerates integer-like keys ("9", "10") first and in numeric order,
      // whatever the insertion order: such an object does not stringify in sorted order.
      const c = k.charCodeAt(0);
      if (c >= 48 && c <= 57) insertionOrderSorted = false;
      const problem = textProblem(k, MAX_ID, true);
      if (problem !== undefined) throw invalid(`${field} key`, problem);
      // Audit metadata outlives tokens: never store a secret even if a caller passes one.
      out[k] = sensitiveName(k) && v !== null ? REDACTED : member(v, field, k, depth + 1);
    }
    return out;
  }
  throw invalid(field, 'is not JSON data');
}

// One member of an object or array: leaves are checked without building their field name.
function member(value: unknown, parent: string, key: string | number, depth: number): JsonValue {
  if (typeof value === 'string') {
    const problem = textProblem(value, MAX_TEXT * 4, false);
    if (problem !== undefined) throw invalid(at(parent, key), problem);
    return scrub(value);
  }
  if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
    return value;
  }
  return json(value, at(parent, key), depth);
}

// The first string (or key) of a built event that cannot be stored, by field name.
function unstorableField(value: unknown, field: string): string | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? field : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = unstorableField(value[i], at(field, i));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (UNSTORABLE.test(k)) return `${field} key`;
      const hit = unstorableField(v, field === '' ? k : at(field, k));
      if (hit !== undefined) return hit;
    }
  }
  return undefined;
}

// Client addresses repeat from event to event: remember the valid ones (bounded). isIP runs regular expressions.
const validIps = new Set<string>();
function isIpAddress(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  if (validIps.has(value)) return true;
  if (isIP(value) === 0) return false;
  if (validIps.size >= 4096) validIps.clear();
  validIps.add(value);
  return true;
}

/**
 * The default retention class of an action: `break_glass` for break-glass actions, else `standard`.
 *
 * @example
 * ```ts
 * defaultRetentionClass('break_glass.used'); // 'break_glass'
 * ```
 */
export function defaultRetentionClass(action: AuditAction): string {
  return AUDIT_ACTIONS[action].category === 'break_glass' ? 'break_glass' : 'standard';
}

/** What {@link normalizeEvent} needs besides the input. */
export interface NormalizeContext {
  readonly clock: Clock;
  readonly random?: RandomSource;
  readonly limits?: EventLimits;
  /** Known retention classes; an unknown class is rejected. */
  readonly retentionClasses?: Readonly<Record<string, number>>;
}

/**
 * Validates an input and returns the complete event: a UUIDv7 `id`, the
 * clock's `time`, the action's `category`, the retention class and the schema
 * version. Sensitive-looking metadata fields are redacted.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_EVENT` (details.field, details.reason) or `ERR_AUDIT_EVENT_TOO_LARGE`.
 * @example
 * ```ts
 * const event = normalizeEvent({ action: 'auth.logout', outcome: 'success', actor: { id: 'u1', type: 'user' } }, { clock: systemClock });
 * ```
 */
export function normalizeEvent(input: AuditEventInput, context: NormalizeContext): AuditEvent {
  return prepareEvent(input, context).event;
}

/** @internal An event and its canonical JSON: the exact text the chain hashes and the sinks store. */
export interface PreparedEvent {
  readonly event: AuditEvent;
  readonly json: string;
}

/**
 * @internal {@link normalizeEvent}, also returning the event's canonical JSON,
 * serialized once. The writer hashes and stores exactly this text.
 */
export function prepareEvent(input: AuditEventInput, context: NormalizeContext): PreparedEvent {
  const event = buildEvent(input, context);
  // The canonical form of the fixed shape buildEvent makes, written field by field (eventJson).
  const json = eventJson(event);
  // JSON.stringify writes U+0000 and lone surrogates as \u escapes: without one, no string holds
  // either, and the per-field look (which names the field) is needed only when there is one.
  if (json.includes('\\u')) {
    const field = unstorableField(event, '');
    if (field !== undefined) throw invalid(field, 'holds U+0000 or a lone surrogate');
  }
  assertEventSize(json, context.limits?.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES);
  return { event, json };
}

function buildEvent(input: AuditEventInput, context: NormalizeContext): AuditEvent {
  if (typeof input !== 'object' || input === null) throw invalid('event', 'must be an object');
  if (!isAuditAction(input.action)) throw invalid('action', 'is not a known action');
  if (!AUDIT_OUTCOMES.includes(input.outcome)) throw invalid('outcome', 'is not a known outcome');
  const actorIn = input.actor;
  if (typeof actorIn !== 'object' || actorIn === null) throw invalid('actor', 'must be an object');
  if (!ACTOR_TYPES.has(actorIn.type)) throw invalid('actor.type', 'is not a known actor type');
  // Every object below is built with its keys in sorted order (UTF-16), so the
  // event's canonical JSON (RFC 8785 style) is plain JSON.stringify: see markCanonical.
  const actorId = text(actorIn.id, 'actor.id', MAX_ID, true) as string;
  let roles: string[] | undefined;
  if (actorIn.roles !== undefined) {
    if (!Array.isArray(actorIn.roles) || actorIn.roles.length > MAX_ROLES)
      throw invalid('actor.roles', 'must be a short array');
    roles = new Array(actorIn.roles.length);
    for (let i = 0; i < actorIn.roles.length; i++) {
      const role: unknown = actorIn.roles[i];
      const problem = textProblem(role, MAX_ID, true);
      if (problem !== undefined) throw invalid(at('actor.roles', i), problem);
      roles[i] = role as string;
    }
  }
  if (actorIn.ip !== undefined && !isIpAddress(actorIn.ip)) {
    throw invalid('actor.ip', 'is not an IP address');
  }
  const userAgent = text(actorIn.userAgent, 'actor.userAgent', MAX_TEXT, false);
  const actor: Record<string, unknown> = { id: actorId };
  if (actorIn.ip !== undefined) actor.ip = actorIn.ip;
  if (roles !== undefined) actor.roles = roles;
  actor.type = actorIn.type;
  if (userAgent !== undefined) actor.userAgent = userAgent;
  let resource: Record<string, unknown> | undefined;
  if (input.resource !== undefined) {
    if (typeof input.resource !== 'object' || input.resource === null) throw invalid('resource', 'must be an object');
    const type = text(input.resource.type, 'resource.type', MAX_ID, true) as string;
    const rid = text(input.resource.id, 'resource.id', MAX_ID * 4, false);
    resource = rid === undefined ? { type } : { id: rid, type };
  }
  const retention = input.retention ?? defaultRetentionClass(input.action);
  text(retention, 'retention', 64, true);
  if (context.retentionClasses !== undefined && !Object.hasOwn(context.retentionClasses, retention)) {
    throw invalid('retention', 'is not a configured retention class');
  }
  let metadata: Record<string, JsonValue> | undefined;
  let sorted = true;
  if (input.metadata !== undefined) {
    insertionOrderSorted = true;
    const m = json(input.metadata, 'metadata', 0);
    sorted = insertionOrderSorted;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw invalid('metadata', 'must be an object');
    metadata = m as Record<string, JsonValue>;
    // Sorted at every level by json(): canonicalJson (in eventJson) may then stringify it directly.
    if (sorted) markCanonical(metadata);
  }
  const reason = text(input.reason, 'reason', MAX_TEXT, false);
  const requestId = text(input.requestId, 'requestId', MAX_ID, false);
  const sessionId = text(input.sessionId, 'sessionId', MAX_ID, false);
  const policyVersion = text(input.policyVersion, 'policyVersion', MAX_ID, false);
  const now = context.clock.now();
  const event: Record<string, unknown> = {
    action: input.action,
    actor,
    category: AUDIT_ACTIONS[input.action].category,
    id: uuidv7(context.clock, context.random),
  };
  if (metadata !== undefined) event.metadata = metadata;
  event.outcome = input.outcome;
  if (policyVersion !== undefined) event.policyVersion = policyVersion;
  if (reason !== undefined) event.reason = scrub(reason);
  if (requestId !== undefined) event.requestId = requestId;
  if (resource !== undefined) event.resource = resource;
  event.retention = retention;
  if (sessionId !== undefined) event.sessionId = sessionId;
  event.time = isoTime(now);
  event.v = AUDIT_SCHEMA_VERSION;
  if (sorted) markCanonical(event);
  return event as unknown as AuditEvent;
}

/**
 * Checks a stored event read back from a sink (schema version, fields) without
 * changing it. Used when reading JSONL files and rows.
 *
 * @throws AuditError `ERR_AUDIT_CORRUPT` when it is not a version-1 event.
 */
export function assertStoredEvent(value: unknown): asserts value is AuditEvent {
  const e = value as Partial<AuditEvent> | null;
  if (
    typeof e !== 'object' ||
    e === null ||
    e.v !== AUDIT_SCHEMA_VERSION ||
    typeof e.id !== 'string' ||
    typeof e.time !== 'string' ||
    !isAuditAction(e.action) ||
    typeof e.actor !== 'object'
  ) {
    throw new AuditError('a stored audit event is malformed', { code: 'ERR_AUDIT_CORRUPT', fault: 'server' });
  }
}

/** Size check shared by the writer: the canonical JSON must fit `limit` bytes. */
export function assertEventSize(serialized: string, limit: number): void {
  // A fast path: UTF-8 needs at most 3 bytes per UTF-16 unit.
  if (serialized.length * 3 <= limit) return;
  const bytes = Buffer.byteLength(serialized);
  if (bytes > limit) {
    throw new AuditError(`audit event is ${bytes} bytes, more than the limit of ${limit}`, {
      code: 'ERR_AUDIT_EVENT_TOO_LARGE',
      fault: 'client',
      details: { bytes, limit },
    });
  }
}
