import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { cachedEntityProvider, type EntityProvider, staticEntityProvider } from './entities.js';
import type { CedarEntity, EntityRef } from './uid.js';

const entity = (id: string, name = id): CedarEntity => ({
  uid: { type: 'App::User', id },
  attrs: { name },
  parents: [],
});
const ref = (id: string): EntityRef => ({ type: 'App::User', id });

function counting(entities: CedarEntity[]): EntityProvider & { calls: string[][] } {
  const inner = staticEntityProvider(entities);
  const calls: string[][] = [];
  return {
    id: 'counting',
    calls,
    load: (uids) => {
      calls.push(uids.map((u) => u.id));
      return inner.load(uids);
    },
  };
}

describe('cachedEntityProvider', () => {
  it('serves repeated loads from the cache until the TTL passes', async () => {
    const clock = createManualClock(0);
    const inner = counting([entity('a'), entity('b')]);
    const cache = cachedEntityProvider(inner, { ttlSeconds: 10, clock });
    expect(await cache.load([ref('a'), ref('b')])).toHaveLength(2);
    expect(await cache.load([ref('a')])).toEqual([entity('a')]);
    expect(inner.calls).toEqual([['a', 'b']]);
    clock.advance(10_001);
    await cache.load([ref('a')]);
    expect(inner.calls).toEqual([['a', 'b'], ['a']]);
  });

  it('stays within maxEntries, evicting the least recently used', async () => {
    const inner = counting([entity('a'), entity('b'), entity('c')]);
    const cache = cachedEntityProvider(inner, { maxEntries: 2 });
    await cache.load([ref('a')]);
    await cache.load([ref('b')]);
    await cache.load([ref('a')]); // a is now the most recent
    await cache.load([ref('c')]); // evicts b
    expect(cache.size).toBe(2);
    inner.calls.length = 0;
    await cache.load([ref('a'), ref('b')]);
    expect(inner.calls).toEqual([['b']]);
  });

  it('does not cache unknown entities, so a new user is seen at once', async () => {
    const list: CedarEntity[] = [];
    const inner: EntityProvider = {
      id: 'mutable',
      load: async (uids) => list.filter((e) => uids.some((u) => u.id === e.uid.id)),
    };
    const cache = cachedEntityProvider(inner);
    expect(await cache.load([ref('new')])).toEqual([]);
    list.push(entity('new'));
    expect(await cache.load([ref('new')])).toEqual([entity('new')]);
  });

  it('invalidate drops an entity so its change is seen at once', async () => {
    let name = 'old';
    const inner: EntityProvider = { id: 'mutable', load: async () => [entity('a', name)] };
    const cache = cachedEntityProvider(inner, { ttlSeconds: 3600 });
    await cache.load([ref('a')]);
    name = 'new';
    expect((await cache.load([ref('a')]))[0]?.attrs.name).toBe('old');
    cache.invalidate(ref('a'));
    expect((await cache.load([ref('a')]))[0]?.attrs.name).toBe('new');
  });

  it('concurrent loads of the same entity share one inner call', async () => {
    const inner = counting([entity('a')]);
    const cache = cachedEntityProvider(inner);
    const results = await Promise.all([cache.load([ref('a')]), cache.load([ref('a')]), cache.load([ref('a')])]);
    expect(results.every((r) => r.length === 1)).toBe(true);
    expect(inner.calls).toEqual([['a']]);
  });

  it('rejects bad options', () => {
    const inner = counting([]);
    expect(() => cachedEntityProvider(inner, { ttlSeconds: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
    expect(() => cachedEntityProvider(inner, { maxEntries: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
  });
});
