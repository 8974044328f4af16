import { createHash } from 'node:crypto';
import { transitionIncident } from '@provisioning/compliance';
import { parseRouteResponse, ORCHESTRATOR_ROUTES as R } from '@provisioning/platform-client/api';
import { describe, expect, it } from 'vitest';
import { orchestratorHarness } from '../../test/orchestrator-fixture.js';
import { incidentStore } from './incidents.js';

const HOUR = 3600_000;

async function setup() {
  const harness = await orchestratorHarness();
  const admin = await harness.user('root', ['Admin']);
  const viewer = await harness.user('vic', ['Viewer']);
  const opened = await harness.call('POST', R.createIncident.path, admin.token, {
    title: 'Signing key exposed',
    severity: 'critical',
  });
  const id = opened.json.data.id as string;
  const get = async () => harness.call('GET', harness.at(R.getIncident, id), viewer.token);
  const post = (route: keyof typeof R, body: unknown, token = admin.token) =>
    harness.call('POST', harness.at(R[route], id), token, body);
  /** Moves the clock; the tokens (15 minutes) are issued again, with a fresh MFA. */
  const later = async (ms: number) => {
    harness.platform.clock.advance(ms);
    const mfaAt = new Date(harness.platform.clock.now());
    for (const who of [admin, viewer]) {
      const roles = who === admin ? ['Admin'] : ['Viewer'];
      who.token = (await harness.platform.tokens.issue({ subject: who.id, roles, mfaAt })).accessToken;
    }
  };
  return { ...harness, admin, viewer, id, get, post, later };
}

