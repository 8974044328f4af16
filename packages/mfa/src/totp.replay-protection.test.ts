import { describe, expect, it } from 'vitest';
import { codeFor, enrollTotp, harness, rejectsWith } from '../test/helpers.js';
import { generateTotp } from './totp.js';

// With RFC 6238's SHA-1 seed, steps 59,061,240 and 59,061,241 (2026-02-25)
// both show 963181: found by searching the steps after 2026-01-01.
const RFC_SEED = new TextEncoder().encode('12345678901234567890');
const SHARED_STEP = 59_061_240;

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

  it("accepts a fresh code whose digits equal the previous step's used code, and refuses its replay", async () => {
    expect(generateTotp({ secret: RFC_SEED, atMs: SHARED_STEP * 30_000 })).toBe('963181');
    expect(generateTotp({ secret: RFC_SEED, atMs: (SHARED_STEP + 1) * 30_000 })).toBe('963181');
    let seedGiven = false;
    const random = {
      bytes: (n: number): Uint8Array => {
        if (!seedGiven && n === RFC_SEED.length) {
          seedGiven = true;
          return RFC_SEED.slice();
        }
        return crypto.getRandomValues(new Uint8Array(n));
      },
    };
    const h = harness({ random });
    h.clock.set((SHARED_STEP - 10) * 30_000);
    const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    await h.mfa.confirmTotpEnrollment('u1', e.deviceId, codeFor(e.secret, h.clock));
    h.clock.set(SHARED_STEP * 30_000 + 5_000);
    await expect(h.mfa.verifyTotp('u1', '963181')).resolves.toMatchObject({ method: 'totp' });
    // 30 s later the app shows the same digits for the new step: a fresh code
    // (otplib's earliest-match search took it for the used step: a replay).
    h.clock.advance(30_000);
    await expect(h.mfa.verifyTotp('u1', '963181')).resolves.toMatchObject({ method: 'totp' });
    await rejectsWith(h.mfa.verifyTotp('u1', '963181'), 'ERR_MFA_CODE_REPLAYED');
  });

  it('does not accept a code of a pending (unconfirmed) device', async () => {
    const h = harness();
    await enrollTotp(h, 'u1');
    const pending = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    h.clock.advance(30_000);
    await rejectsWith(h.mfa.verifyTotp('u1', codeFor(pending.secret, h.clock)), 'ERR_MFA_INVALID_CODE');
  });
});
