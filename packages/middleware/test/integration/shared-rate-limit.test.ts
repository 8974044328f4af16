import { redisStore } from '@provisioning/core/redis';
import { integrationServers } from '@provisioning/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createSecurityChain } from '../../src/chain.js';

const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});

const instance = (prefix: string) => {
  const client = new Redis(integrationServers().redisUrl);
  clients.push(client);
  return createSecurityChain({
    authenticator: { authenticate: async () => ({ id: 'u1', type: 'user', roles: ['Viewer'] }) },
    authorizer: { authorize: async () => ({ allowed: true }) },
    rateLimit: { store: redisStore({ client, prefix }), perIp: 10, perPrincipal: 1000, windowSeconds: 60 },
  });
};

describe('rate limits shared through Redis', () => {
  it('two instances on one Redis enforce one limit per IP', async () => {
    const prefix = `rl-${process.pid}-${Date.now()}:`;
    const [a, b] = [instance(prefix), instance(prefix)];
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b)
          .handle(
            new Request('http://x/s', { headers: { authorization: 'Bearer t' } }),
            { action: 'read' },
            { clientAddress: '203.0.113.77' },
            () => Response.json({}),
          )
          .then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    // A third instance sees the spent window too.
    const c = instance(prefix);
    const res = await c.handle(
      new Request('http://x/s', { headers: { authorization: 'Bearer t' } }),
      { action: 'read' },
      { clientAddress: '203.0.113.77' },
      () => Response.json({}),
    );
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
