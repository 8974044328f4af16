import { describe, expect, it } from 'vitest';
import { codeFor, enrollTotp, harness, START } from '../test/helpers.js';
import { LAST_USED_GRANULARITY_MS } from './service.js';

describe('TOTP lastUsedAt is coalesced to LAST_USED_GRANULARITY_MS', () => {
  it('is 60 s', () => {
    expect(LAST_USED_GRANULARITY_MS).toBe(60_000);
  });

  it('is not written while the stored value is younger than the granularity, and is once it is as old', async () => {
    const h = harness();
    const { secret, deviceId } = await enrollTotp(h, 'u1'); // confirmation: lastUsedAt = START
    const lastUsed = async () => (await h.store.getDevice('u1', deviceId))?.lastUsedAt?.getTime();
    expect(await lastUsed()).toBe(START.getTime());
    h.clock.advance(30_000);
    await h.mfa.verifyTotp('u1', codeFor(secret, h.clock));
    expect(await lastUsed()).toBe(START.getTime());
    // 1 ms short of the granularity (a code one step ahead, inside the window): still not written.
    h.clock.set(START.getTime() + LAST_USED_GRANULARITY_MS - 1);
    await h.mfa.verifyTotp('u1', codeFor(secret, h.clock, 30_000));
    expect(await lastUsed()).toBe(START.getTime());
    // Exactly the granularity: written.
    h.clock.set(START.getTime() + LAST_USED_GRANULARITY_MS);
    await h.mfa.verifyTotp('u1', codeFor(secret, h.clock, 30_000));
    expect(await lastUsed()).toBe(START.getTime() + LAST_USED_GRANULARITY_MS);
    const listed = await h.mfa.listDevices('u1');
    expect(listed[0]?.lastUsedAt?.getTime()).toBe(START.getTime() + LAST_USED_GRANULARITY_MS);
  });

  it('is written on the first verification of a device that has none', async () => {
    const h = harness();
    const { secret, deviceId } = await enrollTotp(h, 'u1');
    const device = await h.store.getDevice('u1', deviceId);
    // A device stored without lastUsedAt (e.g. confirmed before it was tracked).
    await h.store.deleteUser('u1');
    await h.store.createDevice({ ...(device as NonNullable<typeof device>), lastUsedAt: undefined });
    h.clock.advance(30_000);
    await h.mfa.verifyTotp('u1', codeFor(secret, h.clock));
    expect((await h.store.getDevice('u1', deviceId))?.lastUsedAt?.getTime()).toBe(h.clock.now());
  });
});
