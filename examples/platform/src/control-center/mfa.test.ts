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
async function actions(platform: TestPlatform, action: string) {
  await platform.auditLog.flush();
  return (await platform.auditLog.query({ action: action as never })).records.map((r) => r.event);
}

describe('control center: TOTP enrollment and MFA login', () => {
  it('enrolls TOTP: QR code and secret, confirmed by a first code that steps the session up', async () => {
    const { call, enrollTotp, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const { enrolled, verified, backupCodes, token } = await enrollTotp('ada', PASSWORD);
    const enrollment = parseRouteResponse(R.mfaEnroll, enrolled.json) as any;
    expect(enrollment.type).toBe('totp');
    expect(enrollment.qr_code).toMatch(/^data:image\/png;base64,/);
    expect(enrollment.otpauth_url).toMatch(/^otpauth:\/\/totp\//);
    expect(parseRouteResponse(R.mfaVerify, verified.json)).toMatchObject({ verified: true, expires_in: 900 });
    expect(backupCodes).toHaveLength(10);
    const claims = (await call('GET', '/auth/verify', { token })).json.data.claims;
    expect(claims.mfa).toBe(true);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(claims.mfa_at).toBe(Math.floor(platform.clock.now() / 1000) - 30);
    const status = parseRouteResponse(R.mfaStatus, (await call('GET', '/mfa/status', { token })).json);
    expect(status).toEqual({ enabled: true, methods: ['totp'], backup_codes_remaining: 10 });
    const devices = parseRouteResponse(R.mfaDevices, (await call('GET', '/mfa/devices', { token })).json) as any[];
    expect(devices).toHaveLength(1);
    expect(await actions(platform, 'mfa.enrolled')).toHaveLength(1);
  });

  it('two-step login: MFA_REQUIRED with a challenge, completed with a computed TOTP code', async () => {
    const { call, login, totp, enrollTotp, addUser, platform } = await setup();
    const id = await addUser('ada', PASSWORD, ['Viewer']);
    const { secret } = await enrollTotp('ada', PASSWORD);
    const first = await login('ada', PASSWORD);
    expect(first.status).toBe(401);
    expect(first.json).toMatchObject({ success: false, code: 'MFA_REQUIRED' });
    expect(first.json.data.methods).toEqual(expect.arrayContaining(['totp', 'backup_code']));
    expect(first.json.data.access_token).toBeUndefined();
    // A wrong code keeps the challenge usable.
    const wrong = await call('POST', '/auth/login/mfa', {
      body: { challenge_id: first.json.data.challenge_id, code: '000000' },
    });
    expect(wrong.status).toBe(401);
    const done = await call('POST', '/auth/login/mfa', {
      body: { challenge_id: first.json.data.challenge_id, code: totp(secret) },
    });
    expect(done.status).toBe(200);
    const data = parseRouteResponse(R.login, done.json) as any;
    expect(data.user.id).toBe(id);
    const claims = (await call('GET', '/auth/verify', { token: data.access_token })).json.data.claims;
    expect(claims).toMatchObject({ mfa: true, mfa_at: Math.floor(platform.clock.now() / 1000) });
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
    // The challenge is single use.
    platform.clock.advance(30_000);
    const again = await call('POST', '/auth/login/mfa', {
      body: { challenge_id: first.json.data.challenge_id, code: totp(secret) },
    });
    expect(again.status).toBe(401);
    expect(again.json.code).toBe('MFA_CHALLENGE_INVALID');
  });

  it('one-call login with mfa_code (TOTP), refusing a replayed code', async () => {
    const { login, totp, enrollTotp, addUser } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const { secret } = await enrollTotp('ada', PASSWORD);
    const code = totp(secret);
    const res = await login('ada', PASSWORD, code);
    expect(res.status).toBe(200);
    expect(res.json.data.access_token).toBeTypeOf('string');
    const replay = await login('ada', PASSWORD, code);
    expect(replay.status).toBe(401);
    expect(replay.json.code).toBe('MFA_REQUIRED');
  });

  it('logs in with a backup code, once', async () => {
    const { call, login, enrollTotp, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const { backupCodes } = await enrollTotp('ada', PASSWORD);
    const code = backupCodes[0] as string;
    const res = await login('ada', PASSWORD, code);
    expect(res.status).toBe(200);
    const claims = (await call('GET', '/auth/verify', { token: res.json.data.access_token })).json.data.claims;
    expect(claims.mfa).toBe(true);
    const status = (await call('GET', '/mfa/status', { token: res.json.data.access_token })).json.data;
    expect(status.backup_codes_remaining).toBe(9);
    expect((await login('ada', PASSWORD, code)).json.code).toBe('MFA_REQUIRED');
    expect(await actions(platform, 'mfa.backup_code.used')).toHaveLength(1);
    // Two-step with a backup code.
    const first = await login('ada', PASSWORD);
    const done = await call('POST', '/auth/login/mfa', {
      body: { challenge_id: first.json.data.challenge_id, code: backupCodes[1] },
    });
    expect(done.status).toBe(200);
  });

  it('caps wrong MFA codes (429) and records the failures', async () => {
    const { login, enrollTotp, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    await enrollTotp('ada', PASSWORD);
    for (let i = 0; i < 5; i++) expect((await login('ada', PASSWORD, '000000')).status).toBe(401);
    const locked = await login('ada', PASSWORD, '000000');
    expect(locked.status).toBe(429);
    expect(locked.json.code).toBe('MFA_LOCKED');
    expect((await actions(platform, 'mfa.failed')).length).toBe(5);
    expect(await actions(platform, 'mfa.locked_out')).toHaveLength(1);
  });
});

describe('control center: step-up, devices and backup codes', () => {
  it('sensitive routes need a fresh MFA; /mfa/verify gives it', async () => {
    const { call, login, totp, enrollTotp, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const { secret } = await enrollTotp('ada', PASSWORD);
    const token = (await login('ada', PASSWORD, totp(secret))).json.data.access_token as string;
    platform.clock.advance(16 * 60_000); // older than the step-up window; refresh for a live token
    const session = await login('ada', PASSWORD, totp(secret));
    platform.clock.advance(16 * 60_000);
    const refreshed = await call('POST', '/auth/refresh', { body: { refresh_token: session.json.data.refresh_token } });
    const stale = refreshed.json.data.access_token as string;
    expect(token).not.toBe(stale);
    const refused = await call('POST', '/mfa/backup-codes', { token: stale });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ success: false, code: 'MFA_REQUIRED' });
    const enrollMore = await call('POST', '/mfa/enroll/totp', { token: stale });
    expect(enrollMore.status).toBe(403);
    expect(enrollMore.json.code).toBe('MFA_REQUIRED');
    const wrong = await call('POST', '/mfa/verify', { token: stale, body: { code: '000000' } });
    expect(wrong.json.data).toEqual({ verified: false });
    const stepped = await call('POST', '/mfa/verify', { token: stale, body: { code: totp(secret) } });
    expect(stepped.json.data.verified).toBe(true);
    const fresh = stepped.json.data.access_token as string;
    const codes = await call('POST', '/mfa/backup-codes', { token: fresh });
    expect(codes.status).toBe(200);
    expect(parseRouteResponse(R.mfaRegenerateBackupCodes, codes.json)).toHaveLength(10);
    // The last factor cannot be removed; a rename works.
    const [device] = (await call('GET', '/mfa/devices', { token: fresh })).json.data;
    const renamed = await call('PATCH', `/mfa/devices/${device.id}`, { token: fresh, body: { name: 'Phone' } });
    expect(renamed.json.data.name).toBe('Phone');
    const last = await call('DELETE', `/mfa/devices/${device.id}`, { token: fresh });
    expect(last.status).toBe(409);
    expect(last.json.code).toBe('LAST_FACTOR');
  });

  it('registers a WebAuthn key, steps up with it, and removes a device', async () => {
    const { call, login, totp, enrollTotp, addUser, platform } = await setup();
    await addUser('ada', PASSWORD, ['Viewer']);
    const { secret } = await enrollTotp('ada', PASSWORD);
    const token = (await login('ada', PASSWORD, totp(secret))).json.data.access_token as string;
    const begin = await call('POST', '/mfa/enroll/webauthn', { token });
    const options = (parseRouteResponse(R.mfaEnroll, begin.json) as any).options;
    const key = createSoftwareAuthenticator({ origin: 'http://localhost:9090' });
    const registration = await key.register(options);
    const registered = await call('POST', '/mfa/webauthn/register', {
      token,
      body: { response: registration, name: 'Key' },
    });
    expect(registered.status).toBe(201);
    expect(registered.json.data.device).toMatchObject({ type: 'webauthn', name: 'Key' });
    const challenge = await call('POST', '/mfa/webauthn/challenge', { token });
    const assertion = await key.authenticate(challenge.json.data.options);
    const stepped = await call('POST', '/mfa/webauthn/authenticate', { token, body: { response: assertion } });
    expect(stepped.status).toBe(200);
    const claims = (await call('GET', '/auth/verify', { token: stepped.json.data.access_token })).json.data.claims;
    expect(claims.amr).toContain('hwk');
    const devices = (await call('GET', '/mfa/devices', { token })).json.data as any[];
    const totpDevice = devices.find((d) => d.type === 'totp');
    const removed = await call('DELETE', `/mfa/devices/${totpDevice.id}`, { token: stepped.json.data.access_token });
    expect(removed.status).toBe(200);
    expect(parseRouteResponse(R.mfaRemoveDevice, removed.json)).toMatchObject({ enabled: true, methods: ['webauthn'] });
    expect(await actions(platform, 'mfa.device.removed')).toHaveLength(1);
    // The MFA_REQUIRED answer of a login now offers WebAuthn, and an assertion completes it.
    const first = await login('ada', PASSWORD);
    expect(first.json.data.methods).toContain('webauthn');
    const loginAssertion = await key.authenticate(first.json.data.webauthn);
    const done = await call('POST', '/auth/login/mfa', {
      body: { challenge_id: first.json.data.challenge_id, webauthn: loginAssertion },
    });
    expect(done.status).toBe(200);
  });
});
