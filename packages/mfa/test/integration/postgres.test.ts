import { postgresDatabase, postgresStore } from '@provisioning/core/postgres';
import { usePostgresDatabase } from '@provisioning/testing';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlMfaStore } from '../../src/sql.js';
import { describeMfaStore } from '../mfa-store-conformance.js';
import { describeMfaServiceOn } from '../service-conformance.js';

const db = usePostgresDatabase();
const newPool = (max?: number): pg.Pool => db.pool(max);

describeMfaStore({
  name: 'postgres',
  open: async () => sqlMfaStore({ database: postgresDatabase({ pool: newPool() }) }),
  // Another pool: another instance of the application on the same database.
  openPeer: async () => sqlMfaStore({ database: postgresDatabase({ pool: newPool() }) }),
});

let n = 0;
const tables = new WeakMap<object, string>();
describeMfaServiceOn({
  name: 'postgres (MfaStore and KeyValueStore)',
  async open(clock) {
    const database = postgresDatabase({ pool: newPool() });
    const tableName = `mfa_kv_${n++}`;
    const kv = await postgresStore({ database, clock, tableName });
    tables.set(kv, tableName);
    return { store: await sqlMfaStore({ database }), kv };
  },
  async openPeer(clock, first) {
    const database = postgresDatabase({ pool: newPool() });
    const kv = await postgresStore({ database, clock, tableName: tables.get(first.kv) as string });
    return { store: await sqlMfaStore({ database }), kv };
  },
});

describe('sqlMfaStore on postgres', () => {
  it('migrates once when two instances start at the same time', async () => {
    const [a, b] = await Promise.all([
      sqlMfaStore({ database: postgresDatabase({ pool: newPool(2) }) }),
      sqlMfaStore({ database: postgresDatabase({ pool: newPool(2) }) }),
    ]);
    expect(await a.listDevices('nobody')).toEqual([]);
    expect(await b.countBackupCodes('nobody')).toBe(0);
  });
});
