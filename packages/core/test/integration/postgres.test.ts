import { usePostgresDatabase } from '@provisioning/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { CoreError } from '../../src/errors.js';
import { postgresDatabase, postgresStore } from '../../src/postgres.js';
import { migrate } from '../../src/stores/sql-database.js';
import type { SqlKeyValueStore } from '../../src/stores/sql-kv.js';
import { describeGuardedClaimWith } from '../guarded-claim-with.js';
import { describeKeyValueStore } from '../kv-conformance.js';

const db = usePostgresDatabase();
const newPool = (max = 20): pg.Pool => db.pool(max);

// The conformance suite opens two stores per test, each on a pool of its own
// with up to 20 connections: those pools end with their store, so the idle
// connections of finished tests do not add up past the server's max_connections.
const conformancePools = new Set<pg.Pool>();
const endedWithStore = async (open: (pool: pg.Pool) => Promise<SqlKeyValueStore>): Promise<SqlKeyValueStore> => {
  const pool = new pg.Pool({ connectionString: db.url, max: 20 });
  pool.on('error', () => {});
  conformancePools.add(pool);
  const store = await open(pool);
  const close = store.close;
  store.close = async () => {
    await close();
    if (conformancePools.delete(pool)) await pool.end();
  };
  return store;
};
afterAll(async () => {
  await Promise.all([...conformancePools].map((pool) => pool.end()));
});

let n = 0;
const tables = new WeakMap<object, string>();
describeKeyValueStore({
  name: 'postgres',
  async open(clock) {
    const tableName = `kv_${n++}`;
    const store = await endedWithStore((pool) => postgresStore({ pool, clock, tableName }));
    tables.set(store, tableName);
    return store;
  },
  // Another pool: another instance of the application on the same database.
  openPeer: async (clock, first) =>
    endedWithStore((pool) => postgresStore({ pool, clock, tableName: tables.get(first) as string })),
});

describeGuardedClaimWith({
  name: 'postgres',
  async open(clock) {
    const database = postgresDatabase({ pool: newPool(4) });
    const kv = await postgresStore({ database, clock, tableName: `kv_with_${n++}` });
    return { database, kv, close: () => kv.close() };
  },
  async openOther() {
    return { database: postgresDatabase({ pool: newPool(2) }), close: async () => {} };
  },
});

describe('postgres failures', () => {
  it('reports an unreachable server as retryable ERR_STORE_UNAVAILABLE', async () => {
    const store = await postgresStore({ pool: newPool(), tableName: 'kv_down' });
    const dead = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/postgres',
      connectionTimeoutMillis: 2000,
    });
    dead.on('error', () => {});
    const down = await postgresStore({ database: postgresDatabase({ pool: dead }) }).catch((e: unknown) => e);
    await dead.end();
    expect(down).toBeInstanceOf(CoreError);
    expect(down).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', retryable: true, fault: 'server' });
    await store.close();
  });

  it('survives a killed backend connection: the failed call is retryable and nothing is half-written', async () => {
    const pool = newPool(1);
    const store = await postgresStore({ pool, tableName: 'kv_kill' });
    await store.set('k', 'before');
    const client = await pool.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    client.release();
    const admin = newPool(1);
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    const failed = await store.set('k', 'during').catch((e: unknown) => e);
    if (failed !== undefined) {
      expect(failed).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', retryable: true });
      expect(await store.get('k')).toBe('before');
    } else {
      expect(await store.get('k')).toBe('during');
    }
    // The pool replaced the connection: the store works again.
    await store.set('k', 'after');
    expect(await store.get('k')).toBe('after');
    await store.close();
  });

  it('keeps the pool open on close: it belongs to the caller', async () => {
    const pool = newPool(2);
    const store = await postgresStore({ pool, tableName: 'kv_owner' });
    await store.close();
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]?.one).toBe(1);
  });

  it('applies a migration once even when two instances migrate at the same time', async () => {
    const clock = createManualClock();
    const calls: string[] = [];
    const migration = {
      id: '0001-once',
      async up(db: import('kysely').Kysely<any>) {
        calls.push('up');
        await db.schema.createTable('once_table').addColumn('id', 'integer').execute();
      },
    };
    const a = postgresDatabase({ pool: newPool() });
    const b = postgresDatabase({ pool: newPool() });
    await Promise.all([migrate(a, 'once', [migration]), migrate(b, 'once', [migration])]);
    expect(calls).toEqual(['up']);
    void clock;
  });

  it('rolls back a failing migration completely', async () => {
    const database = postgresDatabase({ pool: newPool() });
    const broken = {
      id: '0001-broken',
      async up(db: import('kysely').Kysely<any>) {
        await db.schema.createTable('half_table').addColumn('id', 'integer').execute();
        await db.schema.createTable('half_table').addColumn('id', 'integer').execute();
      },
    };
    await expect(migrate(database, 'broken', [broken])).rejects.toMatchObject({ code: 'ERR_STORE_MIGRATION' });
    const { rows } = await newPool(1).query("SELECT to_regclass('half_table') AS t");
    expect(rows[0]?.t).toBeNull();
  });
});
