import type { AuditAction, AuditEvent } from './events.js';
import type { StoredRecord } from './store.js';

/** Export formats. */
export type ExportFormat = 'json' | 'jsonl' | 'csv' | 'ecs' | 'splunk' | 'ocsf';

/** Options of {@link exportRecords}. */
export interface ExportOptions {
  /** Applied to every event before it is formatted (e.g. a PII policy at export). */
  readonly transform?: (event: AuditEvent) => AuditEvent | Promise<AuditEvent>;
  /** Splunk HEC envelope fields. Defaults: source `provisioning:audit`, sourcetype `provisioning:audit`. */
  readonly splunk?: {
    readonly index?: string;
    readonly host?: string;
    readonly source?: string;
    readonly sourcetype?: string;
  };
}

/** The ECS version the ECS export writes. */
export const ECS_VERSION = '8.17.0';
/** The OCSF schema version the OCSF export writes. */
export const OCSF_VERSION = '1.8.0';

// ---------- CSV (RFC 4180) ----------

/** The CSV export's columns, in order. */
export const CSV_COLUMNS: readonly string[] = Object.freeze([
  'seq',
  'id',
  'time',
  'action',
  'category',
  'outcome',
  'actor_id',
  'actor_type',
  'actor_roles',
  'actor_ip',
  'actor_user_agent',
  'resource_type',
  'resource_id',
  'reason',
  'request_id',
  'session_id',
  'policy_version',
  'retention',
  'metadata',
  'hash',
]);

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF,
 * quotes doubled. A cell that a spreadsheet would run as a formula (starting
 * with `=`, `+`, `-`, `@`, tab or CR) gets a leading `'` first (OWASP CSV
 * injection advice): audit data comes from attackers too, e.g. a user agent
 * `=HYPERLINK(…)` opened by an investigator.
 *
 * @example
 * ```ts
 * csvCell('=1+1'); // "'=1+1"
 * csvCell('a,b');  // '"a,b"'
 * ```
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvRow(r: StoredRecord): string {
  const e = r.event;
  return `${[
    r.seq,
    e.id,
    e.time,
    e.action,
    e.category,
    e.outcome,
    e.actor.id,
    e.actor.type,
    e.actor.roles?.join(';'),
    e.actor.ip,
    e.actor.userAgent,
    e.resource?.type,
    e.resource?.id,
    e.reason,
    e.requestId,
    e.sessionId,
    e.policyVersion,
    e.retention,
    e.metadata === undefined ? undefined : JSON.stringify(e.metadata),
    r.hash,
  ]
    .map(csvCell)
    .join(',')}\r\n`;
}

// ---------- ECS ----------

type EcsKind = { category: string[]; type: string[] };

function ecsKind(action: AuditAction, outcome: AuditEvent['outcome']): EcsKind {
  const [family, ...rest] = action.split('.');
  const verb = rest.at(-1) ?? '';
  switch (family) {
    case 'auth':
      if (action === 'auth.login.succeeded' || action === 'auth.login.failed')
        return { category: ['authentication'], type: ['start'] };
      if (action === 'auth.logout') return { category: ['authentication', 'session'], type: ['end'] };
      if (verb === 'created' || verb === 'issued') return { category: ['authentication', 'iam'], type: ['creation'] };
      if (verb === 'revoked') return { category: ['authentication', 'iam'], type: ['deletion'] };
      return { category: ['authentication'], type: ['info'] };
    case 'mfa':
      if (verb === 'enrolled') return { category: ['authentication', 'iam'], type: ['creation'] };
      if (verb === 'removed') return { category: ['authentication', 'iam'], type: ['deletion'] };
      return { category: ['authentication'], type: ['info'] };
    case 'authz':
      return { category: ['iam'], type: ['access', outcome === 'success' ? 'allowed' : 'denied'] };
    case 'policy':
    case 'audit':
      return { category: ['configuration'], type: [verb === 'purged' ? 'deletion' : 'change'] };
    case 'kms':
      return { category: ['configuration'], type: [verb === 'rotated' || verb === 'rewrap' ? 'change' : 'access'] };
    case 'secrets':
      return {
        category: ['iam'],
        type: [verb === 'created' ? 'creation' : verb === 'renewed' ? 'change' : 'deletion'],
      };
    case 'break_glass':
      return { category: ['iam'], type: ['admin', verb === 'denied' ? 'denied' : 'change'] };
    case 'compliance':
      if (rest[0] === 'incident')
        return { category: ['intrusion_detection'], type: [verb === 'opened' ? 'start' : 'end'] };
      return {
        category: ['configuration'],
        type: [verb === 'exported' ? 'access' : verb === 'erased' ? 'deletion' : 'change'],
      };
    default: {
      if (action === 'admin.config.changed') return { category: ['configuration'], type: ['change'] };
      const what = rest[0] === 'user' ? 'user' : 'group';
      const t = verb === 'created' ? 'creation' : verb === 'deleted' ? 'deletion' : 'change';
      return { category: ['iam'], type: [what, t] };
    }
  }
}

function labelValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * An event in Elastic Common Schema: `@timestamp`, `ecs.version`,
 * `event.{kind,category,type,action,outcome,id,sequence,hash}`, `user.*`,
 * `source.ip`, `user_agent.original`, `http.request.id` and string `labels`.
 * `event.hash` carries the chain hash.
 *
 * @example
 * ```ts
 * toEcs(record)['event'].action; // 'auth.login.failed'
 * ```
 */
export function toEcs(r: StoredRecord): Record<string, unknown> {
  const e = r.event;
  const kind = ecsKind(e.action, e.outcome);
  const labels: Record<string, string> = { actor_type: e.actor.type, retention: e.retention, category: e.category };
  if (e.sessionId !== undefined) labels.session_id = e.sessionId;
  if (e.policyVersion !== undefined) labels.policy_version = e.policyVersion;
  if (e.resource !== undefined) {
    labels.resource_type = e.resource.type;
    if (e.resource.id !== undefined) labels.resource_id = e.resource.id;
  }
  for (const [k, v] of Object.entries(e.metadata ?? {})) labels[`metadata_${k.replace(/[.\s]/g, '_')}`] = labelValue(v);
  const doc: Record<string, unknown> = {
    '@timestamp': e.time,
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'event',
      category: kind.category,
      type: kind.type,
      action: e.action,
      outcome: e.outcome === 'success' ? 'success' : e.outcome === 'unknown' ? 'unknown' : 'failure',
      id: e.id,
      sequence: r.seq,
      hash: r.hash,
      dataset: 'provisioning.audit',
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
    },
    // A pseudonymised actor goes to user.hash ("a user in anonymized form"), not user.id.
    user: {
      ...(e.actor.id.startsWith('psn:') ? { hash: e.actor.id } : { id: e.actor.id }),
      ...(e.actor.roles !== undefined ? { roles: [...e.actor.roles] } : {}),
    },
    labels,
  };
  if (e.actor.ip !== undefined) doc.source = { ip: e.actor.ip };
  if (e.actor.userAgent !== undefined) doc.user_agent = { original: e.actor.userAgent };
  if (e.requestId !== undefined) doc.http = { request: { id: e.requestId } };
  return doc;
}

// ---------- OCSF 1.8 ----------

/** The OCSF classes the export maps to. */
export type OcsfClassKey =
  | 'accountChange'
  | 'authentication'
  | 'authorizeSession'
  | 'userAccess'
  | 'groupManagement'
  | 'incidentFinding'
  | 'apiActivity';

/** An OCSF event class. */
export interface OcsfClass {
  readonly uid: number;
  readonly name: string;
  readonly category: number;
  readonly categoryName: string;
  readonly activities: Readonly<Record<number, string>>;
}

