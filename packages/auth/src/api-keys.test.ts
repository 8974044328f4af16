import { createManualClock, memoryStore } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { expectAuthError, T0 } from '../test/helpers.js';
import { createApiKeyService } from './api-keys.js';

const setup = () => {
  const clock = createManualClock(T0);
  const store = memoryStore({ clock });
  return { clock, store, keys: createApiKeyService({ store, clock }) };
};

describe('API keys', () => {
  it('creates a key shown once with a visible prefix, and verifies it with its scopes', async () => {
    const { keys, store } = setup();
    const { key, info } = await keys.create({ owner: 'user-1', name: 'CI', scopes: ['servers:read', 'servers:write'] });
    expect(key).toMatch(/^prov_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(info.visiblePrefix)).toBe(true);
    const verified = await keys.verify(key, { requiredScopes: ['servers:read'] });
    expect(verified).toMatchObject({ id: info.id, owner: 'user-1', scopes: ['servers:read', 'servers:write'] });
    // Only a hash is stored.
    const secret = key.split('_').slice(2).join('_');
    for (const k of await store.list('')) expect((await store.get(k))?.includes(secret)).toBe(false);
  });

  it('rejects wrong secrets, unknown ids and malformed keys with one code, never echoing the key', async () => {
    const { keys } = setup();
    const { key } = await keys.create({ owner: 'u', name: 'n' });
    const wrong = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    await expectAuthError(keys.verify(wrong), 'ERR_AUTH_API_KEY_INVALID', [wrong]);
    await expectAuthError(keys.verify(`prov_0000000000000000_${key.slice(-43)}`), 'ERR_AUTH_API_KEY_INVALID');
    await expectAuthError(keys.verify('prov_short'), 'ERR_AUTH_API_KEY_INVALID');
    await expectAuthError(keys.verify(42 as never), 'ERR_AUTH_API_KEY_INVALID');
  });

  it('enforces scopes, expiry and revocation', async () => {
    const { keys, clock } = setup();
    const { key, info } = await keys.create({
      owner: 'u',
      name: 'n',
      scopes: ['a'],
      expiresAt: new Date(T0.getTime() + 3600_000),
    });
    const scope = await expectAuthError(
      keys.verify(key, { requiredScopes: ['a', 'b'] }),
      'ERR_AUTH_INSUFFICIENT_SCOPE',
    );
    expect(scope.details.missing).toEqual(['b']);
    clock.advance(3600_000);
    await expectAuthError(keys.verify(key), 'ERR_AUTH_API_KEY_EXPIRED');
    const second = await keys.create({ owner: 'u', name: 'n2' });
    expect(await keys.revoke(second.info.id)).toBe(true);
    await expectAuthError(keys.verify(second.key), 'ERR_AUTH_API_KEY_REVOKED');
    expect((await keys.get(second.info.id))?.revokedAt).toEqual(new Date(clock.now()));
    expect(await keys.revoke('ffffffffffffffff')).toBe(false);
    void info;
  });

  it('a verification racing a revocation never undoes it', async () => {
    const { keys } = setup();
    const { key, info } = await keys.create({ owner: 'u', name: 'n' });
    await Promise.all([keys.verify(key), keys.revoke(info.id), keys.verify(key).catch(() => undefined)]);
    await expectAuthError(keys.verify(key), 'ERR_AUTH_API_KEY_REVOKED');
  });

  it('records the last use at most once per resolution interval', async () => {
    const { keys, clock } = setup();
    const { key, info } = await keys.create({ owner: 'u', name: 'n' });
    expect((await keys.get(info.id))?.lastUsedAt).toBeUndefined();
    await keys.verify(key);
    expect((await keys.get(info.id))?.lastUsedAt).toEqual(T0);
    clock.advance(30_000);
    await keys.verify(key);
    expect((await keys.get(info.id))?.lastUsedAt).toEqual(T0);
    clock.advance(30_000);
    await keys.verify(key);
    expect((await keys.get(info.id))?.lastUsedAt).toEqual(new Date(T0.getTime() + 60_000));
  });

  it("lists an owner's keys newest first, without secrets", async () => {
    const { keys, clock } = setup();
    const a = await keys.create({ owner: 'u', name: 'a' });
    clock.advance(1000);
    const b = await keys.create({ owner: 'u', name: 'b' });
    await keys.create({ owner: 'other', name: 'c' });
    const list = await keys.list('u');
    expect(list.map((k) => k.id)).toEqual([b.info.id, a.info.id]);
    expect(JSON.stringify(list).includes(a.key.slice(-43))).toBe(false);
  });

  it('refuses bad input', async () => {
    const { keys } = setup();
    await expectAuthError(keys.create({ owner: '', name: 'n' }), 'ERR_AUTH_INVALID_INPUT');
    await expectAuthError(keys.create({ owner: 'u', name: 'n', expiresAt: T0 }), 'ERR_AUTH_INVALID_INPUT');
    expect(() => createApiKeyService({ store: memoryStore(), keyPrefix: 'BAD_' })).toThrow();
  });
});
