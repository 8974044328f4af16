import { parseRouteResponse, ORCHESTRATOR_ROUTES as R } from '@provisioning/platform-client/api';
import { describe, expect, it } from 'vitest';
import { orchestratorHarness } from '../../test/orchestrator-fixture.js';

const setup = () => orchestratorHarness();

describe('compliance over the orchestrator', () => {
  it('reports SOC 2, ISO 27001 and GDPR controls from checks over the live platform', async () => {
    const { call, user } = await setup();
    const viewer = await user('vic', ['Viewer']);
    const all = await call('GET', R.listControls.path, viewer.token);
    expect(all.status).toBe(200);
    const controls = parseRouteResponse(R.listControls, all.json) as Array<{
      id: string;
      framework: string;
      status: string;
    }>;
    expect(new Set(controls.map((c) => c.framework))).toEqual(new Set(['soc2', 'iso27001', 'gdpr']));
    const gdpr = await call('GET', `${R.listControls.path}?framework=gdpr`, viewer.token);
    expect(gdpr.json.data.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([
      ['gdpr.request-deadlines', 'passing'],
      ['incident.breach-notification', 'passing'],
    ]);
    const report = await call('GET', R.complianceReport.path.replace('{framework}', 'soc2'), viewer.token);
    const body = parseRouteResponse(R.complianceReport, report.json) as {
      passing: number;
      failing: number;
      controls: Array<{ status: string; evidence?: string }>;
    };
    expect(body.passing).toBe(body.controls.filter((c) => c.status === 'passing').length);
    expect(body.passing).toBeGreaterThan(0);
    // The checks ran against the real platform: the audit chain verifies, Argon2id meets OWASP.
    expect(JSON.stringify(body.controls)).toContain('argon2id');
    expect((await call('GET', R.complianceReport.path.replace('{framework}', 'pci'), viewer.token)).json.code).toBe(
      'INVALID_FRAMEWORK',
    );
    expect((await call('GET', `${R.listControls.path}?framework=pci`, viewer.token)).json.code).toBe('INVALID_QUERY');
  });

  it('processes a request filed for someone once an administrator records the out-of-band identity check', async () => {
    const { platform, call, user } = await setup();
    const ada = await user('ada', ['Viewer']);
    const admin = await user('root', ['Admin']);
    const stale = await user('old', ['Admin'], false);
    const filed = await call('POST', R.createDataSubjectRequest.path, admin.token, { type: 'access', subject: ada.id });
    expect(filed.json.data).toMatchObject({ status: 'received' });
    expect(filed.json.data).not.toHaveProperty('export');
    const verify = (id: string, token: string, body: unknown = { reference: 'ticket DPO-17: passport checked' }) =>
      call('POST', R.verifyDataSubjectRequest.path.replace('{id}', id), token, body);
    const id = filed.json.data.id as string;

    // Only administrators, with a fresh MFA; the subject cannot vouch for themselves here.
    expect((await verify(id, ada.token)).status).toBe(403);
    expect((await verify(id, stale.token)).status).toBe(403);
    expect((await verify(id, admin.token, { reference: '' })).json.code).toBe('INVALID_REQUEST');
    expect((await verify(id, admin.token, { reference: 'x', extra: 1 })).status).toBe(400);
    expect((await verify('dsr-missing', admin.token)).status).toBe(404);
    // Nothing of that changed the request.
    expect((await call('GET', R.getDataSubjectRequest.path.replace('{id}', id), admin.token)).json.data.status).toBe(
      'received',
    );

    const done = await verify(id, admin.token);
    expect(done.status).toBe(200);
    expect(parseRouteResponse(R.verifyDataSubjectRequest, done.json)).toMatchObject({ id, status: 'completed' });
    expect(done.json.data.export).toMatchObject({ format: 'provisioning.dsr-export/v1' });
    expect(JSON.stringify(done.json.data.export.sections)).toContain('"ada"');
    expect(done.headers.get('cache-control')).toBe('no-store');
    expect((await verify(id, admin.token)).json.code).toBe('REQUEST_NOT_PENDING');

    // A request of one's own filed without a fresh MFA stays received; the subject cannot verify it here.
    const own = await call('POST', R.createDataSubjectRequest.path, stale.token, {
      type: 'erasure',
      subject: stale.id,
    });
    expect(own.json.data.status).toBe('received');
    const freshStale = (
      await platform.tokens.issue({ subject: stale.id, roles: ['Admin'], mfaAt: new Date(platform.clock.now()) })
    ).accessToken;
    expect((await verify(own.json.data.id, freshStale)).json.code).toBe('NOT_OUT_OF_BAND');
    // Another administrator can; the erasure runs.
    expect((await verify(own.json.data.id, admin.token)).json.data.status).toBe('completed');
    expect(await platform.users.findById(stale.id)).toBeUndefined();
  });

  it('runs a subject’s own GDPR requests at once (identity: their fresh MFA); others wait for verification', async () => {
    const { platform, call, user } = await setup();
    const ada = await user('ada', ['Viewer']);
    const bob = await user('bob', ['Viewer']);
    const admin = await user('root', ['Admin']);
    const access = await call('POST', R.createDataSubjectRequest.path, ada.token, { type: 'access', subject: ada.id });
    expect(access.status).toBe(201);
    expect(parseRouteResponse(R.createDataSubjectRequest, access.json)).toMatchObject({
      type: 'access',
      subject: ada.id,
      status: 'completed',
    });
    // The subject's data comes in this answer, once: the export bundle with its manifest.
    const bundle = access.json.data.export;
    expect(bundle).toMatchObject({
      format: 'provisioning.dsr-export/v1',
      manifest: { requestId: access.json.data.id },
    });
    expect(JSON.stringify(bundle.sections)).toContain('"ada"');
    expect(access.headers.get('cache-control')).toBe('no-store');
    const id = access.json.data.id as string;
    const again = await call('GET', R.getDataSubjectRequest.path.replace('{id}', id), ada.token);
    expect(again.json.data.status).toBe('completed');
    expect(again.json.data).not.toHaveProperty('export');
    expect((await call('GET', R.getDataSubjectRequest.path.replace('{id}', id), bob.token)).status).toBe(404);

    const notMine = await call('POST', R.createDataSubjectRequest.path, bob.token, {
      type: 'erasure',
      subject: ada.id,
    });
    expect([notMine.status, notMine.json.code]).toEqual([403, 'NOT_YOUR_DATA']);
    const filed = await call('POST', R.createDataSubjectRequest.path, admin.token, {
      type: 'erasure',
      subject: ada.id,
    });
    expect(filed.json.data.status).toBe('received');

    const rectify = await call('POST', R.createDataSubjectRequest.path, ada.token, {
      type: 'rectification',
      subject: ada.id,
      changes: { email: 'ada@example.org' },
    });
    expect(rectify.json.data.status).toBe('completed');
    expect(rectify.json.data).not.toHaveProperty('export');
    expect((await platform.users.findById(ada.id))?.email).toBe('ada@example.org');

    const erase = await call('POST', R.createDataSubjectRequest.path, bob.token, { type: 'erasure', subject: bob.id });
    expect(erase.json.data.status).toBe('completed');
    expect(await platform.users.findById(bob.id)).toBeUndefined();
    // An erased user's token stops working at once.
    expect((await call('GET', R.listIncidents.path, bob.token)).status).toBe(401);

    await platform.auditLog.flush();
    const events = (await platform.auditLog.query({ category: 'compliance' })).records.map((r) => [
      r.event.action,
      r.event.outcome,
    ]);
    expect(events).toEqual([
      ['compliance.data.exported', 'success'],
      ['compliance.data.rectified', 'success'],
      ['compliance.data.erased', 'success'],
    ]);
  });

  it('extends an open request’s deadline once, before it passes, for administrators with a fresh MFA', async () => {
    const { platform, call, user } = await setup();
    const ada = await user('ada', ['Viewer']);
    const admin = await user('root', ['Admin']);
    const stale = await user('old', ['Admin'], false);
    const path = (id: string) => R.extendDataSubjectRequest.path.replace('{id}', id);
    const get = async (id: string) =>
      (await call('GET', R.getDataSubjectRequest.path.replace('{id}', id), admin.token)).json.data;
    const reason = { reason: 'the request spans three years of archived records' };
    const filed = await call('POST', R.createDataSubjectRequest.path, admin.token, { type: 'access', subject: ada.id });
    const id = filed.json.data.id as string;
    const due = Date.parse(filed.json.data.due_at);

    // Only administrators with a fresh MFA; a reason of 3-500 characters; a request that exists.
    expect((await call('POST', path(id), ada.token, reason)).status).toBe(403);
    expect((await call('POST', path(id), stale.token, reason)).status).toBe(403);
    expect((await call('POST', path(id), admin.token, { reason: 'no' })).json.code).toBe('INVALID_REQUEST');
    expect((await call('POST', path(id), admin.token, { ...reason, days: 90 })).status).toBe(400);
    expect((await call('POST', path('dsr-missing'), admin.token, reason)).json.code).toBe('REQUEST_NOT_FOUND');
    expect(await get(id)).not.toHaveProperty('extension');

    const extended = await call('POST', path(id), admin.token, reason);
    expect(extended.status).toBe(200);
    const record = parseRouteResponse(R.extendDataSubjectRequest, extended.json) as {
      due_at: string;
      extension: { at: string; reason: string };
    };
    // Two more months: at least 59 days later than the one-month deadline.
    expect(Date.parse(record.due_at) - due).toBeGreaterThanOrEqual(59 * 86_400_000);
    expect(record.extension).toEqual({ at: new Date(platform.clock.now()).toISOString(), reason: reason.reason });
    // The subject is told why.
    const seen = await call('GET', R.getDataSubjectRequest.path.replace('{id}', id), ada.token);
    expect(seen.json.data.extension.reason).toBe(reason.reason);

    // Once only.
    const twice = await call('POST', path(id), admin.token, { reason: 'still more records' });
    expect([twice.status, twice.json.code]).toEqual([409, 'EXTENSION_REFUSED']);
    expect((await get(id)).due_at).toBe(record.due_at);
    // Not for a closed request (ada's own access request completes at once) …
    const own = await call('POST', R.createDataSubjectRequest.path, ada.token, { type: 'access', subject: ada.id });
    expect(own.json.data.status).toBe('completed');
    expect((await call('POST', path(own.json.data.id), admin.token, reason)).json.code).toBe('EXTENSION_REFUSED');
    // … nor after the one-month deadline has passed.
    const late = await call('POST', R.createDataSubjectRequest.path, admin.token, { type: 'erasure', subject: ada.id });
    platform.clock.set(Date.parse(late.json.data.due_at) + 1);
    const fresh = (
      await platform.tokens.issue({ subject: admin.id, roles: ['Admin'], mfaAt: new Date(platform.clock.now()) })
    ).accessToken;
    const tooLate = await call('POST', path(late.json.data.id), fresh, reason);
    expect([tooLate.status, tooLate.json.code]).toEqual([409, 'EXTENSION_REFUSED']);
    expect(
      (await call('GET', R.getDataSubjectRequest.path.replace('{id}', late.json.data.id), fresh)).json.data,
    ).toMatchObject({ status: 'received', due_at: late.json.data.due_at });

    // The one extension granted is audited.
    await platform.auditLog.flush();
    const events = (await platform.auditLog.query({ action: 'compliance.request.extended' })).records;
    expect(events.map((r) => [r.event.actor.id, r.event.resource?.id, r.event.outcome])).toEqual([
      [admin.id, id, 'success'],
    ]);
  });

  it('opens incidents (administrators) and lists them (everyone), refusing bad input', async () => {
    const { platform, call, user } = await setup();
    const admin = await user('root', ['Admin']);
    const viewer = await user('vic', ['Viewer']);
    const made = await call('POST', R.createIncident.path, admin.token, {
      title: 'Signing key exposed',
      severity: 'critical',
    });
    expect(made.status).toBe(201);
    expect(parseRouteResponse(R.createIncident, made.json)).toMatchObject({ severity: 'critical', status: 'open' });
    expect((await call('POST', R.createIncident.path, viewer.token, { title: 'x', severity: 'low' })).status).toBe(403);
    const listed = await call('GET', R.listIncidents.path, viewer.token);
    expect(listed.json.data.map((i: { title: string }) => i.title)).toEqual(['Signing key exposed']);
    for (const [body, code] of [
      [{ title: 'x', severity: 'catastrophic' }, 'INVALID_REQUEST'],
      [{ title: '', severity: 'low' }, 'INVALID_REQUEST'],
      [{ title: 'x', severity: 'low', owner: 'me' }, 'UNKNOWN_FIELD'],
      ['{"title"', 'MALFORMED_JSON'],
    ] as const) {
      const res = await call('POST', R.createIncident.path, admin.token, body);
      expect([res.status, res.json.code], JSON.stringify(body)).toEqual([400, code]);
    }
    for (const [body, code] of [
      [{ type: 'deletion', subject: 'x' }, 'INVALID_REQUEST'],
      [{ type: 'rectification', subject: admin.id }, 'INVALID_REQUEST'],
      [{ type: 'access', subject: admin.id, changes: { email: 'x' } }, 'INVALID_REQUEST'],
      [{ type: 'access', subject: 5 }, 'INVALID_REQUEST'],
    ] as const) {
      const res = await call('POST', R.createDataSubjectRequest.path, admin.token, body);
      expect([res.status, res.json.code], JSON.stringify(body)).toEqual([400, code]);
    }
    expect((await call('GET', R.listIncidents.path, admin.token)).json.data).toHaveLength(1);
    await platform.auditLog.flush();
    expect((await platform.auditLog.query({ action: 'compliance.incident.opened' })).records).toHaveLength(1);
  });
});
