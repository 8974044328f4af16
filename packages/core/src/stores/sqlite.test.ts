import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { describeGuardedClaimWith } from '../../test/guarded-claim-with.js';
import { describeKeyValueStore } from '../../test/kv-conformance.js';
import { createManualClock } from '../clock.js';
import { CoreError } from '../errors.js';
import { sqliteDatabase, sqliteStore } from '../sqlite.js';
import { sqlStatement } from './sql-statement.js';

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
  // A second store on the same file (in one process it shares the connection).
  openPeer: async (clock, first) => sqliteStore({ filename: files.get(first) as string, clock }),
});

describeGuardedClaimWith({
  name: 'sqlite',
  async open(clock) {
    const filename = join(dir, `claim-with-${n++}.db`);
    const database = sqliteDatabase({ filename });
    // A second handle on the file: the same connection, as a store opened with its own handle has.
    const handle = sqliteDatabase({ filename });
    const kv = await sqliteStore({ database: handle, clock });
    return {
      database,
      kv,
      close: async () => {
        await kv.close();
        await handle.close();
        await database.close();
      },
    };
  },
  async openOther() {
    const database = sqliteDatabase({ filename: join(dir, `claim-other-${n++}.db`) });
    return { database, close: () => database.close() };
  },
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

describe('one connection per file per process', () => {
  // Two connections in one thread deadlock: better-sqlite3 blocks the thread
  // for busy_timeout while the other connection holds a write transaction,
  // which can then never commit, and the waiting statement fails with SQLITE_BUSY.
  it('opens two stores on one file concurrently (their migrations would collide)', async () => {
    const filename = join(dir, 'concurrent-open.db');
    const [a, b] = await Promise.all([sqliteStore({ filename }), sqliteStore({ filename, tableName: 'kv_other' })]);
    await Promise.all([a.set('k', 'a'), b.set('k', 'b')]);
    expect([await a.get('k'), await b.get('k')]).toEqual(['a', 'b']);
    await a.close();
    expect(await b.get('k')).toBe('b');
    await b.close();
  });

  it("queues a write behind another handle's open transaction instead of blocking the thread", async () => {
    const filename = join(dir, 'transaction.db');
    const first = sqliteDatabase({ filename, busyTimeoutMs: 8000 });
    const second = sqliteDatabase({ filename, busyTimeoutMs: 8000 });
    const kv = await sqliteStore({ database: second });
    const events: string[] = [];
    const started = Date.now();
    await Promise.all([
      first.db.transaction().execute(async (trx) => {
        await sql`CREATE TABLE t (x INTEGER)`.execute(trx);
        await new Promise((r) => setTimeout(r, 50)); // the transaction spans an await
        await sql`INSERT INTO t VALUES (1)`.execute(trx);
        events.push('committed');
      }),
      (async () => {
        await new Promise((r) => setTimeout(r, 10));
        await kv.set('during', 'the transaction');
        events.push('written');
      })(),
    ]);
    // With a second connection the write would have held the thread for the 8 s busy timeout.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(events).toEqual(['committed', 'written']);
    expect(await kv.get('during')).toBe('the transaction');
    await kv.close();
    await first.close();
    // The connection stays open until its last handle closes.
    expect(
      await second.run('count', (db) => sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(db)),
    ).toMatchObject({ rows: [{ n: 1 }] });
    await second.close();
    await expect(second.run('after', async () => 1)).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' });
  });

  it("keeps a store write issued during another handle's transaction out of that transaction", async () => {
    // Statements run directly on the connection only while no transaction is
    // open; otherwise they would become part of it (and roll back with it).
    const filename = join(dir, 'rollback.db');
    const database = sqliteDatabase({ filename });
    const kv = await sqliteStore({ filename });
    await sql`CREATE TABLE t (x INTEGER)`.execute(database.db);
    const rolledBack = database.db
      .transaction()
      .execute(async (trx) => {
        await sql`INSERT INTO t VALUES (1)`.execute(trx);
        await new Promise((r) => setTimeout(r, 30));
        throw new Error('roll back');
      })
      .catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 5)); // the transaction is open now
    await Promise.all([kv.set('during', 'kept'), kv.setIfAbsent('claim', '1', { alsoDelete: ['during:x'] })]);
    expect(await rolledBack).toBe('roll back');
    expect(await kv.getMany(['during', 'claim'])).toEqual(['kept', '1']);
    expect((await sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(database.db)).rows).toEqual([{ n: 0 }]);
    await kv.close();
    await database.close();
  });

  it('refuses to share a connection opened with other settings', () => {
    const filename = join(dir, 'settings.db');
    const database = sqliteDatabase({ filename });
    expect(() => sqliteDatabase({ filename, synchronous: 'full' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTIONS' }),
    );
    expect(() => sqliteDatabase({ filename, busyTimeoutMs: 10 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTIONS' }),
    );
    return database.close();
  });

  it('opens a file again after its last handle closed', async () => {
    const filename = join(dir, 'reopen.db');
    const a = await sqliteStore({ filename });
    await a.set('k', 'v');
    await a.close();
    // Closed, so other settings are fine now.
    const database = sqliteDatabase({ filename, synchronous: 'full' });
    const b = await sqliteStore({ database });
    expect(await b.get('k')).toBe('v');
    await b.close();
    await database.close();
  });
});

describe('sqlite across processes', () => {
  // In one process every store on a file shares one connection, so the
  // two-instance conformance cases above run on one connection; these run
  // on two, in two processes, as two instances of a server would.
  it('keeps increment exact, setIfAbsent single-winner and the guardedClaim cap between two processes', async () => {
    const { spawn } = await import('node:child_process');
    const filename = join(dir, 'two-processes.db');
    await (await sqliteStore({ filename })).close(); // create the table before the race
    const script = `
      import { sqliteStore } from './src/sqlite.ts';
      const [filename, tag] = process.argv.slice(-2);
      const store = await sqliteStore({ filename });
      const wins = [];
      let failed = 0;
      await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        await store.increment('hits', { ttlSeconds: 600 });
        if (await store.setIfAbsent('step:' + (i % 50), tag, { ttlSeconds: 600, alsoDelete: ['reset:' + (i % 50)] })) wins.push(i % 50);
        const r = await store.guardedClaim({ counterKey: 'cap', maxFailures: 30, windowSeconds: 600 });
        if (r.outcome === 'failed') failed += 1;
      }));
      await store.close();
      process.stdout.write(JSON.stringify({ wins, failed }));
    `;
    const run = (tag: string) =>
      new Promise<{ wins: number[]; failed: number }>((resolve, reject) => {
        let out = '';
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--conditions=@provisioning/source', '--input-type=module', '-e', script, filename, tag],
          { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] },
        );
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        child.on('close', (code) =>
          code === 0
            ? resolve(JSON.parse(out) as { wins: number[]; failed: number })
            : reject(new Error(`exit ${code}`)),
        );
      });
    const [a, b] = await Promise.all([run('a'), run('b')]);
    const store = await sqliteStore({ filename });
    expect(await store.get('hits')).toBe('400');
    // Every one of the 50 steps was won exactly once, by one process or the other.
    expect([...a.wins, ...b.wins].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // Of 400 failing attempts from two processes, exactly maxFailures were answered before the lock.
    expect(a.failed + b.failed).toBe(30);
    expect(await store.get('cap')).toBe('30');
    await store.close();
  }, 60_000);
});

describe('sqlStatement', () => {
  it('compiles once and binds named parameters in the order the query uses them, repeats included', async () => {
    const database = sqliteDatabase({ filename: ':memory:' });
    await sql`CREATE TABLE p (a TEXT, b INTEGER)`.execute(database.db);
    const insert = sqlStatement<{ a: string; b: number }>(database, 'insert', (p, db) =>
      sql`INSERT INTO p (b, a) VALUES (${p.b}, ${p.a})`.compile(db),
    );
    const find = sqlStatement<{ a: string; min: number }, { a: string; b: number }>(database, 'find', (p, db) =>
      sql`SELECT a, b FROM p WHERE (a = ${p.a} OR ${p.a} = '*') AND b >= ${p.min} ORDER BY b`.compile(db),
    );
    expect(insert.sql).toBe('INSERT INTO p (b, a) VALUES (?, ?)');
    expect((await insert.execute({ a: 'x', b: 1 })).numAffectedRows).toBe(1n);
    await insert.execute({ a: 'y', b: 2 });
    expect(find.values({ a: 'x', min: 0 })).toEqual(['x', 'x', 0]);
    expect((await find.execute({ a: '*', min: 2 })).rows).toEqual([{ a: 'y', b: 2 }]);
    expect((await find.execute({ a: 'x', min: 0 })).rows).toEqual([{ a: 'x', b: 1 }]);
    await database.close();
    await expect(find.execute({ a: 'x', min: 0 })).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' });
  });

  it('refuses a query with a parameter that is not a named stand-in', () => {
    const database = sqliteDatabase({ filename: ':memory:' });
    expect(() => sqlStatement(database, 'bad', (_p, db) => sql`SELECT ${42} AS n`.compile(db))).toThrow(TypeError);
    return database.close();
  });
});
