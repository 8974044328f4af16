import {
  breachNotificationStatus,
  INCIDENT_PHASE,
  INCIDENT_TRANSITIONS,
  markPersonalDataBreach,
  openIncident,
  recordBreachNotification,
  type Incident as StoredIncident,
  transitionIncident,
  updateIncident,
} from '@provisioning/compliance';
import type { Clock } from '@provisioning/core';
import { isSdkError } from '@provisioning/core';
import { migrate, type SqlDatabase } from '@provisioning/core/sql';
import { security } from '@provisioning/middleware/hono';
import {
  type Incident,
  IncidentBreachRequestSchema,
  type IncidentDetail,
  IncidentEntriesRequestSchema,
  IncidentInputSchema,
  IncidentNotificationRequestSchema,
  IncidentTransitionRequestSchema,
  ok,
  ORCHESTRATOR_ROUTES as R,
  routePattern,
} from '@provisioning/platform-client/api';
import { type Context, Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import { param, principalOf, type SecuredEnv } from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { pageQuery } from '../kit/query.js';
import { PLATFORM_RESOURCE } from '../kit/resources.js';
import { findAuditEvent } from '../security/audit.js';

interface IncidentTable {
  compliance_incidents: { id: string; created_at: string; updated_at: string; record: string };
}

/** The incident records (compliance's state machine) in the platform database. */
export interface IncidentStore {
  insert(incident: StoredIncident): Promise<void>;
  get(id: string): Promise<StoredIncident | undefined>;
  list(limit?: number, offset?: number): Promise<StoredIncident[]>;
  /**
   * Stores `next` in place of `previous` only if the stored record is still
   * `previous` (compare-and-set on the whole record): of two changes made
   * from the same state, one wins and the other gets `false`.
   */
  replace(previous: StoredIncident, next: StoredIncident): Promise<boolean>;
}

/** Incidents are plain JSON records; kept in the platform database (SQLite or PostgreSQL). */
export async function incidentStore(database: SqlDatabase): Promise<IncidentStore> {
  await migrate(database, 'compliance-incidents', [
    {
      id: '0001-incidents',
      async up(db) {
        await db.schema
          .createTable('compliance_incidents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('record', 'text', (c) => c.notNull())
          .execute();
      },
    },
  ]);
  const db = database as SqlDatabase<IncidentTable>;
  const updatedAt = (i: StoredIncident): string => i.timeline.at(-1)?.at ?? i.openedAt;
  return {
    async insert(incident) {
      await db.run('insertIncident', (k) =>
        k
          .insertInto('compliance_incidents')
          .values({
            id: incident.id,
            created_at: incident.openedAt,
            updated_at: incident.openedAt,
            record: JSON.stringify(incident),
          })
          .execute(),
      );
    },
    async get(id) {
      const row = await db.run('getIncident', (k) =>
        k.selectFrom('compliance_incidents').select('record').where('id', '=', id).executeTakeFirst(),
      );
      return row === undefined ? undefined : (JSON.parse(row.record) as StoredIncident);
    },
    async list(limit = 1000, offset = 0) {
      const rows = await db.run('listIncidents', (k) =>
        k
          .selectFrom('compliance_incidents')
          .select('record')
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(limit)
          .offset(offset)
          .execute(),
      );
      return rows.map((r) => JSON.parse(r.record) as StoredIncident);
    },
    async replace(previous, next) {
      const result = await db.run('replaceIncident', (k) =>
        k
          .updateTable('compliance_incidents')
          .set({ updated_at: updatedAt(next), record: JSON.stringify(next) })
          .where('id', '=', previous.id)
          .where('record', '=', JSON.stringify(previous))
          .executeTakeFirst(),
      );
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

const INCIDENT_STATUS: Readonly<Record<StoredIncident['state'], Incident['status']>> = {
  detection_analysis: 'open',
  containment: 'contained',
  eradication: 'contained',
  recovery: 'resolved',
  post_incident: 'resolved',
  closed: 'closed',
};

/** The contract's summary of an incident (the list). */
export const toIncident = (i: StoredIncident): Incident => ({
  id: i.id,
  title: i.title,
  severity: i.severity,
  status: INCIDENT_STATUS[i.state],
  created_at: i.openedAt,
  updated_at: i.timeline.at(-1)?.at ?? i.openedAt,
});

/** The contract's full view: life cycle, timeline, evidence, audit links and the Art. 33 clock at `clock`'s now. */
export function toIncidentDetail(i: StoredIncident, clock: Clock): IncidentDetail {
  const breach = i.personalDataBreach;
  const notification = breachNotificationStatus(i, { clock });
  return {
    ...toIncident(i),
    state: i.state,
    // (`preparation` is the organisation's readiness, never an incident's state.)
    phase: INCIDENT_PHASE[i.state] as IncidentDetail['phase'],
    owner: i.owner,
    allowed_transitions: [...INCIDENT_TRANSITIONS[i.state]],
    timeline: i.timeline.map((e) => ({ ...e })),
    evidence: i.evidence.map((e) => ({
      id: e.id,
      description: e.description,
      ...(e.sha256 === undefined ? {} : { sha256: e.sha256 }),
      ...(e.location === undefined ? {} : { location: e.location }),
      added_at: e.addedAt,
      added_by: e.addedBy,
    })),
    audit_event_ids: [...i.auditEventIds],
    personal_data_breach:
      breach === undefined
        ? null
        : {
            aware_at: breach.awareAt,
            deadline_at: breach.deadlineAt,
            notified_at: breach.notifiedAt ?? null,
            ...(breach.delayReason === undefined ? {} : { delay_reason: breach.delayReason }),
            ...(breach.notRequiredReason === undefined ? {} : { not_required_reason: breach.notRequiredReason }),
            pending: notification.pending,
            overdue: notification.overdue,
            remaining_seconds:
              notification.remainingMs === undefined ? null : Math.floor(notification.remainingMs / 1000),
          },
    resolution: i.resolution ?? null,
    lessons_learned: i.lessonsLearned ?? null,
    closed_at: i.closedAt ?? null,
  };
}

const TEXT_MAX = 2000;
/** A required or optional free-text field, 1–`max` characters after trimming. */
function text(value: string | undefined, field: string, max = TEXT_MAX): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '' || value.length > max)
    throw new RequestError(400, 'INVALID_REQUEST', `$.${field}: expected 1-${max} characters`);
  return value;
}
/** An RFC 3339 time of the request, as a Date (the schema checked the format, not the value). */
function time(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (!Number.isFinite(at.getTime())) throw new RequestError(400, 'INVALID_REQUEST', `$.${field}: expected a time`);
  return at;
}

/**
 * The incident routes of `ORCHESTRATOR_ROUTES` over `@provisioning/compliance`'s
 * NIST SP 800-61 state machine: list and open (as before), one incident with
 * its timeline, evidence, audit links and GDPR Art. 33 deadline, transitions
 * (a move the machine does not allow is 409 `ILLEGAL_TRANSITION` and changes
 * nothing), timeline entries (notes, evidence by digest, links to audit events
 * that must exist), marking a personal-data breach (the 72-hour clock) and
 * recording the authority's notification. Cedar: `read`/`list` on the
 * platform for every role, `admin` (Administrators) for every change.
 * Changes are compare-and-set on the stored record: two concurrent changes
 * from the same state give one 409 `CONFLICT`, never a lost update.
 */
export async function incidentRoutes(platform: Platform): Promise<{ app: Hono<SecuredEnv>; incidents: IncidentStore }> {
  const app = new Hono<SecuredEnv>();
  const incidents = await incidentStore(platform.database);
  const chain = platform.chain;
  const read = security(chain, { action: 'read', resource: () => PLATFORM_RESOURCE });
  const list = security(chain, { action: 'list', resource: () => PLATFORM_RESOURCE });
  const administer = security(chain, { action: 'admin', resource: () => PLATFORM_RESOURCE });
  const clock = platform.clock;

  const load = async (c: Context<SecuredEnv>): Promise<StoredIncident> => {
    const incident = await incidents.get(param(c, 'id'));
    if (incident === undefined) throw new RequestError(404, 'INCIDENT_NOT_FOUND', 'No such incident.');
    return incident;
  };
  /**
   * Applies one change of the state machine and stores it (compare-and-set).
   * Compliance's own refusals keep their meaning: an illegal move is 409
   * `ILLEGAL_TRANSITION` (mapped by the frame), a condition the input does not
   * meet a 400 with compliance's message (it names fields, never data).
   */
  const change = async (
    c: Context<SecuredEnv>,
    apply: (incident: StoredIncident, by: string) => StoredIncident | Promise<StoredIncident>,
  ): Promise<StoredIncident> => {
    const incident = await load(c);
    let next: StoredIncident;
    try {
      next = await apply(incident, principalOf(c).id);
    } catch (error) {
      if (isSdkError(error) && error.code === 'ERR_COMPLIANCE_INVALID_INPUT')
        throw new RequestError(400, 'INVALID_REQUEST', error.message);
      throw error;
    }
    if (!(await incidents.replace(incident, next)))
      throw new RequestError(409, 'CONFLICT', 'The incident changed meanwhile; reload it and retry.');
    return next;
  };
  const answer = (c: Context<SecuredEnv>, incident: StoredIncident) => c.json(ok(toIncidentDetail(incident, clock)));

  app.get(R.listIncidents.path, list, async (c) => {
    const { limit, offset } = pageQuery(c);
    return c.json(ok((await incidents.list(limit, offset)).map(toIncident)));
  });

  app.post(R.createIncident.path, administer, async (c) => {
    const body = await readBody(c, IncidentInputSchema);
    if (body.title.trim().length === 0 || body.title.length > 200)
      throw new RequestError(400, 'INVALID_REQUEST', '$.title: expected 1-200 characters');
    if ((body.description?.length ?? 0) > 4000)
      throw new RequestError(400, 'INVALID_REQUEST', '$.description: expected at most 4000 characters');
    const who = principalOf(c).id;
    const incident = openIncident({ title: body.title, severity: body.severity, owner: who, by: who }, { clock });
    await incidents.insert(incident);
    await platform.auditLog.record({
      action: 'compliance.incident.opened',
      outcome: 'success',
      actor: { id: who, type: 'user' },
      resource: { type: 'incident', id: incident.id },
      metadata: { severity: incident.severity },
    });
    return c.json(ok(toIncident(incident)), 201);
  });

  app.get(routePattern(R.getIncident), read, async (c) => answer(c, await load(c)));

  app.post(routePattern(R.transitionIncident), administer, async (c) => {
    const body = await readBody(c, IncidentTransitionRequestSchema);
    const note = text(body.note, 'note');
    const lessonsLearned = text(body.lessons_learned, 'lessons_learned', 4000);
    const next = await change(c, (incident, by) => {
      // A breach whose notification is still open cannot be closed: that is
      // the incident's state, not the input's fault (compliance refuses it too).
      if (body.to === 'closed' && breachNotificationStatus(incident, { clock }).pending) {
        throw new RequestError(
          409,
          'BREACH_NOTIFICATION_PENDING',
          'Record the authority notification (or why none is due) before closing.',
        );
      }
      return transitionIncident(
        incident,
        body.to,
        {
          by,
          ...(note === undefined ? {} : { note }),
          ...(body.resolution === undefined ? {} : { resolution: body.resolution }),
          ...(lessonsLearned === undefined ? {} : { lessonsLearned }),
        },
        { clock },
      );
    });
    if (next.state === 'closed') {
      await platform.auditLog.record({
        action: 'compliance.incident.closed',
        outcome: 'success',
        actor: { id: principalOf(c).id, type: 'user' },
        resource: { type: 'incident', id: next.id },
        metadata: { resolution: next.resolution ?? 'resolved' },
      });
    }
    return answer(c, next);
  });

  app.post(routePattern(R.addIncidentEntries), administer, async (c) => {
    const body = await readBody(c, IncidentEntriesRequestSchema);
    const note = text(body.note, 'note');
    if (note === undefined && body.evidence === undefined && body.audit_event_ids === undefined)
      throw new RequestError(400, 'INVALID_REQUEST', 'Give a note, evidence or audit_event_ids.');
    for (const id of body.audit_event_ids ?? []) {
      // A link is a claim about the trail: it must name an event that is there.
      if ((await findAuditEvent(platform.auditLog, id)) === undefined)
        throw new RequestError(400, 'UNKNOWN_AUDIT_EVENT', `No audit event ${id.slice(0, 64)}.`);
    }
    const next = await change(c, (incident, by) =>
      updateIncident(
        incident,
        {
          by,
          ...(note === undefined ? {} : { note }),
          ...(body.audit_event_ids === undefined ? {} : { auditEventIds: body.audit_event_ids }),
          ...(body.evidence === undefined
            ? {}
            : {
                evidence: body.evidence.map((e) => ({
                  id: e.id,
                  description: e.description,
                  ...(e.sha256 === undefined ? {} : { sha256: e.sha256 }),
                  ...(e.location === undefined ? {} : { location: e.location }),
                })),
              }),
        },
        { clock },
      ),
    );
    return answer(c, next);
  });

  app.post(routePattern(R.markIncidentBreach), administer, async (c) => {
    const body = await readBody(c, IncidentBreachRequestSchema);
    const awareAt = time(body.aware_at, 'aware_at');
    const next = await change(c, (incident, by) => {
      if (incident.state === 'closed')
        throw new RequestError(409, 'INCIDENT_CLOSED', 'A closed incident cannot be changed.');
      if (incident.personalDataBreach !== undefined)
        throw new RequestError(409, 'ALREADY_A_BREACH', 'The incident is already a personal-data breach.');
      return markPersonalDataBreach(incident, { by, ...(awareAt === undefined ? {} : { awareAt }) }, { clock });
    });
    return answer(c, next);
  });

  app.post(routePattern(R.recordIncidentNotification), administer, async (c) => {
    const body = await readBody(c, IncidentNotificationRequestSchema);
    const notifiedAt = time(body.notified_at, 'notified_at');
    const delayReason = text(body.delay_reason, 'delay_reason');
    const notRequiredReason = text(body.not_required_reason, 'not_required_reason');
    if (notRequiredReason !== undefined && (notifiedAt !== undefined || delayReason !== undefined))
      throw new RequestError(400, 'INVALID_REQUEST', 'Either the notification or why none is due, not both.');
    const next = await change(c, (incident, by) => {
      if (incident.personalDataBreach === undefined)
        throw new RequestError(409, 'NOT_A_BREACH', 'The incident is not a personal-data breach.');
      if (!breachNotificationStatus(incident, { clock }).pending)
        throw new RequestError(409, 'NOTIFICATION_RECORDED', 'The notification decision is already recorded.');
      return recordBreachNotification(
        incident,
        {
          by,
          ...(notifiedAt === undefined ? {} : { notifiedAt }),
          ...(delayReason === undefined ? {} : { delayReason }),
          ...(notRequiredReason === undefined ? {} : { notRequiredReason }),
        },
        { clock },
      );
    });
    return answer(c, next);
  });

  return { app, incidents };
}
