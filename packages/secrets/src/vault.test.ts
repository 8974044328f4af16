import { createManualClock } from '@provisioning/core';
import { json, startFixture } from '@provisioning/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createLeaseManager } from './manager.js';
import { memoryLeaseStore } from './stores/memory.js';
import { vaultDynamicSecretsProvider } from './vault.js';

// An in-process fixture following Vault's documented HTTP API:
// GET /v1/<path> (lease-backed read), PUT /v1/sys/leases/renew, PUT /v1/sys/leases/revoke.
const TOKEN = 'hvs.test-token';
async function vaultFixture(options: { maxTtl?: number; failRevoke?: number } = {}) {
  const leases = new Map<string, number>();
  let failRevoke = options.failRevoke ?? 0;
  let n = 0;
  const fixture = await startFixture((req, res) => {
    if (req.headers['x-vault-token'] !== TOKEN) return json(res, 403, { errors: ['permission denied'] });
    if (req.method === 'GET' && req.url === '/v1/database/creds/readonly') {
      const id = `database/creds/readonly/L${n++}`;
      leases.set(id, 3600);
      return json(res, 200, {
        request_id: 'r',
        lease_id: id,
        renewable: true,
        lease_duration: 3600,
        data: { username: `v-token-readonly-${n}`, password: 'A1a-vault-password' },
      });
    }
    if (req.method === 'PUT' && req.url === '/v1/sys/leases/renew') {
      const { lease_id, increment } = req.body as { lease_id: string; increment: number };
      if (!leases.has(lease_id)) return json(res, 400, { errors: ['lease not found'] });
      const granted = Math.min(increment, options.maxTtl ?? increment);
      return json(res, 200, { lease_id, renewable: true, lease_duration: granted });
    }
    if (req.method === 'PUT' && req.url === '/v1/sys/leases/revoke') {
      if (failRevoke > 0) {
        failRevoke -= 1;
        return json(res, 503, { errors: ['Vault is sealed'] });
      }
      leases.delete((req.body as { lease_id: string }).lease_id);
      return json(res, 204);
    }
    return json(res, 404, { errors: [] });
  });
  return { ...fixture, leases };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('Vault dynamic secrets provider (HTTP fixture)', () => {
  it('reads a lease-backed path; the platform lease follows Vault lease_duration', async () => {
    const vault = await vaultFixture();
    close = vault.close;
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const provider = vaultDynamicSecretsProvider({ address: vault.url, token: TOKEN, namespace: 'team-a' });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], clock });
    const { lease, secret } = await leases.issue(
      provider,
      { path: 'database/creds/readonly' },
      { owner: 'alice', ttlSeconds: 7200 },
    );
    expect(secret.data).toMatchObject({ username: 'v-token-readonly-1' });
    expect(secret.vaultLeaseId).toBe('database/creds/readonly/L0');
    expect(lease.metadata).toEqual({ vaultLeaseId: 'database/creds/readonly/L0', path: 'database/creds/readonly' });
    expect(lease.expiresAt).toEqual(new Date('2026-01-01T01:00:00Z'));
    expect(JSON.stringify(lease)).not.toContain('A1a-vault-password');
    expect(vault.received[0]?.headers['x-vault-namespace']).toBe('team-a');
  });

  it('renews through /v1/sys/leases/renew and follows a shorter grant', async () => {
    const vault = await vaultFixture({ maxTtl: 600 });
    close = vault.close;
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const provider = vaultDynamicSecretsProvider({ address: vault.url, token: async () => TOKEN });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], clock });
    const { lease } = await leases.issue(
      provider,
      { path: 'database/creds/readonly' },
      { owner: 'a', ttlSeconds: 3600 },
    );
    clock.advance(1000 * 1000);
    const renewed = await leases.renew(lease.id, { ttlSeconds: 1800 });
    expect(vault.received.at(-1)).toMatchObject({
      method: 'PUT',
      url: '/v1/sys/leases/renew',
      body: { lease_id: 'database/creds/readonly/L0', increment: 1800 },
    });
    expect(renewed.expiresAt).toEqual(new Date(clock.now() + 600_000));
  });

  it('revokes through /v1/sys/leases/revoke; a sealed Vault keeps the lease for retry', async () => {
    const vault = await vaultFixture({ failRevoke: 1 });
    close = vault.close;
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const provider = vaultDynamicSecretsProvider({ address: vault.url, token: TOKEN });
    const leases = createLeaseManager({
      store: memoryLeaseStore(),
      providers: [provider],
      clock,
      retry: { initialDelayMs: 1000 },
    });
    const { lease } = await leases.issue(
      provider,
      { path: 'database/creds/readonly' },
      { owner: 'a', ttlSeconds: 600 },
    );
    await expect(leases.revoke(lease.id)).rejects.toMatchObject({
      code: 'ERR_SECRETS_PROVIDER_FAILED',
      details: { leaseId: lease.id },
    });
    expect(vault.leases.size).toBe(1);
    clock.advance(1000);
    expect((await leases.sweep()).revoked).toEqual([lease.id]);
    expect(vault.leases.size).toBe(0);
    expect(vault.received.at(-1)).toMatchObject({
      method: 'PUT',
      url: '/v1/sys/leases/revoke',
      body: { lease_id: 'database/creds/readonly/L0' },
    });
  });

  it('maps a denied token to ERR_SECRETS_PROVIDER_FAILED without the token in the error', async () => {
    const vault = await vaultFixture();
    close = vault.close;
    const provider = vaultDynamicSecretsProvider({ address: vault.url, token: 'hvs.wrong-secret-token' });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const error = await leases
      .issue(provider, { path: 'database/creds/readonly' }, { owner: 'a', ttlSeconds: 60 })
      .catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED', details: { status: 403 } });
    expect(JSON.stringify(error)).not.toContain('wrong-secret-token');
    expect(await leases.list()).toEqual([]);
  });

  it('refuses path traversal and sys/ paths', async () => {
    const provider = vaultDynamicSecretsProvider({ address: 'http://127.0.0.1:1', token: TOKEN });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    for (const path of ['../sys/seal', 'sys/leases/revoke-prefix/x', 'a/../../b', '', 'a b']) {
      await expect(leases.issue(provider, { path }, { owner: 'a', ttlSeconds: 60 })).rejects.toMatchObject({
        code: 'ERR_SECRETS_INVALID_REQUEST',
      });
    }
    expect(() => vaultDynamicSecretsProvider({ address: 'not a url', token: TOKEN })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_INVALID_OPTIONS' }),
    );
  });
});
