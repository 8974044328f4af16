import type { Clock } from '@provisioning/core';
import { systemClock, uuidv7 } from '@provisioning/core';
import type { ComplianceCheck } from './checks.js';
import { manual } from './checks.js';
import { BREACH_NOTIFICATION_WINDOW_MS } from './deadline.js';
import { ComplianceError, invalidInput } from './errors.js';

/** The four phases of the NIST SP 800-61 incident response life cycle. */
export type NistPhase = 'preparation' | 'detection_analysis' | 'containment_eradication_recovery' | 'post_incident';

/**
 * Where an incident stands. Preparation is the organisation's standing
 * readiness (plan, contacts, tooling, see `incidentChecks()`), not a state
 * of an incident: an incident opens in `detection_analysis`.
 */
export type IncidentState =
  | 'detection_analysis'
  | 'containment'
  | 'eradication'
  | 'recovery'
  | 'post_incident'
  | 'closed';

/** Every {@link IncidentState}. */
export const INCIDENT_STATES: readonly IncidentState[] = Object.freeze([
  'detection_analysis',
  'containment',
  'eradication',
  'recovery',
  'post_incident',
  'closed',
]);

/** The NIST phase of each state. */
export const INCIDENT_PHASE: Readonly<Record<IncidentState, NistPhase | 'closed'>> = Object.freeze({
  detection_analysis: 'detection_analysis',
  containment: 'containment_eradication_recovery',
  eradication: 'containment_eradication_recovery',
  recovery: 'containment_eradication_recovery',
  post_incident: 'post_incident',
  closed: 'closed',
});

/**
 * The incident state machine. Backward edges follow NIST's loop: new findings
 * during containment, eradication or recovery send the incident back to
 * analysis, and a recurrence during recovery back to containment.
 * `detection_analysis` → `closed` is only for false positives.
 */
export const INCIDENT_TRANSITIONS: Readonly<Record<IncidentState, readonly IncidentState[]>> = Object.freeze({
  detection_analysis: ['containment', 'closed'],
  containment: ['eradication', 'detection_analysis'],
  eradication: ['recovery', 'detection_analysis'],
  recovery: ['post_incident', 'containment', 'detection_analysis'],
  post_incident: ['closed'],
  closed: [],
});

/** Incident severity. */
export type IncidentSeverity = 'low' | 'medium' | 'high' | 'critical';
const SEVERITIES: readonly IncidentSeverity[] = ['low', 'medium', 'high', 'critical'];

/** One entry of an incident's timeline. */
export interface IncidentTimelineEntry {
  readonly at: string;
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

/** A piece of evidence (a log export, a disk image …) referenced by digest, not embedded. */
export interface IncidentEvidence {
  readonly id: string;
  readonly description: string;
  /** SHA-256 (hex) of the evidence file, for chain of custody. */
  readonly sha256?: string;
  /** Where it is kept. */
  readonly location?: string;
  readonly addedAt: string;
  readonly addedBy: string;
}

/** GDPR Art. 33 tracking of a personal-data breach. */
export interface PersonalDataBreach {
  /** When the controller became aware of the breach: the 72 hours run from here. */
  readonly awareAt: string;
  /** `awareAt` + 72 h. */
  readonly deadlineAt: string;
  /** When the supervisory authority was notified. */
  readonly notifiedAt?: string;
  /** Required when notified after the deadline (Art. 33(1)). */
  readonly delayReason?: string;
  /** Set when the breach is unlikely to result in a risk to people, so no notification is due; the reasoning must be documented (Art. 33(5)). */
  readonly notRequiredReason?: string;
}

/** An incident record. Plain JSON (times are ISO 8601 strings); every change returns a new record. */
export interface Incident {
  readonly id: string;
  readonly title: string;
  readonly severity: IncidentSeverity;
  readonly owner: string;
  readonly state: IncidentState;
  readonly openedAt: string;
  readonly timeline: readonly IncidentTimelineEntry[];
  /** Ids of related audit events. */
  readonly auditEventIds: readonly string[];
  readonly evidence: readonly IncidentEvidence[];
  readonly personalDataBreach?: PersonalDataBreach;
  /** How it ended: resolved, or a false positive closed after analysis. */
  readonly resolution?: 'resolved' | 'false_positive';
  readonly lessonsLearned?: string;
  readonly closedAt?: string;
}

/** Options every incident operation takes. */
export interface IncidentOptions {
  /** Default: the system clock. */
  readonly clock?: Clock;
}

const TEXT_MAX = 2000;
const text = (value: unknown, name: string, max = TEXT_MAX): string => {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw invalidInput(`${name} must be 1 to ${max} characters`);
  }
  return value.trim();
};
const nowIso = (options?: IncidentOptions): string => new Date((options?.clock ?? systemClock).now()).toISOString();
const entry = (
  options: IncidentOptions | undefined,
  by: string,
  kind: IncidentTimelineEntry['kind'],
  extra: Partial<IncidentTimelineEntry> = {},
): IncidentTimelineEntry => ({
  at: nowIso(options),
  by: text(by, 'by', 200),
  kind,
  ...extra,
});
const assertIncident = (incident: Incident): void => {
  if (typeof incident !== 'object' || incident === null || !INCIDENT_STATES.includes(incident.state)) {
    throw invalidInput('not an incident record');
  }
};

