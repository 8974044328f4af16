import { type AuditLog, type AuditQuery, isAuditAction, type StoredRecord } from '@provisioning/audit';
import { security } from '@provisioning/middleware/hono';
import {
  AUDIT_EXPORT_CONTENT_TYPES,
  type AuditEvent,
  type AuditExportFormat,
  type AuditOutcome,
  ok,
  ORCHESTRATOR_ROUTES as R,
  routePattern,
} from '@provisioning/platform-client/api';
import { type Context, Hono } from 'hono';
import { RequestError } from '../kit/body.js';
import { param, type SecuredEnv } from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { enumParam, pageQuery } from '../kit/query.js';
import { resource } from '../kit/resources.js';

const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];
const FORMATS = Object.keys(AUDIT_EXPORT_CONTENT_TYPES) as AuditExportFormat[];
const EXTENSIONS: Readonly<Record<AuditExportFormat, string>> = {
  json: 'json',
  jsonl: 'jsonl',
  csv: 'csv',
  ecs: 'ecs.jsonl',
  splunk: 'splunk.jsonl',
};
/** How deep `offset` may page (each page is read from the log). */
const MAX_OFFSET = 10_000;
// The audit trail itself: `Provisioning::AuditLog`, read by administrators, audit, security and Auditors.
const AUDIT_LOG = resource('AuditLog', 'platform');

/** One audit record by its event id, or `undefined` (not a UUIDv7, or not in the log). */
export async function findAuditEvent(log: AuditLog, id: string): Promise<StoredRecord | undefined> {
  // Event ids are UUIDv7: the first 48 bits are the record's time in ms,
  // so one indexed time range finds it (a wide one: id and time may be a tick apart).
  const hex = id.replace(/-/g, '');
  const ms = /^[0-9a-f]{32}$/i.test(hex) ? Number.parseInt(hex.slice(0, 12), 16) : Number.NaN;
  if (!Number.isSafeInteger(ms)) return undefined;
  const page = await log.query({ from: ms - 1000, to: ms + 1000, text: id }, { limit: 1000 });
  return page.records.find((r) => r.event.id === id);
}

/** The contract's view of a stored audit record. */
export function toContractEvent(record: StoredRecord): AuditEvent {
  const e = record.event;
  return {
    id: e.id,
    timestamp: e.time,
    actor: e.actor.id,
    action: e.action,
    resource:
      e.resource === undefined
        ? ''
        : e.resource.id === undefined
          ? e.resource.type
          : `${e.resource.type}::${e.resource.id}`,
    // The contract has no `unknown`: an outcome nobody could establish did not succeed.
    outcome: e.outcome === 'unknown' ? 'failure' : e.outcome,
    ...(e.actor.ip === undefined ? {} : { ip_address: e.actor.ip }),
    ...(e.requestId === undefined ? {} : { request_id: e.requestId }),
    details: {
      category: e.category,
      actor_type: e.actor.type,
      retention: e.retention,
      seq: record.seq,
      ...(e.actor.roles === undefined ? {} : { roles: [...e.actor.roles] }),
      ...(e.reason === undefined ? {} : { reason: e.reason }),
      ...(e.sessionId === undefined ? {} : { session_id: e.sessionId }),
      ...(e.policyVersion === undefined ? {} : { policy_version: e.policyVersion }),
      ...(e.metadata === undefined ? {} : { metadata: e.metadata }),
    },
    hash: record.hash,
  };
}

/**
 * The audit routes of `ORCHESTRATOR_ROUTES` (query, one event, export,
 * verify, stats) over the platform's tamper-evident audit log, as a
 * mountable sub-app (the control center's audit viewer mounts it too).
 * Cedar decides `list` / `read` / `export` on `Provisioning::AuditLog`:
 * administrators, the audit and security teams and Auditors (`audit-access`);
 * nobody changes it (`audit-no-modify`, and there is no route that could).
 */
