import { describe, expect, it } from 'vitest';
import { codeFor, enrollTotp, harness, rejectsWith } from '../test/helpers.js';

const wrong = (secret: string, h: ReturnType<typeof harness>): string => {
  const right = codeFor(secret, h.clock);
  return right === '000000' ? '111111' : '000000';
};

describe('attempt cap', () => {
  it('refuses verification after 5 failures in 5 minutes, with a retry-after, even for the right code', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    for (let i = 0; i < 5; i++) await rejectsWith(h.mfa.verifyTotp('u1', wrong(secret, h)), 'ERR_MFA_INVALID_CODE');
    h.clock.advance(10_000);
    const error = await rejectsWith(h.mfa.verifyTotp('u1', codeFor(secret, h.clock)), 'ERR_MFA_TOO_MANY_ATTEMPTS');
    expect(error.retryable).toBe(true);
    expect(error.details.retryAfterSeconds).toBe(290);
    expect(new Date(error.details.retryAt as string).getTime()).toBe(h.clock.now() + 290_000);
    // Backup codes are refused too: the cap is per user.
    await rejectsWith(h.mfa.verifyBackupCode('u1', 'AAAA-AAAA-AAAA-AAAA'), 'ERR_MFA_TOO_MANY_ATTEMPTS');
    h.clock.advance(290_000);
    await expect(h.mfa.verifyTotp('u1', codeFor(secret, h.clock))).resolves.toMatchObject({ method: 'totp' });
  });

  it('resets the count on success', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    for (let i = 0; i < 4; i++) await rejectsWith(h.mfa.verifyTotp('u1', wrong(secret, h)), 'ERR_MFA_INVALID_CODE');
    await h.mfa.verifyTotp('u1', codeFor(secret, h.clock));
    h.clock.advance(30_000);
    for (let i = 0; i < 5; i++) await rejectsWith(h.mfa.verifyTotp('u1', wrong(secret, h)), 'ERR_MFA_INVALID_CODE');
    await rejectsWith(h.mfa.verifyTotp('u1', wrong(secret, h)), 'ERR_MFA_TOO_MANY_ATTEMPTS');
  });

  it('counts replays as failures', async () => {
    const h = harness({ attempts: { maxFailures: 2 } });
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    const code = codeFor(secret, h.clock);
    await h.mfa.verifyTotp('u1', code);
    await rejectsWith(h.mfa.verifyTotp('u1', code), 'ERR_MFA_CODE_REPLAYED');
    await rejectsWith(h.mfa.verifyTotp('u1', code), 'ERR_MFA_CODE_REPLAYED');
    await rejectsWith(h.mfa.verifyTotp('u1', code), 'ERR_MFA_TOO_MANY_ATTEMPTS');
  });

  it('holds under a concurrent burst: at most maxFailures guesses are ever evaluated', async () => {
    const h = harness();
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    const burst = await Promise.allSettled(Array.from({ length: 50 }, () => h.mfa.verifyTotp('u1', wrong(secret, h))));
    const codes = burst.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
    expect(codes.filter((c) => c === 'ERR_MFA_INVALID_CODE')).toHaveLength(5);
    expect(codes.filter((c) => c === 'ERR_MFA_TOO_MANY_ATTEMPTS')).toHaveLength(45);
  });

  it('answers at most maxFailures wrong codes racing one right code from two instances; locked means refused', async () => {
    const a = harness({ attempts: { maxFailures: 5 } });
    const b = harness({ store: a.store, kv: a.kv, clock: a.clock, encrypter: a.options.encrypter });
    const { secret } = await enrollTotp(a, 'u1');
    a.clock.advance(30_000);
    const right = codeFor(secret, a.clock);
    const bad = wrong(secret, a);
    // The wrong guesses are sent first: they reach the store first and lock the user.
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).mfa.verifyTotp('u1', i === 29 ? right : bad)),
    );
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
    expect(codes.filter((c) => c === 'ERR_MFA_INVALID_CODE')).toHaveLength(5);
    // The right code arrived locked: refused, and its step is not used up.
    expect(codes[29]).toBe('ERR_MFA_TOO_MANY_ATTEMPTS');
    expect(codes.filter((c) => c === 'ERR_MFA_TOO_MANY_ATTEMPTS')).toHaveLength(25);
    a.clock.advance(300_000);
    await expect(b.mfa.verifyTotp('u1', codeFor(secret, a.clock))).resolves.toMatchObject({ method: 'totp' });
  });

  it('lets a right code racing wrong ones reset the count once: never more than maxFailures between resets', async () => {
    const a = harness({ attempts: { maxFailures: 3 } });
    const b = harness({
      store: a.store,
      kv: a.kv,
      clock: a.clock,
      encrypter: a.options.encrypter,
      attempts: { maxFailures: 3 },
    });
    const { secret } = await enrollTotp(a, 'u1');
    a.clock.advance(30_000);
    const right = codeFor(secret, a.clock);
    const bad = wrong(secret, a);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).mfa.verifyTotp('u1', i === 1 ? right : bad)),
    );
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
    expect(codes[1]).toBe('ok');
    // One wrong guess before the reset, then three after it, then locked.
    expect(codes.filter((c) => c === 'ERR_MFA_INVALID_CODE')).toHaveLength(4);
    expect(codes.filter((c) => c === 'ERR_MFA_TOO_MANY_ATTEMPTS')).toHaveLength(15);
  });

  it('is shared by instances on the same store and kept per user', async () => {
    const a = harness({ attempts: { maxFailures: 3, windowSeconds: 60 } });
    const b = harness({
      store: a.store,
      kv: a.kv,
      clock: a.clock,
      encrypter: a.options.encrypter,
      attempts: { maxFailures: 3, windowSeconds: 60 },
    });
    const { secret } = await enrollTotp(a, 'u1');
    const other = await enrollTotp(a, 'u2');
    a.clock.advance(30_000);
    await rejectsWith(a.mfa.verifyTotp('u1', wrong(secret, a)), 'ERR_MFA_INVALID_CODE');
    await rejectsWith(b.mfa.verifyTotp('u1', wrong(secret, a)), 'ERR_MFA_INVALID_CODE');
    await rejectsWith(a.mfa.verifyTotp('u1', wrong(secret, a)), 'ERR_MFA_INVALID_CODE');
    const e = await rejectsWith(b.mfa.verifyTotp('u1', codeFor(secret, a.clock)), 'ERR_MFA_TOO_MANY_ATTEMPTS');
    expect(e.details.retryAfterSeconds).toBe(60);
    await expect(b.mfa.verifyTotp('u2', codeFor(other.secret, a.clock))).resolves.toMatchObject({ userId: 'u2' });
  });

  it('does not count malformed input', async () => {
    const h = harness({ attempts: { maxFailures: 1 } });
    const { secret } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    for (let i = 0; i < 3; i++) await rejectsWith(h.mfa.verifyTotp('u1', 'abc'), 'ERR_MFA_MALFORMED_INPUT');
    await expect(h.mfa.verifyTotp('u1', codeFor(secret, h.clock))).resolves.toMatchObject({ method: 'totp' });
  });
});