/**
 * Opens an incident in `detection_analysis`.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` for a missing title, owner or unknown severity.
 * @example
 * ```ts
 * const inc = openIncident({ title: 'Token signing key exposed', severity: 'critical', owner: 'alice', by: 'bob' });
 * ```
 */
export function openIncident(
  input: {
    readonly title: string;
    readonly severity: IncidentSeverity;
    readonly owner: string;
    readonly by: string;
    readonly id?: string;
  },
  options?: IncidentOptions,
): Incident {
  if (typeof input !== 'object' || input === null) throw invalidInput('incident input is required');
  if (!SEVERITIES.includes(input.severity)) throw invalidInput('severity must be low, medium, high or critical');
  const at = nowIso(options);
  return {
    id: input.id ?? uuidv7(options?.clock ?? systemClock),
    title: text(input.title, 'title', 300),
    severity: input.severity,
    owner: text(input.owner, 'owner', 200),
    state: 'detection_analysis',
    openedAt: at,
    timeline: [entry(options, input.by, 'opened', { to: 'detection_analysis' })],
    auditEventIds: [],
    evidence: [],
  };
}

/**
 * Moves an incident to another state.
 *
 * - closing from `detection_analysis` needs `resolution: 'false_positive'`;
 * - closing from `post_incident` needs `lessonsLearned`;
 * - a personal-data breach cannot close before the authority was notified or
 *   the notification was documented as not required.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_ILLEGAL_TRANSITION` (details `from`, `to`) for a transition the machine does not allow;
 * `ERR_COMPLIANCE_INVALID_INPUT` when a closing condition is not met.
 * @example
 * ```ts
 * inc = transitionIncident(inc, 'containment', { by: 'alice', note: 'key revoked' });
 * ```
 */
export function transitionIncident(
  incident: Incident,
  to: IncidentState,
  input: {
    readonly by: string;
    readonly note?: string;
    readonly resolution?: 'false_positive';
    readonly lessonsLearned?: string;
  },
  options?: IncidentOptions,
): Incident {
  assertIncident(incident);
  const from = incident.state;
  if (!INCIDENT_TRANSITIONS[from].includes(to)) {
    throw new ComplianceError(`an incident cannot go from ${from} to ${String(to)}`, {
      code: 'ERR_COMPLIANCE_ILLEGAL_TRANSITION',
      fault: 'client',
      details: { machine: 'incident', from, to: String(to).slice(0, 40) },
    });
  }
  let patch: Partial<Incident> = {};
  if (to === 'closed') {
    const breach = incident.personalDataBreach;
    if (breach && !breach.notifiedAt && !breach.notRequiredReason) {
      throw invalidInput(
        'a personal-data breach cannot be closed before the authority notification is recorded or documented as not required',
      );
    }
    if (from === 'detection_analysis') {
      if (input.resolution !== 'false_positive') {
        throw invalidInput('an incident closes from analysis only as a false positive');
      }
      patch = { resolution: 'false_positive' };
    } else {
      patch = { resolution: 'resolved', lessonsLearned: text(input.lessonsLearned, 'lessonsLearned') };
    }
    patch = { ...patch, closedAt: nowIso(options) };
  }
  return {
    ...incident,
    ...patch,
    state: to,
    timeline: [
      ...incident.timeline,
      entry(options, input.by, 'transition', { from, to, ...(input.note ? { note: text(input.note, 'note') } : {}) }),
    ],
  };
}

