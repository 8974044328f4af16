import { type NamedSchema, type Schema, s } from '../schema.js';
import { PAGINATION_QUERY, type Route, routeBuilder, timestamp } from './common.js';

// ---------------------------------------------------------------- tasks (known)

/** Status of a {@link WorkflowTask} (known; note the capitalisation). */
export type TaskStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
/** Every {@link TaskStatus}. */
export const TASK_STATUSES: readonly TaskStatus[] = Object.freeze([
  'Pending',
  'Running',
  'Completed',
  'Failed',
  'Cancelled',
]);

/** A task of the orchestrator (known shape). Times are RFC 3339 strings. */
export interface WorkflowTask {
  /** UUID. */
  readonly id: string;
  /** The workflow the task belongs to (designed: the reference servers send it; the known shape has no such field). */
  readonly workflow_id?: string;
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Ids of tasks that must complete first. */
  readonly dependencies: readonly string[];
  readonly status: TaskStatus;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly output: string | null;
  readonly error: string | null;
  /** Percent complete, 0–100, when the task reports it. */
  readonly progress: number | null;
}

/** Schema of {@link WorkflowTask}. */
export const WorkflowTaskSchema: NamedSchema<WorkflowTask> = s.named(
  'WorkflowTask',
  s.object({
    id: s.string(),
    workflow_id: s.optional(s.string()),
    name: s.string(),
    command: s.string(),
    args: s.array(s.string()),
    dependencies: s.array(s.string()),
    status: s.literal(...TASK_STATUSES),
    created_at: timestamp,
    started_at: s.nullable(timestamp),
    completed_at: s.nullable(timestamp),
    output: s.nullable(s.string()),
    error: s.nullable(s.string()),
    progress: s.nullable(s.number({ minimum: 0, maximum: 100 })),
  }),
);

/**
 * Query of `GET /tasks` (known): `limit` 1–1000 (default 50), `offset` ≥ 0
 * (default 0); `workflow_id` (designed) keeps the tasks of one workflow.
 */
export interface ListTasksQuery {
  readonly status?: TaskStatus;
  readonly workflow_id?: string;
  readonly limit?: number;
  readonly offset?: number;
}

/** Kinds of workflow: each is submitted at `POST /workflows/{kind}/create`. */
export type WorkflowKind = 'servers' | 'taskserv' | 'cluster' | 'batch';
/** Every {@link WorkflowKind}. */
export const WORKFLOW_KINDS: readonly WorkflowKind[] = Object.freeze(['servers', 'taskserv', 'cluster', 'batch']);

/** Body of `POST /workflows/{kind}/create` (known for servers: `{ infra, params }`). */
export interface WorkflowRequest {
  /** The infrastructure (workspace/infra name) the workflow acts on. */
  readonly infra: string;
  /** Workflow parameters (free-form, validated by the orchestrator). */
  readonly params: Readonly<Record<string, unknown>>;
}

/** Schema of {@link WorkflowRequest}. */
export const WorkflowRequestSchema: NamedSchema<WorkflowRequest> = s.named(
  'WorkflowRequest',
  s.object({ infra: s.string(), params: s.record(s.unknown()) }),
);

/** The `data` of a workflow submission: the workflow id (the id of its root task). */
export const WorkflowIdSchema: Schema<string> = s.string({ description: 'workflow_id' });

/** Events the `/ws` endpoint streams (`/ws?token=…&events=task,batch,system`). */
export type OrchestratorEventType = 'task' | 'batch' | 'system';

/** One WebSocket event (designed envelope: the known API names only the event classes). */
export interface OrchestratorEvent {
  readonly event_type: OrchestratorEventType;
  readonly timestamp: string;
  /** For `task` events: the task after the change. */
  readonly task?: WorkflowTask;
  /** For `batch` and `system` events: free-form payload. */
  readonly data?: unknown;
}

/** Schema of {@link OrchestratorEvent}. */
export const OrchestratorEventSchema: NamedSchema<OrchestratorEvent> = s.named(
  'OrchestratorEvent',
  s.object({
    event_type: s.literal('task', 'batch', 'system'),
    timestamp,
    task: s.optional(WorkflowTaskSchema),
    data: s.optional(s.unknown()),
  }),
);

// ---------------------------------------------------------------- dynamic secrets (known paths)

/** Dynamic secret types and their TTL ranges (known). */
export type SecretType = 'aws_sts' | 'ssh_key' | 'upcloud' | 'vault';

/** TTL bounds in seconds per {@link SecretType}, and whether it can be renewed (known). */
export const SECRET_TTL_RANGES: Readonly<
  Record<SecretType, { readonly minSeconds: number; readonly maxSeconds: number; readonly renewable: boolean }>
> = Object.freeze({
  aws_sts: { minSeconds: 15 * 60, maxSeconds: 12 * 3600, renewable: true },
  ssh_key: { minSeconds: 10 * 60, maxSeconds: 24 * 3600, renewable: false },
  upcloud: { minSeconds: 30 * 60, maxSeconds: 8 * 3600, renewable: false },
  vault: { minSeconds: 5 * 60, maxSeconds: 24 * 3600, renewable: true },
});

/** Body of `POST /api/v1/secrets/generate` (field names designed). */
export interface GenerateSecretRequest {
  readonly type: SecretType;
  /** Lease length, within {@link SECRET_TTL_RANGES}. */
  readonly ttl_seconds: number;
  /** Provider parameters (AWS role ARN, SSH user and host, Vault role …). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Why it is needed (audited). */
  readonly reason?: string;
}

/** A secret's lease, without credentials (what list endpoints return). */
export interface SecretLease {
  readonly id: string;
  readonly type: SecretType;
  readonly created_at: string;
  readonly expires_at: string;
  readonly renewable: boolean;
  readonly revoked: boolean;
  /** Who asked for it. */
  readonly owner: string;
}

/**
 * A generated dynamic secret: the lease plus its credentials (known:
 * `{ id, credentials }`; AWS: `access_key_id`, `secret_access_key`,
 * `session_token`; SSH: `private_key`). Credentials are never logged.
 */
