import { startUpCloudFixture, UPCLOUD_TEST_PROFILE } from '@provisioning/testing/upcloud';
import { afterEach, describe, expect, it } from 'vitest';
import { createLeaseManager } from './manager.js';
import { memoryLeaseStore } from './stores/memory.js';
import { upCloudSubaccountProvider } from './upcloud.js';

const PROFILE = UPCLOUD_TEST_PROFILE;
const upcloudFixture = () => startUpCloudFixture({ username: 'main', password: 'main-password' });

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('UpCloud subaccount provider (HTTP fixture)', () => {
  it('creates an API-only subaccount scoped to the given servers, and deletes it on revoke', async () => {
    const api = await upcloudFixture();
    close = api.close;
    const provider = upCloudSubaccountProvider({
      auth: { username: 'main', password: 'main-password' },
      profile: PROFILE,
      baseUrl: `${api.url}/1.3`,
    });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const server = '00798b85-efdc-41ca-8021-f6ef457b8531';
    const { lease, secret } = await leases.issue(
      provider,
      { servers: [server], ipFilters: ['10.0.0.0/8'] },
      { owner: 'ci', ttlSeconds: 600 },
    );
    expect(secret.username).toMatch(/^lease[0-9a-f]{32}$/);
    expect(secret.password).toMatch(/[A-Z]/);
    expect(secret.password).toMatch(/[0-9]/);
    const sent = api.accounts.get(secret.username) as Record<string, unknown>;
    expect(sent).toMatchObject({
      username: secret.username,
      password: secret.password,
      allow_api: 'yes',
      allow_gui: 'no',
      roles: { role: ['api'] },
      server_access: { server: [{ uuid: server, storage: 'yes' }] },
      ip_filters: { ip_filter: ['10.0.0.0/8'] },
      country: 'FIN',
    });
    expect(JSON.stringify(lease)).not.toContain(secret.password);
    await leases.revoke(lease.id);
    expect(api.accounts.size).toBe(0);
    // Idempotent: the subaccount is already gone (404 counts as revoked).
    await provider.revoke(lease, { signal: new AbortController().signal });
  });

  it('maps refused credentials to ERR_SECRETS_PROVIDER_FAILED and keeps no lease', async () => {
    const api = await upcloudFixture();
    close = api.close;
    const provider = upCloudSubaccountProvider({
      auth: { username: 'main', password: 'bad' },
      profile: PROFILE,
      baseUrl: `${api.url}/1.3`,
    });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const error = await leases.issue(provider, {}, { owner: 'ci', ttlSeconds: 600 }).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED', details: { status: 401 } });
    expect(JSON.stringify(error)).not.toContain('bad');
    expect(await leases.list()).toEqual([]);
  });

  it('uses a Bearer token when given one and refuses bad requests', async () => {
    const api = await upcloudFixture();
    close = api.close;
    const provider = upCloudSubaccountProvider({
      auth: { token: 'ucat_x' },
      profile: PROFILE,
      baseUrl: `${api.url}/1.3`,
    });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    await leases.issue(provider, {}, { owner: 'ci', ttlSeconds: 600 }).catch(() => {});
    expect(api.received[0]?.headers.authorization).toBe('Bearer ucat_x');
    await expect(
      leases.issue(provider, { servers: ['not-a-uuid'] }, { owner: 'ci', ttlSeconds: 600 }),
    ).rejects.toMatchObject({
      code: 'ERR_SECRETS_INVALID_REQUEST',
    });
    expect(() => upCloudSubaccountProvider({ auth: {} as never, profile: PROFILE })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_INVALID_OPTIONS' }),
    );
  });
});
