import { postgresStore } from '@provisioning/core/postgres';
import { redisStore } from '@provisioning/core/redis';
import { createTestDatabase, integrationServers } from '@provisioning/testing';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { describeTokenState } from '../token-state-conformance.js';

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
  client.on('error', () => {});
  clients.push(client);
  return client;
};

beforeAll(async () => {
  ({ url, drop } = await createTestDatabase(integrationServers().postgresUrl));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  for (const c of clients) c.disconnect();
  await drop();
});

let n = 0;
const tables = new WeakMap<object, string>();
// Two pools on one database: two application instances sharing PostgreSQL.
describeTokenState({
  name: 'postgres (two instances)',
  async open(clock) {
    const tableName = `auth_kv_${n++}`;
    const store = await postgresStore({ pool: newPool(), clock, tableName });
    tables.set(store, tableName);
    return store;
  },
  openPeer: async (clock, first) => postgresStore({ pool: newPool(), clock, tableName: tables.get(first) as string }),
});

const prefixes = new WeakMap<object, string>();
// Two client connections to one server: two application instances sharing Redis.
describeTokenState({
  name: 'redis (two instances)',
  async open() {
    const prefix = `auth-${process.pid}-${n++}:`;
    const store = redisStore({ client: newClient(), prefix });
    prefixes.set(store, prefix);
    return store;
  },
  openPeer: async (_clock, first) => redisStore({ client: newClient(), prefix: prefixes.get(first) as string }),
});