export interface DynamicSecret extends SecretLease {
  readonly credentials: Readonly<Record<string, string>>;
}

const secretLeaseShape = {
  id: s.string(),
  type: s.literal('aws_sts', 'ssh_key', 'upcloud', 'vault'),
  created_at: timestamp,
  expires_at: timestamp,
  renewable: s.boolean(),
  revoked: s.boolean(),
  owner: s.string(),
};

/** Schema of {@link GenerateSecretRequest}. */
export const GenerateSecretRequestSchema: NamedSchema<GenerateSecretRequest> = s.named(
  'GenerateSecretRequest',
  s.object({
    type: s.literal('aws_sts', 'ssh_key', 'upcloud', 'vault'),
    ttl_seconds: s.number({ integer: true, minimum: 1 }),
    params: s.optional(s.record(s.unknown())),
    reason: s.optional(s.string()),
  }),
);
/** Schema of {@link SecretLease}. */
export const SecretLeaseSchema: NamedSchema<SecretLease> = s.named('SecretLease', s.object(secretLeaseShape));
/** Schema of {@link DynamicSecret}. */
export const DynamicSecretSchema: NamedSchema<DynamicSecret> = s.named(
  'DynamicSecret',
  s.object({ ...secretLeaseShape, credentials: s.record(s.string()) }),
);

/** Body of `POST /api/v1/secrets/{id}/revoke` (known: with a reason). */
export interface RevokeRequest {
  readonly reason: string;
}
/** Schema of {@link RevokeRequest}. */
export const RevokeRequestSchema: NamedSchema<RevokeRequest> = s.named(
  'RevokeRequest',
  s.object({ reason: s.string() }),
);

/** Body of `POST /api/v1/secrets/{id}/renew` (designed). */
export interface RenewSecretRequest {
  /** New lease length from now; the server caps it at the type's maximum. */
  readonly ttl_seconds?: number;
}
/** Schema of {@link RenewSecretRequest}. */
export const RenewSecretRequestSchema: NamedSchema<RenewSecretRequest> = s.named(
  'RenewSecretRequest',
  s.object({ ttl_seconds: s.optional(s.number({ integer: true, minimum: 1 })) }),
);

/** `GET /api/v1/secrets/stats` (designed). */
export interface SecretStats {
  readonly active: number;
  readonly expiring_soon: number;
  readonly revoked: number;
  readonly by_type: Readonly<Record<string, number>>;
}
/** Schema of {@link SecretStats}. */
export const SecretStatsSchema: NamedSchema<SecretStats> = s.named(
  'SecretStats',
  s.object({
    active: s.number({ integer: true, minimum: 0 }),
    expiring_soon: s.number({ integer: true, minimum: 0 }),
    revoked: s.number({ integer: true, minimum: 0 }),
    by_type: s.record(s.number({ integer: true, minimum: 0 })),
  }),
);

// ---------------------------------------------------------------- SSH temporal keys (designed paths)

/** SSH key types (known): `dynamic` (Ed25519 pair, default), `ca` (certificate), `otp`. */
export type SshKeyType = 'dynamic' | 'ca' | 'otp';
/** SSH key TTL bounds in seconds (known: default 1 h, 5 min–24 h). */
export const SSH_KEY_TTL: Readonly<{ defaultSeconds: number; minSeconds: number; maxSeconds: number }> = Object.freeze({
  defaultSeconds: 3600,
  minSeconds: 300,
  maxSeconds: 86_400,
});

/** Body of `POST /api/v1/ssh/keys`. */
export interface GenerateSshKeyRequest {
  readonly server: string;
  readonly user: string;
  readonly ttl_seconds?: number;
  readonly type?: SshKeyType;
}
/** Schema of {@link GenerateSshKeyRequest}. */
export const GenerateSshKeyRequestSchema: NamedSchema<GenerateSshKeyRequest> = s.named(
  'GenerateSshKeyRequest',
  s.object({
    server: s.string(),
    user: s.string(),
    ttl_seconds: s.optional(s.number({ integer: true, minimum: 300, maximum: 86_400 })),
    type: s.optional(s.literal('dynamic', 'ca', 'otp')),
  }),
);

/**
 * A temporal SSH key (known fields: key id, type, user, server, expiry,
 * `SHA256:` fingerprint, private key). The private key, certificate and OTP
 * appear only in the answer to `generate` (the server keeps them in memory only).
 */
export interface SshKey {
  readonly id: string;
  readonly type: SshKeyType;
  readonly user: string;
  readonly server: string;
  readonly expires_at: string;
  /** `SHA256:…` fingerprint of the public key. */
  readonly fingerprint: string;
  readonly public_key?: string;
  readonly private_key?: string;
  readonly certificate?: string;
  readonly otp?: string;
  readonly deployed: boolean;
  readonly revoked: boolean;
}
/** Schema of {@link SshKey}. */
export const SshKeySchema: NamedSchema<SshKey> = s.named(
  'SshKey',
  s.object({
    id: s.string(),
    type: s.literal('dynamic', 'ca', 'otp'),
    user: s.string(),
    server: s.string(),
    expires_at: timestamp,
    fingerprint: s.string({ pattern: /^SHA256:[A-Za-z0-9+/]+=*$/ }),
    public_key: s.optional(s.string()),
    private_key: s.optional(s.string()),
    certificate: s.optional(s.string()),
    otp: s.optional(s.string()),
    deployed: s.boolean(),
    revoked: s.boolean(),
  }),
);

/** `POST /api/v1/ssh/keys/{id}/connect`: how to connect with the key. */
export interface SshConnectInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** A ready `ssh` command line (no secret in it: it names a key file). */
  readonly command: string;
}
/** Schema of {@link SshConnectInfo}. */
export const SshConnectInfoSchema: NamedSchema<SshConnectInfo> = s.named(
  'SshConnectInfo',
  s.object({
    host: s.string(),
    port: s.number({ integer: true, minimum: 1, maximum: 65_535 }),
    user: s.string(),
    command: s.string(),
  }),
);

// ---------------------------------------------------------------- break-glass (designed)

