import { describe, expect, it } from 'vitest';
import { errorText, harness, ORIGIN, rejectsWith } from '../test/helpers.js';
import { createSoftwareAuthenticator } from './testing.js';

async function registered(h = harness(), opts: Parameters<typeof createSoftwareAuthenticator>[0] = { origin: ORIGIN }) {
  const key = createSoftwareAuthenticator(opts);
  const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
  const enrolled = await h.mfa.finishWebAuthnRegistration('u1', key.register(options), { name: 'YubiKey' });
  return { h, key, enrolled };
}

describe('WebAuthn registration', () => {
  it('registers a credential end to end with attestation none', async () => {
    const { h, key, enrolled } = await registered();
    expect(enrolled.device).toMatchObject({
      type: 'webauthn',
      name: 'YubiKey',
      confirmed: true,
      webauthn: { credentialId: key.credentialIds[0], transports: ['usb'], backupEligible: false, backedUp: false },
    });
    expect(enrolled.backupCodes).toHaveLength(10);
    expect(await h.mfa.isEnrolled('u1')).toBe(true);
  });

  it('puts RP, user verification and exclusions from configuration into the options', async () => {
    const { h, key } = await registered(harness({ webauthn: { userVerification: 'required' } }));
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice', residentKey: 'required' });
    expect(options.rp).toEqual({ id: 'example.com', name: 'Provisioning' });
    expect(options.authenticatorSelection).toMatchObject({ userVerification: 'required', residentKey: 'required' });
    expect(options.attestation).toBe('none');
    expect(options.excludeCredentials?.map((c) => c.id)).toEqual(key.credentialIds);
    // The same user handle for every credential of the user.
    const first = await h.store.listDevices('u1');
    expect(options.user.id).toBe(first[0]?.webauthn?.userHandle);
  });

  it('records backup eligibility and state of a synced passkey', async () => {
    const { enrolled } = await registered(harness(), {
      origin: ORIGIN,
      backedUp: true,
      transports: ['internal', 'hybrid'],
    });
    expect(enrolled.device.webauthn).toMatchObject({
      backupEligible: true,
      backedUp: true,
      transports: ['internal', 'hybrid'],
    });
  });

  it('refuses a wrong origin and stores nothing', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: 'https://evil.example' });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    const error = await rejectsWith(
      h.mfa.finishWebAuthnRegistration('u1', key.register(options)),
      'ERR_MFA_WEBAUTHN_FAILED',
    );
    expect(error.details.reason).toBe('origin');
    expect(errorText(error)).not.toContain(options.challenge);
    expect(await h.mfa.listDevices('u1')).toEqual([]);
  });

  it('uses a challenge once: a replayed registration response is refused', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: ORIGIN });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    const response = key.register(options);
    await h.mfa.finishWebAuthnRegistration('u1', response);
    await rejectsWith(h.mfa.finishWebAuthnRegistration('u1', response), 'ERR_MFA_CHALLENGE_INVALID');
    expect(await h.mfa.listDevices('u1')).toHaveLength(1);
  });

  it('refuses a credential that is already registered, to this or another user', async () => {
    const { h, key } = await registered();
    const first = key.register(await h.mfa.beginWebAuthnRegistration('u9', { userName: 'x' }));
    await h.mfa.finishWebAuthnRegistration('u9', first);
    // Attestation "none" does not sign the client data: replay the attestation under a fresh challenge.
    for (const user of ['u9', 'u1']) {
      const again = await h.mfa.beginWebAuthnRegistration(user, { userName: 'x' });
      const clientDataJSON = Buffer.from(
        JSON.stringify({ type: 'webauthn.create', challenge: again.challenge, origin: ORIGIN, crossOrigin: false }),
      ).toString('base64url');
      await rejectsWith(
        h.mfa.finishWebAuthnRegistration(user, { ...first, response: { ...first.response, clientDataJSON } }),
        'ERR_MFA_CREDENTIAL_EXISTS',
      );
    }
    expect(await h.mfa.listDevices('u9')).toHaveLength(1);
    expect(await h.mfa.listDevices('u1')).toHaveLength(1);
  });

  it('expires a challenge after the timeout', async () => {
    const h = harness({ webauthn: { timeoutMs: 60_000 } });
    const key = createSoftwareAuthenticator({ origin: ORIGIN });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    h.clock.advance(60_001);
    await rejectsWith(h.mfa.finishWebAuthnRegistration('u1', key.register(options)), 'ERR_MFA_CHALLENGE_INVALID');
  });

  it('binds the challenge to the user who started the ceremony', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: ORIGIN });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    await rejectsWith(h.mfa.finishWebAuthnRegistration('u2', key.register(options)), 'ERR_MFA_CHALLENGE_INVALID');
    expect(await h.mfa.listDevices('u2')).toEqual([]);
  });

  it('requires user verification when configured, on both sides', async () => {
    const h = harness({ webauthn: { userVerification: 'required' } });
    const key = createSoftwareAuthenticator({ origin: ORIGIN, userVerified: false });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    const e = await rejectsWith(
      h.mfa.finishWebAuthnRegistration('u1', key.register(options)),
      'ERR_MFA_WEBAUTHN_FAILED',
    );
    expect(e.details.reason).toBe('user_verification');
  });

  it('does not require user verification when preferred (the default), consistently', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: ORIGIN, userVerified: false });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    expect(options.authenticatorSelection?.userVerification).toBe('preferred');
    await h.mfa.finishWebAuthnRegistration('u1', key.register(options));
    const request = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
    expect(request.userVerification).toBe('preferred');
    const r = await h.mfa.finishWebAuthnAuthentication(key.authenticate(request), { userId: 'u1' });
    expect(r).toMatchObject({ userVerified: false, amr: ['hwk'] });
  });
});

