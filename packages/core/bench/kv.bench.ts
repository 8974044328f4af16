// Operations per second of the KeyValueStore drivers: get, getMany of three
// keys (beside three parallel gets), set, consume and increment, one awaited operation at a time (latency-bound, as a request
// handler sees it). PostgreSQL and Redis are real servers started on loopback.

import { join } from 'node:path';
import { benchFigures, formatOps, machineLine, startPostgres, startRedis, tempDir } from '@provisioning/testing';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Bench } from 'tinybench';
import { memoryStore } from '../src/index.js';
import type { KeyValueStore } from '../src/kv.js';
import { postgresStore } from '../src/postgres.js';
import { redisStore } from '../src/redis.js';
import { sqliteStore } from '../src/sqlite.js';

const dir = tempDir('kv-bench-');
const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
pool.on('error', () => {});
const client = new Redis(redis.url);

const drivers: Array<[string, KeyValueStore]> = [
  ['memory', memoryStore()],
  ['sqlite', await sqliteStore({ filename: join(dir.path, 'bench.db') })],
  ['postgres', await postgresStore({ pool })],
  ['redis', redisStore({ client })],
];

const rows: Record<string, Record<string, string>> = {};
for (const [name, store] of drivers) {
  let i = 0;
  await store.set('bench:get', 'value-of-a-typical-size-0123456789abcdef');
  const bench = new Bench({ time: 1000, warmupTime: 200 });
  bench
    .add('get', async () => {
      await store.get('bench:get');
    })
    .add('3 gets (parallel)', async () => {
      await Promise.all([store.get('bench:get'), store.get('bench:none:1'), store.get('bench:none:2')]);
    })
    .add('getMany (3 keys)', async () => {
      await store.getMany(['bench:get', 'bench:none:1', 'bench:none:2']);
    })
    .add('set', async () => {
      await store.set(`bench:set:${i++ % 10_000}`, 'value-of-a-typical-size-0123456789abcdef', { ttlSeconds: 60 });
    })
    .add('consume', async () => {
      // A set then a consume: the consume is half the measured pair.
      const key = `bench:consume:${i++}`;
      await store.set(key, 'challenge', { ttlSeconds: 60 });
      await store.consume(key);
    })
    .add('increment', async () => {
      await store.increment(`bench:ctr:${i++ % 100}`, { ttlSeconds: 60 });
    });
  await bench.run();
  rows[name] = Object.fromEntries(
    benchFigures(bench).map((f) => [f.name === 'consume' ? 'set+consume' : f.name, formatOps(f)]),
  );
  await store.close();
}
console.log(machineLine());
console.log('operations per second, one at a time (higher is better)');
console.table(rows);

// The memory store's expiry sweep under a large live set (rate-limit counters of many clients,
// revocations with a 7-day TTL): set latency, mean and worst, over writes with a million entries
// that have not expired. A sweep of the whole map on one write would show as that write's stall.
{
  const LIVE = 1_000_000;
  const WRITES = 20_000;
  const store = memoryStore();
  for (let i = 0; i < LIVE; i++) await store.set(`live:${i}`, 'v', { ttlSeconds: 3600 });
  const times = new Float64Array(WRITES);
  for (let i = 0; i < WRITES; i++) {
    const t = performance.now();
    await store.set(`w:${i % 100}`, 'v', { ttlSeconds: 60 });
    times[i] = performance.now() - t;
  }
  times.sort();
  const mean = times.reduce((a, b) => a + b, 0) / WRITES;
  console.log(
    `memory store, ${LIVE.toLocaleString('en-US')} live entries, ${WRITES.toLocaleString('en-US')} sets: ` +
      `mean ${(mean * 1000).toFixed(2)} µs, p99.9 ${(times[Math.floor(WRITES * 0.999)] as number).toFixed(3)} ms, ` +
      `max ${(times[WRITES - 1] as number).toFixed(3)} ms`,
  );
  await store.close();
}

client.disconnect();
await pool.end();
await Promise.all([postgres.stop(), redis.stop()]);
dir.remove();