/** States of a break-glass request. */
export type BreakGlassStatus = 'pending' | 'approved' | 'denied' | 'active' | 'expired' | 'revoked';

/** Body of `POST /api/v1/break-glass/requests`. */
export interface BreakGlassRequestInput {
  /** Why emergency access is needed (required, audited). */
  readonly reason: string;
  /** Incident or ticket reference; approval ids begin `EMERGENCY-`. */
  readonly incident_id: string;
  /** Requested permissions (Cedar actions) or `admin`. */
  readonly permissions: readonly string[];
  readonly duration_seconds: number;
}
/** Schema of {@link BreakGlassRequestInput}. */
export const BreakGlassRequestInputSchema: NamedSchema<BreakGlassRequestInput> = s.named(
  'BreakGlassRequestInput',
  s.object({
    reason: s.string(),
    incident_id: s.string(),
    permissions: s.array(s.string()),
    duration_seconds: s.number({ integer: true, minimum: 60, maximum: 4 * 3600 }),
  }),
);

/** A break-glass request and its approvals. */
export interface BreakGlassRequest {
  readonly id: string;
  readonly requester: string;
  readonly reason: string;
  readonly incident_id: string;
  readonly permissions: readonly string[];
  readonly status: BreakGlassStatus;
  /** Users who approved (two distinct approvers are required by default). */
  readonly approvals: readonly string[];
  readonly created_at: string;
  readonly expires_at: string | null;
  /** Usernames of the requester and approvers, by user id (designed; absent for a user who no longer exists). */
  readonly usernames?: Readonly<Record<string, string>>;
}
/** Schema of {@link BreakGlassRequest}. */
export const BreakGlassRequestSchema: NamedSchema<BreakGlassRequest> = s.named(
  'BreakGlassRequest',
  s.object({
    id: s.string(),
    requester: s.string(),
    reason: s.string(),
    incident_id: s.string(),
    permissions: s.array(s.string()),
    status: s.literal('pending', 'approved', 'denied', 'active', 'expired', 'revoked'),
    approvals: s.array(s.string()),
    created_at: timestamp,
    expires_at: s.nullable(timestamp),
    usernames: s.optional(s.record(s.string())),
  }),
);

/** Body of approve/deny/revoke of a break-glass request. */
export interface BreakGlassDecision {
  readonly comment?: string;
}
/** Schema of {@link BreakGlassDecision}. */
export const BreakGlassDecisionSchema: NamedSchema<BreakGlassDecision> = s.named(
  'BreakGlassDecision',
  s.object({ comment: s.optional(s.string()) }),
);

/** `POST /api/v1/break-glass/requests/{id}/activate`: the short-lived emergency token. */
export interface BreakGlassActivation {
  readonly request_id: string;
  readonly token: string;
  readonly expires_at: string;
}
/** Schema of {@link BreakGlassActivation}. */
export const BreakGlassActivationSchema: NamedSchema<BreakGlassActivation> = s.named(
  'BreakGlassActivation',
  s.object({ request_id: s.string(), token: s.string(), expires_at: timestamp }),
);

// ---------------------------------------------------------------- audit (designed)

/** Outcome of an audited decision or operation. */
export type AuditOutcome = 'success' | 'failure' | 'denied';

/** One audit event (designed; the audit package defines the stored form). */
export interface AuditEvent {
  readonly id: string;
  readonly timestamp: string;
  /** Who: user id, API key id or `system`. */
  readonly actor: string;
  /** What: `workflow.submit`, `kms.decrypt`, `auth.login` … */
  readonly action: string;
  /** On what: `Server::"web-01"` … */
  readonly resource: string;
  readonly outcome: AuditOutcome;
  readonly ip_address?: string;
  readonly request_id?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Hash chaining this event to the previous one (tamper evidence). */
  readonly hash?: string;
}
/** Schema of {@link AuditEvent}. */
export const AuditEventSchema: NamedSchema<AuditEvent> = s.named(
  'AuditEvent',
  s.object({
    id: s.string(),
    timestamp,
    actor: s.string(),
    action: s.string(),
    resource: s.string(),
    outcome: s.literal('success', 'failure', 'denied'),
    ip_address: s.optional(s.string()),
    request_id: s.optional(s.string()),
    details: s.optional(s.record(s.unknown())),
    hash: s.optional(s.string()),
  }),
);

/** Query of `GET /api/v1/audit/events`. */
export interface AuditQuery {
  readonly from?: string;
  readonly to?: string;
  readonly actor?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcome;
  /** The resource's type as the event records it (`api_key`, `Provisioning::Server` …). */
  readonly resource_type?: string;
  /** The resource's id (with or without `resource_type`). */
  readonly resource_id?: string;
  readonly limit?: number;
  readonly offset?: number;
}

/** The filters of `GET /api/v1/audit/export`: those of {@link AuditQuery} without paging. */
export type AuditExportQuery = Omit<AuditQuery, 'limit' | 'offset'>;

const AUDIT_FILTER_QUERY = [
  { name: 'from', schema: timestamp },
  { name: 'to', schema: timestamp },
  { name: 'actor', schema: s.string() },
  { name: 'action', schema: s.string() },
  { name: 'outcome', schema: s.literal('success', 'failure', 'denied') },
  { name: 'resource_type', schema: s.string() },
  { name: 'resource_id', schema: s.string() },
];

/** Formats of `GET /api/v1/audit/export?format=`. */
export type AuditExportFormat = 'json' | 'jsonl' | 'csv' | 'ecs' | 'splunk';
/** Content types of each {@link AuditExportFormat}. */
export const AUDIT_EXPORT_CONTENT_TYPES: Readonly<Record<AuditExportFormat, string>> = Object.freeze({
  json: 'application/json',
  jsonl: 'application/x-ndjson',
  csv: 'text/csv',
  ecs: 'application/x-ndjson',
  splunk: 'application/x-ndjson',
});

