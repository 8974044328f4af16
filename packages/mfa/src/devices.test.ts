import { describe, expect, it } from 'vitest';
import { codeFor, enrollTotp, errorText, harness, rejectsWith } from '../test/helpers.js';
import { decodeBase32, generateTotp } from './totp.js';

describe('devices', () => {
  it('lists, renames and removes factors', async () => {
    const h = harness();
    const a = await enrollTotp(h, 'u1');
    h.clock.advance(1000);
    const b = await enrollTotp(h, 'u1');
    const list = await h.mfa.listDevices('u1');
    expect(list.map((d) => d.id)).toEqual([a.deviceId, b.deviceId]);
    expect(list[0]).toMatchObject({ type: 'totp', name: 'Authenticator app', confirmed: true, webauthn: undefined });
    expect(JSON.stringify(list)).not.toContain('secret');
    const renamed = await h.mfa.renameDevice('u1', b.deviceId, 'Work phone');
    expect(renamed.name).toBe('Work phone');
    await h.mfa.removeDevice('u1', a.deviceId);
    expect((await h.mfa.listDevices('u1')).map((d) => d.name)).toEqual(['Work phone']);
  });

  it('refuses to remove the last factor unless configured', async () => {
    const h = harness();
    const { deviceId } = await enrollTotp(h, 'u1');
    await rejectsWith(h.mfa.removeDevice('u1', deviceId), 'ERR_MFA_LAST_FACTOR');
    expect(await h.mfa.isEnrolled('u1')).toBe(true);

    const open = harness({ allowRemovingLastFactor: true });
    const d = await enrollTotp(open, 'u1');
    await open.mfa.removeDevice('u1', d.deviceId);
    expect(await open.mfa.isEnrolled('u1')).toBe(false);
    // Backup codes go with the last factor.
    expect(await open.mfa.remainingBackupCodes('u1')).toBe(0);
  });

  it('never lets two concurrent removals take away the last two factors', async () => {
    const h = harness();
    const a = await enrollTotp(h, 'u1');
    const b = await enrollTotp(h, 'u1');
    const results = await Promise.allSettled([
      h.mfa.removeDevice('u1', a.deviceId),
      h.mfa.removeDevice('u1', b.deviceId),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await h.mfa.listDevices('u1')).toHaveLength(1);
  });

  it('keeps users apart: another user’s device is not found', async () => {
    const h = harness();
    const { deviceId } = await enrollTotp(h, 'u1');
    await enrollTotp(h, 'u2');
    await rejectsWith(h.mfa.renameDevice('u2', deviceId, 'mine'), 'ERR_MFA_DEVICE_NOT_FOUND');
    await rejectsWith(h.mfa.removeDevice('u2', deviceId), 'ERR_MFA_DEVICE_NOT_FOUND');
    await rejectsWith(h.mfa.verifyTotp('u2', '123456', { deviceId }), 'ERR_MFA_NOT_ENROLLED');
  });

  it('refuses bad names', async () => {
    const h = harness();
    const { deviceId } = await enrollTotp(h, 'u1');
    for (const name of ['', '   ', 'x'.repeat(65), 'a\nb']) {
      await rejectsWith(h.mfa.renameDevice('u1', deviceId, name), 'ERR_MFA_MALFORMED_INPUT');
    }
  });

  it('replaces an abandoned pending enrollment instead of piling them up', async () => {
    const h = harness();
    await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    const list = await h.mfa.listDevices('u1');
    expect(list).toHaveLength(1);
    expect(list[0]?.confirmed).toBe(false);
    await rejectsWith(h.mfa.createChallenge('u1'), 'ERR_MFA_NOT_ENROLLED');
  });

  it('confirms a device once', async () => {
    const h = harness();
    const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    await h.mfa.confirmTotpEnrollment('u1', e.deviceId, codeFor(e.secret, h.clock));
    h.clock.advance(30_000);
    await rejectsWith(
      h.mfa.confirmTotpEnrollment('u1', e.deviceId, codeFor(e.secret, h.clock)),
      'ERR_MFA_ALREADY_CONFIRMED',
    );
  });
});

describe('TOTP secrets at rest', () => {
  it('stores the secret only encrypted, bound to user and device', async () => {
    const h = harness();
    const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    const stored = await h.store.getDevice('u1', e.deviceId);
    const raw = decodeBase32(e.secret);
    const text = JSON.stringify(stored);
    expect(text).not.toContain(e.secret);
    expect(text).not.toContain(Buffer.from(raw).toString('hex'));
    expect(text).not.toContain(Buffer.from(raw).toString('base64'));
    expect(text).not.toContain(Buffer.from(raw).toString('base64url'));
    expect(stored?.totp?.secretCiphertext).toMatch(/^v1\.k1\./);
    await expect(
      h.options.encrypter.decrypt(stored?.totp?.secretCiphertext as string, {
        userId: 'u1',
        deviceId: e.deviceId,
        purpose: 'mfa-totp',
      }),
    ).resolves.toEqual(raw);
  });

  it('a ciphertext moved to another user’s device does not decrypt', async () => {
    const h = harness();
    const victim = await enrollTotp(h, 'victim');
    const attacker = await enrollTotp(h, 'attacker');
    const v = await h.store.getDevice('victim', victim.deviceId);
    const a = await h.store.getDevice('attacker', attacker.deviceId);
    // Re-create the attacker's device carrying the victim's ciphertext (a database-level swap).
    await h.store.deleteDevice('attacker', attacker.deviceId, { keepLastFactor: false });
    await h.store.createDevice({ ...(a as NonNullable<typeof a>), totp: v?.totp });
    h.clock.advance(30_000);
    const error = await rejectsWith(
      h.mfa.verifyTotp('attacker', codeFor(victim.secret, h.clock)),
      'ERR_MFA_ENCRYPTION',
    );
    expect(errorText(error)).not.toContain(victim.secret);
  });
});

describe('encrypter failures', () => {
  it('maps a failing injected encrypter to ERR_MFA_ENCRYPTION, keeping retryable and nothing of its message', async () => {
    const base = harness();
    const { secret } = await enrollTotp(base, 'u1');
    const { CoreError } = await import('@provisioning/core');
    const down = harness({
      store: base.store,
      kv: base.kv,
      clock: base.clock,
      encrypter: {
        id: 'kms-down',
        encrypt: base.options.encrypter.encrypt,
        decrypt: async () => {
          throw new CoreError(`kms unreachable while handling ${secret}`, {
            code: 'ERR_STORE_UNAVAILABLE',
            fault: 'server',
            retryable: true,
          });
        },
      },
    });
    base.clock.advance(30_000);
    const error = await rejectsWith(down.mfa.verifyTotp('u1', codeFor(secret, base.clock)), 'ERR_MFA_ENCRYPTION');
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ errorCode: 'ERR_STORE_UNAVAILABLE' });
    expect(errorText(error)).not.toContain(secret);
    // A server-side failure costs the user no attempt.
    for (let i = 0; i < 6; i++) await rejectsWith(down.mfa.verifyTotp('u1', '000000'), 'ERR_MFA_ENCRYPTION');
    await expect(base.mfa.verifyTotp('u1', codeFor(secret, base.clock))).resolves.toMatchObject({ method: 'totp' });
  });
});