/**
 * Adds a note, links audit events, or adds evidence (each also goes on the timeline).
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT`; `ERR_COMPLIANCE_ILLEGAL_TRANSITION` on a closed incident.
 * @example
 * ```ts
 * inc = updateIncident(inc, { by: 'alice', auditEventIds: ['evt-0193…'], evidence: [{ id: 'ev1', description: 'auth log export', sha256 }] });
 * ```
 */
export function updateIncident(
  incident: Incident,
  input: {
    readonly by: string;
    readonly note?: string;
    readonly auditEventIds?: readonly string[];
    readonly evidence?: readonly {
      readonly id: string;
      readonly description: string;
      readonly sha256?: string;
      readonly location?: string;
    }[];
    readonly severity?: IncidentSeverity;
    readonly owner?: string;
  },
  options?: IncidentOptions,
): Incident {
  assertIncident(incident);
  if (incident.state === 'closed') {
    throw new ComplianceError('a closed incident cannot be changed', {
      code: 'ERR_COMPLIANCE_ILLEGAL_TRANSITION',
      fault: 'client',
      details: { machine: 'incident', from: 'closed', to: 'closed' },
    });
  }
  const timeline = [...incident.timeline];
  let next: Incident = incident;
  if (input.note !== undefined) timeline.push(entry(options, input.by, 'note', { note: text(input.note, 'note') }));
  if (input.auditEventIds !== undefined) {
    const ids = input.auditEventIds.map((id) => text(id, 'audit event id', 200));
    const fresh = ids.filter((id) => !incident.auditEventIds.includes(id));
    next = { ...next, auditEventIds: [...incident.auditEventIds, ...new Set(fresh)] };
    timeline.push(entry(options, input.by, 'audit_link', { note: `${fresh.length} audit event(s) linked` }));
  }
  if (input.evidence !== undefined) {
    const ids = new Set(incident.evidence.map((x) => x.id));
    const added = input.evidence.map((e): IncidentEvidence => {
      if (e.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(e.sha256))
        throw invalidInput('evidence sha256 must be 64 lowercase hex characters');
      // Evidence ids are chain-of-custody references: one id, one item, within a batch too.
      if (ids.has(e.id)) throw invalidInput('evidence id already used');
      ids.add(e.id);
      return {
        id: text(e.id, 'evidence id', 200),
        description: text(e.description, 'evidence description'),
        ...(e.sha256 ? { sha256: e.sha256 } : {}),
        ...(e.location ? { location: text(e.location, 'evidence location', 500) } : {}),
        addedAt: nowIso(options),
        addedBy: input.by,
      };
    });
    next = { ...next, evidence: [...incident.evidence, ...added] };
    timeline.push(entry(options, input.by, 'evidence', { note: added.map((e) => e.id).join(', ') }));
  }
  if (input.severity !== undefined) {
    if (!SEVERITIES.includes(input.severity)) throw invalidInput('severity must be low, medium, high or critical');
    timeline.push(entry(options, input.by, 'severity', { note: `${incident.severity} -> ${input.severity}` }));
    next = { ...next, severity: input.severity };
  }
  if (input.owner !== undefined) {
    const owner = text(input.owner, 'owner', 200);
    timeline.push(entry(options, input.by, 'owner', { note: `${incident.owner} -> ${owner}` }));
    next = { ...next, owner };
  }
  return { ...next, timeline };
}