/** `GET /api/v1/audit/verify`: whether the hash chain is intact. */
export interface AuditVerification {
  readonly valid: boolean;
  readonly checked: number;
  /** Id of the first event that breaks the chain. */
  readonly first_invalid_id: string | null;
}
/** Schema of {@link AuditVerification}. */
export const AuditVerificationSchema: NamedSchema<AuditVerification> = s.named(
  'AuditVerification',
  s.object({
    valid: s.boolean(),
    checked: s.number({ integer: true, minimum: 0 }),
    first_invalid_id: s.nullable(s.string()),
  }),
);

/** `GET /api/v1/audit/stats`. */
export interface AuditStats {
  readonly total: number;
  readonly by_outcome: Readonly<Record<string, number>>;
  readonly oldest: string | null;
  readonly newest: string | null;
}
/** Schema of {@link AuditStats}. */
export const AuditStatsSchema: NamedSchema<AuditStats> = s.named(
  'AuditStats',
  s.object({
    total: s.number({ integer: true, minimum: 0 }),
    by_outcome: s.record(s.number({ integer: true, minimum: 0 })),
    oldest: s.nullable(timestamp),
    newest: s.nullable(timestamp),
  }),
);

// ---------------------------------------------------------------- compliance (designed)

/** Compliance frameworks with control checks. */
export type ComplianceFramework = 'soc2' | 'iso27001' | 'gdpr';

/** One control and its latest check. */
export interface ComplianceControl {
  readonly id: string;
  readonly framework: ComplianceFramework;
  readonly title: string;
  readonly status: 'passing' | 'failing' | 'not_applicable' | 'unknown';
  readonly checked_at: string | null;
  readonly evidence?: string;
}
/** Schema of {@link ComplianceControl}. */
export const ComplianceControlSchema: NamedSchema<ComplianceControl> = s.named(
  'ComplianceControl',
  s.object({
    id: s.string(),
    framework: s.literal('soc2', 'iso27001', 'gdpr'),
    title: s.string(),
    status: s.literal('passing', 'failing', 'not_applicable', 'unknown'),
    checked_at: s.nullable(timestamp),
    evidence: s.optional(s.string()),
  }),
);

/** `GET /api/v1/compliance/reports/{framework}`. */
export interface ComplianceReport {
  readonly framework: ComplianceFramework;
  readonly generated_at: string;
  readonly passing: number;
  readonly failing: number;
  readonly controls: readonly ComplianceControl[];
}
/** Schema of {@link ComplianceReport}. */
export const ComplianceReportSchema: NamedSchema<ComplianceReport> = s.named(
  'ComplianceReport',
  s.object({
    framework: s.literal('soc2', 'iso27001', 'gdpr'),
    generated_at: timestamp,
    passing: s.number({ integer: true, minimum: 0 }),
    failing: s.number({ integer: true, minimum: 0 }),
    controls: s.array(ComplianceControlSchema),
  }),
);

/** The kind of a GDPR data-subject request (Art. 15, 17, 16, 20). */
export type DataSubjectRequestType = 'access' | 'erasure' | 'rectification' | 'portability';
/** Every {@link DataSubjectRequestType}. */
export const DATA_SUBJECT_REQUEST_TYPES: readonly DataSubjectRequestType[] = Object.freeze([
  'access',
  'erasure',
  'rectification',
  'portability',
]);

/** A GDPR data-subject request. */
export interface DataSubjectRequest {
  readonly id: string;
  readonly type: DataSubjectRequestType;
  readonly subject: string;
  readonly status: 'received' | 'in_progress' | 'completed' | 'rejected';
  readonly created_at: string;
  readonly due_at: string;
  /**
   * Designed: the subject's data, in the answer that completes an access or
   * portability request and in no other (never stored for later download): the
   * compliance package's export bundle (`format: 'provisioning.dsr-export/v1'`,
   * a manifest with each provider's digest, the sections), or its encrypted form
   * when the server encrypts exports.
   */
  readonly export?: unknown;
  /**
   * Designed: set once the deadline was extended (GDPR Art. 12(3): once, by two
   * months, told to the subject within the first month): when, and the reason
   * the subject is given. `due_at` is then the extended deadline.
   */
  readonly extension?: { readonly at: string; readonly reason: string };
}
/** Schema of {@link DataSubjectRequest}. */
export const DataSubjectRequestSchema: NamedSchema<DataSubjectRequest> = s.named(
  'DataSubjectRequest',
  s.object({
    id: s.string(),
    type: s.literal(...DATA_SUBJECT_REQUEST_TYPES),
    subject: s.string(),
    status: s.literal('received', 'in_progress', 'completed', 'rejected'),
    created_at: timestamp,
    due_at: timestamp,
    export: s.optional(s.unknown()),
    extension: s.optional(s.object({ at: timestamp, reason: s.string() })),
  }),
);
/** Body of `POST /api/v1/compliance/gdpr/requests`. */
export interface DataSubjectRequestInput {
  readonly type: DataSubjectRequest['type'];
  /** The data subject's user id. */
  readonly subject: string;
  /** For `rectification` (required there, refused otherwise): the corrected fields, e.g. `{ email }`. */
  readonly changes?: Readonly<Record<string, string>>;
}
/** Schema of {@link DataSubjectRequestInput}. */
export const DataSubjectRequestInputSchema: NamedSchema<DataSubjectRequestInput> = s.named(
  'DataSubjectRequestInput',
  s.object({
    type: s.literal(...DATA_SUBJECT_REQUEST_TYPES),
    subject: s.string(),
    changes: s.optional(s.record(s.string())),
  }),
);

/** Body of `POST /api/v1/compliance/gdpr/requests/{id}/verify` (designed). */
export interface DataSubjectVerificationInput {
  /** Where the out-of-band identity check is recorded (a ticket, a case number): 3-200 characters. */
  readonly reference: string;
}
/** Schema of {@link DataSubjectVerificationInput}. */
export const DataSubjectVerificationInputSchema: NamedSchema<DataSubjectVerificationInput> = s.named(
  'DataSubjectVerificationInput',
  s.object({ reference: s.string({ pattern: /^[\s\S]{3,200}$/ }) }),
);

