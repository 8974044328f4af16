import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRouteResponse, ORCHESTRATOR_ROUTES as R } from '@provisioning/platform-client/api';
import { startUpCloudFixture, UPCLOUD_TEST_PROFILE } from '@provisioning/testing/upcloud';
import { describe, expect, it } from 'vitest';
import { orchestratorHarness } from '../../test/orchestrator-fixture.js';
import { upcloudOptions } from './index.js';

async function setup() {
  const harness = await orchestratorHarness();
  const token = async (name: string, roles: string[]) => (await harness.user(name, roles)).token;
  const id = (route: keyof typeof R, value: string) => harness.at(R[route], value);
  return { ...harness, token, id };
}

const DEV = { workspace: 'dev-eu' };

describe('dynamic secrets: /api/v1/secrets over the lease manager', () => {
  it('generates an SSH key secret once, then shows only its lease; revoke is idempotent; expiry is swept', async () => {
    const { platform, service, call, token, id } = await setup();
    const dana = await token('dana', ['Developer']);
    const other = await token('otto', ['Developer']);
    const made = await call('POST', R.generateSecret.path, dana, {
      type: 'ssh_key',
      ttl_seconds: 900,
      params: DEV,
      reason: 'CI deploy',
    });
    expect(made.status).toBe(201);
    expect(made.headers.get('cache-control')).toBe('no-store');
    const secret = parseRouteResponse(R.generateSecret, made.json) as {
      id: string;
      credentials: Record<string, string>;
    };
    expect(secret).toMatchObject({ type: 'ssh_key', renewable: false, revoked: false });
    expect(secret.credentials.private_key).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(secret.credentials.fingerprint).toMatch(/^SHA256:/);
    expect(secret.id).toMatch(/^secret-ssh-key:/);

    const got = await call('GET', id('getSecret', secret.id), dana);
    expect(parseRouteResponse(R.getSecret, got.json)).toMatchObject({ id: secret.id, expires_at: expect.any(String) });
    expect(got.text).not.toContain('PRIVATE KEY');
    // Someone else's lease does not exist for them.
    expect((await call('GET', id('getSecret', secret.id), other)).status).toBe(404);
    expect((await call('GET', R.listSecrets.path, other)).json.data).toEqual([]);
    expect((await call('GET', R.listSecrets.path, dana)).json.data.map((s: { id: string }) => s.id)).toEqual([
      secret.id,
    ]);
    expect((await call('GET', `${R.expiringSecrets.path}?within_seconds=600`, dana)).json.data).toEqual([]);
    expect((await call('GET', `${R.expiringSecrets.path}?within_seconds=1000`, dana)).json.data).toHaveLength(1);
    expect((await call('GET', R.secretStats.path, dana)).json.data).toEqual({
      active: 1,
      expiring_soon: 1,
      revoked: 0,
      by_type: { ssh_key: 1 },
    });
    const renew = await call('POST', id('renewSecret', secret.id), dana, {});
    expect([renew.status, renew.json.code]).toEqual([409, 'NOT_RENEWABLE']);

    const revoked = await call('POST', id('revokeSecret', secret.id), dana, { reason: 'done' });
    expect(revoked.json.data).toMatchObject({ id: secret.id, revoked: true });
    expect((await call('POST', id('revokeSecret', secret.id), dana, { reason: 'again' })).json.data.revoked).toBe(true);
    expect((await call('GET', id('getSecret', secret.id), dana)).json.data.revoked).toBe(true);
    expect((await call('GET', R.secretStats.path, dana)).json.data).toMatchObject({ active: 0, revoked: 1 });

    // A lease that expires is revoked by the sweeper (every 5 minutes; run now).
    await call('POST', R.generateSecret.path, dana, { type: 'ssh_key', ttl_seconds: 600, params: DEV });
    platform.clock.advance(601_000);
    await service.leases.sweeper.sweepNow();
    expect((await call('GET', R.listSecrets.path, dana)).json.data).toEqual([]);
    expect((await service.leases.manager.list()).map((l) => l.id)).toEqual([]);

    await new Promise((r) => setImmediate(r));
    await platform.auditLog.flush();
    const events = (await platform.auditLog.query({ category: 'secrets' }, { limit: 100 })).records.map(
      (r) => r.event.action,
    );
    expect(events).toEqual([
      'secrets.lease.created',
      'secrets.lease.revoked',
      'secrets.lease.revoked',
      'secrets.lease.created',
      'secrets.lease.expired',
    ]);
    const all = JSON.stringify((await platform.auditLog.query({}, { limit: 1000 })).records);
    expect(all).not.toContain(secret.credentials.private_key?.split('\n')[1] as string);
  });

  it('lets Cedar decide by workspace, and holds TTLs to the type’s range', async () => {
    const { call, token } = await setup();
    const dana = await token('dana', ['Developer']);
    // No workspace: production, where developers generate nothing.
    expect((await call('POST', R.generateSecret.path, dana, { type: 'ssh_key', ttl_seconds: 900 })).status).toBe(403);
    for (const [ttl, ok] of [
      [599, false],
      [600, true],
      [86_400, true],
      [86_401, false],
    ] as const) {
      const res = await call('POST', R.generateSecret.path, dana, { type: 'ssh_key', ttl_seconds: ttl, params: DEV });
      expect([ttl, res.status]).toEqual([ttl, ok ? 201 : 400]);
      if (!ok) expect(res.json.code).toBe('INVALID_TTL');
    }
    const sts = await call('POST', R.generateSecret.path, dana, { type: 'aws_sts', ttl_seconds: 900, params: DEV });
    expect([sts.status, sts.json.code]).toEqual([400, 'PROVIDER_NOT_CONFIGURED']);
  });

  it('refuses bad input with a typed 4xx and issues nothing', async () => {
    const { call, token, service } = await setup();
    const admin = await token('root', ['Admin']);
    for (const [body, code] of [
      ['{"type":', 'MALFORMED_JSON'],
      [{ type: 'gcp', ttl_seconds: 900 }, 'INVALID_REQUEST'],
      [{ type: 'ssh_key', ttl_seconds: '900' }, 'INVALID_REQUEST'],
      [{ type: 'ssh_key', ttl_seconds: 900, extra: 1 }, 'UNKNOWN_FIELD'],
      [{ type: 'ssh_key', ttl_seconds: 900, params: { workspace: '../etc' } }, 'INVALID_REQUEST'],
      [{ type: 'vault', ttl_seconds: 900 }, 'PROVIDER_NOT_CONFIGURED'],
    ] as const) {
      const res = await call('POST', R.generateSecret.path, admin, body);
      expect([res.status, res.json.code], JSON.stringify(body)).toEqual([400, code]);
    }
    expect(
      (
        await call('POST', R.generateSecret.path, admin, {
          type: 'ssh_key',
          ttl_seconds: 900,
          params: { x: 'y'.repeat(1_100_000) },
        })
      ).status,
    ).toBe(413);
    expect(
      (await call('POST', `${R.revokeSecret.path.replace('{id}', 'secret-ssh-key:nope')}`, admin, { reason: 'x' }))
        .status,
    ).toBe(404);
    expect((await call('GET', `${R.expiringSecrets.path}?within_seconds=0`, admin)).json.code).toBe('INVALID_QUERY');
    expect(await service.leases.manager.list()).toEqual([]);
  });
});

