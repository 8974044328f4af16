import { describe, expect, it } from 'vitest';
import { codeFor, enrollTotp, harness, ORIGIN, rejectsWith } from '../test/helpers.js';
import { createSoftwareAuthenticator } from './testing.js';

describe('MFA challenge after a password login', () => {
  it('is completed with TOTP and says which method was used', async () => {
    const h = harness();
    const { secret, deviceId } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    const c = await h.mfa.createChallenge('u1');
    expect(c.challengeId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(c.methods).toEqual(['totp', 'backup_code']);
    expect(c.webauthn).toBeUndefined();
    expect(c.expiresAt.getTime()).toBe(h.clock.now() + 300_000);
    const r = await h.mfa.completeChallenge(c.challengeId, { method: 'totp', code: codeFor(secret, h.clock) });
    expect(r).toMatchObject({ userId: 'u1', method: 'totp', deviceId, amr: ['otp'] });
  });

  it('is single use', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    const c = await h.mfa.createChallenge('u1');
    await h.mfa.completeChallenge(c.challengeId, { method: 'totp', code: codeFor(secret, h.clock) });
    h.clock.advance(30_000);
    await rejectsWith(
      h.mfa.completeChallenge(c.challengeId, { method: 'totp', code: codeFor(secret, h.clock) }),
      'ERR_MFA_CHALLENGE_INVALID',
    );
  });

  it('expires after 5 minutes', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    const c = await h.mfa.createChallenge('u1');
    h.clock.advance(300_000);
    await rejectsWith(
      h.mfa.completeChallenge(c.challengeId, { method: 'totp', code: codeFor(secret, h.clock) }),
      'ERR_MFA_CHALLENGE_INVALID',
    );
  });

  it('survives a typo: a wrong code leaves the challenge usable (the attempt cap bounds guessing)', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    const c = await h.mfa.createChallenge('u1');
    const right = codeFor(secret, h.clock);
    await rejectsWith(
      h.mfa.completeChallenge(c.challengeId, { method: 'totp', code: right === '123456' ? '654321' : '123456' }),
      'ERR_MFA_INVALID_CODE',
    );
    await expect(h.mfa.completeChallenge(c.challengeId, { method: 'totp', code: right })).resolves.toMatchObject({
      method: 'totp',
    });
  });

  it('is completed with a backup code', async () => {
    const h = harness();
    const { backupCodes = [] } = await enrollTotp(h, 'u1');
    const c = await h.mfa.createChallenge('u1');
    const r = await h.mfa.completeChallenge(c.challengeId, { method: 'backup_code', code: backupCodes[3] as string });
    expect(r).toMatchObject({ method: 'backup_code', remainingBackupCodes: 9 });
  });

  it('is completed with a security key, using the WebAuthn options it carries', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: ORIGIN });
    const o = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    const { device } = await h.mfa.finishWebAuthnRegistration('u1', key.register(o));
    const c = await h.mfa.createChallenge('u1');
    expect(c.methods).toEqual(['webauthn', 'backup_code']);
    const r = await h.mfa.completeChallenge(c.challengeId, {
      method: 'webauthn',
      response: key.authenticate(c.webauthn as NonNullable<typeof c.webauthn>),
    });
    expect(r).toMatchObject({ userId: 'u1', method: 'webauthn', deviceId: device.id, amr: ['hwk', 'user'] });
  });

  it('only accepts a factor of the challenged user', async () => {
    const h = harness();
    const key = createSoftwareAuthenticator({ origin: ORIGIN });
    for (const user of ['u1', 'u2']) {
      const o = await h.mfa.beginWebAuthnRegistration(user, { userName: user });
      await h.mfa.finishWebAuthnRegistration(user, key.register(o));
    }
    const c = await h.mfa.createChallenge('u1');
    const other = await h.mfa.beginWebAuthnAuthentication({ userId: 'u2' });
    await rejectsWith(
      h.mfa.completeChallenge(c.challengeId, { method: 'webauthn', response: key.authenticate(other) }),
      'ERR_MFA_CHALLENGE_INVALID',
    );
  });

  it('needs an enrolled factor, and refuses unknown ids and methods', async () => {
    const h = harness();
    await rejectsWith(h.mfa.createChallenge('u1'), 'ERR_MFA_NOT_ENROLLED');
    await enrollTotp(h, 'u1');
    await rejectsWith(
      h.mfa.completeChallenge('x'.repeat(43), { method: 'totp', code: '123456' }),
      'ERR_MFA_CHALLENGE_INVALID',
    );
    await rejectsWith(h.mfa.completeChallenge('short', { method: 'totp', code: '123456' }), 'ERR_MFA_MALFORMED_INPUT');
    const c = await h.mfa.createChallenge('u1');
    await rejectsWith(h.mfa.completeChallenge(c.challengeId, { method: 'sms' } as never), 'ERR_MFA_MALFORMED_INPUT');
  });

  it('stores only a hash of the challenge id', async () => {
    const h = harness();
    await enrollTotp(h, 'u1');
    const c = await h.mfa.createChallenge('u1');
    const keys = await h.kv.list('');
    expect(keys.some((k) => k.includes(c.challengeId))).toBe(false);
    expect(keys.filter((k) => k.startsWith('mfa:challenge:'))).toHaveLength(1);
  });
});