/** Body of `POST /api/v1/compliance/gdpr/requests/{id}/extend` (designed). */
export interface DataSubjectExtensionInput {
  /** Why the request needs more time (its complexity or number), as the subject is told: 3-500 characters. */
  readonly reason: string;
}
/** Schema of {@link DataSubjectExtensionInput}. */
export const DataSubjectExtensionInputSchema: NamedSchema<DataSubjectExtensionInput> = s.named(
  'DataSubjectExtensionInput',
  s.object({ reason: s.string({ pattern: /^[\s\S]{3,500}$/ }) }),
);

/** A security incident. */
export interface Incident {
  readonly id: string;
  readonly title: string;
  readonly severity: 'low' | 'medium' | 'high' | 'critical';
  readonly status: 'open' | 'investigating' | 'contained' | 'resolved' | 'closed';
  readonly created_at: string;
  readonly updated_at: string;
}
const incidentShape = {
  id: s.string(),
  title: s.string(),
  severity: s.literal('low', 'medium', 'high', 'critical'),
  status: s.literal('open', 'investigating', 'contained', 'resolved', 'closed'),
  created_at: timestamp,
  updated_at: timestamp,
};
/** Schema of {@link Incident}. */
export const IncidentSchema: NamedSchema<Incident> = s.named('Incident', s.object(incidentShape));
/** Body of `POST /api/v1/compliance/incidents`. */
export interface IncidentInput {
  readonly title: string;
  readonly severity: Incident['severity'];
  readonly description?: string;
}
/** Schema of {@link IncidentInput}. */
export const IncidentInputSchema: NamedSchema<IncidentInput> = s.named(
  'IncidentInput',
  s.object({
    title: s.string(),
    severity: s.literal('low', 'medium', 'high', 'critical'),
    description: s.optional(s.string()),
  }),
);

/**
 * Where an incident stands in the NIST SP 800-61 life cycle (the compliance
 * package's state machine): it opens in `detection_analysis`; containment,
 * eradication and recovery are NIST's third phase, `post_incident` its
 * fourth. `detection_analysis` → `closed` is for false positives.
 */
export type IncidentState =
  | 'detection_analysis'
  | 'containment'
  | 'eradication'
  | 'recovery'
  | 'post_incident'
  | 'closed';
/** Every {@link IncidentState}, in life-cycle order. */
export const INCIDENT_STATES: readonly IncidentState[] = Object.freeze([
  'detection_analysis',
  'containment',
  'eradication',
  'recovery',
  'post_incident',
  'closed',
]);
const incidentState = s.literal(...INCIDENT_STATES);

/** One entry of an incident's timeline (every change adds one). */
export interface IncidentTimelineEntry {
  readonly at: string;
  /** Who made the change (a user id). */
  readonly by: string;
  readonly kind:
    | 'opened'
    | 'transition'
    | 'note'
    | 'evidence'
    | 'audit_link'
    | 'severity'
    | 'owner'
    | 'breach'
    | 'notification';
  readonly from?: IncidentState;
  readonly to?: IncidentState;
  readonly note?: string;
}
/** Schema of {@link IncidentTimelineEntry}. */
export const IncidentTimelineEntrySchema: NamedSchema<IncidentTimelineEntry> = s.named(
  'IncidentTimelineEntry',
  s.object({
    at: timestamp,
    by: s.string(),
    kind: s.literal(
      'opened',
      'transition',
      'note',
      'evidence',
      'audit_link',
      'severity',
      'owner',
      'breach',
      'notification',
    ),
    from: s.optional(incidentState),
    to: s.optional(incidentState),
    note: s.optional(s.string()),
  }),
);

/** A piece of evidence, referenced by digest and location (chain of custody), never embedded. */
export interface IncidentEvidence {
  /** The caller's id of the item, unique within the incident. */
  readonly id: string;
  readonly description: string;
  /** SHA-256 of the evidence file, 64 lowercase hex characters. */
  readonly sha256?: string;
  /** Where it is kept. */
  readonly location?: string;
  readonly added_at: string;
  readonly added_by: string;
}
const evidenceShape = {
  id: s.string(),
  description: s.string(),
  sha256: s.optional(s.string({ pattern: /^[0-9a-f]{64}$/ })),
  location: s.optional(s.string()),
};
/** Schema of {@link IncidentEvidence}. */
export const IncidentEvidenceSchema: NamedSchema<IncidentEvidence> = s.named(
  'IncidentEvidence',
  s.object({ ...evidenceShape, added_at: timestamp, added_by: s.string() }),
);

/**
 * GDPR Art. 33 tracking of a personal-data breach: the supervisory authority
 * is notified within 72 hours of awareness (`deadline_at`), or the reason no
 * notification is due is documented.
 */
export interface PersonalDataBreach {
  /** When the controller became aware: the 72 hours run from here. */
  readonly aware_at: string;
  /** `aware_at` + 72 h. */
  readonly deadline_at: string;
  readonly notified_at: string | null;
  /** Why the notification came after the deadline (required then, Art. 33(1)). */
  readonly delay_reason?: string;
  /** Why no notification is due (Art. 33(5): documented instead). */
  readonly not_required_reason?: string;
  /** A notification is still due. */
  readonly pending: boolean;
  /** Due and past the deadline. */
  readonly overdue: boolean;
  /** Seconds until the deadline (negative when overdue); null once decided. */
  readonly remaining_seconds: number | null;
}
/** Schema of {@link PersonalDataBreach}. */
export const PersonalDataBreachSchema: NamedSchema<PersonalDataBreach> = s.named(
  'PersonalDataBreach',
  s.object({
    aware_at: timestamp,
    deadline_at: timestamp,
    notified_at: s.nullable(timestamp),
    delay_reason: s.optional(s.string()),
    not_required_reason: s.optional(s.string()),
    pending: s.boolean(),
    overdue: s.boolean(),
    remaining_seconds: s.nullable(s.number({ integer: true })),
  }),
);

