import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { describeKeyValueStore } from '../../test/kv-conformance.js';
import { createManualClock } from '../clock.js';
import { CoreError } from '../errors.js';
import { sqliteDatabase, sqliteStore } from '../sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const files = new WeakMap<object, string>();

describeKeyValueStore({
  name: 'sqlite',
  async open(clock) {
    const filename = join(dir, `kv-${n++}.db`);
    const store = await sqliteStore({ filename, clock });
    files.set(store, filename);
    return store;
  },
  // A second connection to the same file, as a second process would have.
  openPeer: async (clock, first) => sqliteStore({ filename: files.get(first) as string, clock }),
});

describe('sqlite durability', () => {
  it('keeps values, counters and TTLs across close and reopen', async () => {
    const filename = join(dir, 'durable.db');
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const first = await sqliteStore({ filename, clock });
    await first.set('token:1', 'revoked', { ttlSeconds: 3600 });
    await first.set('forever', 'yes');
    await first.increment('count', { by: 41 });
    await first.close();

    const second = await sqliteStore({ filename, clock });
    expect(await second.get('token:1')).toBe('revoked');
    expect(await second.get('forever')).toBe('yes');
    expect((await second.increment('count')).value).toBe(42);
    clock.advance(3_600_001);
    expect(await second.get('token:1')).toBeUndefined();
    expect(await second.purgeExpired()).toBe(1);
    await second.close();
  });

  it('shares a database handle with other stores and leaves it open', async () => {
    const database = sqliteDatabase({ filename: join(dir, 'shared.db') });
    const a = await sqliteStore({ database, tableName: 'kv_a' });
    const b = await sqliteStore({ database, tableName: 'kv_b' });
    await a.set('k', 'a');
    await b.set('k', 'b');
    await a.close();
    expect(await b.get('k')).toBe('b');
    await b.close();
    await database.close();
  });

  it('reuses prepared statements without stale results: after a schema change, past the ones it keeps, streamed', async () => {
    const database = sqliteDatabase({ filename: join(dir, 'statements.db') });
    const k = database.db as Kysely<any>;
    await sql`CREATE TABLE t (a INTEGER)`.execute(k);
    await sql`INSERT INTO t VALUES (1), (2)`.execute(k);
    const all = async () => (await sql`SELECT * FROM t ORDER BY a`.execute(k)).rows;
    expect(await all()).toEqual([{ a: 1 }, { a: 2 }]);
    await sql`ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'`.execute(k);
    await sql`INSERT INTO t (a, b) VALUES (3, 'y')`.execute(k);
    // The same text, a kept statement: it sees the new column and the new row.
    expect(await all()).toEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'x' },
      { a: 3, b: 'y' },
    ]);
    // More distinct statements than are kept, then the first ones again.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 300; i++) {
        expect((await sql`SELECT ${sql.lit(i)} AS n, count(*) AS c FROM t`.execute(k)).rows).toEqual([{ n: i, c: 3 }]);
      }
    }
    for (let round = 0; round < 2; round++) {
      const seen: number[] = [];
      for await (const row of k.selectFrom('t').select('a').orderBy('a').stream()) seen.push(row.a as number);
      expect(seen).toEqual([1, 2, 3]);
    }
    await database.close();
  });

  it('rejects a bad table name and an unopenable file at construction', async () => {
    await expect(sqliteStore({ filename: join(dir, 'x.db'), tableName: 'kv; DROP TABLE x' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTIONS',
    });
    expect(() => sqliteDatabase({ filename: join(dir, 'missing-dir', 'sub', 'x.db') })).toThrow(CoreError);
  });
});
