import { ComplianceSummarySchema, CONTROL_CENTER_ROUTES as R } from '@provisioning/platform-client/api';
import { afterEach, describe, expect, it } from 'vitest';
import { controlCenter, PASSWORD } from '../control-center/test-helpers.js';
import { clientOver, tamperAuditEvent } from './test-helpers.js';

const disposers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const d of disposers.splice(0)) await d();
});

async function setup() {
  const cc = await controlCenter();
  disposers.push(() => cc.platform.dispose());
  const token = async (name: string, roles: string[], teams: string[] = []) => {
    const id = await cc.addUser(name, PASSWORD, roles);
    if (teams.length > 0) await cc.platform.users.update(id, { teams });
    return (await cc.login(name, PASSWORD)).json.data.access_token as string;
  };
  const summary = (token: string) => cc.call('GET', R.complianceSummary.path, { token });
  return { ...cc, token, summary };
}

describe('control center: compliance summary', () => {
  it('counts SOC 2 and ISO 27001 controls for Admins, Auditors and the audit and security teams only', async () => {
    const { token, summary } = await setup();
    for (const [name, roles, teams] of [
      ['root', ['Admin'], []],
      ['audrey', ['Auditor'], []],
      ['sec', ['Viewer'], ['security']],
      ['aud', ['Developer'], ['audit']],
    ] as const) {
      const res = await summary(await token(name, [...roles], [...teams]));
      expect(res.status, name).toBe(200);
      const body = ComplianceSummarySchema.parse(res.json.data);
      // The control center's own state answers the auth, audit, policy and break-glass checks …
      expect(body.checks.passing, name).toBeGreaterThanOrEqual(7);
      expect(body.failing_checks, name).toEqual([]);
      expect(body.soc2.passing + body.iso27001.passing, name).toBeGreaterThan(0);
      expect(body.soc2.failing + body.iso27001.failing, name).toBe(0);
      // … the orchestrator's leases, GDPR requests and KMS keys do not: those stay unknown here.
      expect(body.soc2.unknown + body.iso27001.unknown, name).toBeGreaterThan(0);
    }
    for (const [name, roles] of [
      ['vic', ['Viewer']],
      ['dev', ['Developer']],
      ['op', ['Operator']],
    ] as const) {
      const res = await summary(await token(name, [...roles]));
      expect([res.status, res.json.code], name).toEqual([403, 'FORBIDDEN']);
    }
    expect((await summary('not a token')).status).toBe(401);
  });

  it('names a failing check with its controls and remediation, after the minute one run answers for', async () => {
    const { platform, app, token, summary } = await setup();
    const auditor = await token('audrey', ['Auditor']);
    const first = (await summary(auditor)).json.data;
    await platform.auditLog.flush();
    // Someone with write access to the database edits an event: the chain check fails.
    const target = (await platform.auditLog.query({}, { limit: 3 })).records[1];
    tamperAuditEvent(platform, target?.seq);
    platform.clock.advance(30_000);
    // Within the minute: the same run.
    expect((await summary(auditor)).json.data).toEqual(first);
    platform.clock.advance(30_000);

    const client = clientOver(app, auditor, { controlCenter: 'http://cc.test' });
    const after = await client.controlCenter.complianceSummary();
    expect(after.last_run > first.last_run).toBe(true);
    expect(after.failing_checks).toEqual([
      expect.objectContaining({
        id: 'audit.chain-verifies',
        title: expect.any(String),
        soc2: expect.arrayContaining([expect.any(String)]),
        iso27001: expect.arrayContaining([expect.any(String)]),
        remediation: expect.any(String),
      }),
    ]);
    expect(after.soc2.failing).toBeGreaterThan(0);
    expect(after.iso27001.failing).toBeGreaterThan(0);
    expect(after.checks.passing).toBe(first.checks.passing - 1);
  });
});
