import { integrationServers } from '@provisioning/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreError } from '../../src/errors.js';
import { redisStore } from '../../src/redis.js';
import { describeKeyValueStore } from '../kv-conformance.js';

let url: string;
const clients: Redis[] = [];
const newClient = (u = url, extra: Record<string, unknown> = {}): Redis => {
  const client = new Redis(u, { lazyConnect: false, ...extra });
  clients.push(client);
  return client;
};

beforeAll(() => {
  url = integrationServers().redisUrl;
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
});

let n = 0;
const prefixes = new WeakMap<object, string>();
describeKeyValueStore({
  name: 'redis',
  realTime: true,
  async open() {
    const prefix = `t${process.pid}-${n++}:`;
    const store = redisStore({ client: newClient(), prefix });
    prefixes.set(store, prefix);
    return store;
  },
  // A second client connection: another instance sharing the server.
  openPeer: async (_clock, first) => redisStore({ client: newClient(), prefix: prefixes.get(first) as string }),
});

describe('redis failures', () => {
  it('reports an unreachable server as retryable ERR_STORE_UNAVAILABLE', async () => {
    const client = newClient('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    client.on('error', () => {});
    const store = redisStore({ client });
    const error = await store.set('k', 'v').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoreError);
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', retryable: true, fault: 'server' });
  });

  it('keeps values of other stores sharing the server apart by prefix', async () => {
    const a = redisStore({ client: newClient(), prefix: `iso-a-${process.pid}:` });
    const b = redisStore({ client: newClient(), prefix: `iso-b-${process.pid}:` });
    await a.set('k', 'a');
    expect(await b.get('k')).toBeUndefined();
    expect(await b.list('')).toEqual([]);
  });

  it('refuses a client that is not ioredis at construction', () => {
    expect(() => redisStore({ client: {} as Redis })).toThrow(CoreError);
  });
});
