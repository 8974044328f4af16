import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { failure, json, loginAnswer, ok, task, testClient } from '../test/helpers.js';

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

describe('orchestrator tasks', () => {
  it('filters tasks by workflow_id and cancels with POST /tasks/{id}/cancel, unretried', async () => {
    const { client, seen } = testClient(
      (req) => {
        if (req.method === 'GET' && req.url.pathname === '/tasks') return ok([{ ...task('t1'), workflow_id: 'w 1' }]);
        if (req.method === 'POST' && req.url.pathname === '/tasks/w%201/cancel') {
          return ok([{ ...task('t1', 'Cancelled'), workflow_id: 'w 1' }]);
        }
        return json({ success: false, data: null, error: 'nothing left to cancel', code: 'NOT_CANCELLABLE' }, 409);
      },
      { auth: { type: 'apiKey', apiKey: 'k' } },
    );
    const tasks = await client.orchestrator.listTasks({ workflow_id: 'w 1', status: 'Running' });
    expect(tasks[0]?.workflow_id).toBe('w 1');
    expect(seen[0]?.url.searchParams.get('workflow_id')).toBe('w 1');
    expect(seen[0]?.url.searchParams.get('status')).toBe('Running');
    const cancelled = await client.orchestrator.cancelTask('w 1');
    expect(cancelled.map((t) => t.status)).toEqual(['Cancelled']);
    expect(seen[1]).toMatchObject({ method: 'POST' });
    const before = seen.length;
    await expect(client.orchestrator.cancelTask('other')).rejects.toMatchObject({ status: 409 });
    expect(seen.length - before).toBe(1);
  });
});

