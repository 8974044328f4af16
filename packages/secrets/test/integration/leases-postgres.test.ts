import { createManualClock } from '@provisioning/core';
import { postgresDatabase } from '@provisioning/core/postgres';
import { usePostgresDatabase } from '@provisioning/testing';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createLeaseManager } from '../../src/manager.js';
import { sqlLeaseStore } from '../../src/stores/sql.js';
import { fakeProvider } from '../fake-provider.js';
import { describeLeaseStore } from '../lease-store-conformance.js';

const db = usePostgresDatabase();
const newPool = (max = 5): pg.Pool => db.pool(max);

let n = 0;
const tables = new WeakMap<object, string>();
describeLeaseStore({
  name: 'postgres',
  async open() {
    const tableName = `leases_${n++}`;
    const store = await sqlLeaseStore({ database: postgresDatabase({ pool: newPool() }), tableName });
    tables.set(store, tableName);
    return store;
  },
  // Another pool: another instance of the application on the same database.
  openPeer: async (first) =>
    sqlLeaseStore({ database: postgresDatabase({ pool: newPool() }), tableName: tables.get(first) as string }),
});

describe('lease manager on postgres', () => {
  it('three instances sweeping one database revoke each expired lease exactly once', async () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const provider = fakeProvider();
    const managers = await Promise.all(
      [0, 1, 2].map(async () =>
        createLeaseManager({
          store: await sqlLeaseStore({ database: postgresDatabase({ pool: newPool() }), tableName: 'leases_shared' }),
          providers: [provider],
          clock,
        }),
      ),
    );
    const [first] = managers;
    for (let i = 0; i < 30; i++) await first?.issue(provider, { scope: String(i) }, { owner: 'a', ttlSeconds: 60 });
    clock.advance(60_000);
    const results = await Promise.all(managers.map((m) => m.sweep({ batchSize: 7 })));
    expect(results.reduce((sum, r) => sum + r.revoked.length, 0)).toBe(30);
    expect(provider.calls.filter((c) => c.startsWith('revoke'))).toHaveLength(30);
    expect(provider.live.size).toBe(0);
  });
});
