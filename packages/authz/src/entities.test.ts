import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import {
  cachedEntityProvider,
  closure,
  collectEntities,
  type EntityProvider,
  staticEntityProvider,
} from './entities.js';
import { isEntitySnapshot } from './entity-snapshot.js';
import { type CedarEntity, type EntityRef, entityKey } from './uid.js';

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

  it('hands out frozen snapshots: a change the inner provider makes in place is seen after invalidate, not before', async () => {
    const stored = entity('a', 'old');
    const inner: EntityProvider = { id: 'in-place', load: async () => [stored] };
    const cache = cachedEntityProvider(inner, { ttlSeconds: 3600 });
    const [first] = await cache.load([ref('a')]);
    expect(first).toEqual(stored);
    expect(first).not.toBe(stored);
    expect(isEntitySnapshot(first)).toBe(true);
    expect(Object.isFrozen(first?.attrs)).toBe(true);
    expect(Object.isFrozen(stored)).toBe(false);
    (stored.attrs as Record<string, unknown>).name = 'new';
    expect((await cache.load([ref('a')]))[0]?.attrs.name).toBe('old');
    expect(cache.loadSync?.([ref('a')])?.[0]?.attrs.name).toBe('old');
    cache.invalidate(ref('a'));
    const [after] = await cache.load([ref('a')]);
    expect(after?.attrs.name).toBe('new');
    expect(after).not.toBe(first);
  });

  it('loadSync answers as load only when every uid is a fresh hit', async () => {
    const clock = createManualClock(0);
    const inner = counting([entity('a'), entity('b')]);
    const cache = cachedEntityProvider(inner, { ttlSeconds: 10, clock });
    expect(cache.loadSync?.([ref('a')])).toBeUndefined(); // never loaded
    const pending = cache.load([ref('a')]);
    expect(cache.loadSync?.([ref('a')])).toBeUndefined(); // in flight
    await pending;
    expect(cache.loadSync?.([ref('a')])).toEqual(await cache.load([ref('a')]));
    expect(cache.loadSync?.([ref('a'), ref('b')])).toBeUndefined(); // b is not cached
    await cache.load([ref('b'), ref('nobody')]);
    expect(cache.loadSync?.([ref('b'), ref('a')])).toEqual([entity('b'), entity('a')]);
    expect(cache.loadSync?.([ref('nobody')])).toBeUndefined(); // unknown uids are never cached
    clock.advance(10_000);
    expect(cache.loadSync?.([ref('a')])).toBeUndefined(); // expired
    expect(inner.calls).toEqual([['a'], ['b', 'nobody']]);
  });

  it('loadSync answers misses from an inner loadSync exactly as load would, caching only known entities', async () => {
    const clock = createManualClock(0);
    const list = [entity('a'), entity('b')];
    const asked: string[][] = [];
    const inner: EntityProvider = {
      id: 'sync',
      load: async (uids) => staticEntityProvider(list).load(uids),
      loadSync: (uids) => {
        asked.push(uids.map((u) => u.id));
        return staticEntityProvider(list).loadSync?.(uids);
      },
    };
    const cache = cachedEntityProvider(inner, { ttlSeconds: 10, clock });
    const viaSync = cache.loadSync?.([ref('a'), ref('nobody'), ref('b')]);
    expect(viaSync).toEqual([entity('a'), entity('b')]);
    expect(viaSync?.every(isEntitySnapshot)).toBe(true);
    expect(cache.size).toBe(2); // the unknown uid is not cached
    // Now fresh hits: the inner provider is asked only for the unknown uid, every time.
    expect(cache.loadSync?.([ref('b'), ref('nobody'), ref('a')])).toEqual([entity('b'), entity('a')]);
    expect(asked).toEqual([['a', 'nobody', 'b'], ['nobody']]);
    // A newly created entity is seen at once, as with load.
    list.push(entity('nobody'));
    expect(cache.loadSync?.([ref('nobody')])).toEqual([entity('nobody')]);
    // An expired entry is reloaded from the inner provider and its change is seen.
    list[0] = entity('a', 'renamed');
    clock.advance(10_000);
    expect(cache.loadSync?.([ref('a')])?.[0]?.attrs.name).toBe('renamed');
    // Same answers as load.
    expect(cache.loadSync?.([ref('a'), ref('b'), ref('c')])).toEqual(await cache.load([ref('a'), ref('b'), ref('c')]));
  });

  it('loadSync leaves a miss to load when the inner provider has no loadSync, declines or is loading it', async () => {
    let pendingLoad: ((list: CedarEntity[]) => void) | undefined;
    let syncAnswer: CedarEntity[] | undefined = [entity('a')];
    const inner: EntityProvider = {
      id: 'mixed',
      load: () =>
        new Promise((resolve) => {
          pendingLoad = resolve;
        }),
      loadSync: () => syncAnswer,
    };
    const cache = cachedEntityProvider(inner);
    const inflight = cache.load([ref('a')]);
    expect(cache.loadSync?.([ref('a')])).toBeUndefined(); // in flight: load shares that call
    pendingLoad?.([entity('a', 'from load')]);
    expect((await inflight)[0]?.attrs.name).toBe('from load');
    syncAnswer = undefined;
    expect(cache.loadSync?.([ref('a'), ref('b')])).toBeUndefined(); // the inner loadSync declined b
    expect(cachedEntityProvider(counting([entity('a')])).loadSync?.([ref('a')])).toBeUndefined();
  });

  it('loadSync refreshes recency like load', async () => {
    const inner = counting([entity('a'), entity('b'), entity('c')]);
    const cache = cachedEntityProvider(inner, { maxEntries: 2 });
    await cache.load([ref('a')]);
    await cache.load([ref('b')]);
    expect(cache.loadSync?.([ref('a')])).toHaveLength(1); // a is now the most recent
    await cache.load([ref('c')]); // evicts b
    expect(cache.loadSync?.([ref('a')])).toHaveLength(1);
    expect(cache.loadSync?.([ref('b')])).toBeUndefined();
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

describe('collectEntities', () => {
  // a -> b -> c (parents), a.friend = d, d -> e
  const graph: CedarEntity[] = [
    { uid: ref('a'), attrs: { friend: { __entity: ref('d') } }, parents: [ref('b')] },
    { uid: ref('b'), attrs: {}, parents: [ref('c')] },
    { uid: ref('c'), attrs: {}, parents: [] },
    { uid: ref('d'), attrs: {}, parents: [ref('e')] },
    { uid: ref('e'), attrs: {}, parents: [] },
    { uid: ref('z'), attrs: {}, parents: [] },
  ];
  const noInline = new Map<string, CedarEntity>();
  const asyncOnly = (p: EntityProvider): EntityProvider => ({ id: 'async', load: (uids) => p.load(uids) });

  it('runs synchronously when loadSync answers every level, with the same result as the asynchronous load', async () => {
    // An inner provider that only loads asynchronously: the cache answers misses through `load`.
    const cache = cachedEntityProvider(asyncOnly(staticEntityProvider(graph)));
    const viaAsync = new Map<string, CedarEntity>();
    const first = collectEntities([{ roots: [ref('a')], inline: noInline }], cache, viaAsync);
    expect(first).toBeInstanceOf(Promise); // nothing cached yet
    await first;
    const viaSync = new Map<string, CedarEntity>();
    expect(collectEntities([{ roots: [ref('a')], inline: noInline }], cache, viaSync)).toBeUndefined();
    const plain = new Map<string, CedarEntity>();
    await collectEntities([{ roots: [ref('a')], inline: noInline }], asyncOnly(staticEntityProvider(graph)), plain);
    for (const m of [viaAsync, viaSync]) {
      expect([...m.keys()]).toEqual([...plain.keys()]);
      expect([...m.values()]).toEqual([...plain.values()]);
    }
    expect([...plain.keys()]).toEqual(['a', 'b', 'd', 'c', 'e'].map((id) => entityKey(ref(id))));
    expect(closure([ref('a')], viaSync)).toEqual(closure([ref('a')], plain));
  });

  it('runs synchronously on cache misses when the inner provider answers synchronously, with the same result', async () => {
    const cache = cachedEntityProvider(staticEntityProvider([...graph]));
    const viaSync = new Map<string, CedarEntity>();
    // Nothing cached yet, and `nobody` (unknown) is asked for at every decision.
    const roots = [ref('a'), ref('nobody')];
    expect(collectEntities([{ roots, inline: noInline }], cache, viaSync)).toBeUndefined();
    const plain = new Map<string, CedarEntity>();
    await collectEntities([{ roots, inline: noInline }], asyncOnly(staticEntityProvider(graph)), plain);
    expect([...viaSync.keys()]).toEqual([...plain.keys()]);
    expect([...viaSync.values()]).toEqual([...plain.values()]);
    expect(cache.size).toBe(5);
  });

  it('goes on asynchronously from the level loadSync cannot answer', async () => {
    const cache = cachedEntityProvider(asyncOnly(staticEntityProvider(graph)));
    await cache.load([ref('a'), ref('b')]); // c, d and e are not cached
    const loaded = new Map<string, CedarEntity>();
    const pending = collectEntities([{ roots: [ref('a')], inline: noInline }], cache, loaded);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect([...loaded.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e'].map((id) => entityKey(ref(id))));
  });

  it('a provider whose loadSync throws fails the load with ERR_AUTHZ_ENTITY_PROVIDER', () => {
    const broken: EntityProvider = {
      id: 'broken',
      load: async () => [],
      loadSync: () => {
        throw new Error('db down');
      },
    };
    expect(() => collectEntities([{ roots: [ref('a')], inline: noInline }], broken, new Map())).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_ENTITY_PROVIDER', retryable: true }),
    );
  });
});
