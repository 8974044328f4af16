import { describe, expect, it } from 'vitest';
import type { Harness } from '../test/helpers.js';
import { codeFor, enrollTotp, errorText, harness, ORIGIN, rejectsWith } from '../test/helpers.js';
import { createSoftwareAuthenticator } from './testing.js';

/** Everything stored: devices and backup codes of the users, and every kv entry. */
async function snapshot(h: Harness): Promise<string> {
  const devices = await Promise.all(['u1', 'u2'].map((u) => h.store.listDevices(u)));
  const codes = await Promise.all(['u1', 'u2'].map((u) => h.store.countBackupCodes(u)));
  const keys = await h.kv.list('');
  const values = await Promise.all(keys.map((k) => h.kv.get(k)));
  return JSON.stringify({ devices, codes, keys, values });
}

describe('bad input changes nothing and leaks nothing', () => {
  it('malformed codes, ids and WebAuthn responses are typed errors with nothing stored changed', async () => {
    const h = harness();
    const { secret, deviceId, backupCodes = [] } = await enrollTotp(h, 'u1');
    const key = createSoftwareAuthenticator({ origin: ORIGIN });
    const o = await h.mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
    await h.mfa.finishWebAuthnRegistration('u1', key.register(o));
    h.clock.advance(30_000);
    const challenge = await h.mfa.createChallenge('u1');
    const good = key.authenticate(challenge.webauthn as NonNullable<typeof challenge.webauthn>);
    const before = await snapshot(h);

    const cases: [string, () => Promise<unknown>][] = [
      ['totp letters', () => h.mfa.verifyTotp('u1', 'abcdef')],
      ['totp too long', () => h.mfa.verifyTotp('u1', '1234567')],
      ['totp huge', () => h.mfa.verifyTotp('u1', '1'.repeat(10_000))],
      ['totp not a string', () => h.mfa.verifyTotp('u1', 123456 as never)],
      ['user id with spaces', () => h.mfa.verifyTotp('u 1', '123456')],
      ['user id empty', () => h.mfa.listDevices('')],
      ['device id', () => h.mfa.verifyTotp('u1', '123456', { deviceId: '../../etc' })],
      ['confirm device id', () => h.mfa.confirmTotpEnrollment('u1', 'nope', '123456')],
      ['backup code', () => h.mfa.verifyBackupCode('u1', 'AAAA')],
      ['rename', () => h.mfa.renameDevice('u1', deviceId, '\u0000')],
      ['webauthn not an object', () => h.mfa.finishWebAuthnAuthentication('x')],
      ['webauthn null', () => h.mfa.finishWebAuthnAuthentication(null)],
      ['webauthn rawId mismatch', () => h.mfa.finishWebAuthnAuthentication({ ...good, rawId: 'AAAA' })],
      ['webauthn wrong type', () => h.mfa.finishWebAuthnAuthentication({ ...good, type: 'password' })],
      [
        'webauthn clientData not JSON',
        () =>
          h.mfa.finishWebAuthnAuthentication({
            ...good,
            response: { ...good.response, clientDataJSON: Buffer.from('{oops').toString('base64url') },
          }),
      ],
      [
        'webauthn clientData of a registration',
        () =>
          h.mfa.finishWebAuthnAuthentication({
            ...good,
            response: {
              ...good.response,
              clientDataJSON: Buffer.from(
                JSON.stringify({ type: 'webauthn.create', challenge: challenge.webauthn?.challenge, origin: ORIGIN }),
              ).toString('base64url'),
            },
          }),
      ],
      [
        'webauthn signature not base64url',
        () => h.mfa.finishWebAuthnAuthentication({ ...good, response: { ...good.response, signature: '***' } }),
      ],
      ['webauthn registration without attestation', () => h.mfa.finishWebAuthnRegistration('u1', { ...good })],
      ['challenge id', () => h.mfa.completeChallenge('!', { method: 'totp', code: '123456' })],
      ['challenge answer', () => h.mfa.completeChallenge(challenge.challengeId, { method: 'totp', code: 'zzzzzz' })],
    ];
    for (const [name, run] of cases) {
      const error = await rejectsWith(run(), 'ERR_MFA_MALFORMED_INPUT').catch((e: unknown) => {
        throw new Error(`${name}: ${String(e)}`);
      });
      expect(errorText(error)).not.toContain(secret);
      expect(await snapshot(h), name).toBe(before);
    }
    // The challenge, the WebAuthn ceremony and every code still work afterwards.
    const r = await h.mfa.completeChallenge(challenge.challengeId, { method: 'webauthn', response: good });
    expect(r.method).toBe('webauthn');
    await expect(h.mfa.verifyTotp('u1', codeFor(secret, h.clock))).resolves.toBeDefined();
    expect(await h.mfa.remainingBackupCodes('u1')).toBe(backupCodes.length);
  });

  it('no error message, detail or cause carries a code, secret or backup code', async () => {
    const h = harness({ attempts: { maxFailures: 3 } });
    const { secret, backupCodes = [] } = await enrollTotp(h, 'u1');
    h.clock.advance(30_000);
    const right = codeFor(secret, h.clock);
    const wrong = right === '999999' ? '888888' : '999999';
    const errors: unknown[] = [];
    const collect = (p: Promise<unknown>) => p.catch((e: unknown) => errors.push(e));
    await h.mfa.verifyTotp('u1', right);
    await collect(h.mfa.verifyTotp('u1', right)); // replay
    await collect(h.mfa.verifyTotp('u1', wrong));
    await collect(h.mfa.verifyBackupCode('u1', 'ABCD-EFGH-IJKL-MNOP'));
    await collect(h.mfa.verifyBackupCode('u1', backupCodes[0] as string)); // over the cap
    await collect(h.mfa.verifyTotp('u1', '12345'));
    expect(errors).toHaveLength(5);
    const text = errors.map(errorText).join('\n');
    for (const s of [secret, right, wrong, 'ABCDEFGHIJKLMNOP', 'ABCD-EFGH-IJKL-MNOP', backupCodes[0] as string]) {
      expect(text).not.toContain(s);
    }
    expect(errors.map((e) => (e as { code: string }).code)).toEqual([
      'ERR_MFA_CODE_REPLAYED',
      'ERR_MFA_INVALID_CODE',
      'ERR_MFA_INVALID_CODE',
      'ERR_MFA_TOO_MANY_ATTEMPTS',
      'ERR_MFA_MALFORMED_INPUT',
    ]);
  });

  it('refuses bad options at construction', () => {
    const bad = [
      { store: undefined },
      { kv: {} },
      { encrypter: undefined },
      { totp: { windowSteps: -1 } },
      { totp: { digits: 5 } },
      { totp: { secretBytes: 10 } },
      { attempts: { maxFailures: 0 } },
      { challengeTtlSeconds: 5 },
      { backupCodeCount: 0 },
      { webauthn: { userVerification: 'sometimes' } },
    ];
    for (const o of bad) {
      expect(() => harness(o as never), JSON.stringify(o)).toThrow(
        expect.objectContaining({ code: 'ERR_MFA_INVALID_OPTIONS' }),
      );
    }
  });
});
