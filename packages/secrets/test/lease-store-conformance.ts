import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Lease, LeaseStore } from '../src/lease.js';

/** A lease store driver under test. */
export interface LeaseStoreDriver {
  readonly name: string;
  /** Opens an empty store. */
  open(): Promise<LeaseStore>;
  /** Opens a second store on the same backend (another instance), if the driver persists. */
  openPeer?(first: LeaseStore): Promise<LeaseStore>;
}

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A lease with sensible defaults. */
export function makeLease(overrides: Partial<Lease> = {}): Lease {
  return {
    id: 'test/0001',
    provider: 'test',
    owner: 'alice',
    ttlSeconds: 60,
    maxTtlSeconds: 600,
    renewable: true,
    createdAt: new Date(T0),
    expiresAt: new Date(T0 + 60_000),
    maxExpiresAt: new Date(T0 + 600_000),
    metadata: { role: 'r_1', note: 'zürich ✓' },
    state: 'active',
    revokeAttempts: 0,
    nextAttemptAt: undefined,
    lastErrorCode: undefined,
    version: 1,
    ...overrides,
  };
}

/**
 * The conformance suite of the {@link LeaseStore} contract: memory, SQLite
 * and PostgreSQL all run it.
 */
export function describeLeaseStore(driver: LeaseStoreDriver): void {
  describe(`LeaseStore conformance: ${driver.name}`, () => {
    let store: LeaseStore;
    const extra: LeaseStore[] = [];
    beforeEach(async () => {
      store = await driver.open();
    });
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await store.close();
    });

    it('round-trips every field of a lease', async () => {
      const lease = makeLease({
        state: 'revoking',
        revokeAttempts: 3,
        nextAttemptAt: new Date(T0 + 5000),
        lastErrorCode: 'ERR_SECRETS_PROVIDER_FAILED',
        renewable: false,
      });
      await store.insert(lease);
      expect(await store.get(lease.id)).toEqual(lease);
      const plain = makeLease({ id: 'test/0002' });
      await store.insert(plain);
      expect(await store.get('test/0002')).toEqual(plain);
      expect(await store.get('test/none')).toBeUndefined();
    });

    it('keeps its own copy: changing the inserted or the returned lease changes nothing stored', async () => {
      const lease = makeLease({ metadata: { role: 'r_1' } });
      await store.insert(lease);
      (lease as { owner: string }).owner = 'mallory';
      (lease.metadata as Record<string, string>).role = 'admin';
      const got = await store.get(lease.id);
      expect(got).toEqual(makeLease({ metadata: { role: 'r_1' } }));
      try {
        (got as { owner: string }).owner = 'mallory';
        (got?.metadata as Record<string, string>).role = 'admin';
      } catch {
        // A frozen lease refuses the change: as good.
      }
      expect(await store.get(lease.id)).toEqual(makeLease({ metadata: { role: 'r_1' } }));
    });

    it("keeps its own times: a caller's Date changed after insert or get moves no stored expiry", async () => {
      const lease = makeLease();
      await store.insert(lease);
      lease.expiresAt.setTime(T0 - 1);
      lease.createdAt.setTime(0);
      const got = await store.get(lease.id);
      expect(got?.expiresAt.getTime()).toBe(T0 + 60_000);
      got?.expiresAt.setTime(T0 - 1);
      got?.maxExpiresAt.setTime(T0 - 1);
      expect(await store.get(lease.id)).toEqual(makeLease());
      // Not due before its real expiry, whatever the callers did to their copies.
      expect(await store.due(new Date(T0 + 1000), 10)).toEqual([]);
    });

    it('refuses a duplicate id and keeps the first lease', async () => {
      await store.insert(makeLease());
      await expect(store.insert(makeLease({ owner: 'mallory' }))).rejects.toMatchObject({
        code: 'ERR_SECRETS_INVALID_REQUEST',
      });
      expect((await store.get('test/0001'))?.owner).toBe('alice');
    });

    it('updates only on the expected version (compare-and-set)', async () => {
      await store.insert(makeLease());
      const renewed = makeLease({ expiresAt: new Date(T0 + 120_000), version: 2 });
      expect(await store.update(renewed, 1)).toBe(true);
      expect(await store.update(makeLease({ owner: 'stale', version: 2 }), 1)).toBe(false);
      expect(await store.get('test/0001')).toEqual(renewed);
      expect(await store.update(makeLease({ id: 'test/none', version: 2 }), 1)).toBe(false);
    });

    it('exactly one of two concurrent updates of the same version wins', async () => {
      await store.insert(makeLease());
      const other = driver.openPeer ? await driver.openPeer(store) : store;
      if (other !== store) extra.push(other);
      const results = await Promise.all([
        store.update(makeLease({ owner: 'a', version: 2 }), 1),
        other.update(makeLease({ owner: 'b', version: 2 }), 1),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('deletes', async () => {
      await store.insert(makeLease());
      expect(await store.delete('test/0001')).toBe(true);
      expect(await store.delete('test/0001')).toBe(false);
      expect(await store.get('test/0001')).toBeUndefined();
    });

    it('lists by owner, provider, prefix and state, in id order, paginated', async () => {
      await store.insert(makeLease({ id: 'ssh/03', provider: 'ssh', owner: 'bob' }));
      await store.insert(makeLease({ id: 'ssh/01', provider: 'ssh', owner: 'alice' }));
      await store.insert(makeLease({ id: 'pg/02', provider: 'pg', owner: 'alice', state: 'revoking' }));
      await store.insert(makeLease({ id: 'ssh_x/04', provider: 'ssh_x', owner: 'alice' }));
      await store.insert(makeLease({ id: 'SSH/05', provider: 'SSH', owner: 'alice' }));
      const ids = (leases: Lease[]) => leases.map((l) => l.id);
      expect(ids(await store.list())).toEqual(['SSH/05', 'pg/02', 'ssh/01', 'ssh/03', 'ssh_x/04']);
      expect(ids(await store.list({ owner: 'alice' }))).toEqual(['SSH/05', 'pg/02', 'ssh/01', 'ssh_x/04']);
      // Prefixes are literal and case-sensitive: `_` and `%` are not wildcards.
      expect(ids(await store.list({ prefix: 'ssh/' }))).toEqual(['ssh/01', 'ssh/03']);
      expect(ids(await store.list({ prefix: 'ssh_' }))).toEqual(['ssh_x/04']);
      expect(ids(await store.list({ prefix: 'ss%' }))).toEqual([]);
      expect(ids(await store.list({ provider: 'pg' }))).toEqual(['pg/02']);
      expect(ids(await store.list({ state: 'revoking' }))).toEqual(['pg/02']);
      expect(ids(await store.list({ limit: 2 }))).toEqual(['SSH/05', 'pg/02']);
      expect(ids(await store.list({ limit: 2, after: 'pg/02' }))).toEqual(['ssh/01', 'ssh/03']);
      await expect(store.list({ limit: 0 })).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_REQUEST' });
    });

    it('returns due leases: expired active ones and revoking ones past their retry time, most overdue first', async () => {
      await store.insert(makeLease({ id: 'a', expiresAt: new Date(T0 + 10_000) }));
      await store.insert(makeLease({ id: 'b', expiresAt: new Date(T0 + 5_000), state: 'creating' }));
      await store.insert(makeLease({ id: 'c', expiresAt: new Date(T0 + 99_000) }));
      await store.insert(
        makeLease({
          id: 'd',
          expiresAt: new Date(T0 + 99_000),
          state: 'revoking',
          nextAttemptAt: new Date(T0 + 7_000),
        }),
      );
      await store.insert(
        makeLease({
          id: 'e',
          expiresAt: new Date(T0 + 1_000),
          state: 'revoking',
          nextAttemptAt: new Date(T0 + 50_000),
        }),
      );
      const due = await store.due(new Date(T0 + 10_000), 100);
      expect(due.map((l) => l.id)).toEqual(['b', 'd', 'a']);
      expect((await store.due(new Date(T0 + 10_000), 2)).map((l) => l.id)).toEqual(['b', 'd']);
      expect(await store.due(new Date(T0), 100)).toEqual([]);
    });

    it('due times follow updates', async () => {
      await store.insert(makeLease({ id: 'a', expiresAt: new Date(T0 + 10_000) }));
      const a = (await store.get('a')) as Lease;
      await store.update({ ...a, state: 'revoking', nextAttemptAt: new Date(T0 + 60_000), version: 2 }, 1);
      expect(await store.due(new Date(T0 + 20_000), 10)).toEqual([]);
      expect((await store.due(new Date(T0 + 60_000), 10)).map((l) => l.id)).toEqual(['a']);
    });

    if (driver.openPeer) {
      it('shares leases with another instance on the same backend', async () => {
        await store.insert(makeLease());
        const peer = await (driver.openPeer as NonNullable<LeaseStoreDriver['openPeer']>)(store);
        extra.push(peer);
        expect((await peer.get('test/0001'))?.owner).toBe('alice');
      });
    }
  });
}