/**
 * Marks the incident as a personal-data breach: the GDPR Art. 33 clock starts
 * at `awareAt` (default now) and the authority must be notified within 72 hours.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` if already marked or `awareAt` is invalid or in the future.
 * @example
 * ```ts
 * inc = markPersonalDataBreach(inc, { by: 'dpo', awareAt: new Date('2026-06-01T09:00:00Z') });
 * ```
 */
export function markPersonalDataBreach(
  incident: Incident,
  input: { readonly by: string; readonly awareAt?: Date },
  options?: IncidentOptions,
): Incident {
  assertIncident(incident);
  if (incident.personalDataBreach) throw invalidInput('the incident is already a personal-data breach');
  if (incident.state === 'closed') throw invalidInput('the incident is closed');
  const now = (options?.clock ?? systemClock).now();
  const aware = input.awareAt?.getTime() ?? now;
  if (!Number.isFinite(aware) || aware > now) throw invalidInput('awareAt must be a valid time, not in the future');
  return {
    ...incident,
    personalDataBreach: {
      awareAt: new Date(aware).toISOString(),
      deadlineAt: new Date(aware + BREACH_NOTIFICATION_WINDOW_MS).toISOString(),
    },
    timeline: [
      ...incident.timeline,
      entry(options, input.by, 'breach', { note: 'personal-data breach; Art. 33 72-hour clock started' }),
    ],
  };
}

/**
 * Records the notification of the supervisory authority, or documents why
 * none is required. A notification after the 72 hours needs `delayReason`.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` when not a breach, already recorded, or late without a reason.
 * @example
 * ```ts
 * inc = recordBreachNotification(inc, { by: 'dpo', notifiedAt: new Date() });
 * inc = recordBreachNotification(inc, { by: 'dpo', notRequiredReason: 'encrypted laptop, key not exposed' });
 * ```
 */
export function recordBreachNotification(
  incident: Incident,
  input: {
    readonly by: string;
    readonly notifiedAt?: Date;
    readonly delayReason?: string;
    readonly notRequiredReason?: string;
  },
  options?: IncidentOptions,
): Incident {
  assertIncident(incident);
  const breach = incident.personalDataBreach;
  if (!breach) throw invalidInput('the incident is not a personal-data breach');
  if (breach.notifiedAt || breach.notRequiredReason)
    throw invalidInput('the notification decision is already recorded');
  let updated: PersonalDataBreach;
  if (input.notRequiredReason !== undefined) {
    updated = { ...breach, notRequiredReason: text(input.notRequiredReason, 'notRequiredReason') };
  } else {
    const now = (options?.clock ?? systemClock).now();
    const at = input.notifiedAt?.getTime() ?? now;
    if (!Number.isFinite(at) || at > now || at < Date.parse(breach.awareAt)) {
      throw invalidInput('notifiedAt must be a valid time between awareness and now');
    }
    const late = at > Date.parse(breach.deadlineAt);
    if (late && input.delayReason === undefined) {
      throw invalidInput('a notification after 72 hours must give the reasons for the delay (Art. 33(1))');
    }
    updated = {
      ...breach,
      notifiedAt: new Date(at).toISOString(),
      ...(input.delayReason !== undefined ? { delayReason: text(input.delayReason, 'delayReason') } : {}),
    };
  }
  return {
    ...incident,
    personalDataBreach: updated,
    timeline: [
      ...incident.timeline,
      entry(options, input.by, 'notification', {
        note: updated.notRequiredReason ? 'notification documented as not required' : 'supervisory authority notified',
      }),
    ],
  };
}

/** Where an incident stands against the 72-hour deadline. */
export interface BreachNotificationStatus {
  /** Whether a notification is (still) due: a breach, not notified, not documented as not required. */
  readonly pending: boolean;
  readonly deadlineAt?: string;
  /** Pending and past the deadline. */
  readonly overdue: boolean;
  /** Milliseconds until the deadline (negative when overdue); absent when not pending. */
  readonly remainingMs?: number;
}

/**
 * The Art. 33 notification status of an incident at `now` (default: the clock).
 *
 * @example
 * ```ts
 * breachNotificationStatus(inc, { clock }).overdue; // true after 72 h without notification
 * ```
 */
