import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorText } from '../test/helpers.js';
import { localAesGcmEncrypter } from './encrypter.js';
import { MfaError } from './errors.js';

const ctx = { userId: 'u1', deviceId: 'd1', purpose: 'mfa-totp' };
const secret = new TextEncoder().encode('super secret seed 123');

describe('localAesGcmEncrypter', () => {
  it('round-trips with the same context and never repeats a ciphertext', async () => {
    const enc = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
    const a = await enc.encrypt(secret, ctx);
    const b = await enc.encrypt(secret, ctx);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(await enc.decrypt(a, ctx)).toEqual(secret);
  });

  it('binds the context: another user, device or purpose fails', async () => {
    const enc = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
    const box = await enc.encrypt(secret, ctx);
    for (const other of [
      { ...ctx, userId: 'u2' },
      { ...ctx, deviceId: 'd2' },
      { ...ctx, purpose: 'other' },
      { userId: 'u1d', deviceId: '1', purpose: 'mfa-totp' },
    ]) {
      const error = await enc.decrypt(box, other).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_MFA_ENCRYPTION' });
      expect(errorText(error)).not.toContain('super secret');
    }
  });

  it('detects tampering', async () => {
    const enc = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
    const box = await enc.encrypt(secret, ctx);
    const parts = box.split('.');
    const body = Buffer.from(parts[3] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    const tampered = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    await expect(enc.decrypt(tampered, ctx)).rejects.toMatchObject({ code: 'ERR_MFA_ENCRYPTION' });
    await expect(enc.decrypt('garbage', ctx)).rejects.toMatchObject({ code: 'ERR_MFA_ENCRYPTION' });
  });

  it('refuses every malformed shape of v1.<key>.<iv>.<body> with ERR_MFA_ENCRYPTION', async () => {
    const enc = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
    const box = await enc.encrypt(secret, ctx);
    const [version, keyId, iv, body] = box.split('.') as [string, string, string, string];
    for (const bad of [
      '',
      'v1',
      'v1.k1',
      `v1.k1.${iv}`,
      `v1.k1.${iv}.`,
      `v1.k1..${body}`,
      `v1..${iv}.${body}`,
      `.${keyId}.${iv}.${body}`,
      `v2.${keyId}.${iv}.${body}`,
      `v1.k2.${iv}.${body}`,
      `${box}.`,
      `${box}.x`,
      `${version}.${keyId}.${iv}${iv}.${body}`,
      `${version}.${keyId}.${iv}.${body.slice(0, 20)}`,
      42 as unknown as string,
    ]) {
      await expect(enc.decrypt(bad, ctx), bad).rejects.toMatchObject({ code: 'ERR_MFA_ENCRYPTION' });
    }
    expect(await enc.decrypt(`${version}.${keyId}.${iv}.${body}`, ctx)).toEqual(secret);
  });

  it('returns a buffer of its own: wiping one decryption leaves the next intact', async () => {
    const enc = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
    const box = await enc.encrypt(secret, ctx);
    const first = await enc.decrypt(box, ctx);
    const second = await enc.decrypt(box, ctx);
    expect(first).toBeInstanceOf(Uint8Array);
    expect(first.length).toBe(secret.length);
    first.fill(0);
    expect(second).toEqual(secret);
    expect(await enc.decrypt(box, ctx)).toEqual(secret);
  });

  it('keeps its own copy of the keys: wiping the caller’s key after construction changes nothing', async () => {
    const key = randomBytes(32);
    const enc = localAesGcmEncrypter({ keys: [{ id: 'k1', key }] });
    const before = await enc.encrypt(secret, ctx);
    const expected = localAesGcmEncrypter({ keys: [{ id: 'k1', key: Buffer.from(key) }] });
    key.fill(0);
    expect(await enc.decrypt(before, ctx)).toEqual(secret);
    expect(await expected.decrypt(await enc.encrypt(secret, ctx), ctx)).toEqual(secret);
    // A zero key is another key: what the wiped array holds now was not used.
    const zero = localAesGcmEncrypter({ keys: [{ id: 'k1', key: new Uint8Array(32) }] });
    await expect(zero.decrypt(before, ctx)).rejects.toMatchObject({ code: 'ERR_MFA_ENCRYPTION' });
  });

  it('rotates keys: new ciphertexts use the first key, old ones still decrypt', async () => {
    const k1 = { id: 'k1', key: randomBytes(32) };
    const k2 = { id: 'k2', key: randomBytes(32) };
    const old = await localAesGcmEncrypter({ keys: [k1] }).encrypt(secret, ctx);
    const rotated = localAesGcmEncrypter({ keys: [k2, k1] });
    expect(await rotated.decrypt(old, ctx)).toEqual(secret);
    expect((await rotated.encrypt(secret, ctx)).startsWith('v1.k2.')).toBe(true);
    await expect(localAesGcmEncrypter({ keys: [k2] }).decrypt(old, ctx)).rejects.toMatchObject({
      code: 'ERR_MFA_ENCRYPTION',
    });
  });

  it('refuses bad keys at construction', () => {
    expect(() => localAesGcmEncrypter({ keys: [] })).toThrow(MfaError);
    expect(() => localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(16) }] })).toThrow(MfaError);
    expect(() => localAesGcmEncrypter({ keys: [{ id: 'bad id', key: randomBytes(32) }] })).toThrow(MfaError);
    const key = randomBytes(32);
    expect(() =>
      localAesGcmEncrypter({
        keys: [
          { id: 'k', key },
          { id: 'k', key },
        ],
      }),
    ).toThrow(MfaError);
  });
});
