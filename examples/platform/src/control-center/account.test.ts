import { createSoftwareAuthenticator } from '@provisioning/mfa/testing';
import { parseRouteResponse, CONTROL_CENTER_ROUTES as R } from '@provisioning/platform-client/api';
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
  return cc;
}
async function events(platform: TestPlatform, action: string) {
  await platform.auditLog.flush();
  return (await platform.auditLog.query({ action: action as never })).records.map((r) => r.event);
}

const NEW_PASSWORD = 'a brand new passphrase 42';

/** A user with TOTP and a registered passkey (software authenticator); returns the key. */
async function withPasskey(cc: Awaited<ReturnType<typeof setup>>) {
  const userId = await cc.addUser('ada', PASSWORD, ['Viewer']);
  const { token } = await cc.enrollTotp('ada', PASSWORD);
  const begin = await cc.call('POST', '/mfa/enroll/webauthn', { token });
  const key = createSoftwareAuthenticator({ origin: 'http://localhost:9090' });
  const registered = await cc.call('POST', '/mfa/webauthn/register', {
    token,
    body: { response: await key.register(begin.json.data.options), name: 'Passkey' },
  });
  expect(registered.status).toBe(201);
  return { key, userId };
}

describe('control center: passkey sign-in without a password', () => {
  it('signs in with a discoverable credential: the session counts as MFA-verified', async () => {
    const cc = await setup();
    const { key, userId } = await withPasskey(cc);
    const begin = await cc.call('POST', '/auth/passkey/options');
    const { options } = parseRouteResponse(R.passkeyOptions, begin.json) as { options: any };
    // Username-less: no credential list (the authenticator picks), user verification required.
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe('required');
    const done = await cc.call('POST', '/auth/passkey/login', { body: { response: key.authenticate(options) } });
    expect(done.status).toBe(200);
    const login = parseRouteResponse(R.passkeyLogin, done.json) as any;
    expect(login.user).toMatchObject({ id: userId, username: 'ada' });
    const claims = (await cc.call('GET', '/auth/verify', { token: login.access_token })).json.data.claims;
    expect(claims.amr).toEqual(expect.arrayContaining(['hwk', 'user', 'mfa']));
    expect(claims.mfa).toBe(true);
    const [event] = (await events(cc.platform, 'auth.login.succeeded')).filter((e) => e.metadata?.method === 'passkey');
    expect(event?.actor.id).toBe(userId);
  });

  it('refuses an assertion without user verification, a replayed ceremony and a disabled owner', async () => {
    const cc = await setup();
    const { key, userId } = await withPasskey(cc);
    const options = (await cc.call('POST', '/auth/passkey/options')).json.data.options;
    const assertion = key.authenticate(options);
    expect((await cc.call('POST', '/auth/passkey/login', { body: { response: assertion } })).status).toBe(200);
    // The ceremony challenge was consumed: the same assertion again is refused.
    const replay = await cc.call('POST', '/auth/passkey/login', { body: { response: assertion } });
    expect([replay.status, replay.json.code]).toEqual([401, 'MFA_CHALLENGE_INVALID']);
    // A key that does not verify the user (no PIN, no biometrics) is not enough without a password.
    const noUv = createSoftwareAuthenticator({ origin: 'http://localhost:9090', userVerified: false });
    const other = await cc.addUser('bob', PASSWORD, ['Viewer']);
    expect(other).not.toBe(userId);
    const { token } = await cc.enrollTotp('bob', PASSWORD);
    const begin = await cc.call('POST', '/mfa/enroll/webauthn', { token });
    await cc.call('POST', '/mfa/webauthn/register', {
      token,
      body: { response: await noUv.register(begin.json.data.options) },
    });
    const uvOptions = (await cc.call('POST', '/auth/passkey/options')).json.data.options;
    const refused = await cc.call('POST', '/auth/passkey/login', { body: { response: noUv.authenticate(uvOptions) } });
    expect([refused.status, refused.json.code]).toEqual([401, 'WEBAUTHN_FAILED']);
    // A disabled owner gets no session even with a valid assertion.
    await cc.platform.users.update(userId, { disabled: true });
    const again = (await cc.call('POST', '/auth/passkey/options')).json.data.options;
    const disabled = await cc.call('POST', '/auth/passkey/login', { body: { response: key.authenticate(again) } });
    expect([disabled.status, disabled.json.code]).toEqual([401, 'WEBAUTHN_FAILED']);
    expect(await cc.platform.tokens.listSessions(userId)).toHaveLength(2); // enrollTotp's login and the first passkey sign-in
  });

  it('refuses bad input: a body on the options route, unknown fields, a response that is not an object', async () => {
    const cc = await setup();
    expect((await cc.call('POST', '/auth/passkey/options', { body: { username: 'ada' } })).status).toBe(400);
    for (const body of [{}, { response: 'x' }, { response: {}, extra: 1 }, []]) {
      const res = await cc.call('POST', '/auth/passkey/login', { body });
      expect(res.status).toBe(400);
    }
    const malformed = await cc.call('POST', '/auth/passkey/login', { body: { response: { id: 'x' } } });
    expect(malformed.status).toBe(400);
  });
});

