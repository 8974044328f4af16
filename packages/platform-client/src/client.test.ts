import { describe, expect, it } from 'vitest';
import { json, ok, testClient } from '../test/helpers.js';

describe('health of every service in one call', () => {
  it('probes the five services in parallel and reports each, never throwing', async () => {
    const { client, seen } = testClient(
      (req) => {
        switch (req.url.pathname) {
          case '/health':
            return req.url.port === '8080' ? ok('Orchestrator is healthy') : ok({ status: 'healthy' });
          case '/api/v1/kms/health':
            return ok({ status: 'degraded', backend: 'age' });
          case '/v1/health':
            return json({ status: 'healthy' });
          default:
            throw new TypeError('fetch failed');
        }
      },
      { baseUrl: undefined, host: '10.0.0.1', retry: false },
    );
    const health = await client.health();
    expect(health.healthy).toBe(false);
    expect(health.services.orchestrator).toMatchObject({
      healthy: true,
      detail: 'Orchestrator is healthy',
      url: 'http://10.0.0.1:8080',
    });
    expect(health.services.controlCenter.healthy).toBe(true);
    expect(health.services.kms.healthy).toBe(false);
    expect(health.services.apiServer.healthy).toBe(true);
    expect(health.services.extensionRegistry).toMatchObject({ healthy: false, error: { code: 'ERR_CLIENT_NETWORK' } });
    expect(new Set(seen.map((r) => r.url.port))).toEqual(new Set(['8080', '9090', '8082', '8083', '8084']));
  });

  it('uses per-service base URLs over baseUrl', () => {
    const { client } = testClient(() => ok(null), { baseUrls: { kms: 'https://kms.internal/' } });
    expect(client.kms.baseUrl).toBe('https://kms.internal');
    expect(client.orchestrator.baseUrl).toBe('http://platform.test');
  });
});

describe('KMS', () => {
  it('sends base64 plaintext with the context and decodes decrypt answers to bytes', async () => {
    const { client, seen } = testClient(
      (req) =>
        req.url.pathname.endsWith('/encrypt')
          ? ok({ ciphertext: 'age1...', key_id: 'k1' })
          : ok({ plaintext: Buffer.from('hello').toString('base64'), key_id: 'k1' }),
      { auth: { type: 'apiKey', apiKey: 'k' } },
    );
    await client.kms.encrypt('hello', { tenant: 't1' });
    expect(seen[0]?.body).toEqual({ plaintext: 'aGVsbG8=', context: { tenant: 't1' } });
    const out = await client.kms.decrypt('age1...', { tenant: 't1' });
    expect(new TextDecoder().decode(out.plaintext)).toBe('hello');
  });
});
