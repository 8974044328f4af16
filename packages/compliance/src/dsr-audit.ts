import type { DsrRecord, DsrType } from './dsr-model.js';

/** The `@provisioning/audit` actions a data-subject request is recorded under. */
export type DsrAuditAction = 'compliance.data.exported' | 'compliance.data.erased' | 'compliance.data.rectified';

/**
 * The audit action of each request type. Restriction and objection have none:
 * `@provisioning/audit`'s catalog defines no action for them (yet), so they
 * are not audited through the sink.
 */
export const DSR_AUDIT_ACTIONS: Readonly<Partial<Record<DsrType, DsrAuditAction>>> = Object.freeze({
  access: 'compliance.data.exported',
  portability: 'compliance.data.exported',
  erasure: 'compliance.data.erased',
  rectification: 'compliance.data.rectified',
});

/**
 * The audit event of one processing attempt, in `@provisioning/audit`'s
 * `AuditEventInput` shape. It names the subject by id only (`resource.id`),
 * never by name, email or any exported or corrected value; provider ids,
 * statuses and the export digest are not personal data.
 */
export interface DsrAuditEvent {
  readonly action: DsrAuditAction;
  /** `success` when the request completed, else `failure` (partially completed or failed). */
  readonly outcome: 'success' | 'failure';
  readonly actor: { readonly id: 'compliance.dsr'; readonly type: 'system' };
  readonly resource: { readonly type: 'data_subject'; readonly id: string };
  /** For a failure: how many providers failed. */
  readonly reason?: string;
  readonly metadata: {
    readonly requestId: string;
    readonly requestType: DsrType;
    readonly status: string;
    readonly attempt: number;
    readonly succeeded: readonly string[];
    readonly failed: readonly string[];
    readonly notApplicable: readonly string[];
    /** Access and portability: SHA-256 of the bundle handed out (of its canonical JSON, before encryption). */
    readonly exportSha256?: string;
    readonly encrypted?: boolean;
  };
}

/**
 * Where the DSR service records its audit events: `@provisioning/audit`'s
 * `AuditLog` fits. Each event is recorded with `{ durable: true }`, so an
 * `AuditLog` resolves only once the event is stored, and rejects when its
 * sinks cannot store it; a sink without the option should do the same. A
 * rejection is a failure to audit (see `DsrServiceOptions.audit`).
 */
export interface DsrAuditSink {
  record(
    event: DsrAuditEvent,
    options?: { readonly durable?: boolean },
    // biome-ignore lint/suspicious/noConfusingVoidType: sinks that return nothing (`void`) must fit too
  ): Promise<unknown> | undefined | void;
}

/** @internal The event of a processing attempt that ended in `record`'s status, if its type is audited. */
export function dsrAuditEvent(record: DsrRecord): DsrAuditEvent | undefined {
  const action = DSR_AUDIT_ACTIONS[record.type];
  if (action === undefined) return undefined;
  const ids = (status: string): string[] =>
    Object.entries(record.providers)
      .filter(([, r]) => r.status === status)
      .map(([id]) => id)
      .sort();
  const failed = ids('failed');
  return {
    action,
    outcome: record.status === 'completed' ? 'success' : 'failure',
    actor: { id: 'compliance.dsr', type: 'system' },
    resource: { type: 'data_subject', id: record.subjectId },
    ...(failed.length > 0 ? { reason: `${failed.length} provider(s) failed` } : {}),
    metadata: {
      requestId: record.id,
      requestType: record.type,
      status: record.status,
      attempt: record.history.filter((h) => h.to === 'in_progress').length,
      succeeded: ids('succeeded'),
      failed,
      notApplicable: ids('not_applicable'),
      ...(record.export ? { exportSha256: record.export.sha256, encrypted: record.export.encrypted } : {}),
    },
  };
}
