import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { controlCenter, expectNoSecretsInErrors, PASSWORD, type TestPlatform } from './test-helpers.js';

const platforms: TestPlatform[] = [];
afterEach(async () => {
  for (const p of platforms.splice(0)) await p.dispose();
});
afterAll(() => expectNoSecretsInErrors());
async function setup() {
  const cc = await controlCenter();
  platforms.push(cc.platform);
  const adminId = await cc.addUser('root', PASSWORD, ['Admin']);
  const admin = (await cc.login('root', PASSWORD)).json.data.access_token as string;
  return { ...cc, adminId, admin };
}
async function actions(platform: TestPlatform, action: string) {
  await platform.auditLog.flush();
  return (await platform.auditLog.query({ action: action as never })).records.map((r) => r.event);
}

describe('control center: users and roles', () => {
  it('lets an admin create, list, change roles of and disable users', async () => {
    const { call, login, admin, adminId, platform } = await setup();
    const created = await call('POST', '/users', {
      token: admin,
      body: { username: 'Ada', password: PASSWORD, email: 'ada@example.com', roles: ['Developer'] },
    });
    expect(created.status).toBe(201);
    expect(created.json.data).toMatchObject({
      username: 'ada',
      email: 'ada@example.com',
      roles: ['Developer'],
      mfa_enabled: false,
    });
    expect(created.text).not.toContain('argon2');
    const id = created.json.data.id as string;
    const list = await call('GET', '/users', { token: admin });
    expect(list.json.data.map((u: any) => u.username).sort()).toEqual(['ada', 'root']);
    expect(list.text).not.toContain('argon2');

    const ada = (await login('ada', PASSWORD)).json.data.access_token as string;
    const roles = await call('PUT', `/users/${id}/roles`, { token: admin, body: { roles: ['Operator', 'Viewer'] } });
    expect(roles.json.data.roles).toEqual(['Operator', 'Viewer']);
    // The old token carried the old roles: the user's sessions ended.
    expect((await call('GET', '/auth/verify', { token: ada })).status).toBe(401);
    const fresh = (await login('ada', PASSWORD)).json.data;
    expect(fresh.user.roles).toEqual(['Operator', 'Viewer']);

    const disabled = await call('POST', `/users/${id}/disable`, { token: admin });
    expect(disabled.json.data.disabled).toBe(true);
    expect((await call('GET', '/auth/verify', { token: fresh.access_token })).status).toBe(401);
    expect((await call('POST', '/auth/refresh', { body: { refresh_token: fresh.refresh_token } })).status).toBe(401);
    expect((await login('ada', PASSWORD)).status).toBe(401);

    expect((await call('POST', `/users/${adminId}/disable`, { token: admin })).status).toBe(409);
    expect((await call('PUT', `/users/${adminId}/roles`, { token: admin, body: { roles: ['Viewer'] } })).status).toBe(
      409,
    );
    expect((await call('PUT', `/users/nobody/roles`, { token: admin, body: { roles: ['Viewer'] } })).status).toBe(404);
    expect((await call('PUT', `/users/${id}/roles`, { token: admin, body: { roles: ['Wizard'] } })).json.code).toBe(
      'INVALID_ROLE',
    );
    expect(await actions(platform, 'admin.user.created')).toHaveLength(1);
    expect(await actions(platform, 'admin.user.updated')).toHaveLength(2);
  });

  it('refuses user management to non-admins and duplicates', async () => {
    const { call, login, admin, addUser } = await setup();
    await addUser('viewer', PASSWORD, ['Viewer']);
    const viewer = (await login('viewer', PASSWORD)).json.data.access_token as string;
    expect((await call('GET', '/users', { token: viewer })).status).toBe(403);
    expect((await call('GET', '/users')).status).toBe(401);
    const denied = await call('POST', '/users', { token: viewer, body: { username: 'x', password: PASSWORD } });
    expect(denied.status).toBe(403);
    const dup = await call('POST', '/users', { token: admin, body: { username: 'VIEWER', password: PASSWORD } });
    expect(dup.status).toBe(409);
    expect(dup.json.code).toBe('USER_EXISTS');
  });
});

describe('control center: teams', () => {
  it("lets an admin set a user's teams (Cedar Team parents, break-glass approvals), audited", async () => {
    const { call, admin, addUser, login, platform } = await setup();
    const id = await addUser('sam', PASSWORD, ['Operator']);
    const set = await call('PUT', `/users/${id}/teams`, { token: admin, body: { teams: ['sre', 'sre', 'on-call'] } });
    expect(set.status).toBe(200);
    expect(set.json.data.teams).toEqual(['sre', 'on-call']);
    expect((await platform.users.findById(id))?.teams).toEqual(['sre', 'on-call']);
    expect((await call('PUT', `/users/${id}/teams`, { token: admin, body: { teams: ['Not A Team'] } })).status).toBe(
      400,
    );
    const sam = (await login('sam', PASSWORD)).json.data.access_token as string;
    expect((await call('PUT', `/users/${id}/teams`, { token: sam, body: { teams: [] } })).status).toBe(403);
    const events = await actions(platform, 'admin.user.updated');
    expect(events.map((e) => e.metadata)).toEqual([{ teams_before: [], teams: ['sre', 'on-call'] }]);
  });
});

