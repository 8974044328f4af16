import { postgresDatabase } from '@provisioning/core/postgres';
import { redisStore } from '@provisioning/core/redis';
import { createTestDatabase, integrationServers } from '@provisioning/testing';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { sqlMfaStore } from '../../src/sql.js';
import { describeMfaServiceOn } from '../service-conformance.js';

let url: string;
let drop: () => Promise<void>;
const pools: pg.Pool[] = [];
const clients: Redis[] = [];
const newPool = (): pg.Pool => {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
};
const newClient = (): Redis => {
  const client = new Redis(integrationServers().redisUrl);
  clients.push(client);
  return client;
};

beforeAll(async () => {
  ({ url, drop } = await createTestDatabase(integrationServers().postgresUrl));
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(pools.map((p) => p.end()));
  await drop();
});

let n = 0;
const prefixes = new WeakMap<object, string>();
// Redis holds the hot state (challenges, replay markers, attempt counters);
// PostgreSQL the devices: the production layout for several instances.
describeMfaServiceOn({
  name: 'redis (KeyValueStore) with postgres (MfaStore)',
  realTime: true,
  async open() {
    const prefix = `mfa-${process.pid}-${n++}:`;
    const kv = redisStore({ client: newClient(), prefix });
    prefixes.set(kv, prefix);
    return { store: await sqlMfaStore({ database: postgresDatabase({ pool: newPool() }) }), kv };
  },
  async openPeer(_clock, first) {
    const kv = redisStore({ client: newClient(), prefix: prefixes.get(first.kv) as string });
    return { store: await sqlMfaStore({ database: postgresDatabase({ pool: newPool() }) }), kv };
  },
});