describe('incidents: the NIST SP 800-61 life cycle over the orchestrator', () => {
  it('runs an incident from analysis to closed, with evidence, audit links and the Art. 33 deadline', async () => {
    const { platform, admin, get, post, later } = await setup();
    const first = await get();
    expect(first.status).toBe(200);
    expect(parseRouteResponse(R.getIncident, first.json)).toMatchObject({
      state: 'detection_analysis',
      phase: 'detection_analysis',
      status: 'open',
      owner: admin.id,
      allowed_transitions: ['containment', 'closed'],
      personal_data_breach: null,
      resolution: null,
    });

    platform.clock.advance(60_000);
    const contained = await post('transitionIncident', { to: 'containment', note: 'key revoked, sessions ended' });
    expect(parseRouteResponse(R.transitionIncident, contained.json)).toMatchObject({
      state: 'containment',
      phase: 'containment_eradication_recovery',
      status: 'contained',
      allowed_transitions: ['eradication', 'detection_analysis'],
    });
    expect(contained.json.data.timeline.at(-1)).toMatchObject({
      kind: 'transition',
      from: 'detection_analysis',
      to: 'containment',
      by: admin.id,
      note: 'key revoked, sessions ended',
    });

    // Evidence by digest, and a link to a real audit event (the incident's opening).
    await platform.auditLog.flush();
    const openedEvent = (await platform.auditLog.query({ action: 'compliance.incident.opened' })).records[0]?.event
      .id as string;
    const sha256 = createHash('sha256').update('auth.log export').digest('hex');
    const entries = await post('addIncidentEntries', {
      note: 'auth log exported',
      evidence: [{ id: 'ev-1', description: 'auth.log of web-1', sha256, location: 's3://evidence/ev-1' }],
      audit_event_ids: [openedEvent],
    });
    expect(entries.status).toBe(200);
    expect(entries.json.data).toMatchObject({
      evidence: [{ id: 'ev-1', sha256, location: 's3://evidence/ev-1', added_by: admin.id }],
      audit_event_ids: [openedEvent],
    });
    expect(entries.json.data.timeline.map((e: { kind: string }) => e.kind)).toEqual([
      'opened',
      'transition',
      'note',
      'audit_link',
      'evidence',
    ]);

    // The breach became known 10 hours ago: 62 hours left of the 72.
    const awareAt = new Date(platform.clock.now() - 10 * HOUR).toISOString();
    const breach = await post('markIncidentBreach', { aware_at: awareAt });
    expect(breach.json.data.personal_data_breach).toEqual({
      aware_at: awareAt,
      deadline_at: new Date(Date.parse(awareAt) + 72 * HOUR).toISOString(),
      notified_at: null,
      pending: true,
      overdue: false,
      remaining_seconds: 62 * 3600,
    });
    expect((await post('markIncidentBreach', {})).json.code).toBe('ALREADY_A_BREACH');

    for (const to of ['eradication', 'recovery', 'post_incident'] as const) {
      expect((await post('transitionIncident', { to })).json.data.state).toBe(to);
    }
    // Closing needs the breach's notification decided first, and the lessons learned.
    const before = (await get()).text;
    const pending = await post('transitionIncident', { to: 'closed', lessons_learned: 'rotate keys monthly' });
    expect([pending.status, pending.json.code]).toEqual([409, 'BREACH_NOTIFICATION_PENDING']);
    expect((await get()).text).toBe(before);

    // 63 hours later the deadline has passed.
    await later(63 * HOUR);
    expect((await get()).json.data.personal_data_breach).toMatchObject({
      pending: true,
      overdue: true,
      remaining_seconds: -3600,
    });
    const late = await post('recordIncidentNotification', {});
    expect([late.status, late.json.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(late.json.error).toContain('reasons for the delay');
    const notified = await post('recordIncidentNotification', { delay_reason: 'the scope was unclear until day 3' });
    expect(notified.json.data.personal_data_breach).toMatchObject({
      notified_at: new Date(platform.clock.now()).toISOString(),
      delay_reason: 'the scope was unclear until day 3',
      pending: false,
      overdue: false,
      remaining_seconds: null,
    });
    expect((await post('recordIncidentNotification', {})).json.code).toBe('NOTIFICATION_RECORDED');

    const noLessons = await post('transitionIncident', { to: 'closed' });
    expect([noLessons.status, noLessons.json.code]).toEqual([400, 'INVALID_REQUEST']);
    const closed = await post('transitionIncident', { to: 'closed', lessons_learned: 'rotate keys monthly' });
    expect(closed.json.data).toMatchObject({
      state: 'closed',
      status: 'closed',
      resolution: 'resolved',
      lessons_learned: 'rotate keys monthly',
      closed_at: new Date(platform.clock.now()).toISOString(),
      allowed_transitions: [],
    });
    // Nothing changes a closed incident.
    for (const [route, body] of [
      ['transitionIncident', { to: 'detection_analysis' }],
      ['addIncidentEntries', { note: 'late thought' }],
    ] as const) {
      const res = await post(route, body);
      expect([route, res.status, res.json.code]).toEqual([route, 409, 'ILLEGAL_TRANSITION']);
    }
    expect((await post('markIncidentBreach', {})).json.code).toBe('INCIDENT_CLOSED');

    await platform.auditLog.flush();
    const actions = (await platform.auditLog.query({ category: 'compliance' })).records.map((r) => r.event.action);
    expect(actions).toEqual(['compliance.incident.opened', 'compliance.incident.closed']);
  });

  it('answers an illegal transition with 409 ILLEGAL_TRANSITION and changes nothing', async () => {
    const { get, post, viewer } = await setup();
    const before = (await get()).text;
    for (const to of ['eradication', 'recovery', 'post_incident', 'detection_analysis']) {
      const res = await post('transitionIncident', { to });
      expect([to, res.status, res.json.code]).toEqual([to, 409, 'ILLEGAL_TRANSITION']);
    }
    // A false positive closes from analysis only as such.
    expect((await post('transitionIncident', { to: 'closed' })).json.code).toBe('INVALID_REQUEST');
    // Only administrators change incidents; everyone reads them.
    expect((await post('transitionIncident', { to: 'containment' }, viewer.token)).status).toBe(403);
    expect((await get()).text).toBe(before);
    const closed = await post('transitionIncident', { to: 'closed', resolution: 'false_positive' });
    expect(closed.json.data).toMatchObject({ state: 'closed', resolution: 'false_positive' });
  });

  it('refuses bad input with a typed 4xx and changes nothing', async () => {
    const { call, at, admin, get, post } = await setup();
    const before = (await get()).text;
    for (const [route, body, code] of [
      ['transitionIncident', { to: 'done' }, 'INVALID_REQUEST'],
      ['transitionIncident', { to: 'containment', by: 'someone' }, 'UNKNOWN_FIELD'],
      ['transitionIncident', { to: 'containment', note: '' }, 'INVALID_REQUEST'],
      ['transitionIncident', '{"to":', 'MALFORMED_JSON'],
      ['addIncidentEntries', {}, 'INVALID_REQUEST'],
      ['addIncidentEntries', { evidence: [{ id: 'e', description: 'd', secret: 'x' }] }, 'UNKNOWN_FIELD'],
      ['addIncidentEntries', { evidence: [{ id: 'e', description: 'd', sha256: 'ABC' }] }, 'INVALID_REQUEST'],
      ['addIncidentEntries', { audit_event_ids: ['0190c0c0-0000-7000-8000-000000000000'] }, 'UNKNOWN_AUDIT_EVENT'],
      ['markIncidentBreach', { aware_at: 'yesterday' }, 'INVALID_REQUEST'],
      ['markIncidentBreach', { aware_at: '2999-01-01T00:00:00Z' }, 'INVALID_REQUEST'],
      ['recordIncidentNotification', {}, 'NOT_A_BREACH'],
    ] as const) {
      const res = await post(route, body);
      expect([route, JSON.stringify(body), res.json.code]).toEqual([route, JSON.stringify(body), code]);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect((await get()).text).toBe(before);
    const missing = await call('GET', at(R.getIncident, 'no-such-incident'), admin.token);
    expect([missing.status, missing.json.code]).toEqual([404, 'INCIDENT_NOT_FOUND']);
  });

  it('lets one of two concurrent changes from the same state win, never both', async () => {
    const { get, post } = await setup();
    const results = await Promise.all([
      post('transitionIncident', { to: 'containment', note: 'first' }),
      post('transitionIncident', { to: 'containment', note: 'second' }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const timeline = (await get()).json.data.timeline as Array<{ kind: string }>;
    expect(timeline.filter((e) => e.kind === 'transition')).toHaveLength(1);
  });

  it('stores a change only over the record it was made from (compare-and-set)', async () => {
    const { platform, id } = await setup();
    const store = await incidentStore(platform.database);
    const current = (await store.get(id)) as NonNullable<Awaited<ReturnType<typeof store.get>>>;
    const a = transitionIncident(current, 'containment', { by: 'a' }, { clock: platform.clock });
    const b = transitionIncident(
      current,
      'closed',
      { by: 'b', resolution: 'false_positive' },
      { clock: platform.clock },
    );
    expect(await store.replace(current, a)).toBe(true);
    expect(await store.replace(current, b)).toBe(false);
    expect((await store.get(id))?.state).toBe('containment');
  });
});