describe('WebAuthn authentication', () => {
  it('verifies an assertion, advances the counter and records last use', async () => {
    const { h, key, enrolled } = await registered();
    h.clock.advance(5000);
    const request = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
    expect(request.allowCredentials?.map((c) => c.id)).toEqual(key.credentialIds);
    const r = await h.mfa.finishWebAuthnAuthentication(key.authenticate(request), { userId: 'u1' });
    expect(r).toMatchObject({
      userId: 'u1',
      method: 'webauthn',
      deviceId: enrolled.device.id,
      amr: ['hwk', 'user'],
      userVerified: true,
    });
    const device = await h.store.getDevice('u1', enrolled.device.id);
    expect(device?.webauthn?.counter).toBe(1);
    expect(device?.lastUsedAt?.getTime()).toBe(h.clock.now());
  });

  it('refuses a cloned authenticator whose counter goes backwards', async () => {
    const { h, key } = await registered();
    const clone = key.clone();
    for (let i = 0; i < 3; i++) {
      const request = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
      await h.mfa.finishWebAuthnAuthentication(key.authenticate(request), { userId: 'u1' });
    }
    // The clone still counts from where it was copied (0): its next counter is 1 < 3.
    const request = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
    await rejectsWith(
      h.mfa.finishWebAuthnAuthentication(clone.authenticate(request), { userId: 'u1' }),
      'ERR_MFA_WEBAUTHN_COUNTER',
    );
    const devices = await h.store.listDevices('u1');
    expect(devices[0]?.webauthn?.counter).toBe(3);
  });

  it('refuses an equal counter (the clone used in step with the original)', async () => {
    const { h, key } = await registered();
    const clone = key.clone();
    const r1 = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
    await h.mfa.finishWebAuthnAuthentication(key.authenticate(r1), { userId: 'u1' });
    const r2 = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
    await rejectsWith(
      h.mfa.finishWebAuthnAuthentication(clone.authenticate(r2), { userId: 'u1' }),
      'ERR_MFA_WEBAUTHN_COUNTER',
    );
  });

  it('accepts authenticators without a counter (always 0)', async () => {
    const { h, key } = await registered(harness(), { origin: ORIGIN, counterStep: 0 });
    for (let i = 0; i < 2; i++) {
      const request = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
      await expect(
        h.mfa.finishWebAuthnAuthentication(key.authenticate(request), { userId: 'u1' }),
      ).resolves.toMatchObject({
        method: 'webauthn',
      });
    }
  });

  it('signs in without a username with a passkey and names the user', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: ORIGIN, backedUp: true });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice', residentKey: 'required' });
    await h.mfa.finishWebAuthnRegistration('u1', key.register(options));
    const request = await h.mfa.beginWebAuthnAuthentication();
    expect(request.allowCredentials ?? []).toEqual([]);
    expect(request.userVerification).toBe('required');
    const r = await h.mfa.finishWebAuthnAuthentication(key.authenticate(request));
    expect(r).toMatchObject({ userId: 'u1', method: 'webauthn', userVerified: true });
  });

  it('requires user verification for username-less sign-in', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: ORIGIN, userVerified: false });
    const options = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    await h.mfa.finishWebAuthnRegistration('u1', key.register(options));
    const request = await h.mfa.beginWebAuthnAuthentication();
    const e = await rejectsWith(
      h.mfa.finishWebAuthnAuthentication(key.authenticate(request)),
      'ERR_MFA_WEBAUTHN_FAILED',
    );
    expect(e.details.reason).toBe('user_verification');
  });

  it('refuses another user’s credential and a wrong origin, without changing the counter', async () => {
    const { h, key } = await registered();
    const other = createSoftwareAuthenticator({ origin: ORIGIN });
    const o = await h.mfa.beginWebAuthnRegistration('u2', { userName: 'bob' });
    await h.mfa.finishWebAuthnRegistration('u2', other.register(o));
    const request = await h.mfa.beginWebAuthnAuthentication({ userId: 'u2' });
    await rejectsWith(
      h.mfa.finishWebAuthnAuthentication(key.authenticate({ ...request, allowCredentials: [] }), { userId: 'u2' }),
      'ERR_MFA_CREDENTIAL_NOT_FOUND',
    );
    const r2 = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
    const e = await rejectsWith(
      h.mfa.finishWebAuthnAuthentication(key.authenticate(r2, { origin: 'https://cc.example.com.evil.io' }), {
        userId: 'u1',
      }),
      'ERR_MFA_WEBAUTHN_FAILED',
    );
    expect(e.details.reason).toBe('origin');
    expect((await h.store.listDevices('u1'))[0]?.webauthn?.counter).toBe(0);
  });

  it('refuses a tampered signature and a replayed assertion', async () => {
    const { h, key } = await registered();
    const request = await h.mfa.beginWebAuthnAuthentication({ userId: 'u1' });
    const good = key.authenticate(request);
    const sig = Buffer.from(good.response.signature, 'base64url');
    sig[sig.length - 1] = (sig[sig.length - 1] as number) ^ 1;
    const bad = { ...good, response: { ...good.response, signature: sig.toString('base64url') } };
    const e = await rejectsWith(h.mfa.finishWebAuthnAuthentication(bad, { userId: 'u1' }), 'ERR_MFA_WEBAUTHN_FAILED');
    expect(e.details.reason).toBe('signature');
    // The challenge was used by the failed attempt: the good response cannot be used after it.
    await rejectsWith(h.mfa.finishWebAuthnAuthentication(good, { userId: 'u1' }), 'ERR_MFA_CHALLENGE_INVALID');
  });

  it('accepts only configured origins, any of several', async () => {
    const h = harness({ rp: { id: 'example.com', name: 'P', origins: [ORIGIN, 'https://admin.example.com'] } });
    const key = createSoftwareAuthenticator({ origin: 'https://admin.example.com' });
    const o = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    await expect(h.mfa.finishWebAuthnRegistration('u1', key.register(o))).resolves.toBeDefined();
  });

  it('refuses a bad relying party configuration at construction', () => {
    for (const rp of [
      { id: '', name: 'P', origins: [ORIGIN] },
      { id: 'example.com', name: 'P', origins: [] },
      { id: 'example.com', name: 'P', origins: ['http://example.com'] },
      { id: 'example.com', name: 'P', origins: ['https://example.com/path'] },
    ]) {
      expect(() => harness({ rp })).toThrow(expect.objectContaining({ code: 'ERR_MFA_INVALID_OPTIONS' }));
    }
  });
});
