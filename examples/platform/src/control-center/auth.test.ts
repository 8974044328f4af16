import { parseRouteResponse, CONTROL_CENTER_ROUTES as R } from '@provisioning/platform-client/api';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, prepareBootstrap } from './index.js';
import { controlCenter, expectNoSecretsInErrors, PASSWORD, type TestPlatform } from './test-helpers.js';

const platforms: TestPlatform[] = [];
afterEach(async () => {
  for (const p of platforms.splice(0)) await p.dispose();
});
afterAll(() => expectNoSecretsInErrors());
async function setup() {
  const cc = await controlCenter();
  platforms.push(cc.platform);
  return cc;
}
async function actions(platform: TestPlatform, action: string) {
  await platform.auditLog.flush();
  return (await platform.auditLog.query({ action: action as never })).records.map((r) => r.event);
}

describe('control center: health and login', () => {
  it('answers health and its OpenAPI document', async () => {
    const { call } = await setup();
    const health = await call('GET', '/health');
    expect(health.status).toBe(200);
    expect(parseRouteResponse(R.health, health.json)).toEqual({ status: 'healthy' });
    const doc = await call('GET', '/openapi.json');
    expect(doc.json.paths['/auth/login']).toBeDefined();
  });

  it('logs in, and the access token passes /auth/verify with the contract claims', async () => {
    const { call, login, addUser, platform } = await setup();
    const id = await addUser('ada', PASSWORD, ['Developer']);
    const res = await login('Ada', PASSWORD);
    expect(res.status).toBe(200);
    const data = parseRouteResponse(R.login, res.json) as any;
    expect(data).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      user: { id, username: 'ada', roles: ['Developer'] },
    });
    const verify = await call('GET', '/auth/verify', { token: data.access_token });
    expect(verify.status).toBe(200);
    const claims = (parseRouteResponse(R.verify, verify.json) as any).claims;
    expect(claims).toMatchObject({ sub: id, workspace: 'default', mfa: false, roles: ['Developer'], amr: ['pwd'] });
    expect(claims.permissions_hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const sessions = await call('GET', '/auth/sessions', { token: data.access_token });
    const list = parseRouteResponse(R.sessions, sessions.json) as any[];
    expect(list).toHaveLength(1);
    expect(list[0].current).toBe(true);
    expect((await actions(platform, 'auth.login.succeeded')).map((e) => e.actor.id)).toEqual([id]);
  });

  it('answers a wrong password and an unknown user with the same 401 body', async () => {
    const { login, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const wrong = await login('ada', 'not the password at all');
    const unknown = await login('nobody', 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.text).toBe(unknown.text);
    expect(wrong.json).toEqual({
      success: false,
      data: null,
      error: 'Invalid username or password.',
      code: 'INVALID_CREDENTIALS',
    });
    const failed = await actions(platform, 'auth.login.failed');
    expect(failed.map((e) => e.actor.id).sort()).toEqual(['ada', 'nobody']);
    expect(JSON.stringify(failed)).not.toContain('not the password');
  });

  it('locks the account after repeated failures (429)', async () => {
    const { login, addUser } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    for (let i = 0; i < 5; i++) expect((await login('ada', 'wrong password here')).status).toBe(401);
    const locked = await login('ada', PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.json.code).toBe('LOCKED_OUT');
  });
});