describe('control center: password change', () => {
  it('needs the current password, ends every other session, keeps this one, and is audited', async () => {
    const cc = await setup();
    const userId = await cc.addUser('ada', PASSWORD, ['Viewer']);
    const mine = (await cc.login('ada', PASSWORD)).json.data;
    const other = (await cc.login('ada', PASSWORD)).json.data;
    const changed = await cc.call('POST', '/auth/password', {
      token: mine.access_token,
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
    });
    expect(changed.status).toBe(200);
    expect(parseRouteResponse(R.changePassword, changed.json)).toEqual({ changed: true, sessions_revoked: 1 });
    expect((await cc.call('GET', '/auth/verify', { token: mine.access_token })).status).toBe(200);
    expect((await cc.call('GET', '/auth/verify', { token: other.access_token })).status).toBe(401);
    expect((await cc.call('POST', '/auth/refresh', { body: { refresh_token: other.refresh_token } })).status).toBe(401);
    expect((await cc.login('ada', PASSWORD)).status).toBe(401);
    expect((await cc.login('ada', NEW_PASSWORD)).status).toBe(200);
    const [event] = await events(cc.platform, 'admin.user.updated');
    expect(event).toMatchObject({
      outcome: 'success',
      resource: { type: 'user', id: userId },
      metadata: { change: 'password', sessions_revoked: 1 },
    });
    expect(JSON.stringify(event)).not.toContain(NEW_PASSWORD);
  });

  it('refuses a wrong current password (403, throttled like the login) and weak or unchanged passwords', async () => {
    const cc = await setup();
    await cc.addUser('ada', PASSWORD, ['Viewer']);
    const token = (await cc.login('ada', PASSWORD)).json.data.access_token;
    const change = (body: unknown) => cc.call('POST', '/auth/password', { token, body });
    const weak = await change({ current_password: PASSWORD, new_password: 'short' });
    expect([weak.status, weak.json.code]).toEqual([400, 'WEAK_PASSWORD']);
    const same = await change({ current_password: PASSWORD, new_password: PASSWORD });
    expect([same.status, same.json.code]).toEqual([400, 'PASSWORD_UNCHANGED']);
    expect((await change({ current_password: PASSWORD })).status).toBe(400);
    expect((await change({ current_password: PASSWORD, new_password: NEW_PASSWORD, x: 1 })).status).toBe(400);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await change({ current_password: 'not the password at all', new_password: NEW_PASSWORD })).status);
    }
    // Five wrong guesses, then the account is locked (the login's throttle): even the right password waits.
    expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
    expect((await change({ current_password: PASSWORD, new_password: NEW_PASSWORD })).status).toBe(429);
    cc.platform.clock.advance(61_000);
    expect((await cc.login('ada', PASSWORD)).status).toBe(200);
    const failures = (await events(cc.platform, 'admin.user.updated')).filter((e) => e.outcome === 'failure');
    expect(failures.length).toBeGreaterThanOrEqual(5);
  });

  it('needs a user session: no token (401) or an API key (403) is refused', async () => {
    const cc = await setup();
    const userId = await cc.addUser('ada', PASSWORD, ['Admin']);
    const body = { current_password: PASSWORD, new_password: NEW_PASSWORD };
    expect((await cc.call('POST', '/auth/password', { body })).status).toBe(401);
    const { key } = await cc.platform.apiKeys.create({ owner: userId, name: 'ci', scopes: [] });
    const byKey = await cc.call('POST', '/auth/password', { body, headers: { authorization: `ApiKey ${key}` } });
    expect(byKey.status).toBe(403); // a key is authenticated, but self-service refuses it
    expect((await cc.login('ada', PASSWORD)).status).toBe(200);
  });
});
