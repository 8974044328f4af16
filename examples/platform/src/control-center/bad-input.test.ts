import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, prepareBootstrap } from './index.js';
import {
  controlCenter,
  errorBodies,
  expectNoSecretsInErrors,
  handledSecrets,
  PASSWORD,
  type TestPlatform,
} from './test-helpers.js';

const platforms: TestPlatform[] = [];
afterEach(async () => {
  for (const p of platforms.splice(0)) await p.dispose();
});

/** Every secret a test handled; none may appear in any error body. */
const secrets = handledSecrets;
afterAll(() => {
  expect(errorBodies.length).toBeGreaterThan(100);
  expectNoSecretsInErrors();
});

interface RouteCase {
  readonly method: string;
  readonly path: string;
  /** A body of the right shape (never sent alone: only with an extra field). */
  readonly valid?: Record<string, unknown>;
  /** A body with a field of the wrong type. */
  readonly wrong?: unknown;
  readonly auth?: boolean;
}

const ONE_AND_A_BIT_MIB = 'x'.repeat(1024 * 1024 + 100);

describe('control center: bad input on every route gives a typed 4xx and changes nothing', () => {
  it('refuses malformed JSON, wrong types, unknown fields, wrong content types and oversize bodies', async () => {
    const cc = await controlCenter();
    const { platform, call, enrollTotp, addUser } = cc;
    platforms.push(platform);
    const adminId = await addUser('root', PASSWORD, ['Admin']);
    const targetId = await addUser('target', PASSWORD, ['Viewer']);
    const { token, secret, backupCodes } = await enrollTotp('root', PASSWORD);
    secrets.add(secret);
    for (const code of backupCodes) secrets.add(code);
    const session = (await cc.login('root', PASSWORD, backupCodes[0])).json.data;
    secrets.add(session.refresh_token);
    const key = (await call('POST', '/api-tokens', { token, body: { name: 'ci' } })).json.data.token as string;
    secrets.add(key);
    const deviceId = (await call('GET', '/mfa/devices', { token })).json.data[0].id as string;

    const routes: RouteCase[] = [
      {
        method: 'POST',
        path: '/auth/login',
        auth: false,
        valid: { username: 'root', password: PASSWORD },
        wrong: { username: 1, password: PASSWORD },
      },
      {
        method: 'POST',
        path: '/auth/login/mfa',
        auth: false,
        valid: { challenge_id: 'c'.repeat(43), code: '123456' },
        wrong: { challenge_id: 5 },
      },
      {
        method: 'POST',
        path: '/auth/refresh',
        auth: false,
        valid: { refresh_token: session.refresh_token },
        wrong: { refresh_token: null },
      },
      {
        method: 'POST',
        path: '/auth/bootstrap',
        auth: false,
        valid: { secret: 's', username: 'x', password: PASSWORD },
        wrong: { secret: [], username: 'x', password: PASSWORD },
      },
      { method: 'POST', path: '/auth/logout', valid: { all_sessions: true }, wrong: { all_sessions: 'yes' } },
      { method: 'POST', path: '/mfa/enroll/totp' },
      { method: 'POST', path: '/mfa/enroll/webauthn' },
      { method: 'POST', path: '/mfa/verify', valid: { code: '123456' }, wrong: { code: 123456 } },
      { method: 'POST', path: '/mfa/webauthn/register', valid: { response: {} }, wrong: { response: 'x' } },
      { method: 'POST', path: '/mfa/webauthn/challenge' },
      { method: 'POST', path: '/mfa/webauthn/authenticate', valid: { response: {} }, wrong: { response: 1 } },
      { method: 'PATCH', path: `/mfa/devices/${deviceId}`, valid: { name: 'new name' }, wrong: { name: 1 } },
      { method: 'POST', path: '/mfa/backup-codes' },
      {
        method: 'POST',
        path: '/users',
        valid: { username: 'new', password: PASSWORD },
        wrong: { username: 'new', password: PASSWORD, roles: 'Admin' },
      },
      { method: 'PUT', path: `/users/${targetId}/roles`, valid: { roles: ['Admin'] }, wrong: { roles: [1] } },
      { method: 'PUT', path: `/users/${targetId}/teams`, valid: { teams: ['sre'] }, wrong: { teams: [1] } },
      { method: 'POST', path: `/users/${targetId}/disable` },
      { method: 'POST', path: '/api-tokens', valid: { name: 'x' }, wrong: { name: 'x', expires_in_days: 0 } },
      { method: 'POST', path: '/policies/validate', valid: { source: '' }, wrong: { source: 1 } },
      {
        method: 'POST',
        path: '/policies/authorize',
        valid: { principal: 'a', action: 'b', resource: 'c' },
        wrong: { principal: 1, action: 'b', resource: 'c' },
      },
      { method: 'POST', path: '/policies/reload' },
    ];

    const snapshot = async () => {
      await platform.auditLog.flush();
      return JSON.stringify({
        users: await platform.users.list(),
        sessions: await platform.tokens.listSessions(adminId),
        targetSessions: await platform.tokens.listSessions(targetId),
        keys: await platform.apiKeys.list(adminId),
        devices: await platform.mfa.listDevices(adminId),
        backup: await platform.mfa.remainingBackupCodes(adminId),
        bootstrap: await platform.kv.get(BOOTSTRAP_KEY),
        audit: (await platform.auditLog.query({}, { limit: 1000 })).records.length,
      });
    };
    const before = await snapshot();

    for (const route of routes) {
      const auth = route.auth === false ? {} : { token };
      const cases: Array<[string, Parameters<typeof call>[2], number]> = [
        ['malformed JSON', { ...auth, raw: '{"a":' }, 400],
        ['not JSON content', { ...auth, raw: '{}', headers: { 'content-type': 'text/plain' } }, 415],
        ['oversize', { ...auth, raw: `{"a":"${ONE_AND_A_BIT_MIB}"}` }, 413],
        ['unknown field', { ...auth, body: { ...(route.valid ?? {}), extra: 1 } }, 400],
        ['an array', { ...auth, raw: '[]' }, 400],
      ];
      if (route.wrong !== undefined) cases.push(['wrong types', { ...auth, body: route.wrong }, 400]);
      for (const [what, options, status] of cases) {
        const res = await call(route.method, route.path, options);
        expect(res.status, `${route.method} ${route.path}: ${what}`).toBe(status);
        expect(res.json?.success, `${route.method} ${route.path}: ${what}`).toBe(false);
        expect(typeof res.json?.code, `${route.method} ${route.path}: ${what}`).toBe('string');
      }
    }
    expect(await snapshot()).toBe(before);
    // Still working afterwards.
    expect((await call('GET', '/auth/verify', { token })).status).toBe(200);
  });

  it('refuses bad path parameters and unknown MFA types', async () => {
    const { platform, call, login, addUser } = await controlCenter();
    platforms.push(platform);
    await addUser('root', PASSWORD, ['Admin']);
    const token = (await login('root', PASSWORD)).json.data.access_token as string;
    expect((await call('POST', '/mfa/enroll/sms', { token })).json.code).toBe('INVALID_MFA_TYPE');
    expect((await call('PATCH', '/mfa/devices/not-a-device', { token, body: { name: 'x' } })).status).toBe(400);
    expect((await call('DELETE', '/auth/sessions/nope', { token })).status).toBe(404);
    expect((await call('DELETE', '/api-tokens/nope', { token })).status).toBe(404);
    expect((await call('GET', '/no/such/route', { token })).json).toMatchObject({ success: false, code: 'NOT_FOUND' });
    const badCode = await call('POST', '/mfa/verify', { token, body: { code: 'x'.repeat(100) } });
    expect(badCode.status).toBe(400);
  });

  it('does not spend the bootstrap secret on bad input', async () => {
    const { platform, call } = await controlCenter();
    platforms.push(platform);
    const secret = (await prepareBootstrap(platform)) as string;
    secrets.add(secret);
    const stored = await platform.kv.get(BOOTSTRAP_KEY);
    const bad: Array<Record<string, unknown>> = [
      { secret, username: 'root', password: 'short' },
      { secret, username: 'with space', password: PASSWORD },
      { secret, username: 'root', password: PASSWORD, roles: ['Admin'] },
      { secret: 1, username: 'root', password: PASSWORD },
      { secret: `${secret}x`, username: 'root', password: PASSWORD },
    ];
    for (const body of bad) expect((await call('POST', '/auth/bootstrap', { body })).status).toBeLessThan(500);
    expect(await platform.kv.get(BOOTSTRAP_KEY)).toBe(stored);
    expect(await platform.users.list()).toEqual([]);
    expect(
      (await call('POST', '/auth/bootstrap', { body: { secret, username: 'root', password: PASSWORD } })).status,
    ).toBe(201);
  });
});