describe('control center: refresh and logout', () => {
  it('rotates refresh tokens and revokes the family when a spent one is reused', async () => {
    const { call, login, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const first = (await login('ada', PASSWORD)).json.data;
    const second = await call('POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(second.status).toBe(200);
    const rotated = parseRouteResponse(R.refresh, second.json) as any;
    expect(rotated.refresh_token).not.toBe(first.refresh_token);
    expect(rotated.user.username).toBe('ada');
    expect((await call('GET', '/auth/verify', { token: rotated.access_token })).status).toBe(200);
    // The spent token again: refused, and the whole session dies with it.
    const reuse = await call('POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(reuse.status).toBe(401);
    expect(reuse.json.code).toBe('INVALID_REFRESH_TOKEN');
    const after = await call('POST', '/auth/refresh', { body: { refresh_token: rotated.refresh_token } });
    expect(after.status).toBe(401);
    expect((await call('GET', '/auth/verify', { token: rotated.access_token })).status).toBe(401);
    expect(await actions(platform, 'auth.refresh.reuse_detected')).toHaveLength(1);
  });

  it('logout revokes the session; all_sessions revokes every one', async () => {
    const { call, login, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const a = (await login('ada', PASSWORD)).json.data;
    const b = (await login('ada', PASSWORD)).json.data;
    const c = (await login('ada', PASSWORD)).json.data;
    const out = await call('POST', '/auth/logout', { token: a.access_token });
    expect(parseRouteResponse(R.logout, out.json)).toEqual({ revoked: 1 });
    expect((await call('GET', '/auth/verify', { token: a.access_token })).status).toBe(401);
    expect((await call('POST', '/auth/refresh', { body: { refresh_token: a.refresh_token } })).status).toBe(401);
    expect((await call('GET', '/auth/verify', { token: b.access_token })).status).toBe(200);
    const all = await call('POST', '/auth/logout', { token: b.access_token, body: { all_sessions: true } });
    expect(all.json.data).toEqual({ revoked: 2 });
    expect((await call('GET', '/auth/verify', { token: b.access_token })).status).toBe(401);
    expect((await call('GET', '/auth/verify', { token: c.access_token })).status).toBe(401);
    expect(await actions(platform, 'auth.logout')).toHaveLength(2);
  });

  it('revokes one of the caller’s sessions, and only the caller’s', async () => {
    const { call, login, addUser } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    await addUser('bob', PASSWORD, ['Viewer']);
    const a1 = (await login('ada', PASSWORD)).json.data;
    const a2 = (await login('ada', PASSWORD)).json.data;
    const bob = (await login('bob', PASSWORD)).json.data;
    const list = (await call('GET', '/auth/sessions', { token: a1.access_token })).json.data as any[];
    const other = list.find((s) => !s.current);
    const bobSession = ((await call('GET', '/auth/sessions', { token: bob.access_token })).json.data as any[])[0];
    expect((await call('DELETE', `/auth/sessions/${bobSession.id}`, { token: a1.access_token })).status).toBe(404);
    expect((await call('GET', '/auth/verify', { token: bob.access_token })).status).toBe(200);
    expect((await call('DELETE', `/auth/sessions/${other.id}`, { token: a1.access_token })).json.data).toEqual({
      revoked: 1,
    });
    expect((await call('GET', '/auth/verify', { token: a2.access_token })).status).toBe(401);
  });

  it('refuses missing, forged and API-key credentials on self-service routes', async () => {
    const { call, login, addUser, platform } = await setup();
    const id = await addUser('ada', PASSWORD, ['Admin']);
    expect((await call('GET', '/auth/verify')).status).toBe(401);
    const token = (await login('ada', PASSWORD)).json.data.access_token as string;
    const [h, p] = token.split('.');
    expect((await call('GET', '/auth/verify', { token: `${h}.${p}.AAAA` })).status).toBe(401);
    const { key } = await platform.apiKeys.create({ owner: id, name: 'ci', scopes: ['admin'] });
    // The key works where the platform chain accepts keys (an admin route, within its scopes)…
    expect((await call('GET', '/users', { headers: { authorization: `ApiKey ${key}` } })).status).toBe(200);
    // …but not on self-service routes, which need a user session.
    const res = await call('GET', '/auth/verify', { headers: { authorization: `ApiKey ${key}` } });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ success: false, code: 'FORBIDDEN' });
  });
});

describe('control center: bootstrap', () => {
  it('creates the first administrator once, with the printed secret only', async () => {
    const { call, login, platform } = await setup();
    const secret = await prepareBootstrap(platform);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await platform.kv.get(BOOTSTRAP_KEY)).not.toContain(secret as string);
    const wrong = await call('POST', '/auth/bootstrap', {
      body: { secret: 'x'.repeat(43), username: 'root', password: PASSWORD },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json.code).toBe('INVALID_BOOTSTRAP_SECRET');
    // A weak password is refused before the secret is spent.
    const weak = await call('POST', '/auth/bootstrap', { body: { secret, username: 'root', password: 'short' } });
    expect(weak.status).toBe(400);
    const created = await call('POST', '/auth/bootstrap', { body: { secret, username: 'root', password: PASSWORD } });
    expect(created.status).toBe(201);
    expect(created.json.data).toMatchObject({ username: 'root', roles: ['Admin'], disabled: false });
    expect(JSON.stringify(created.json)).not.toContain(PASSWORD);
    const again = await call('POST', '/auth/bootstrap', { body: { secret, username: 'root2', password: PASSWORD } });
    expect(again.status).toBe(403);
    expect(again.json.code).toBe('BOOTSTRAP_CLOSED');
    expect((await platform.users.list()).map((u) => u.username)).toEqual(['root']);
    expect(await prepareBootstrap(platform)).toBeUndefined();
    expect((await login('root', PASSWORD)).status).toBe(200);
    expect(await platform.kv.get(BOOTSTRAP_KEY)).toBeUndefined();
  });

  it('lets exactly one of two concurrent bootstraps win', async () => {
    const { call, platform } = await setup();
    const secret = await prepareBootstrap(platform);
    const results = await Promise.all(
      ['one', 'two'].map((username) =>
        call('POST', '/auth/bootstrap', { body: { secret, username, password: PASSWORD } }),
      ),
    );
    for (const r of results) expect([201, 401, 403]).toContain(r.status);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(await platform.users.list()).toHaveLength(1);
  });
});