/** `GET /api/v1/compliance/incidents/{id}`: an incident with its life cycle, timeline, evidence and Art. 33 clock. */
export interface IncidentDetail extends Incident {
  readonly state: IncidentState;
  /** The NIST SP 800-61 phase of `state`. */
  readonly phase: 'detection_analysis' | 'containment_eradication_recovery' | 'post_incident' | 'closed';
  /** Who handles it (a user id). */
  readonly owner: string;
  /** The states `POST …/transition` may move it to now. */
  readonly allowed_transitions: readonly IncidentState[];
  readonly timeline: readonly IncidentTimelineEntry[];
  readonly evidence: readonly IncidentEvidence[];
  /** Ids of linked audit events (`GET /api/v1/audit/events/{id}`). */
  readonly audit_event_ids: readonly string[];
  /** Present once the incident is marked a personal-data breach. */
  readonly personal_data_breach: PersonalDataBreach | null;
  readonly resolution: 'resolved' | 'false_positive' | null;
  readonly lessons_learned: string | null;
  readonly closed_at: string | null;
}
/** Schema of {@link IncidentDetail}. */
export const IncidentDetailSchema: NamedSchema<IncidentDetail> = s.named(
  'IncidentDetail',
  s.object({
    ...incidentShape,
    state: incidentState,
    phase: s.literal('detection_analysis', 'containment_eradication_recovery', 'post_incident', 'closed'),
    owner: s.string(),
    allowed_transitions: s.array(incidentState),
    timeline: s.array(IncidentTimelineEntrySchema),
    evidence: s.array(IncidentEvidenceSchema),
    audit_event_ids: s.array(s.string()),
    personal_data_breach: s.nullable(PersonalDataBreachSchema),
    resolution: s.nullable(s.literal('resolved', 'false_positive')),
    lessons_learned: s.nullable(s.string()),
    closed_at: s.nullable(timestamp),
  }),
);

/**
 * Body of `POST /api/v1/compliance/incidents/{id}/transition`. Closing from
 * `detection_analysis` needs `resolution: 'false_positive'`, closing from
 * `post_incident` needs `lessons_learned`, and a personal-data breach closes
 * only once its notification is decided. A move the state machine does not
 * allow answers 409 `ILLEGAL_TRANSITION` and changes nothing.
 */
export interface IncidentTransitionRequest {
  readonly to: IncidentState;
  readonly note?: string;
  readonly resolution?: 'false_positive';
  readonly lessons_learned?: string;
}
/** Schema of {@link IncidentTransitionRequest}. */
export const IncidentTransitionRequestSchema: NamedSchema<IncidentTransitionRequest> = s.named(
  'IncidentTransitionRequest',
  s.object({
    to: incidentState,
    note: s.optional(s.string()),
    resolution: s.optional(s.literal('false_positive')),
    lessons_learned: s.optional(s.string()),
  }),
);

/**
 * Body of `POST /api/v1/compliance/incidents/{id}/entries`: timeline entries —
 * a note, evidence, links to audit events (each must exist) — at least one.
 */
export interface IncidentEntriesRequest {
  readonly note?: string;
  readonly evidence?: readonly { id: string; description: string; sha256?: string; location?: string }[];
  readonly audit_event_ids?: readonly string[];
}
/** Schema of {@link IncidentEntriesRequest}. */
export const IncidentEntriesRequestSchema: NamedSchema<IncidentEntriesRequest> = s.named(
  'IncidentEntriesRequest',
  s.object({
    note: s.optional(s.string()),
    evidence: s.optional(s.array(s.object(evidenceShape), { maxItems: 50 })),
    audit_event_ids: s.optional(s.array(s.string(), { maxItems: 100 })),
  }),
);

/** Body of `POST /api/v1/compliance/incidents/{id}/breach`: starts the Art. 33 clock. */
export interface IncidentBreachRequest {
  /** When the breach became known (default: now; never in the future). */
  readonly aware_at?: string;
}
/** Schema of {@link IncidentBreachRequest}. */
export const IncidentBreachRequestSchema: NamedSchema<IncidentBreachRequest> = s.named(
  'IncidentBreachRequest',
  s.object({ aware_at: s.optional(timestamp) }),
);

/**
 * Body of `POST /api/v1/compliance/incidents/{id}/breach/notification`: the
 * authority was notified (`notified_at`, default now; after the deadline
 * with `delay_reason`), or no notification is due (`not_required_reason`).
 */
export interface IncidentNotificationRequest {
  readonly notified_at?: string;
  readonly delay_reason?: string;
  readonly not_required_reason?: string;
}
/** Schema of {@link IncidentNotificationRequest}. */
export const IncidentNotificationRequestSchema: NamedSchema<IncidentNotificationRequest> = s.named(
  'IncidentNotificationRequest',
  s.object({
    notified_at: s.optional(timestamp),
    delay_reason: s.optional(s.string()),
    not_required_reason: s.optional(s.string()),
  }),
);

// ---------------------------------------------------------------- routes

/** Names of the orchestrator's routes. */
export type OrchestratorRouteId =
  | 'health'
  | 'listTasks'
  | 'getTask'
  | 'cancelTask'
  | 'createServersWorkflow'
  | 'createTaskservWorkflow'
  | 'createClusterWorkflow'
  | 'createBatchWorkflow'
  | 'generateSecret'
  | 'getSecret'
  | 'revokeSecret'
  | 'renewSecret'
  | 'listSecrets'
  | 'expiringSecrets'
  | 'secretStats'
  | 'generateSshKey'
  | 'listSshKeys'
  | 'getSshKey'
  | 'deploySshKey'
  | 'revokeSshKey'
  | 'connectSshKey'
  | 'requestBreakGlass'
  | 'listBreakGlass'
  | 'getBreakGlass'
  | 'approveBreakGlass'
  | 'denyBreakGlass'
  | 'activateBreakGlass'
  | 'revokeBreakGlass'
  | 'activeBreakGlass'
  | 'queryAudit'
  | 'getAuditEvent'
  | 'exportAudit'
  | 'verifyAudit'
  | 'auditStats'
  | 'listControls'
  | 'complianceReport'
  | 'createDataSubjectRequest'
  | 'getDataSubjectRequest'
  | 'verifyDataSubjectRequest'
  | 'extendDataSubjectRequest'
  | 'listIncidents'
  | 'createIncident'
  | 'getIncident'
  | 'transitionIncident'
  | 'addIncidentEntries'
  | 'markIncidentBreach'
  | 'recordIncidentNotification';

