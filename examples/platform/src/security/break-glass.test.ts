import { ORCHESTRATOR_ROUTES as R } from '@provisioning/platform-client/api';
import { afterEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { orchestratorService } from '../orchestrator/index.js';

const disposers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const d of disposers.splice(0)) await d();
});

const PASSWORD = 'a long enough password';

/** An orchestrator with an sre requester and approvers of two teams. */
async function setup() {
  const platform = await createTestPlatform();
  const service = await orchestratorService.create(platform);
  disposers.push(async () => {
    await service.close?.();
    await platform.dispose();
  });
  const app = fromLoopback(service.app);
  const people: Record<string, { id: string; mfa: string; plain: string }> = {};
  for (const [name, roles, teams] of [
    ['rita', ['Operator'], ['sre']],
    ['alice', ['Admin'], ['platform-admin']],
    ['carol', ['Admin'], ['platform-admin']],
    ['bob', ['Viewer'], ['security']],
    ['nemo', ['Admin'], []],
    ['sam', ['Operator'], ['sre']],
    ['vic', ['Viewer'], []],
    ['avery', ['Auditor'], ['audit']],
  ] as const) {
    const id = await addUser(platform, name, PASSWORD, [...roles]);
    await platform.users.update(id, { teams: [...teams] });
    const issue = async (mfa: boolean) =>
      (
        await platform.tokens.issue({
          subject: id,
          roles: [...roles],
          amr: mfa ? ['pwd', 'otp'] : ['pwd'],
          ...(mfa ? { mfaAt: new Date(platform.clock.now()) } : {}),
        })
      ).accessToken;
    people[name] = { id, mfa: await issue(true), plain: await issue(false) };
  }
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text), text };
  };
  const who = (name: string, kind: 'mfa' | 'plain' = 'mfa') => people[name]?.[kind] as string;
  const file = (body: Record<string, unknown> = {}) =>
    call('POST', R.requestBreakGlass.path, who('rita'), {
      reason: 'the primary database is down and on-call needs to fail over',
      incident_id: 'INC-42',
      permissions: ['list', 'create'],
      duration_seconds: 900,
      ...body,
    });
  const at = (route: keyof typeof R, id: string) => R[route].path.replace('{id}', id);
  return { platform, app, call, who, file, at, people };
}

