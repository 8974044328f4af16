import { createManualClock, memoryStore } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { createLeaseManager } from '../manager.js';
import { memoryLeaseStore } from '../stores/memory.js';
import { createSshOtp, sshOtpProvider } from './otp.js';

describe('ssh one-time passwords', () => {
  const setup = () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const store = memoryStore({ clock });
    return { clock, store, otps: createSshOtp({ store, clock }) };
  };

  it('single use: a verified OTP is refused the second time', async () => {
    const { otps } = setup();
    const { otp } = await otps.issue({ user: 'deploy', host: 'db1' });
    await otps.verify({ otp, user: 'deploy', host: 'db1' });
    await expect(otps.verify({ otp, user: 'deploy', host: 'db1' })).rejects.toMatchObject({
      code: 'ERR_SECRETS_OTP_INVALID',
    });
  });

  it('atomic: of 20 concurrent verifications exactly one succeeds', async () => {
    const { otps } = setup();
    const { otp } = await otps.issue({ user: 'deploy', host: 'db1' });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => otps.verify({ otp, user: 'deploy', host: 'db1' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('bound to user and host: another binding is refused and burns the OTP', async () => {
    const { otps } = setup();
    const { otp } = await otps.issue({ user: 'deploy', host: 'db1' });
    await expect(otps.verify({ otp, user: 'root', host: 'db1' })).rejects.toMatchObject({
      code: 'ERR_SECRETS_OTP_INVALID',
    });
    await expect(otps.verify({ otp, user: 'deploy', host: 'db1' })).rejects.toMatchObject({
      code: 'ERR_SECRETS_OTP_INVALID',
    });
    const second = await otps.issue({ user: 'deploy', host: 'db1' });
    await expect(otps.verify({ otp: second.otp, user: 'deploy', host: 'db2' })).rejects.toMatchObject({
      code: 'ERR_SECRETS_OTP_INVALID',
    });
  });

  it('short TTL: refused after expiry; TTL above 15 minutes refused', async () => {
    const { otps, clock } = setup();
    const { otp, expiresAt } = await otps.issue({ user: 'u', host: 'h' });
    expect(expiresAt).toEqual(new Date(clock.now() + 120_000));
    clock.advance(120_000);
    await expect(otps.verify({ otp, user: 'u', host: 'h' })).rejects.toMatchObject({ code: 'ERR_SECRETS_OTP_INVALID' });
    await expect(otps.issue({ user: 'u', host: 'h', ttlSeconds: 901 })).rejects.toMatchObject({
      code: 'ERR_SECRETS_INVALID_TTL',
    });
  });

  it('stores only a hash of the OTP, and errors never echo it', async () => {
    const { otps, store } = setup();
    const { otp } = await otps.issue({ user: 'u', host: 'h' });
    const keys = await store.list('');
    expect(keys.join()).not.toContain(otp);
    for (const key of keys) expect(await store.get(key)).not.toContain(otp);
    const error = await otps.verify({ otp: `${otp}x`, user: 'u', host: 'h' }).catch((e: Error) => e);
    expect(JSON.stringify(error)).not.toContain(otp);
    expect((error as Error).message).not.toContain(otp);
  });

  it('as a lease provider: revoking the lease deletes the unused OTP', async () => {
    const { otps, clock } = setup();
    const provider = sshOtpProvider(otps);
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], clock });
    const { lease, secret } = await leases.issue(
      provider,
      { user: 'u', host: 'h' },
      { owner: 'alice', ttlSeconds: 60 },
    );
    expect(lease.metadata).toMatchObject({ user: 'u', host: 'h' });
    expect(JSON.stringify(lease)).not.toContain(secret.otp);
    await leases.revoke(lease.id);
    await expect(otps.verify({ otp: secret.otp, user: 'u', host: 'h' })).rejects.toMatchObject({
      code: 'ERR_SECRETS_OTP_INVALID',
    });
  });
});