export function auditRoutes(platform: Platform): Hono<SecuredEnv> {
  const app = new Hono<SecuredEnv>();
  const log = platform.auditLog;
  const guard = (action: string) => security(platform.chain, { action, resource: () => AUDIT_LOG });

  const time = (c: Context, name: string): string | undefined => {
    const raw = c.req.query(name);
    if (raw === undefined) return undefined;
    if (
      !/^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/.test(raw) ||
      Number.isNaN(Date.parse(raw))
    ) {
      throw new RequestError(400, 'INVALID_QUERY', `${name} must be an RFC 3339 time`);
    }
    return new Date(raw).toISOString();
  };
  const range = (c: Context): AuditQuery => {
    const from = time(c, 'from');
    const to = time(c, 'to');
    if (from !== undefined && to !== undefined && from > to) {
      throw new RequestError(400, 'INVALID_QUERY', 'from must not be after to');
    }
    return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
  };

  const id = (c: Context, name: string): string | undefined => {
    const raw = c.req.query(name);
    if (raw !== undefined && !/^[\x21-\x7e]{1,256}$/.test(raw)) {
      throw new RequestError(400, 'INVALID_QUERY', `${name} must be an id (1-256 printable characters, no spaces)`);
    }
    return raw;
  };
  // The filters of the view, shared by the query and the export (an export holds what the viewer shows).
  const filterOf = (c: Context): AuditQuery => {
    const action = c.req.query('action');
    if (action !== undefined && !isAuditAction(action)) {
      throw new RequestError(400, 'INVALID_QUERY', 'action must be an audit action (auth.login.failed …)');
    }
    const actor = id(c, 'actor');
    const resourceType = id(c, 'resource_type');
    const resourceId = id(c, 'resource_id');
    const outcome = enumParam(c, 'outcome', OUTCOMES);
    return {
      ...range(c),
      ...(action === undefined ? {} : { action }),
      ...(actor === undefined ? {} : { actorId: actor }),
      ...(outcome === undefined ? {} : { outcome }),
      ...(resourceType === undefined ? {} : { resourceType }),
      ...(resourceId === undefined ? {} : { resourceId }),
    };
  };

  app.get(R.queryAudit.path, guard('list'), async (c) => {
    const filter = filterOf(c);
    const { limit, offset } = pageQuery(c);
    if (offset > MAX_OFFSET) throw new RequestError(400, 'INVALID_QUERY', `offset must be at most ${MAX_OFFSET}`);
    // Newest first. The log pages by cursor: skip `offset` records page by page.
    const out: StoredRecord[] = [];
    let cursor: string | undefined;
    let skip = offset;
    do {
      const page = await log.query(filter, { order: 'desc', limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      const take = page.records.slice(Math.min(skip, page.records.length));
      skip = Math.max(0, skip - page.records.length);
      out.push(...take.slice(0, limit - out.length));
      cursor = page.nextCursor;
    } while (cursor !== undefined && out.length < limit);
    return c.json(ok(out.map(toContractEvent)));
  });

  app.get(routePattern(R.getAuditEvent), guard('read'), async (c) => {
    const found = await findAuditEvent(log, param(c, 'id'));
    if (found === undefined) throw new RequestError(404, 'EVENT_NOT_FOUND', 'No such audit event.');
    return c.json(ok(toContractEvent(found)));
  });

  app.get(R.exportAudit.path, guard('export'), async (c) => {
    const format = enumParam(c, 'format', FORMATS);
    if (format === undefined) throw new RequestError(400, 'INVALID_QUERY', `format is one of ${FORMATS.join(', ')}`);
    const filter = filterOf(c);
    const stamp = new Date(platform.clock.now()).toISOString().replace(/[:.]/g, '-');
    return new Response(log.exportStream({ format, filter, order: 'asc' }), {
      headers: {
        'content-type': `${AUDIT_EXPORT_CONTENT_TYPES[format]}; charset=utf-8`,
        'content-disposition': `attachment; filename="audit-${stamp}.${EXTENSIONS[format]}"`,
        'cache-control': 'no-store',
      },
    });
  });

  app.get(R.verifyAudit.path, guard('read'), async (c) => {
    await log.flush();
    const result = await log.verify();
    const seq = result.problems.find((p) => p.seq !== undefined)?.seq;
    let firstInvalid: string | null = null;
    if (!result.ok && seq !== undefined) {
      // The id of the event at that place, when it still exists (a deleted one has none).
      let cursor: string | undefined;
      do {
        const page = await log.query({}, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
        firstInvalid = page.records.find((r) => r.seq === seq)?.event.id ?? null;
        cursor = firstInvalid === null && (page.records.at(-1)?.seq ?? seq) < seq ? page.nextCursor : undefined;
      } while (cursor !== undefined);
    }
    return c.json(ok({ valid: result.ok, checked: result.count, first_invalid_id: firstInvalid }));
  });

  app.get(R.auditStats.path, guard('read'), async (c) => {
    await log.flush();
    const [rows, oldest, newest] = await Promise.all([
      log.count(undefined, 'outcome'),
      log.query({}, { limit: 1, order: 'asc' }),
      log.query({}, { limit: 1, order: 'desc' }),
    ]);
    const byOutcome = Object.fromEntries(rows.map((r) => [r.key, r.count]));
    return c.json(
      ok({
        total: rows.reduce((n, r) => n + r.count, 0),
        by_outcome: byOutcome,
        oldest: oldest.records[0]?.event.time ?? null,
        newest: newest.records[0]?.event.time ?? null,
      }),
    );
  });

  return app;
}
