import { postgresDatabase } from '@provisioning/core/postgres';
import { createTestDatabase, integrationServers } from '@provisioning/testing';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { sqlUserStore } from '../../src/sql.js';
import { describeUserStore } from '../user-store-conformance.js';

let drop: () => Promise<void>;
const pools: pg.Pool[] = [];
const drops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  ({ drop } = await createTestDatabase(integrationServers().postgresUrl));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  for (const d of drops) await d();
  await drop();
});

describeUserStore({
  name: 'postgres',
  async open(clock) {
    // A fresh database per test: the suite expects an empty store.
    const fresh = await createTestDatabase(integrationServers().postgresUrl);
    drops.push(fresh.drop);
    const pool = new pg.Pool({ connectionString: fresh.url, max: 4 });
    pool.on('error', () => {});
    pools.push(pool);
    return sqlUserStore({ database: postgresDatabase({ pool }), clock });
  },
});
