import { describe, expect, it } from 'vitest';
import { codeFor, enrollTotp, harness, rejectsWith } from '../test/helpers.js';

describe('TOTP replay protection', () => {
  it('accepts a code once and refuses it again for the same device', async () => {
    const h = harness();
    const { secret, deviceId } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    const code = codeFor(secret, h.clock);
    const ok = await h.mfa.verifyTotp('u1', code);
    expect(ok).toMatchObject({ userId: 'u1', method: 'totp', deviceId, amr: ['otp'] });
    await rejectsWith(h.mfa.verifyTotp('u1', code), 'ERR_MFA_CODE_REPLAYED');
    // Still refused later in the window (the code stays valid for the next step).
    h.clock.advance(29_000);
    await rejectsWith(h.mfa.verifyTotp('u1', code), 'ERR_MFA_CODE_REPLAYED');
  });

  it('counts the enrollment code as used', async () => {
    const h = harness();
    const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    const code = codeFor(e.secret, h.clock);
    await h.mfa.confirmTotpEnrollment('u1', e.deviceId, code);
    await rejectsWith(h.mfa.verifyTotp('u1', code), 'ERR_MFA_CODE_REPLAYED');
  });

  it('lets exactly one of many concurrent verifications of one code win, across two instances sharing the store', async () => {
    const a = harness();
    const kv = a.kv;
    const b = harness({ store: a.store, kv, clock: a.clock, encrypter: a.options.encrypter });
    const { secret } = await enrollTotp(a, 'u1');
    a.clock.advance(30_000);
    const code = codeFor(secret, a.clock);
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) => (i % 2 === 0 ? a : b).mfa.verifyTotp('u1', code)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code: string }).code] : []));
    expect(reasons).toEqual(['ERR_MFA_CODE_REPLAYED', 'ERR_MFA_CODE_REPLAYED', 'ERR_MFA_CODE_REPLAYED']);
  });

  it('accepts the next step after a code was used', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    await h.mfa.verifyTotp('u1', codeFor(secret, h.clock));
    h.clock.advance(30_000);
    await expect(h.mfa.verifyTotp('u1', codeFor(secret, h.clock))).resolves.toMatchObject({ method: 'totp' });
  });

  it('keeps replay markers for as long as the code stays inside the window', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(60_000); // at the start of a step
    const ahead = codeFor(secret, h.clock, 30_000); // the next step's code (client clock ahead)
    await h.mfa.verifyTotp('u1', ahead);
    // That code matches until its step is more than one step in the past: 89.999 s from now.
    h.clock.advance(89_999);
    await rejectsWith(h.mfa.verifyTotp('u1', ahead), 'ERR_MFA_CODE_REPLAYED');
    h.clock.advance(1);
    await rejectsWith(h.mfa.verifyTotp('u1', ahead), 'ERR_MFA_INVALID_CODE');
  });

  it('does not accept a code of a pending (unconfirmed) device', async () => {
    const h = harness();
    await enrollTotp(h, 'u1');
    const pending = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    h.clock.advance(30_000);
    await rejectsWith(h.mfa.verifyTotp('u1', codeFor(pending.secret, h.clock)), 'ERR_MFA_INVALID_CODE');
  });
});