describe('break-glass over the orchestrator: two approvers from two teams, a scoped token that expires', () => {
  it('runs request → approvals → activation → emergency work → expiry, every step audited for 7 years', async () => {
    const { platform, call, who, file, at, people } = await setup();
    const filed = await file();
    expect(filed.status).toBe(201);
    const id = filed.json.data.id as string;
    expect(filed.json.data).toMatchObject({
      requester: people.rita?.id,
      incident_id: 'INC-42',
      permissions: ['list', 'create'],
      status: 'pending',
      approvals: [],
      expires_at: null,
    });

    // Cedar: nobody approves their own request; approvers need a fresh MFA; only security and Admins approve.
    expect((await call('POST', at('approveBreakGlass', id), who('rita'))).status).toBe(403);
    expect((await call('POST', at('approveBreakGlass', id), who('alice', 'plain'))).status).toBe(403);
    expect((await call('POST', at('approveBreakGlass', id), who('alice'), { comment: 'ok' })).json.data).toMatchObject({
      status: 'pending',
      approvals: [people.alice?.id],
    });
    const twice = await call('POST', at('approveBreakGlass', id), who('alice'));
    expect([twice.status, twice.json.code]).toEqual([409, 'BREAK_GLASS_REFUSED']);
    // A second approver of the same team does not make two teams.
    await call('POST', at('approveBreakGlass', id), who('carol'));
    const early = await call('POST', at('activateBreakGlass', id), who('rita'));
    expect([early.status, early.json.code]).toEqual([409, 'BREAK_GLASS_REFUSED']);
    // Someone outside any team cannot vouch for one.
    expect((await call('POST', at('approveBreakGlass', id), who('nemo'))).json.code).toBe('NO_TEAM');
    expect((await call('POST', at('approveBreakGlass', id), who('bob'))).json.data.status).toBe('approved');

    // Only the requester activates, once: Cedar lets an Admin through, break-glass itself refuses.
    const other = await call('POST', at('activateBreakGlass', id), who('alice'));
    expect([other.status, other.json.code]).toEqual([409, 'BREAK_GLASS_REFUSED']);
    const activated = await call('POST', at('activateBreakGlass', id), who('rita'));
    expect(activated.status).toBe(200);
    const token = activated.json.data.token as string;
    expect(activated.json.data).toMatchObject({
      request_id: id,
      expires_at: new Date(platform.clock.now() + 900_000).toISOString(),
    });
    expect((await call('POST', at('activateBreakGlass', id), who('rita'))).status).toBe(409);
    // It carries the MFA rita performed for the session she activated from (for step-up rules).
    const claims = await platform.tokens.verify(token);
    expect(claims).toMatchObject({
      emergency: true,
      amr: ['pwd', 'otp'],
      mfa_at: Math.floor(platform.clock.now() / 1000),
    });

    // The emergency token works inside its scope (create, list) in staging …
    const work = await call('POST', R.createServersWorkflow.path, token, { infra: 'staging-eu', params: {} });
    expect(work.status).toBe(200);
    expect((await call('GET', R.listTasks.path, token)).status).toBe(200);
    // … and nowhere else: another action, or break-glass itself.
    const outside = await call('POST', `/tasks/${work.json.data}/cancel`, token);
    expect([outside.status, outside.json.code]).toEqual([403, 'EMERGENCY_SCOPE']);
    expect((await call('POST', R.requestBreakGlass.path, token, {})).status).toBe(403);

    const active = await call('GET', R.activeBreakGlass.path, who('alice'));
    expect(active.json.data.map((r: { id: string }) => r.id)).toEqual([id]);
    expect((await call('GET', at('getBreakGlass', id), who('alice'))).json.data.status).toBe('active');

    // It expires with its duration.
    platform.clock.advance(901_000);
    expect((await call('GET', R.listTasks.path, token)).status).toBe(401);
    expect((await call('GET', at('getBreakGlass', id), who('alice'))).json.data.status).toBe('expired');

    await new Promise((r) => setImmediate(r));
    await platform.auditLog.flush();
    const steps = (await platform.auditLog.query({ category: 'break_glass' }, { limit: 100 })).records.map(
      (r) => r.event,
    );
    expect(steps.every((e) => e.retention === 'break_glass')).toBe(true);
    expect(steps.filter((e) => e.resource?.type === 'break_glass_request').map((e) => e.action)).toEqual([
      'break_glass.requested',
      'break_glass.approved',
      'break_glass.approved',
      'break_glass.approved',
      'break_glass.activated',
      'break_glass.expired',
    ]);
    // The emergency work itself: break_glass.used, in the 7-year class, with the session id.
    const used = steps.filter((e) => e.action === 'break_glass.used');
    expect(used.length).toBeGreaterThanOrEqual(2);
    expect(used.every((e) => typeof e.metadata?.emergencySessionId === 'string')).toBe(true);
    const denied = await platform.auditLog.query({ outcome: 'denied', sessionId: used[0]?.sessionId as string });
    expect(denied.records.map((r) => [r.event.retention, r.event.reason])).toContainEqual([
      'break_glass',
      'outside approved scope',
    ]);
    const all = JSON.stringify((await platform.auditLog.query({}, { limit: 1000 })).records);
    expect(all).not.toContain(token);
  });

  it('denies and revokes: a denied request never activates, a revoked token stops at once', async () => {
    const { call, who, file, at } = await setup();
    const denied = (await file()).json.data.id as string;
    expect(
      (await call('POST', at('denyBreakGlass', denied), who('bob'), { comment: 'not an emergency' })).json.data,
    ).toMatchObject({ status: 'denied' });
    expect((await call('POST', at('activateBreakGlass', denied), who('rita'))).status).toBe(409);

    const id = (await file()).json.data.id as string;
    await call('POST', at('approveBreakGlass', id), who('alice'));
    await call('POST', at('approveBreakGlass', id), who('bob'));
    const token = (await call('POST', at('activateBreakGlass', id), who('rita'))).json.data.token as string;
    expect((await call('GET', R.listTasks.path, token)).status).toBe(200);
    // The requester ends it (break-glass-revoke); again is harmless.
    expect((await call('POST', at('revokeBreakGlass', id), who('rita'), { comment: 'fixed' })).json.data.status).toBe(
      'revoked',
    );
    expect((await call('POST', at('revokeBreakGlass', id), who('rita'))).json.data.status).toBe('revoked');
    expect((await call('GET', R.listTasks.path, token)).status).toBe(401);

    const list = await call('GET', `${R.listBreakGlass.path}?status=revoked`, who('alice'));
    expect(list.json.data.map((r: { id: string }) => r.id)).toEqual([id]);
    expect((await call('GET', R.listBreakGlass.path, who('alice'))).json.data).toHaveLength(2);
    // An approver of the security team (not an Admin) sees them too (break-glass-read).
    expect((await call('GET', R.listBreakGlass.path, who('bob'))).json.data).toHaveLength(2);
    expect((await call('GET', at('getBreakGlass', 'nope'), who('alice'))).status).toBe(404);
  });

  it('shows requesters their own requests and approvers every one, with usernames; nobody else', async () => {
    const { call, who, file, at, people } = await setup();
    const ritas = (await file()).json.data.id as string;
    const sams = (
      await call('POST', R.requestBreakGlass.path, who('sam'), {
        reason: 'the queue is stuck and needs a manual drain',
        incident_id: 'INC-43',
        permissions: ['list'],
        duration_seconds: 900,
      })
    ).json.data.id as string;
    await call('POST', at('approveBreakGlass', ritas), who('alice'));
    await call('POST', at('approveBreakGlass', ritas), who('bob'));
    const ids = async (name: string, path: string = R.listBreakGlass.path) => {
      const res = await call('GET', path, who(name));
      expect(res.status, `${name} ${path}`).toBe(200);
      return res.json.data.map((r: { id: string }) => r.id);
    };
    // Requesters: their own only (newest first for approvers).
    expect(await ids('rita')).toEqual([ritas]);
    expect(await ids('sam')).toEqual([sams]);
    expect((await call('GET', at('getBreakGlass', ritas), who('sam'))).status).toBe(403);
    expect((await call('GET', at('getBreakGlass', ritas), who('rita'))).status).toBe(200);
    // Approvers: every request — security (bob, a Viewer) and Admins.
    expect(await ids('bob')).toEqual([sams, ritas]);
    expect(await ids('alice')).toEqual([sams, ritas]);
    // Neither: nothing of anyone's (the audit team follows break-glass in the audit log).
    expect(await ids('vic')).toEqual([]);
    expect(await ids('avery')).toEqual([]);
    expect((await call('GET', at('getBreakGlass', ritas), who('avery'))).status).toBe(403);

    // Usernames of the requester and the approvers, by id.
    const [mine] = (await call('GET', R.listBreakGlass.path, who('rita'))).json.data;
    expect(mine.usernames).toEqual({
      [people.rita?.id as string]: 'rita',
      [people.alice?.id as string]: 'alice',
      [people.bob?.id as string]: 'bob',
    });
    // Active sessions, the same way: Rita's own, and every one for the approvers.
    await call('POST', at('activateBreakGlass', ritas), who('rita'));
    expect(await ids('rita', R.activeBreakGlass.path)).toEqual([ritas]);
    expect(await ids('sam', R.activeBreakGlass.path)).toEqual([]);
    expect(await ids('bob', R.activeBreakGlass.path)).toEqual([ritas]);
  });

  it('refuses bad input with a typed 4xx and files nothing', async () => {
    const { call, who, file, at } = await setup();
    const cases: Array<[Record<string, unknown> | string, number, string]> = [
      ['{"reason":', 400, 'MALFORMED_JSON'],
      [{ permissions: ['fly'] }, 400, 'INVALID_PERMISSIONS'],
      [{ permissions: [] }, 400, 'INVALID_PERMISSIONS'],
      [{ permissions: ['read', 'read'] }, 400, 'INVALID_PERMISSIONS'],
      [{ duration_seconds: 5 * 3600 }, 400, 'INVALID_REQUEST'],
      [{ duration_seconds: '900' }, 400, 'INVALID_REQUEST'],
      [{ reason: 'short' }, 400, 'INVALID_REQUEST'],
      [{ incident_id: '' }, 400, 'INVALID_REQUEST'],
      [{ extra: true }, 400, 'UNKNOWN_FIELD'],
      [{ reason: 'x'.repeat(1024 * 1024 + 10) }, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [body, status, code] of cases) {
      const res =
        typeof body === 'string' ? await call('POST', R.requestBreakGlass.path, who('rita'), body) : await file(body);
      expect([res.status, res.json?.code], JSON.stringify(body).slice(0, 80)).toEqual([status, code]);
      expect(res.json.success).toBe(false);
    }
    const id = (await file()).json.data.id as string;
    expect((await call('POST', at('approveBreakGlass', id), who('alice'), { comment: 5 })).json.code).toBe(
      'INVALID_REQUEST',
    );
    expect((await call('POST', at('approveBreakGlass', id), who('alice'), { why: 'x' })).json.code).toBe(
      'UNKNOWN_FIELD',
    );
    expect((await call('POST', at('activateBreakGlass', id), who('rita'), { now: true })).status).toBe(400);
    expect((await call('GET', `${R.listBreakGlass.path}?status=open`, who('alice'))).json.code).toBe('INVALID_QUERY');
    const list = await call('GET', R.listBreakGlass.path, who('alice'));
    expect(list.json.data.map((r: { id: string; approvals: string[] }) => [r.id, r.approvals])).toEqual([[id, []]]);
  });
});