const IAM = 'Identity & Access Management';
/** The OCSF classes the export uses (uid = category * 1000 + n). */
export const OCSF_CLASSES: Readonly<Record<OcsfClassKey, OcsfClass>> = Object.freeze({
  accountChange: {
    uid: 3001,
    name: 'Account Change',
    category: 3,
    categoryName: IAM,
    activities: { 1: 'Create', 6: 'Delete', 9: 'Lock', 10: 'MFA Factor Enable', 11: 'MFA Factor Disable', 99: 'Other' },
  },
  authentication: {
    uid: 3002,
    name: 'Authentication',
    category: 3,
    categoryName: IAM,
    activities: { 1: 'Logon', 2: 'Logoff', 3: 'Authentication Ticket', 5: 'Service Ticket Renew', 99: 'Other' },
  },
  authorizeSession: {
    uid: 3003,
    name: 'Authorize Session',
    category: 3,
    categoryName: IAM,
    activities: { 1: 'Assign Privileges', 99: 'Other' },
  },
  userAccess: {
    uid: 3005,
    name: 'User Access Management',
    category: 3,
    categoryName: IAM,
    activities: { 1: 'Assign Privileges', 2: 'Revoke Privileges', 99: 'Other' },
  },
  groupManagement: {
    uid: 3006,
    name: 'Group Management',
    category: 3,
    categoryName: IAM,
    activities: { 5: 'Delete', 6: 'Create', 99: 'Other' },
  },
  incidentFinding: {
    uid: 2005,
    name: 'Incident Finding',
    category: 2,
    categoryName: 'Findings',
    activities: { 1: 'Create', 3: 'Close' },
  },
  apiActivity: {
    uid: 6003,
    name: 'API Activity',
    category: 6,
    categoryName: 'Application Activity',
    activities: { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' },
  },
});

type ClassKey = OcsfClassKey;
const OCSF_MAP: Readonly<Record<AuditAction, readonly [ClassKey, number]>> = {
  'auth.login.succeeded': ['authentication', 1],
  'auth.login.failed': ['authentication', 1],
  'auth.logout': ['authentication', 2],
  'auth.token.issued': ['authentication', 3],
  'auth.token.refreshed': ['authentication', 5],
  'auth.token.revoked': ['authentication', 99],
  'auth.refresh.reuse_detected': ['authentication', 99],
  'auth.api_key.created': ['accountChange', 99],
  'auth.api_key.used': ['authentication', 1],
  'auth.api_key.revoked': ['accountChange', 99],
  'mfa.enrolled': ['accountChange', 10],
  'mfa.verified': ['authentication', 1],
  'mfa.failed': ['authentication', 1],
  'mfa.locked_out': ['accountChange', 9],
  'mfa.backup_code.used': ['authentication', 1],
  'mfa.device.removed': ['accountChange', 11],
  'authz.allowed': ['authorizeSession', 1],
  'authz.denied': ['authorizeSession', 1],
  'policy.reload.succeeded': ['apiActivity', 3],
  'policy.reload.failed': ['apiActivity', 3],
  'kms.encrypt': ['apiActivity', 99],
  'kms.decrypt': ['apiActivity', 2],
  'kms.key.rotated': ['apiActivity', 3],
  'kms.rewrap': ['apiActivity', 3],
  'secrets.lease.created': ['apiActivity', 1],
  'secrets.lease.renewed': ['apiActivity', 3],
  'secrets.lease.revoked': ['apiActivity', 4],
  'secrets.lease.expired': ['apiActivity', 4],
  'break_glass.requested': ['apiActivity', 1],
  'break_glass.approved': ['userAccess', 1],
  'break_glass.denied': ['apiActivity', 99],
  'break_glass.activated': ['userAccess', 1],
  'break_glass.used': ['apiActivity', 99],
  'break_glass.revoked': ['userAccess', 2],
  'break_glass.expired': ['userAccess', 2],
  'compliance.data.exported': ['apiActivity', 2],
  'compliance.data.erased': ['apiActivity', 4],
  'compliance.data.rectified': ['apiActivity', 3],
  'compliance.request.extended': ['apiActivity', 3],
  'compliance.incident.opened': ['incidentFinding', 1],
  'compliance.incident.closed': ['incidentFinding', 3],
  'admin.user.created': ['accountChange', 1],
  'admin.user.updated': ['accountChange', 99],
  'admin.user.deleted': ['accountChange', 6],
  'admin.role.created': ['groupManagement', 6],
  'admin.role.updated': ['groupManagement', 99],
  'admin.role.deleted': ['groupManagement', 5],
  'admin.role.assigned': ['userAccess', 1],
  'admin.role.unassigned': ['userAccess', 2],
  'admin.config.changed': ['apiActivity', 3],
  'audit.events.dropped': ['apiActivity', 99],
  'audit.retention.purged': ['apiActivity', 4],
};

/**
 * The OCSF class and activity of an action.
 *
 * @example
 * ```ts
 * ocsfClassOf('auth.login.failed'); // { classUid: 3002, activityId: 1, typeUid: 300201 }
 * ```
 */
export function ocsfClassOf(action: AuditAction): { classUid: number; activityId: number; typeUid: number } {
  const [key, activityId] = OCSF_MAP[action];
  const cls = OCSF_CLASSES[key];
  return { classUid: cls.uid, activityId, typeUid: cls.uid * 100 + activityId };
}

/**
 * An event as an OCSF 1.8 record: `class_uid = category_uid * 1000 + n`,
 * `type_uid = class_uid * 100 + activity_id`; Authentication (3002),
 * Account Change (3001), Authorize Session (3003), User Access Management
 * (3005), Group Management (3006), Incident Finding (2005), API Activity (6003).
 * Fields without an OCSF home go to `unmapped`.
 *
 * @example
 * ```ts
 * toOcsf(record).type_uid; // 300201 for a login
 * ```
 */
export function toOcsf(r: StoredRecord): Record<string, unknown> {
  const e = r.event;
  const [key, activityId] = OCSF_MAP[e.action];
  const cls: OcsfClass = OCSF_CLASSES[key];
  const activityName = cls.activities[activityId] ?? 'Other';
  const statusId = e.outcome === 'success' ? 1 : e.outcome === 'unknown' ? 0 : 2;
  const severityId = e.category === 'break_glass' ? 4 : statusId === 2 ? 3 : 1;
  const user = {
    uid: e.actor.id,
    type: e.actor.type,
    ...(e.actor.roles ? { groups: e.actor.roles.map((name) => ({ name })) } : {}),
  };
  const out: Record<string, unknown> = {
    category_uid: cls.category,
    category_name: cls.categoryName,
    class_uid: cls.uid,
    class_name: cls.name,
    activity_id: activityId,
    activity_name: activityName,
    type_uid: cls.uid * 100 + activityId,
    type_name: `${cls.name}: ${activityName}`,
    time: Date.parse(e.time),
    severity_id: severityId,
    severity: ({ 1: 'Informational', 3: 'Medium', 4: 'High' } as Record<number, string>)[severityId],
    status_id: statusId,
    status: ({ 0: 'Unknown', 1: 'Success', 2: 'Failure' } as Record<number, string>)[statusId],
    ...(e.outcome === 'denied' ? { status_detail: 'denied' } : {}),
    message: e.reason ?? e.action,
    metadata: {
      version: OCSF_VERSION,
      uid: e.id,
      // Since OCSF 1.7 `uid` names the OCSF event and `original_event_uid` the source's: both are the audit event id.
      original_event_uid: e.id,
      sequence: r.seq,
      log_name: 'audit',
      product: { name: 'Provisioning audit', vendor_name: 'Provisioning' },
      ...(e.requestId !== undefined ? { correlation_uid: e.requestId } : {}),
    },
    actor: { user, ...(e.sessionId !== undefined ? { session: { uid: e.sessionId } } : {}) },
    unmapped: {
      action: e.action,
      hash: r.hash,
      retention: e.retention,
      ...(e.policyVersion !== undefined ? { policy_version: e.policyVersion } : {}),
      ...(e.metadata !== undefined ? { metadata: e.metadata } : {}),
    },
  };
  if (e.actor.ip !== undefined) out.src_endpoint = { ip: e.actor.ip };
  if (e.actor.userAgent !== undefined) out.http_request = { user_agent: e.actor.userAgent };
  if (cls.uid === 3002 || cls.uid === 3001 || cls.uid === 3005) out.user = user;
  if (cls.uid === 3002) out.is_mfa = e.category === 'mfa';
  if (cls.uid === 6003) {
    out.api = { operation: e.action, ...(e.requestId !== undefined ? { request: { uid: e.requestId } } : {}) };
  }
  if (e.resource !== undefined)
    out.resources = [{ type: e.resource.type, ...(e.resource.id ? { uid: e.resource.id } : {}) }];
  return out;
}

/**
 * An event as a Splunk HTTP Event Collector object: `time` in epoch seconds
 * (milliseconds as decimals), the event (with `seq` and `hash`) under `event`.
 * A HEC batch is these objects concatenated, not a JSON array.
 *
 * @example
 * ```ts
 * toSplunkHec(record).time; // 1767225600.123
 * ```
 */
export function toSplunkHec(r: StoredRecord, splunk: ExportOptions['splunk'] = {}): Record<string, unknown> {
  return {
    time: Date.parse(r.event.time) / 1000,
    ...(splunk.host !== undefined ? { host: splunk.host } : {}),
    source: splunk.source ?? 'provisioning:audit',
    sourcetype: splunk.sourcetype ?? 'provisioning:audit',
    ...(splunk.index !== undefined ? { index: splunk.index } : {}),
    event: { ...r.event, seq: r.seq, hash: r.hash },
  };
}

/**
 * Streams records in an export format, as text chunks, one record at a time:
 * memory stays flat however large the range. `json` is one array, `jsonl`,
 * `ecs`, `ocsf` and `splunk` one JSON object per line, `csv` RFC 4180 with a
 * header and CRLF line ends.
 *
 * @example
 * ```ts
 * for await (const chunk of exportRecords(store.scan({ category: 'break_glass' }), 'csv')) out.write(chunk);
 * ```
 */
export async function* exportRecords(
  records: AsyncIterable<StoredRecord> | Iterable<StoredRecord>,
  format: ExportFormat,
  options: ExportOptions = {},
): AsyncGenerator<string> {
  const formatOne: (r: StoredRecord) => string = {
    json: (r: StoredRecord) => JSON.stringify({ seq: r.seq, hash: r.hash, event: r.event }),
    jsonl: (r: StoredRecord) => `${JSON.stringify({ seq: r.seq, hash: r.hash, event: r.event })}\n`,
    csv: csvRow,
    ecs: (r: StoredRecord) => `${JSON.stringify(toEcs(r))}\n`,
    ocsf: (r: StoredRecord) => `${JSON.stringify(toOcsf(r))}\n`,
    splunk: (r: StoredRecord) => `${JSON.stringify(toSplunkHec(r, options.splunk))}\n`,
  }[format];
  if (formatOne === undefined) throw new TypeError('unknown export format');
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
  if (format === 'json') yield '[';
  let first = true;
  for await (const record of records) {
    const r = options.transform ? { ...record, event: await options.transform(record.event) } : record;
    const text = formatOne(r);
    if (format === 'json') {
      yield first ? `\n${text}` : `,\n${text}`;
    } else yield text;
    first = false;
  }
  if (format === 'json') yield first ? ']\n' : '\n]\n';
}

/**
 * Wraps text chunks as a Web `ReadableStream` of UTF-8 bytes, pulling one
 * chunk at a time (backpressure), for a `Response` body.
 *
 * @example
 * ```ts
 * return new Response(toReadableStream(exportRecords(records, 'jsonl')), { headers: { 'content-type': 'application/x-ndjson' } });
 * ```
 */
export function toReadableStream(chunks: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