describe('control center: API tokens', () => {
  it('creates a token shown once, lists it without the secret, and revokes it', async () => {
    const { call, admin, platform, login, addUser } = await setup();
    const created = await call('POST', '/api-tokens', {
      token: admin,
      body: { name: 'ci', scopes: ['admin'], expires_in_days: 30 },
    });
    expect(created.status).toBe(201);
    const key = created.json.data.token as string;
    expect(key.length).toBeGreaterThan(20);
    expect(created.json.data.expires_at).toBe(new Date(platform.clock.now() + 30 * 86_400_000).toISOString());
    const list = await call('GET', '/api-tokens', { token: admin });
    expect(list.json.data).toHaveLength(1);
    expect(list.text).not.toContain(key);
    expect((await call('GET', '/users', { headers: { authorization: `ApiKey ${key}` } })).status).toBe(200);
    // Another user can neither see nor revoke it.
    await addUser('bob', PASSWORD, ['Viewer']);
    const bob = (await login('bob', PASSWORD)).json.data.access_token as string;
    expect((await call('GET', '/api-tokens', { token: bob })).json.data).toEqual([]);
    expect((await call('DELETE', `/api-tokens/${created.json.data.id}`, { token: bob })).status).toBe(404);
    const revoked = await call('DELETE', `/api-tokens/${created.json.data.id}`, { token: admin });
    expect(revoked.json.data).toEqual({ revoked: 1 });
    expect((await call('GET', '/users', { headers: { authorization: `ApiKey ${key}` } })).status).toBe(401);
    expect(await actions(platform, 'auth.api_key.created')).toHaveLength(1);
    expect(await actions(platform, 'auth.api_key.revoked')).toHaveLength(1);
    expect(JSON.stringify(await actions(platform, 'auth.api_key.created'))).not.toContain(key);
  });
});

describe('control center: policies over the Cedar engine', () => {
  it('lists, gets, validates and answers what-if questions for those allowed to read policies', async () => {
    const { call, admin, adminId, addUser, login } = await setup();
    expect((await call('GET', '/policies')).status).toBe(401);
    const list = await call('GET', '/policies', { token: admin });
    expect(list.status).toBe(200);
    const ids = (list.json.data as Array<{ id: string }>).map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(['prod-deploy-mfa', 'admin-full-access', 'emergency-access']));
    const one = await call('GET', '/policies/prod-deploy-mfa', { token: admin });
    expect(one.json.data).toMatchObject({ id: 'prod-deploy-mfa', description: 'production.cedar' });
    expect(one.json.data.source).toContain('forbid');
    expect((await call('GET', '/policies/nope', { token: admin })).json.code).toBe('POLICY_NOT_FOUND');

    const good = await call('POST', '/policies/validate', {
      token: admin,
      body: { source: '@id("t") permit(principal, action == Provisioning::Action::"read", resource);' },
    });
    expect(good.json.data).toEqual({ valid: true, errors: [], warnings: [] });
    const bad = await call('POST', '/policies/validate', {
      token: admin,
      body: { source: 'permit(principal, action == Provisioning::Action::"fly", resource);' },
    });
    expect(bad.json.data.valid).toBe(false);
    expect(bad.json.data.errors[0]).toMatch(/^input\.cedar:1:/);

    const ask = (principal: string, action: string, resource: string) =>
      call('POST', '/policies/authorize', { token: admin, body: { principal, action, resource } });
    const adminRead = await ask(`Provisioning::User::"${adminId}"`, 'read', 'Provisioning::Server::"prod-web"');
    expect(adminRead.json.data).toMatchObject({
      decision: 'allow',
      policies: ['admin-full-access'],
    });
    const viewerId = await addUser('vic', PASSWORD, ['Viewer']);
    const viewerDelete = await ask(`Provisioning::User::"${viewerId}"`, 'delete', 'Provisioning::Server::"prod-web"');
    expect(viewerDelete.json.data).toMatchObject({ decision: 'deny', policies: ['prod-delete-mfa'] });
    expect((await ask('not a uid', 'read', 'x')).json.code).toBe('INVALID_AUTHORIZATION_REQUEST');

    // Viewers may not read the policies themselves (only audit, security, Auditors, Admins).
    const viewer = (await login('vic', PASSWORD)).json.data.access_token as string;
    const refused = await call('GET', '/policies', { token: viewer });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ success: false, code: 'FORBIDDEN' });
  });

  it('reloads only with a fresh MFA (policy-change-mfa), and audits the reload', async () => {
    const { call, admin, platform, enrollTotp } = await setup();
    const refused = await call('POST', '/policies/reload', { token: admin });
    expect(refused.status).toBe(403);
    const { token } = await enrollTotp('root', PASSWORD);
    const reloaded = await call('POST', '/policies/reload', { token });
    expect(reloaded.status).toBe(200);
    expect(reloaded.json.data).toEqual({
      version: platform.authorization.engine.version,
      policies: expect.any(Number),
    });
    const events = await actions(platform, 'policy.reload.succeeded');
    expect(events.map((e) => [e.actor.type, e.resource?.id])).toEqual([
      ['user', platform.authorization.engine.version],
    ]);
  });
});
