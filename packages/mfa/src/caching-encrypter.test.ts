import { randomBytes } from 'node:crypto';
import { createManualClock } from '@provisioning/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { codeFor, enrollTotp, errorText, harness } from '../test/helpers.js';
import { cachingSecretEncrypter } from './caching-encrypter.js';
import type { SecretEncrypter } from './encrypter.js';
import { localAesGcmEncrypter } from './encrypter.js';
import { MfaError } from './errors.js';

const ctx = { userId: 'u1', deviceId: 'd1', purpose: 'mfa-totp' };
const secret = new TextEncoder().encode('super secret seed 123');

/** The local encrypter, counting the decryptions that reach it. */
function counting(inner: SecretEncrypter = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] })) {
  const calls = { decrypt: 0, encrypt: 0 };
  const encrypter: SecretEncrypter = {
    id: inner.id,
    encrypt: (p, c) => {
      calls.encrypt += 1;
      return inner.encrypt(p, c);
    },
    decrypt: (t, c) => {
      calls.decrypt += 1;
      return inner.decrypt(t, c);
    },
  };
  return { encrypter, calls };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('cachingSecretEncrypter', () => {
  it('decrypts once within maxAgeMs and returns a buffer of its own each time', async () => {
    const { encrypter, calls } = counting();
    const clock = createManualClock(0);
    const cache = cachingSecretEncrypter(encrypter, { clock });
    const box = await cache.encrypt(secret, ctx);
    expect(calls.encrypt).toBe(1); // encrypt passes through
    const first = await cache.decrypt(box, ctx);
    const second = await cache.decrypt(box, ctx);
    expect(calls.decrypt).toBe(1);
    expect(second).not.toBe(first);
    expect(second.buffer).not.toBe(first.buffer);
    first.fill(0);
    expect(second).toEqual(secret);
    second.fill(0);
    expect(await cache.decrypt(box, ctx)).toEqual(secret);
    expect(calls.decrypt).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('keys on the context too: a ciphertext moved to another user, device or purpose still fails', async () => {
    const { encrypter, calls } = counting();
    const cache = cachingSecretEncrypter(encrypter);
    const box = await cache.encrypt(secret, ctx);
    expect(await cache.decrypt(box, ctx)).toEqual(secret); // now cached for ctx
    for (const other of [
      { ...ctx, userId: 'u2' },
      { ...ctx, deviceId: 'd2' },
      { ...ctx, purpose: 'other' },
      { userId: 'u1|7:d1', deviceId: '', purpose: 'mfa-totp' },
    ]) {
      const error = await cache.decrypt(box, other).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MfaError);
      expect(error).toMatchObject({ code: 'ERR_MFA_ENCRYPTION' });
      expect(errorText(error)).not.toContain('super secret');
    }
    expect(calls.decrypt).toBe(5);
    expect(cache.size).toBe(1);
    // Another ciphertext of the same secret and context is another entry.
    const again = await cache.encrypt(secret, ctx);
    expect(await cache.decrypt(again, ctx)).toEqual(secret);
    expect(calls.decrypt).toBe(6);
  });

  it('never caches a failure', async () => {
    const local = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
    let down = true;
    const flaky: SecretEncrypter = {
      id: 'flaky',
      encrypt: (p, c) => local.encrypt(p, c),
      decrypt: async (t, c) => {
        if (down) throw new Error('KMS unavailable');
        return local.decrypt(t, c);
      },
    };
    const cache = cachingSecretEncrypter(flaky);
    const box = await cache.encrypt(secret, ctx);
    await expect(cache.decrypt(box, ctx)).rejects.toThrow('KMS unavailable');
    expect(cache.size).toBe(0);
    down = false;
    expect(await cache.decrypt(box, ctx)).toEqual(secret);
    expect(cache.size).toBe(1);
  });

  it('expires entries maxAgeMs after their decryption (a hit does not extend them), wiping them', async () => {
    const { encrypter, calls } = counting();
    const clock = createManualClock(0);
    const cache = cachingSecretEncrypter(encrypter, { clock, maxAgeMs: 1000 });
    const box = await cache.encrypt(secret, ctx);
    await cache.decrypt(box, ctx);
    clock.advance(999);
    await cache.decrypt(box, ctx);
    expect(calls.decrypt).toBe(1);
    const wiped: string[] = [];
    const fill = Uint8Array.prototype.fill;
    vi.spyOn(Uint8Array.prototype, 'fill').mockImplementation(function (this: Uint8Array, ...args) {
      wiped.push(Buffer.from(this).toString());
      return fill.apply(this, args as Parameters<typeof fill>);
    });
    clock.advance(1);
    expect(await cache.decrypt(box, ctx)).toEqual(secret);
    expect(calls.decrypt).toBe(2);
    expect(wiped).toContain('super secret seed 123');
  });

  it('wipes expired entries without further calls (timer)', async () => {
    const cache = cachingSecretEncrypter(counting().encrypter, { maxAgeMs: 20 });
    const box = await cache.encrypt(secret, ctx);
    await cache.decrypt(box, ctx);
    expect(cache.size).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, evicting (and wiping) the oldest first', async () => {
    const { encrypter, calls } = counting();
    const cache = cachingSecretEncrypter(encrypter, { maxEntries: 2 });
    const boxes = await Promise.all(['d1', 'd2', 'd3'].map((deviceId) => cache.encrypt(secret, { ...ctx, deviceId })));
    const wiped: number[] = [];
    const fill = Uint8Array.prototype.fill;
    vi.spyOn(Uint8Array.prototype, 'fill').mockImplementation(function (this: Uint8Array, ...args) {
      wiped.push(this.length);
      return fill.apply(this, args as Parameters<typeof fill>);
    });
    for (const [i, box] of boxes.entries()) await cache.decrypt(box, { ...ctx, deviceId: `d${i + 1}` });
    expect(cache.size).toBe(2);
    expect(wiped).toEqual([secret.length]); // d1 evicted and wiped
    await cache.decrypt(boxes[2] as string, { ...ctx, deviceId: 'd3' });
    expect(calls.decrypt).toBe(3); // d3 still cached
    await cache.decrypt(boxes[0] as string, { ...ctx, deviceId: 'd1' });
    expect(calls.decrypt).toBe(4); // d1 was gone
  });

  it('clear() wipes every entry (a KMS key revocation): later calls go to the inner encrypter', async () => {
    const { encrypter, calls } = counting();
    const cache = cachingSecretEncrypter(encrypter);
    const box = await cache.encrypt(secret, ctx);
    await cache.decrypt(box, ctx);
    const wiped: string[] = [];
    const fill = Uint8Array.prototype.fill;
    vi.spyOn(Uint8Array.prototype, 'fill').mockImplementation(function (this: Uint8Array, ...args) {
      wiped.push(Buffer.from(this).toString());
      return fill.apply(this, args as Parameters<typeof fill>);
    });
    cache.clear();
    expect(wiped).toEqual(['super secret seed 123']);
    expect(cache.size).toBe(0);
    await cache.decrypt(box, ctx);
    expect(calls.decrypt).toBe(2);
  });

  it('does not cache a decryption that was in flight when clear() ran', async () => {
    const { encrypter, calls } = counting();
    let release: (() => void) | undefined;
    const gated: SecretEncrypter = {
      id: 'gated',
      encrypt: (p, c) => encrypter.encrypt(p, c),
      decrypt: async (t, c) => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return encrypter.decrypt(t, c);
      },
    };
    const cache = cachingSecretEncrypter(gated);
    const box = await cache.encrypt(secret, ctx);
    const inflight = cache.decrypt(box, ctx);
    cache.clear(); // e.g. the KMS key was revoked while the call was out
    release?.();
    expect(await inflight).toEqual(secret);
    expect(cache.size).toBe(0);
    const again = cache.decrypt(box, ctx);
    await Promise.resolve();
    release?.();
    await again;
    expect(cache.size).toBe(1);
    expect(calls.decrypt).toBe(2);
  });

  it.each([0, -1, 300_001, Number.NaN, Number.POSITIVE_INFINITY, '30000'])(
    'refuses maxAgeMs %s with ERR_MFA_INVALID_OPTIONS',
    (maxAgeMs) => {
      expect(() => cachingSecretEncrypter(counting().encrypter, { maxAgeMs: maxAgeMs as number })).toThrow(
        expect.objectContaining({ code: 'ERR_MFA_INVALID_OPTIONS' }),
      );
    },
  );

  it('accepts maxAgeMs up to 5 minutes, refuses a bad maxEntries or a missing inner encrypter', () => {
    expect(cachingSecretEncrypter(counting().encrypter, { maxAgeMs: 300_000 }).size).toBe(0);
    for (const maxEntries of [0, 1.5, -1, 2_000_000]) {
      expect(() => cachingSecretEncrypter(counting().encrypter, { maxEntries })).toThrow(
        expect.objectContaining({ code: 'ERR_MFA_INVALID_OPTIONS' }),
      );
    }
    expect(() => cachingSecretEncrypter(undefined as unknown as SecretEncrypter)).toThrow(MfaError);
  });

  it('serves the MFA service: one decryption for repeated verifications, which wipe their own copies', async () => {
    const { encrypter, calls } = counting();
    const h = harness({ encrypter: cachingSecretEncrypter(encrypter) });
    const { secret: base32 } = await enrollTotp(h, 'u1');
    const before = calls.decrypt; // the enrollment's confirmation decrypted once
    for (let i = 0; i < 3; i++) {
      h.clock.advance(30_000);
      await expect(h.mfa.verifyTotp('u1', codeFor(base32, h.clock))).resolves.toMatchObject({ method: 'totp' });
    }
    expect(calls.decrypt - before).toBe(0);
  });
});
