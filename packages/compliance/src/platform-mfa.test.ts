import { createManualClock } from '@provisioning/core';
import { decodeBase32, generateTotp } from '@provisioning/mfa';
import { createSoftwareAuthenticator } from '@provisioning/mfa/testing';
import { describe, expect, it } from 'vitest';
import { platformUnderTest, runCheck, secretsOf, withOutage } from '../test/platform.js';
import { mfaDevicesProvider, mfaEnrollmentReader } from './platform-mfa.js';

const clock = createManualClock(new Date('2026-06-01T09:00:00Z'));
const subject = (subjectId: string) => ({ subjectId, requestId: 'req-1' });

describe('mfaDevicesProvider over @provisioning/mfa', () => {
  it('exports device metadata and the backup-code count, never a secret or a code', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const key = createSoftwareAuthenticator({ origin: 'https://cc.test' });
    await p.mfa.finishWebAuthnRegistration(
      ada.id,
      key.register(await p.mfa.beginWebAuthnRegistration(ada.id, { userName: 'ada' })),
      { name: 'YubiKey' },
    );
    const devices = mfaDevicesProvider({ mfa: p.mfa });
    const out = await devices.export?.(subject(ada.id));
    expect(out).toMatchObject({
      subjectFound: true,
      records: 2,
      data: {
        unusedBackupCodes: 10,
        devices: [
          { type: 'totp', name: 'Authenticator app', confirmed: true },
          { type: 'webauthn', name: 'YubiKey', confirmed: true, webauthn: { credentialId: expect.any(String) } },
        ],
      },
    });
    const text = JSON.stringify(out);
    for (const secret of secretsOf(ada)) expect(text).not.toContain(secret);
    expect(await devices.export?.(subject('nobody'))).toMatchObject({ subjectFound: false, records: 0 });
  });

  it('erases every factor and backup code; TOTP and backup codes stop working', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const bob = await p.seedUser('bob');
    const devices = mfaDevicesProvider({ mfa: p.mfa });
    expect(await devices.erase?.(subject(ada.id))).toEqual({ subjectFound: true, affected: 11, method: 'deleted' });
    expect(await p.mfa.isEnrolled(ada.id)).toBe(false);
    expect(await p.mfa.remainingBackupCodes(ada.id)).toBe(0);
    await expect(p.mfa.verifyBackupCode(ada.id, ada.backupCodes[0] as string)).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_MFA_/),
    });
    const code = generateTotp({ secret: decodeBase32(ada.totpSecret), atMs: clock.now() + 30_000 });
    await expect(p.mfa.verifyTotp(ada.id, code)).rejects.toMatchObject({ code: 'ERR_MFA_NOT_ENROLLED' });
    expect(await p.mfa.isEnrolled(bob.id)).toBe(true);
    expect(await devices.erase?.(subject(ada.id))).toEqual({ subjectFound: false, affected: 0, method: 'deleted' });
  });
});

describe('mfaEnrollmentReader over @provisioning/auth and @provisioning/mfa', () => {
  it('passes when every enabled Admin and Operator has a second factor', async () => {
    const p = await platformUnderTest({ clock });
    await p.seedUser('ada', ['Admin']);
    await p.seedUser('oscar', ['Operator', 'Developer']);
    // A developer without MFA, and a disabled admin without MFA, do not count.
    await p.users.create({ username: 'dev', roles: ['Developer'] });
    await p.users.create({ username: 'old-admin', roles: ['Admin'], disabled: true });
    const result = await runCheck('auth.mfa-privileged', {
      mfaPolicy: mfaEnrollmentReader({ users: p.users, mfa: p.mfa, environment: 'production' }),
    });
    expect(result).toMatchObject({
      status: 'pass',
      evidence: ['MFA enforced in production for: Admin, Operator', '2 privileged user(s) checked'],
    });
  });

  it('fails naming the operator without a factor; fails closed when the MFA store is down', async () => {
    const p = await platformUnderTest({ clock });
    await p.seedUser('ada', ['Admin']);
    const olga = await p.users.create({ username: 'olga', roles: ['Operator'] });
    const result = await runCheck('auth.mfa-privileged', {
      mfaPolicy: mfaEnrollmentReader({ users: p.users, mfa: p.mfa, environment: 'production' }),
    });
    expect(result.status).toBe('fail');
    expect(result.evidence).toEqual([
      'MFA enforced in production for: Admin',
      '2 privileged user(s) checked',
      `user ${olga.id} (Operator) has no confirmed second factor`,
    ]);
    expect(result.remediation).toContain('enrol a second factor');

    const mfa = withOutage(p.mfa);
    mfa.down = true;
    const down = await runCheck('auth.mfa-privileged', {
      mfaPolicy: mfaEnrollmentReader({ users: p.users, mfa: mfa.store, environment: 'production' }),
    });
    expect(down).toMatchObject({ status: 'fail', evidence: [expect.stringContaining('ERR_STORE_UNAVAILABLE')] });
  });

  it('pages through more users than one page holds', async () => {
    const p = await platformUnderTest({ clock });
    for (let i = 0; i < 1005; i++) await p.users.create({ username: `u${String(i).padStart(4, '0')}` });
    const olga = await p.users.create({ username: 'zz-olga', roles: ['Operator'] });
    const facts = await mfaEnrollmentReader({ users: p.users, mfa: p.mfa, environment: 'production' }).read();
    expect(facts).toMatchObject({ enforcedForRoles: ['Admin'], usersChecked: 1, usersWithoutMfa: [{ id: olga.id }] });
  });
});