const str = s.string();

const r = routeBuilder<OrchestratorRouteId>('orchestrator', { origin: 'designed', auth: true, envelope: true });

const workflow = (kind: WorkflowKind, id: OrchestratorRouteId): Route =>
  r(id, 'POST', `/workflows/${kind}/create`, `Submit a ${kind} workflow`, WorkflowIdSchema, {
    origin: kind === 'servers' ? 'known' : 'designed',
    request: WorkflowRequestSchema,
  });

/**
 * Every orchestrator route. Known routes follow PLATFORM-API.md exactly;
 * designed ones (`origin: 'designed'`) live under `/api/v1` in the same style.
 * Security order on the server: rate limit → JWT → MFA (production deploys,
 * every DELETE) → Cedar → audit.
 */
export const ORCHESTRATOR_ROUTES: Readonly<Record<OrchestratorRouteId, Route>> = Object.freeze({
  health: r('health', 'GET', '/health', 'Liveness; data is "Orchestrator is healthy"', str, {
    origin: 'known',
    auth: false,
  }),
  listTasks: r('listTasks', 'GET', '/tasks', 'List tasks', s.array(WorkflowTaskSchema), {
    origin: 'known',
    query: [
      { name: 'status', schema: s.literal(...TASK_STATUSES) },
      // Designed: the tasks of one workflow (the id `POST /workflows/…/create` answers).
      { name: 'workflow_id', schema: s.string({ pattern: /^[0-9A-Za-z-]{1,64}$/ }) },
      ...PAGINATION_QUERY,
    ],
  }),
  getTask: r('getTask', 'GET', '/tasks/{id}', 'One task', WorkflowTaskSchema, { origin: 'known' }),
  cancelTask: r(
    'cancelTask',
    'POST',
    '/tasks/{id}/cancel',
    'Cancel a task, or every unfinished task of a workflow given its id; answers the cancelled tasks',
    s.array(WorkflowTaskSchema),
  ),
  createServersWorkflow: workflow('servers', 'createServersWorkflow'),
  createTaskservWorkflow: workflow('taskserv', 'createTaskservWorkflow'),
  createClusterWorkflow: workflow('cluster', 'createClusterWorkflow'),
  createBatchWorkflow: workflow('batch', 'createBatchWorkflow'),
  generateSecret: r(
    'generateSecret',
    'POST',
    '/api/v1/secrets/generate',
    'Generate a dynamic secret',
    DynamicSecretSchema,
    {
      origin: 'known',
      request: GenerateSecretRequestSchema,
      status: 201,
    },
  ),
  getSecret: r('getSecret', 'GET', '/api/v1/secrets/{id}', 'A secret lease (no credentials)', SecretLeaseSchema, {
    origin: 'known',
  }),
  revokeSecret: r('revokeSecret', 'POST', '/api/v1/secrets/{id}/revoke', 'Revoke a secret', SecretLeaseSchema, {
    origin: 'known',
    request: RevokeRequestSchema,
    // Revoking twice leaves the same state: safe to retry.
    idempotent: true,
  }),
  renewSecret: r('renewSecret', 'POST', '/api/v1/secrets/{id}/renew', 'Renew a renewable secret', SecretLeaseSchema, {
    origin: 'known',
    request: RenewSecretRequestSchema,
  }),
  listSecrets: r(
    'listSecrets',
    'GET',
    '/api/v1/secrets/list',
    'The caller’s active leases',
    s.array(SecretLeaseSchema),
    {
      origin: 'known',
      query: PAGINATION_QUERY,
    },
  ),
  expiringSecrets: r(
    'expiringSecrets',
    'GET',
    '/api/v1/secrets/expiring',
    'Leases expiring soon',
    s.array(SecretLeaseSchema),
    {
      origin: 'known',
      query: [{ name: 'within_seconds', schema: s.number({ integer: true, minimum: 1 }) }],
    },
  ),
  secretStats: r('secretStats', 'GET', '/api/v1/secrets/stats', 'Lease counts', SecretStatsSchema, { origin: 'known' }),
  generateSshKey: r('generateSshKey', 'POST', '/api/v1/ssh/keys', 'Generate a temporal SSH key', SshKeySchema, {
    request: GenerateSshKeyRequestSchema,
    status: 201,
  }),
  listSshKeys: r('listSshKeys', 'GET', '/api/v1/ssh/keys', 'Active SSH keys (no private keys)', s.array(SshKeySchema), {
    query: PAGINATION_QUERY,
  }),
  getSshKey: r('getSshKey', 'GET', '/api/v1/ssh/keys/{id}', 'One SSH key (no private key)', SshKeySchema),
  deploySshKey: r(
    'deploySshKey',
    'POST',
    '/api/v1/ssh/keys/{id}/deploy',
    'Install the public key on its server',
    SshKeySchema,
    {
      idempotent: true,
    },
  ),
  revokeSshKey: r('revokeSshKey', 'POST', '/api/v1/ssh/keys/{id}/revoke', 'Remove and revoke the key', SshKeySchema, {
    request: RevokeRequestSchema,
    idempotent: true,
  }),
  connectSshKey: r(
    'connectSshKey',
    'POST',
    '/api/v1/ssh/keys/{id}/connect',
    'Connection details',
    SshConnectInfoSchema,
    {
      idempotent: true,
    },
  ),
  requestBreakGlass: r(
    'requestBreakGlass',
    'POST',
    '/api/v1/break-glass/requests',
    'Request emergency access',
    BreakGlassRequestSchema,
    {
      request: BreakGlassRequestInputSchema,
      status: 201,
    },
  ),
  listBreakGlass: r(
    'listBreakGlass',
    'GET',
    '/api/v1/break-glass/requests',
    'Break-glass requests',
    s.array(BreakGlassRequestSchema),
    {
      query: [{ name: 'status', schema: s.string() }, ...PAGINATION_QUERY],
    },
  ),
  getBreakGlass: r('getBreakGlass', 'GET', '/api/v1/break-glass/requests/{id}', 'One request', BreakGlassRequestSchema),
  approveBreakGlass: r(
    'approveBreakGlass',
    'POST',
    '/api/v1/break-glass/requests/{id}/approve',
    'Approve (not by the requester)',
    BreakGlassRequestSchema,
    {
      request: BreakGlassDecisionSchema,
    },
  ),
  denyBreakGlass: r(
    'denyBreakGlass',
    'POST',
    '/api/v1/break-glass/requests/{id}/deny',
    'Deny',
    BreakGlassRequestSchema,
    {
      request: BreakGlassDecisionSchema,
    },
  ),
  activateBreakGlass: r(
    'activateBreakGlass',
    'POST',
    '/api/v1/break-glass/requests/{id}/activate',
    'Get the emergency token',
    BreakGlassActivationSchema,
  ),
  revokeBreakGlass: r(
    'revokeBreakGlass',
    'POST',
    '/api/v1/break-glass/requests/{id}/revoke',
    'End emergency access',
    BreakGlassRequestSchema,
    {
      request: BreakGlassDecisionSchema,
      idempotent: true,
    },
  ),
  activeBreakGlass: r(
    'activeBreakGlass',
    'GET',
    '/api/v1/break-glass/active',
    'Active emergency sessions',
    s.array(BreakGlassRequestSchema),
  ),
  queryAudit: r('queryAudit', 'GET', '/api/v1/audit/events', 'Query audit events', s.array(AuditEventSchema), {
    query: [...AUDIT_FILTER_QUERY, ...PAGINATION_QUERY],
  }),
  getAuditEvent: r('getAuditEvent', 'GET', '/api/v1/audit/events/{id}', 'One audit event', AuditEventSchema),
  exportAudit: r('exportAudit', 'GET', '/api/v1/audit/export', 'Export events as a file (not enveloped)', s.string(), {
    envelope: false,
    contentType: 'text/plain',
    query: [
      { name: 'format', schema: s.literal('json', 'jsonl', 'csv', 'ecs', 'splunk'), required: true },
      ...AUDIT_FILTER_QUERY,
    ],
  }),
  verifyAudit: r('verifyAudit', 'GET', '/api/v1/audit/verify', 'Check the hash chain', AuditVerificationSchema),
  auditStats: r('auditStats', 'GET', '/api/v1/audit/stats', 'Event counts', AuditStatsSchema),
  listControls: r(
    'listControls',
    'GET',
    '/api/v1/compliance/controls',
    'Controls and their status',
    s.array(ComplianceControlSchema),
    {
      query: [{ name: 'framework', schema: s.literal('soc2', 'iso27001', 'gdpr') }],
    },
  ),
  complianceReport: r(
    'complianceReport',
    'GET',
    '/api/v1/compliance/reports/{framework}',
    'A framework report',
    ComplianceReportSchema,
  ),
  createDataSubjectRequest: r(
    'createDataSubjectRequest',
    'POST',
    '/api/v1/compliance/gdpr/requests',
    'Open a GDPR request',
    DataSubjectRequestSchema,
    {
      request: DataSubjectRequestInputSchema,
      status: 201,
    },
  ),
  getDataSubjectRequest: r(
    'getDataSubjectRequest',
    'GET',
    '/api/v1/compliance/gdpr/requests/{id}',
    'One GDPR request',
    DataSubjectRequestSchema,
  ),
  verifyDataSubjectRequest: r(
    'verifyDataSubjectRequest',
    'POST',
    '/api/v1/compliance/gdpr/requests/{id}/verify',
    'An administrator records the out-of-band identity check of a request filed for someone, and it is processed (an export comes in this answer)',
    DataSubjectRequestSchema,
    { request: DataSubjectVerificationInputSchema, idempotent: false },
  ),
  extendDataSubjectRequest: r(
    'extendDataSubjectRequest',
    'POST',
    '/api/v1/compliance/gdpr/requests/{id}/extend',
    'An administrator extends the deadline of an open request by two months (GDPR Art. 12(3): once, before it passes), with the reason the subject is told',
    DataSubjectRequestSchema,
    { request: DataSubjectExtensionInputSchema, idempotent: false },
  ),
  listIncidents: r('listIncidents', 'GET', '/api/v1/compliance/incidents', 'Incidents', s.array(IncidentSchema), {
    query: PAGINATION_QUERY,
  }),
  createIncident: r('createIncident', 'POST', '/api/v1/compliance/incidents', 'Open an incident', IncidentSchema, {
    request: IncidentInputSchema,
    status: 201,
  }),
  getIncident: r(
    'getIncident',
    'GET',
    '/api/v1/compliance/incidents/{id}',
    'One incident: life cycle, timeline, evidence, audit links, the Art. 33 deadline',
    IncidentDetailSchema,
  ),
  transitionIncident: r(
    'transitionIncident',
    'POST',
    '/api/v1/compliance/incidents/{id}/transition',
    'Move an incident along the NIST life cycle (409 ILLEGAL_TRANSITION otherwise)',
    IncidentDetailSchema,
    { request: IncidentTransitionRequestSchema },
  ),
  addIncidentEntries: r(
    'addIncidentEntries',
    'POST',
    '/api/v1/compliance/incidents/{id}/entries',
    'Add a note, evidence or audit-event links to the timeline',
    IncidentDetailSchema,
    { request: IncidentEntriesRequestSchema },
  ),
  markIncidentBreach: r(
    'markIncidentBreach',
    'POST',
    '/api/v1/compliance/incidents/{id}/breach',
    'Mark a personal-data breach: the GDPR Art. 33 72-hour clock starts',
    IncidentDetailSchema,
    { request: IncidentBreachRequestSchema },
  ),
  recordIncidentNotification: r(
    'recordIncidentNotification',
    'POST',
    '/api/v1/compliance/incidents/{id}/breach/notification',
    'Record the supervisory authority’s notification, or why none is due',
    IncidentDetailSchema,
    { request: IncidentNotificationRequestSchema },
  ),
});

/** Health `data` of the orchestrator (known). */
export const ORCHESTRATOR_HEALTHY_MESSAGE = 'Orchestrator is healthy';