describe('control center routes', () => {
  const user = {
    id: 'u2',
    username: 'bob',
    email: '',
    roles: ['Operator'],
    teams: ['sre'],
    disabled: false,
    mfa_enabled: false,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
  const token = {
    id: 'k1',
    name: 'ci',
    prefix: 'pk_abcd',
    owner: 'u1',
    scopes: ['read'],
    created_at: '2026-01-01T00:00:00Z',
    expires_at: null,
    last_used_at: null,
    revoked_at: null,
  };
  const policyStatus = {
    version: 'sha256:abc',
    policies: 31,
    last_reload: { at: '2026-01-01T00:00:00Z', outcome: 'failed', errors: ['prod.cedar:3:1 (p1): unexpected token'] },
  };
  const device = { id: 'd1', type: 'totp', name: 'phone', created_at: '2026-01-01T00:00:00Z', last_used_at: null };

  it('calls each designed route with its method, path and body, and validates the answers', async () => {
    const { client, seen } = testClient(
      (req) => {
        const route = `${req.method} ${req.url.pathname}`;
        switch (route) {
          case 'POST /auth/bootstrap':
          case 'POST /users':
            return ok({ ...user, roles: ['Admin'] }, 201);
          case 'GET /users':
            return ok([user]);
          case 'PUT /users/u2/roles':
          case 'PUT /users/u2/teams':
          case 'POST /users/u2/disable':
            return ok(user);
          case 'POST /api-tokens':
            return ok({ ...token, token: 'pk_abcd_secret' }, 201);
          case 'GET /api-tokens':
            return ok([token]);
          case 'DELETE /api-tokens/k1':
            return ok({ revoked: 1 });
          case 'PATCH /mfa/devices/d1':
            return ok({ ...device, name: 'new phone' });
          case 'POST /mfa/webauthn/register':
            return ok({ device: { ...device, type: 'webauthn' }, backup_codes: ['a'] }, 201);
          case 'POST /mfa/webauthn/challenge':
            return ok({ options: { challenge: 'abc' } });
          case 'POST /mfa/webauthn/authenticate':
            return ok({ verified: false });
          case 'POST /policies/reload':
            return ok({ version: 'v2', policies: 12 });
          case 'GET /policies/status':
            return ok(policyStatus);
          case 'POST /auth/password':
            return ok({ changed: true, sessions_revoked: 2 });
          default:
            return json({ success: false, error: 'no route', code: 'NOT_FOUND' }, 404);
        }
      },
      { auth: { type: 'bearer', token: 't' } },
    );
    const cc = client.controlCenter;
    expect((await cc.bootstrap({ secret: 's', username: 'root', password: 'p' })).roles).toEqual(['Admin']);
    expect(await cc.users.list()).toEqual([user]);
    await cc.users.create({ username: 'bob', password: 'p', roles: ['Operator'] });
    await cc.users.setRoles('u2', ['Operator']);
    await cc.users.setTeams('u2', ['sre']);
    await cc.users.disable('u2');
    expect((await cc.apiTokens.create({ name: 'ci', scopes: ['read'] })).token).toBe('pk_abcd_secret');
    expect(await cc.apiTokens.list()).toEqual([token]);
    expect(await cc.apiTokens.revoke('k1')).toEqual({ revoked: 1 });
    expect((await cc.mfa.renameDevice('d1', 'new phone')).name).toBe('new phone');
    expect((await cc.mfa.webauthn.register({ id: 'cred' }, 'key')).device.type).toBe('webauthn');
    expect(await cc.mfa.webauthn.challenge()).toEqual({ options: { challenge: 'abc' } });
    expect(await cc.mfa.webauthn.authenticate({ id: 'cred' })).toEqual({ verified: false });
    expect(await cc.policies.reload()).toEqual({ version: 'v2', policies: 12 });
    expect(await cc.policies.status()).toEqual(policyStatus);
    expect(await cc.changePassword('old-passphrase', 'new-passphrase-long')).toEqual({
      changed: true,
      sessions_revoked: 2,
    });
    expect(seen.map((r) => [r.method, r.url.pathname, r.body])).toEqual([
      ['POST', '/auth/bootstrap', { secret: 's', username: 'root', password: 'p' }],
      ['GET', '/users', undefined],
      ['POST', '/users', { username: 'bob', password: 'p', roles: ['Operator'] }],
      ['PUT', '/users/u2/roles', { roles: ['Operator'] }],
      ['PUT', '/users/u2/teams', { teams: ['sre'] }],
      ['POST', '/users/u2/disable', undefined],
      ['POST', '/api-tokens', { name: 'ci', scopes: ['read'] }],
      ['GET', '/api-tokens', undefined],
      ['DELETE', '/api-tokens/k1', undefined],
      ['PATCH', '/mfa/devices/d1', { name: 'new phone' }],
      ['POST', '/mfa/webauthn/register', { response: { id: 'cred' }, name: 'key' }],
      ['POST', '/mfa/webauthn/challenge', undefined],
      ['POST', '/mfa/webauthn/authenticate', { response: { id: 'cred' } }],
      ['POST', '/policies/reload', undefined],
      ['GET', '/policies/status', undefined],
      ['POST', '/auth/password', { current_password: 'old-passphrase', new_password: 'new-passphrase-long' }],
    ]);
    // Bootstrap (public) sends no credentials.
    expect(seen[0]?.headers.get('authorization')).toBeNull();
    expect(seen[1]?.headers.get('authorization')).toBe('Bearer t');
  });

  it('refuses an answer that breaks the contract (an API token without its secret)', async () => {
    const { client } = testClient(() => ok(token, 201), { auth: { type: 'bearer', token: 't' } });
    await expect(client.controlCenter.apiTokens.create({ name: 'ci' })).rejects.toMatchObject({
      code: 'ERR_CLIENT_MALFORMED_RESPONSE',
      details: { path: '$.data.token' },
    });
  });

  it('does not retry creating a user or a token, and retries an idempotent role change', async () => {
    let calls = 0;
    const { client } = testClient(
      () => {
        calls++;
        return json({ success: false, error: 'busy' }, 503);
      },
      { auth: { type: 'bearer', token: 't' } },
    );
    await expect(client.controlCenter.users.create({ username: 'b', password: 'p' })).rejects.toMatchObject({
      status: 503,
    });
    await expect(client.controlCenter.apiTokens.create({ name: 'x' })).rejects.toMatchObject({ status: 503 });
    expect(calls).toBe(2);
    await expect(client.controlCenter.users.setRoles('u2', ['Viewer'])).rejects.toMatchObject({ status: 503 });
    expect(calls).toBe(5);
  });
});

describe('extension registry reads (auth optional)', () => {
  it('send the client’s credentials when it has them, and nothing before a login', async () => {
    const anonymous = testClient(() => ok([]));
    await expect(anonymous.client.extensionRegistry.list()).resolves.toEqual([]);
    expect(anonymous.seen[0]?.headers.get('authorization')).toBeNull();
    const keyed = testClient(() => ok([]), { auth: { type: 'apiKey', apiKey: 'pk_reader' } });
    await keyed.client.extensionRegistry.list({ type: 'provider' });
    expect(keyed.seen[0]?.headers.get('x-api-key')).toBe('pk_reader');
    // Health stays public: no credentials on it.
    await keyed.client.extensionRegistry.health().catch(() => undefined);
    expect(keyed.seen[1]?.headers.get('x-api-key')).toBeNull();
  });

  it('after a login, sends the session token', async () => {
    const { client, seen } = testClient((req) => (req.url.pathname === '/auth/login' ? ok(loginAnswer(1)) : ok([])));
    await client.login({ username: 'ada', password: 'pw' });
    await client.extensionRegistry.list();
    expect(seen[1]?.headers.get('authorization')).toBe('Bearer access-1');
  });
});

describe('extension registry downloads', () => {
  const archive = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]);
  const sha = `sha256:${createHash('sha256').update(archive).digest('hex')}`;
  const serve = (bytes: Uint8Array, headers: Record<string, string>) =>
    testClient(
      () =>
        new Response(bytes as Uint8Array<ArrayBuffer>, {
          headers: { 'content-type': 'application/gzip', ...headers },
        }),
      { auth: { type: 'apiKey', apiKey: 'k' } },
    );

  it('returns the bytes only when they match the announced checksum', async () => {
    const { client, seen } = serve(archive, {
      'x-checksum': sha,
      'x-extension-version': '1.0.0',
      'content-disposition': 'attachment; filename="upcloud-1.0.0.tar.gz"',
    });
    const got = await client.extensionRegistry.download('provider', 'upcloud', { version: '1.0.0', source: 'oci' });
    expect(got).toEqual({
      bytes: archive,
      checksum: sha,
      version: '1.0.0',
      mediaType: 'application/gzip',
      filename: 'upcloud-1.0.0.tar.gz',
    });
    expect(seen[0]?.url.pathname).toBe('/api/v1/extensions/provider/upcloud/download');
    expect(Object.fromEntries(seen[0]?.url.searchParams ?? [])).toEqual({ version: '1.0.0', source: 'oci' });
  });

  it('refuses altered bytes (ERR_CLIENT_DIGEST_MISMATCH) and a missing checksum (ERR_CLIENT_MALFORMED_RESPONSE)', async () => {
    const altered = archive.slice();
    altered[4] = 0xff;
    const tampered = serve(altered, { 'x-checksum': sha });
    expect(await failure(tampered.client.extensionRegistry.download('provider', 'upcloud'))).toMatchObject({
      code: 'ERR_CLIENT_DIGEST_MISMATCH',
      details: { expected: sha },
    });
    const unsigned = serve(archive, {});
    expect(await failure(unsigned.client.extensionRegistry.download('provider', 'upcloud'))).toMatchObject({
      code: 'ERR_CLIENT_MALFORMED_RESPONSE',
    });
    // A bad version is refused before any request.
    const { client, seen } = serve(archive, { 'x-checksum': sha });
    expect(
      await failure(client.extensionRegistry.download('provider', 'upcloud', { version: '1.0/../../x' })),
    ).toMatchObject({ code: 'ERR_CLIENT_INVALID_OPTIONS' });
    expect(seen).toHaveLength(0);
  });
});