describe('stored TOTP parameters', () => {
  it('stores exactly the secret and the code parameters', async () => {
    const h = harness({ totp: { issuer: 'Acme', windowSteps: 2, digits: 8 } });
    const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    const stored = await h.store.getDevice('u1', e.deviceId);
    expect(Object.keys(stored?.totp ?? {}).sort()).toEqual([
      'algorithm',
      'digits',
      'periodSeconds',
      'secretCiphertext',
    ]);
    expect(stored?.totp).toMatchObject({ algorithm: 'sha1', digits: 8, periodSeconds: 30 });
  });
});

describe('devices with other code lengths', () => {
  it('verifies against the devices whose digits match the code and skips the others', async () => {
    // Devices keep the digits they were enrolled with; the service's setting
    // may change later. A 6-digit code only ever meets 6-digit devices.
    const eight = harness({ totp: { digits: 8 } });
    const code8 = (secret: string) =>
      generateTotp({ secret: decodeBase32(secret), atMs: eight.clock.now(), digits: 8 });
    const e = await eight.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    await eight.mfa.confirmTotpEnrollment('u1', e.deviceId, code8(e.secret));
    const six = harness({ store: eight.store, kv: eight.kv, clock: eight.clock });
    eight.clock.advance(60_000);
    const current = await enrollTotp(six, 'u1');
    eight.clock.advance(60_000);
    // The last 6 digits of an 8-digit code are the 6-digit code of the same secret: still no match.
    await rejectsWith(
      six.mfa.verifyTotp('u1', code8(e.secret).slice(2), { deviceId: e.deviceId }),
      'ERR_MFA_INVALID_CODE',
    );
    await rejectsWith(six.mfa.verifyTotp('u1', code8(e.secret)), 'ERR_MFA_MALFORMED_INPUT');
    await expect(eight.mfa.verifyTotp('u1', code8(e.secret))).resolves.toMatchObject({ deviceId: e.deviceId });
    await expect(six.mfa.verifyTotp('u1', codeFor(current.secret, six.clock))).resolves.toMatchObject({
      deviceId: current.deviceId,
    });
  });
});