describe('SSH temporal keys: /api/v1/ssh/keys', () => {
  it('generates a dynamic key, deploys it to the server’s authorized_keys until it expires, and revokes it', async () => {
    const { platform, call, token, id } = await setup();
    const admin = await token('root', ['Admin']);
    const made = await call('POST', R.generateSshKey.path, admin, {
      server: 'dev-web-1',
      user: 'deploy',
      ttl_seconds: 1800,
    });
    expect(made.status).toBe(201);
    const key = parseRouteResponse(R.generateSshKey, made.json) as {
      id: string;
      private_key: string;
      public_key: string;
      fingerprint: string;
    };
    expect(key).toMatchObject({
      type: 'dynamic',
      server: 'dev-web-1',
      user: 'deploy',
      deployed: false,
      revoked: false,
    });
    expect(key.private_key).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect((await call('GET', id('getSshKey', key.id), admin)).text).not.toContain('PRIVATE KEY');

    const deployed = await call('POST', id('deploySshKey', key.id), admin);
    expect(deployed.json.data.deployed).toBe(true);
    const file = join(platform.dataDir, 'ssh', 'authorized_keys', 'dev-web-1', 'deploy');
    const line = readFileSync(file, 'utf8');
    expect(line).toContain(key.public_key.split(' ')[1]);
    expect(line).toMatch(/^expiry-time="\d{12}Z" ssh-ed25519 /);
    const connect = await call('POST', id('connectSshKey', key.id), admin);
    expect(connect.json.data).toEqual({
      host: 'dev-web-1',
      port: 22,
      user: 'deploy',
      command: 'ssh -i ./id_ed25519 -o IdentitiesOnly=yes -p 22 deploy@dev-web-1',
    });

    const revoked = await call('POST', id('revokeSshKey', key.id), admin, { reason: 'done' });
    expect(revoked.json.data).toMatchObject({ revoked: true, deployed: false });
    expect(existsSync(file) ? readFileSync(file, 'utf8') : '').not.toContain(key.public_key.split(' ')[1]);
    expect((await call('GET', R.listSshKeys.path, admin)).json.data).toEqual([]);
  });

  it('issues certificates from the platform CA and one-time passwords, never deployable', async () => {
    const { call, token, id } = await setup();
    const admin = await token('root', ['Admin']);
    const ca = await call('GET', '/api/v1/ssh/ca', admin);
    expect(ca.json.data.public_key).toMatch(/^ssh-ed25519 /);
    const cert = (await call('POST', R.generateSshKey.path, admin, { server: 'dev-db', user: 'ops', type: 'ca' })).json
      .data;
    expect(cert.certificate).toMatch(/^ssh-ed25519-cert-v01@openssh\.com /);
    expect(cert.private_key).toMatch(/PRIVATE KEY/);
    expect((await call('POST', id('deploySshKey', cert.id), admin)).json.code).toBe('NOT_DEPLOYABLE');
    const otp = await call('POST', R.generateSshKey.path, admin, { server: 'dev-db', user: 'ops', type: 'otp' });
    expect(otp.status).toBe(201);
    expect(otp.json.data.otp).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(otp.json.data.fingerprint).toMatch(/^SHA256:/);
    expect(new Date(otp.json.data.expires_at).getTime() - Date.parse('2026-03-02T10:00:00Z')).toBe(900_000);
    const long = await call('POST', R.generateSshKey.path, admin, {
      server: 'dev-db',
      user: 'ops',
      type: 'otp',
      ttl_seconds: 1200,
    });
    expect([long.status, long.json.code]).toEqual([400, 'INVALID_TTL']);
    const listed = (await call('GET', R.listSshKeys.path, admin)).json.data;
    expect(listed.map((k: { type: string }) => k.type).sort()).toEqual(['ca', 'otp']);
    expect(JSON.stringify(listed)).not.toMatch(/PRIVATE KEY|cert-v01|"otp":/);
  });

  it('production SSH needs an approval (prod-ssh-restricted), and bad input changes nothing', async () => {
    const { call, token, service } = await setup();
    const admin = await token('root', ['Admin']);
    const prod = await call('POST', R.generateSshKey.path, admin, { server: 'prod-web', user: 'deploy' });
    expect([prod.status, prod.json.code]).toEqual([403, 'FORBIDDEN']);
    for (const [body, status, code] of [
      // (names Cedar classifies as development, so the validation after it answers)
      [{ server: 'dev-../etc', user: 'deploy' }, 400, 'INVALID_REQUEST'],
      [{ server: 'dev-web', user: 'a b' }, 400, 'INVALID_REQUEST'],
      [{ server: 'dev-web', user: 'deploy', ttl_seconds: 60 }, 400, 'INVALID_REQUEST'],
      [{ server: 'dev-web', user: 'deploy', type: 'rsa' }, 400, 'INVALID_REQUEST'],
      [{ server: 'dev-web', user: 'deploy', key: 'x' }, 400, 'UNKNOWN_FIELD'],
      // Unreadable: no server, so the policy decides for every server, i.e. production, first.
      ['{', 403, 'FORBIDDEN'],
    ] as const) {
      const res = await call('POST', R.generateSshKey.path, admin, body);
      expect([res.status, res.json.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect(await service.leases.manager.list()).toEqual([]);
  });
});

describe('upcloud secrets: API subaccounts (UpCloud API stand-in, @provisioning/testing/upcloud)', () => {
  const MAIN = { username: 'main', password: 'main-password' };
  const SERVER = '00798b85-efdc-41ca-8021-f6ef457b8531';

  it('creates an API-only subaccount scoped to the servers asked for, and deletes it on revoke', async () => {
    const api = await startUpCloudFixture(MAIN);
    try {
      const { call, user, at } = await orchestratorHarness({
        orchestrator: { upcloud: { baseUrl: `${api.url}/1.3`, auth: MAIN, profile: UPCLOUD_TEST_PROFILE } },
      });
      const dana = (await user('dana', ['Developer'])).token;
      const made = await call('POST', R.generateSecret.path, dana, {
        type: 'upcloud',
        ttl_seconds: 1800,
        params: { ...DEV, servers: [SERVER], ip_filters: ['10.0.0.0/8'] },
      });
      expect(made.status, made.text).toBe(201);
      const secret = parseRouteResponse(R.generateSecret, made.json) as {
        id: string;
        credentials: Record<string, string>;
      };
      expect(secret.id).toMatch(/^upcloud:/);
      const { username, password } = secret.credentials as { username: string; password: string };
      expect(api.accounts.get(username)).toMatchObject({
        password,
        allow_api: 'yes',
        allow_gui: 'no',
        server_access: { server: [{ uuid: SERVER, storage: 'yes' }] },
        ip_filters: { ip_filter: ['10.0.0.0/8'] },
      });
      // The password is handed over once: the lease's later views do not carry it.
      expect((await call('GET', at(R.getSecret, secret.id), dana)).text).not.toContain(password);

      expect((await call('POST', at(R.revokeSecret, secret.id), dana, { reason: 'done' })).status).toBe(200);
      expect(api.accounts.size).toBe(0);
    } finally {
      await api.close();
    }
  });

  it('refuses bad scopes with a typed 400 and creates no subaccount', async () => {
    const api = await startUpCloudFixture(MAIN);
    try {
      const { call, user } = await orchestratorHarness({
        orchestrator: { upcloud: { baseUrl: `${api.url}/1.3`, auth: MAIN, profile: UPCLOUD_TEST_PROFILE } },
      });
      const dana = (await user('dana', ['Developer'])).token;
      for (const params of [
        { servers: ['not-a-uuid'] },
        { servers: SERVER },
        { storages: [1] },
        { ip_filters: ['10.0.0.0/33'] },
        { ip_filters: ['example.com'] },
      ]) {
        const res = await call('POST', R.generateSecret.path, dana, {
          type: 'upcloud',
          ttl_seconds: 1800,
          params: { ...DEV, ...params },
        });
        expect([res.status, res.json.code], JSON.stringify(params)).toEqual([400, 'INVALID_REQUEST']);
      }
      // Refused before UpCloud was called: the route checks shapes and addresses, the provider the UUIDs.
      expect(api.received).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('is configured from [upcloud] and the environment, with clear errors', () => {
    const section = { api_url: '', username_prefix: 'lease', ...UPCLOUD_TEST_PROFILE };
    expect(upcloudOptions(section)).toBeUndefined();
    const saved = { ...process.env };
    try {
      delete process.env.PROVISIONING_UPCLOUD_TOKEN;
      delete process.env.PROVISIONING_UPCLOUD_USERNAME;
      delete process.env.PROVISIONING_UPCLOUD_PASSWORD;
      const on = { ...section, api_url: 'https://api.upcloud.com/1.3' };
      expect(() => upcloudOptions({ ...on, email: '' })).toThrow(
        expect.objectContaining({
          problems: [
            expect.stringContaining('$PROVISIONING_UPCLOUD_TOKEN'),
            '[upcloud] email: UpCloud requires it on every subaccount',
          ],
        }),
      );
      process.env.PROVISIONING_UPCLOUD_TOKEN = 'ucat_test';
      expect(upcloudOptions(on)).toMatchObject({
        baseUrl: on.api_url,
        auth: { token: 'ucat_test' },
        profile: { country: 'FIN' },
      });
    } finally {
      process.env = saved;
    }
  });
});
