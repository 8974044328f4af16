import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../src/clock.js';
import type { KeyValueStore } from '../src/kv.js';
import { memoryStore } from '../src/stores/memory.js';
import type { SqlDatabase } from '../src/stores/sql-database.js';
import { guardedClaimWith } from '../src/stores/sql-kv.js';
import { sqlStatement } from '../src/stores/sql-statement.js';

/** A SQL driver under test: a database and a key/value store on it, and another database (not shared). */
export interface ClaimWithDriver {
  readonly name: string;
  /** A database handle and a key/value store on the same connection (a unique table per call). */
  open(clock: ManualClock): Promise<{ database: SqlDatabase; kv: KeyValueStore; close(): Promise<void> }>;
  /** A handle on another connection (another pool, another file). */
  openOther(): Promise<{ database: SqlDatabase; close(): Promise<void> }>;
}

/**
 * `guardedClaimWith`: the follow-up write commits with a `claimed` outcome and
 * only then; it rolls the claim back when it fails; a store on another
 * connection, or a store that is not SQL, declines with `undefined`.
 */
export function describeGuardedClaimWith(driver: ClaimWithDriver): void {
  describe(`guardedClaimWith: ${driver.name}`, () => {
    const toClose: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of toClose.splice(0).reverse()) await close();
    });
    let n = 0;

    async function setup() {
      const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
      const opened = await driver.open(clock);
      toClose.push(opened.close);
      const { database, kv } = opened;
      // The other store's table: one row whose `n` the follow-up adds to.
      const table = `follow_${process.pid}_${n++}_${Math.floor(Math.random() * 1e9)}`;
      await database.run('test', (db) =>
        sql`CREATE TABLE ${sql.table(table)} (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`.execute(db),
      );
      await database.run('test', (db) => sql`INSERT INTO ${sql.table(table)} (id, n) VALUES ('x', 0)`.execute(db));
      const bump = sqlStatement<{ by: number }>(database, 'bump', (p, db) =>
        sql`UPDATE ${sql.table(table)} SET n = n + ${p.by} WHERE id = 'x'`.compile(db),
      );
      // Fails at run time (a NOT NULL column set to NULL), after the claim's statements.
      const broken = sqlStatement<{ v: null }>(database, 'broken', (p, db) =>
        sql`UPDATE ${sql.table(table)} SET n = ${p.v} WHERE id = 'x'`.compile(db),
      );
      const count = async (): Promise<number> => {
        const { rows } = await database.run('test', (db) =>
          sql<{ n: number | string }>`SELECT n FROM ${sql.table(table)} WHERE id = 'x'`.execute(db),
        );
        return Number(rows[0]?.n);
      };
      const follow = { sql: bump.sql, values: bump.values({ by: 1 }) };
      return { clock, database, kv, bump, broken, count, follow };
    }

    const limit = { counterKey: 'attempts:u', maxFailures: 2, windowSeconds: 60 };
    const marker = (key = 'used:d:1') => ({ key, value: '1', ttlSeconds: 90 });

    it('runs the follow-up in the claim, and only when the outcome is claimed', async () => {
      const { database, kv, count, follow } = await setup();
      const claimed = await guardedClaimWith(kv, database, { ...limit, claim: marker() }, follow);
      expect(claimed).toMatchObject({ outcome: 'claimed', failures: 0 });
      expect(await count()).toBe(1);
      expect(await kv.get('used:d:1')).toBe('1');
      // A replay: counted, no follow-up.
      const replayed = await guardedClaimWith(kv, database, { ...limit, claim: marker() }, follow);
      expect(replayed).toMatchObject({ outcome: 'replayed', failures: 1 });
      expect(await count()).toBe(1);
      // No claim (a wrong code): counted, no follow-up.
      expect(await guardedClaimWith(kv, database, limit, follow)).toMatchObject({ outcome: 'failed', failures: 2 });
      expect(await count()).toBe(1);
      // Locked: nothing changes, not even with a fresh marker.
      const locked = await guardedClaimWith(kv, database, { ...limit, claim: marker('used:d:2') }, follow);
      expect(locked).toMatchObject({ outcome: 'locked', failures: 2 });
      expect(await count()).toBe(1);
      expect(await kv.get('used:d:2')).toBeUndefined();
      expect(await kv.get('attempts:u')).toBe('2');
    });

    it('decides exactly as guardedClaim does (same outcomes, same stored state)', async () => {
      const a = await setup();
      const b = await setup();
      const l3 = { ...limit, maxFailures: 3 };
      const script = [
        { ...l3, claim: marker('m1') },
        l3,
        { ...l3, claim: marker('m1') },
        { ...l3, claim: marker('m2') },
        l3,
        l3,
        { ...l3, claim: marker('m3') },
        l3,
        l3,
        { ...l3, claim: marker('m3') },
        { ...l3, claim: marker('m4') },
      ];
      for (const options of script) {
        const withFollow = await guardedClaimWith(a.kv, a.database, options, a.follow);
        const plain = await b.kv.guardedClaim(options);
        expect(withFollow).toEqual(plain);
      }
      const keys = ['m1', 'm2', 'm3', 'm4', 'attempts:u'];
      expect(await a.kv.getMany(keys)).toEqual(await b.kv.getMany(keys));
      expect(await b.kv.getMany(keys)).toEqual(['1', '1', '1', undefined, '3']);
      expect(await a.count()).toBe(3); // m1, m2 and m3 were claimed; m4 was locked out
    });

    it('deletes the counter with a claim and runs the follow-up once per claim', async () => {
      const { database, kv, count, follow } = await setup();
      await kv.guardedClaim(limit);
      expect(await kv.get('attempts:u')).toBe('1');
      await guardedClaimWith(kv, database, { ...limit, claim: marker() }, follow);
      expect(await kv.get('attempts:u')).toBeUndefined();
      expect(await count()).toBe(1);
    });

    it('rolls the claim back when the follow-up fails: no marker, the counter as it was', async () => {
      const { database, kv, count, broken } = await setup();
      await kv.guardedClaim(limit);
      const failed = await guardedClaimWith(
        kv,
        database,
        { ...limit, claim: marker() },
        { sql: broken.sql, values: broken.values({ v: null }) },
      )?.catch((e: unknown) => e);
      expect(failed).toMatchObject({ name: 'CoreError' });
      expect(await kv.get('used:d:1')).toBeUndefined();
      expect(await kv.get('attempts:u')).toBe('1');
      expect(await count()).toBe(0);
      // The connection is usable again, and the marker still claimable.
      expect(await kv.guardedClaim({ ...limit, claim: marker() })).toMatchObject({ outcome: 'claimed' });
    });

    it('declines, doing nothing, for a database on another connection or a store that is not SQL', async () => {
      const { kv, follow } = await setup();
      const other = await driver.openOther();
      toClose.push(other.close);
      expect(guardedClaimWith(kv, other.database, { ...limit, claim: marker() }, follow)).toBeUndefined();
      const memory = memoryStore();
      expect(guardedClaimWith(memory, other.database, { ...limit, claim: marker() }, follow)).toBeUndefined();
      expect(await kv.get('used:d:1')).toBeUndefined();
      expect(await kv.get('attempts:u')).toBeUndefined();
    });

    it('validates the claim options like guardedClaim (nothing written)', async () => {
      const { database, kv, count, follow } = await setup();
      await expect(
        guardedClaimWith(kv, database, { ...limit, maxFailures: 0, claim: marker() }, follow),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
      expect(await count()).toBe(0);
    });
  });
}
