import { describe, expect, it } from 'vitest';
import { entityLinks, isEntitySnapshot, keyOfEntity, keyOfRef, snapshotEntity } from './entity-snapshot.js';
import { type CedarEntity, entityKey } from './uid.js';

const server = (): CedarEntity => ({
  uid: { type: 'App::Server', id: 'web' },
  attrs: {
    name: 'web',
    labels: ['a', 'b'],
    owner: { __entity: { type: 'App::User', id: 'alice' } },
    nested: { env: { type: 'App::Env', id: 'prod' }, port: 443 },
    ip: { __extn: { fn: 'ip', arg: '10.0.0.1' } },
  },
  parents: [{ type: 'App::Group', id: 'g1' }],
});

const isDeepFrozen = (v: unknown): boolean =>
  typeof v !== 'object' || v === null || (Object.isFrozen(v) && Object.values(v).every(isDeepFrozen));

describe('snapshotEntity', () => {
  it('makes a deep-frozen equal copy and leaves the original as it was', () => {
    const original = server();
    const snap = snapshotEntity(original);
    expect(snap).not.toBe(original);
    expect(snap).toEqual(original);
    expect(isDeepFrozen(snap)).toBe(true);
    expect(Object.isFrozen(original)).toBe(false);
    expect(isEntitySnapshot(snap)).toBe(true);
    expect(isEntitySnapshot(original)).toBe(false);
    expect(snapshotEntity(snap)).toBe(snap);
  });

  it('a change to the original after the snapshot does not reach the snapshot', () => {
    const original = server();
    const snap = snapshotEntity(original);
    (original.attrs as Record<string, unknown>).name = 'changed';
    (original.parents as unknown[])[0] = { type: 'App::Group', id: 'g2' };
    expect(snap.attrs.name).toBe('web');
    expect(snap.parents).toEqual([{ type: 'App::Group', id: 'g1' }]);
    expect(() => {
      (snap.attrs as Record<string, unknown>).name = 'x';
    }).toThrow(TypeError);
  });

  it('keeps what the readers can tell apart: null prototypes, own undefined values, key order', () => {
    const attrs = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: undefined });
    const snap = snapshotEntity({ uid: { type: 'App::T', id: 'x' }, attrs: attrs as never, parents: [] });
    expect(isEntitySnapshot(snap)).toBe(true);
    expect(Object.getPrototypeOf(snap.attrs)).toBe(null);
    expect(Object.hasOwn(snap.attrs, 'a')).toBe(true);
    expect(Object.keys(snap.attrs)).toEqual(['b', 'a']);
  });

  it('leaves an entity that is not plain JSON data as it is, unregistered', () => {
    const withGetter = server();
    Object.defineProperty(withGetter.attrs, 'name', { get: () => 'web', enumerable: true });
    const hidden = server();
    Object.defineProperty(hidden.attrs, 'secret', { value: 1, enumerable: false });
    const symbolKey = server();
    (symbolKey.attrs as Record<symbol, unknown>)[Symbol('s')] = 1;
    const sparse = server();
    const holes: unknown[] = ['a', 'b'];
    delete holes[0]; // a sparse array
    (sparse.attrs as Record<string, unknown>).labels = holes;
    const cyclic = server();
    (cyclic.attrs as Record<string, unknown>).self = cyclic.attrs;
    const odd: CedarEntity[] = [
      { ...server(), attrs: { when: new Date() as never } },
      { ...server(), attrs: { n: 1n as never } },
      { ...server(), attrs: { f: (() => 1) as never } },
      { ...server(), parents: 'g1' as never },
      { ...server(), uid: null as never },
      withGetter,
      hidden,
      symbolKey,
      sparse,
      cyclic,
    ];
    for (const e of odd) {
      const snap = snapshotEntity(e);
      expect(snap).toBe(e);
      expect(isEntitySnapshot(snap)).toBe(false);
    }
  });
});

describe('entityLinks', () => {
  it('lists the parents, then the uids the attributes name, with their keys', () => {
    const links = entityLinks(server());
    expect(links.key).toBe(entityKey({ type: 'App::Server', id: 'web' }));
    expect(links.refs).toEqual([
      { type: 'App::Group', id: 'g1' },
      { type: 'App::User', id: 'alice' },
      { type: 'App::Env', id: 'prod' },
    ]);
    expect(links.refKeys).toEqual(links.refs.map(entityKey));
  });

  it('is kept for a snapshot, and recomputed for any other entity, so its changes are seen', () => {
    const snap = snapshotEntity(server());
    expect(entityLinks(snap)).toBe(entityLinks(snap));
    for (const [i, ref] of entityLinks(snap).refs.entries()) expect(keyOfRef(ref)).toBe(entityLinks(snap).refKeys[i]);
    expect(keyOfEntity(snap)).toBe(entityLinks(snap).key);

    const plain = server();
    expect(entityLinks(plain).refs).toHaveLength(3);
    (plain.parents as unknown[]).push({ type: 'App::Group', id: 'g2' });
    (plain.attrs as Record<string, unknown>).owner = 'nobody';
    expect(entityLinks(plain).refKeys).toEqual([
      entityKey({ type: 'App::Group', id: 'g1' }),
      entityKey({ type: 'App::Group', id: 'g2' }),
      entityKey({ type: 'App::Env', id: 'prod' }),
    ]);
    // A uid object that is not a snapshot's keeps no key: a change to it is seen.
    const ref = { type: 'App::User', id: 'a' };
    expect(keyOfRef(ref)).toBe(entityKey(ref));
    ref.id = 'b';
    expect(keyOfRef(ref)).toBe(entityKey({ type: 'App::User', id: 'b' }));
  });
});