export function breachNotificationStatus(incident: Incident, options?: IncidentOptions): BreachNotificationStatus {
  const breach = incident.personalDataBreach;
  if (!breach) return { pending: false, overdue: false };
  if (breach.notifiedAt || breach.notRequiredReason)
    return { pending: false, overdue: false, deadlineAt: breach.deadlineAt };
  const remainingMs = Date.parse(breach.deadlineAt) - (options?.clock ?? systemClock).now();
  return { pending: true, deadlineAt: breach.deadlineAt, overdue: remainingMs < 0, remainingMs };
}

/** Readers of the incident checks. */
export interface IncidentReaders {
  /** The open (and recent) incidents. */
  readonly incidents?: { list(): Promise<readonly Incident[]> };
  /** Standing readiness (NIST preparation phase). */
  readonly incidentResponsePlan?: {
    read(): Promise<{
      readonly owner?: string | null;
      readonly reviewedAt?: Date | string | null;
      readonly contacts: number;
    }>;
  };
}

/**
 * The incident checks: `incident.breach-notification` (no Art. 33 deadline
 * missed) and `incident.response-plan` (a plan with an owner and contacts,
 * reviewed within `planMaxAgeDays`, default 365).
 *
 * @example
 * ```ts
 * const registry = createCheckRegistry([...builtinChecks(), ...incidentChecks()]);
 * ```
 */
export function incidentChecks(options: { readonly planMaxAgeDays?: number } = {}): ComplianceCheck[] {
  const maxAgeMs = (options.planMaxAgeDays ?? 365) * 86_400_000;
  return [
    {
      id: 'incident.breach-notification',
      title: 'Personal-data breaches notified within 72 hours',
      description: 'No personal-data breach is past its GDPR Art. 33 notification deadline without a notification.',
      soc2: ['CC7', 'P6'],
      iso27001: ['5.24', '5.26', '5.34'],
      async run({ readers, clock }) {
        const reader = (readers as IncidentReaders).incidents;
        if (!reader) return manual('incidents');
        const incidents = await reader.list();
        const overdue = incidents.filter((i) => breachNotificationStatus(i, { clock }).overdue);
        const pending = incidents.filter((i) => breachNotificationStatus(i, { clock }).pending);
        const evidence = [
          `${incidents.length} incident(s), ${pending.length} breach notification(s) pending`,
          ...overdue.map((i) => `incident ${i.id} notification was due ${i.personalDataBreach?.deadlineAt}`),
        ];
        return overdue.length === 0
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation: 'Notify the supervisory authority now, with the reasons for the delay.',
            };
      },
    },
    {
      id: 'incident.response-plan',
      title: 'Incident response plan owned and reviewed',
      description:
        'Preparation: an incident response plan exists, has an owner and contacts, and was reviewed recently.',
      soc2: ['CC7'],
      iso27001: ['5.24', '5.5'],
      async run({ readers, clock }) {
        const reader = (readers as IncidentReaders).incidentResponsePlan;
        if (!reader) return manual('incidentResponsePlan');
        const plan = await reader.read();
        const reviewed = plan.reviewedAt
          ? plan.reviewedAt instanceof Date
            ? plan.reviewedAt.getTime()
            : Date.parse(plan.reviewedAt)
          : Number.NaN;
        const problems: string[] = [];
        if (!plan.owner) problems.push('name an owner');
        if (!(plan.contacts > 0)) problems.push('list the response contacts');
        if (!Number.isFinite(reviewed) || clock.now() - reviewed > maxAgeMs) problems.push('review the plan');
        const evidence = [
          `owner: ${plan.owner ? 'set' : 'missing'}; contacts: ${plan.contacts}; last review: ${Number.isFinite(reviewed) ? new Date(reviewed).toISOString() : 'never'}`,
        ];
        return problems.length === 0
          ? { status: 'pass', evidence }
          : { status: 'fail', evidence, remediation: `${problems.join('; ')}.` };
      },
    },
  ];
}
