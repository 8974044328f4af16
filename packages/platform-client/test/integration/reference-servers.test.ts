import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { tempDir } from '@provisioning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { OrchestratorEvent } from '../../src/api.js';
import { ROUTES, routePath, SERVICE_NAMES } from '../../src/api.js';
import { EXIT_CODES } from '../../src/cli.js';
import {
  createPlatformClient,
  type PlatformClient,
  type PlatformClientError,
  type PlatformClientOptions,
  type WebSocketConstructor,
} from '../../src/index.js';
import { createOciClient } from '../../src/oci.js';
import { failure } from '../helpers.js';
import { type ReferencePlatform, startReferencePlatform } from '../reference-platform.js';
import { startRegistry, type TestRegistry } from '../registry.js';
import { runCliProcess } from '../run-cli.js';
import { base32Decode, totp } from '../totp.js';

const ADMIN = { username: 'root', password: 'bootstrap-admin-passphrase' };
// An administrator without MFA: production changes refuse it (Cedar), sensitive routes ask for a step-up.
const OPS = { username: 'ops', password: 'ops-admin-passphrase-1' };
const OCI_USER = 'registry-reader';
const OCI_PASSWORD = 'registry-reader-pass';
const EXTENSION_TYPE = 'application/vnd.provisioning.extension.v1';

/** Polls `check` until it is truthy (real time: the servers run on their own clock). */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the client against the running reference servers (examples/platform over real HTTP)', {
  timeout: 60_000,
}, () => {
  let registry: TestRegistry;
  let platform: ReferencePlatform;
  let admin: PlatformClient;
  const client = (options: Partial<PlatformClientOptions> = {}): PlatformClient =>
    createPlatformClient({ baseUrls: platform.urls, ...options });
  const createUser = async (username: string, roles: string[]): Promise<{ id: string; password: string }> => {
    const password = `${username}-password-${randomUUID()}`;
    const user = await admin.controlCenter.users.create({ username, password, roles });
    return { id: user.id, password };
  };

  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: { [OCI_USER]: OCI_PASSWORD } });
    // Extensions are published before the registry service reads (and caches) the catalog.
    const oci = createOciClient({
      registry: registry.url,
      credentials: { username: OCI_USER, password: OCI_PASSWORD },
    });
    const publish = (repository: string, version: string, description: string) =>
      oci.pushArtifact(repository, version, {
        artifactType: EXTENSION_TYPE,
        files: [{ name: 'extension.tar.gz', data: randomBytes(512) }],
        annotations: {
          'org.opencontainers.image.description': description,
          'org.opencontainers.image.authors': 'Platform Team',
          'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
          'io.provisioning.extension.tags': 'cloud,test',
        },
      });
    await publish('extensions/provider/upcloud', '1.0.0', 'UpCloud provider');
    await publish('extensions/provider/upcloud', '1.1.0', 'UpCloud provider');
    await publish('extensions/taskserv/kubernetes', '2.0.0', 'Kubernetes');
    await publish('extensions/cluster/k8s-ha', '0.1.0', 'HA cluster');
    platform = await startReferencePlatform({
      // Many requests from one address in a few seconds: the default 100/min would throttle the test itself.
      PROVISIONING_RATE_LIMIT: '100000',
      PROVISIONING_OCI_REGISTRY: registry.url,
      PROVISIONING_OCI_USERNAME: OCI_USER,
      PROVISIONING_OCI_PASSWORD: OCI_PASSWORD,
    });
    admin = client();
    const created = await admin.controlCenter.bootstrap({ secret: platform.bootstrapSecret, ...ADMIN });
    expect(created).toMatchObject({ username: ADMIN.username, roles: ['Admin'], disabled: false });
    await admin.login(ADMIN);
    // Production changes need a recent MFA (the Cedar production guards): the administrator enrolls
    // TOTP, and the verification's stepped-up tokens (valid 15 minutes) carry the suite.
    const enrollment = await admin.controlCenter.mfa.enroll('totp');
    if (enrollment.type !== 'totp') throw new Error('expected a TOTP enrollment');
    expect((await admin.controlCenter.mfa.verify(totp(base32Decode(enrollment.secret), Date.now()))).verified).toBe(
      true,
    );
    await admin.controlCenter.users.create({ ...OPS, roles: ['Admin'] });
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    await registry?.stop();
  });

  it('bootstraps only once: a second bootstrap is 403 BOOTSTRAP_CLOSED', async () => {
    const error = await failure(
      client().controlCenter.bootstrap({ secret: platform.bootstrapSecret, username: 'eve', password: 'x'.repeat(20) }),
    );
    expect(error).toMatchObject({ code: 'ERR_CLIENT_FORBIDDEN', status: 403, serverCode: 'BOOTSTRAP_CLOSED' });
  });

  it('serves every route of the contract (nothing drifted)', async () => {
    const unserved: string[] = [];
    let probed = 0;
    for (const service of SERVICE_NAMES) {
      for (const route of Object.values(ROUTES[service])) {
        const params = Object.fromEntries([...route.path.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], 'probe']));
        const res = await fetch(`${platform.urls[service]}${routePath(route, params)}`, { method: route.method });
        const text = await res.text();
        probed++;
        // The router's own 404 ("No such route.") means the server has no such route.
        if (res.status === 404 && text.includes('No such route.'))
          unserved.push(`${service} ${route.method} ${route.path}`);
      }
    }
    expect(unserved).toEqual([]);
    expect(probed).toBeGreaterThan(50);
  });

  it('reports the health of every service in one call', async () => {
    const health = await client({ auth: { type: 'none' } }).health();
    expect(health.healthy).toBe(true);
    for (const service of SERVICE_NAMES) expect(health.services[service]).toMatchObject({ healthy: true });
    expect(health.services.orchestrator.detail).toBe('Orchestrator is healthy');
    expect(health.services.kms.detail).toMatchObject({ status: 'healthy' });
    expect(health.services.extensionRegistry.detail).toMatchObject({ status: 'healthy' });
  });

  it('logs in with password + TOTP (one call and two steps) and with a backup code', async () => {
    const ada = await createUser('ada', ['Operator']);
    const session = client();
    await session.login({ username: 'ada', password: ada.password });
    const enrollment = await session.controlCenter.mfa.enroll('totp');
    if (enrollment.type !== 'totp') throw new Error('expected a TOTP enrollment');
    const secret = base32Decode(enrollment.secret);
    const confirmed = await session.controlCenter.mfa.verify(totp(secret, Date.now()));
    expect(confirmed.verified).toBe(true);
    expect(confirmed.backup_codes?.length).toBe(10);
    // The step-up tokens were adopted: a sensitive route (MFA within 15 min) now passes.
    const backupCodes = await session.controlCenter.mfa.regenerateBackupCodes();
    expect(backupCodes).toHaveLength(10);
    expect(await session.controlCenter.mfa.status()).toMatchObject({ enabled: true, methods: ['totp'] });
    await session.logout();

    // Without a code: MFA required, and no token was minted.
    const fresh = client();
    const required = await failure(fresh.login({ username: 'ada', password: ada.password }));
    expect(required).toMatchObject({ code: 'ERR_CLIENT_MFA_REQUIRED', status: 401, serverCode: 'MFA_REQUIRED' });
    expect(fresh.session()).toBeUndefined();

    // Two steps: the challenge, then the next step's code (the confirmation used this one: replay protection).
    const step = await fresh.beginLogin({ username: 'ada', password: ada.password });
    if (step.status !== 'mfa_required') throw new Error('expected an MFA challenge');
    expect(step.challenge.methods).toContain('totp');
    const wrong = await failure(fresh.completeLogin(step.challenge.challenge_id, { code: '000000' }));
    expect(wrong).toMatchObject({ code: 'ERR_CLIENT_UNAUTHENTICATED', serverCode: 'INVALID_MFA_CODE' });
    await fresh.completeLogin(step.challenge.challenge_id, { code: totp(secret, Date.now() + 30_000) });
    const claims = (await fresh.controlCenter.verify()).claims;
    expect(claims).toMatchObject({ mfa: true, roles: ['Operator'] });

    // A backup code works once.
    const backup = backupCodes[0] as string;
    const viaBackup = client();
    await viaBackup.login({ username: 'ada', password: ada.password, mfaCode: backup });
    expect((await viaBackup.controlCenter.verify()).claims.mfa).toBe(true);
    expect((await viaBackup.controlCenter.mfa.status()).backup_codes_remaining).toBe(9);
    const reused = await failure(client().login({ username: 'ada', password: ada.password, mfaCode: backup }));
    expect(reused.code).toBe('ERR_CLIENT_MFA_REQUIRED');

    // The API server's own login has no second factor: it refuses MFA accounts.
    const apiLogin = await failure(fresh.apiServer.login({ username: 'ada', password: ada.password }));
    expect(apiLogin).toMatchObject({ code: 'ERR_CLIENT_MFA_REQUIRED', serverCode: 'MFA_REQUIRED' });
  });

  it('without MFA: a sensitive route is ERR_CLIENT_MFA_REQUIRED (403 step-up), a production change 403', async () => {
    const ops = client();
    await ops.login(OPS);
    const error = await failure(ops.controlCenter.mfa.regenerateBackupCodes());
    expect(error).toMatchObject({ code: 'ERR_CLIENT_MFA_REQUIRED', status: 403, serverCode: 'MFA_REQUIRED' });
    const production = await failure(ops.orchestrator.submitWorkflow('servers', { infra: 'prod', params: {} }));
    expect(production).toMatchObject({ code: 'ERR_CLIENT_FORBIDDEN', status: 403, serverCode: 'FORBIDDEN' });
  });

  it('refreshes before expiry with ONE refresh for concurrent calls; a reused refresh token ends the session', async () => {
    const clock = createManualClock(new Date());
    const refreshes: string[] = [];
    const session = client({
      clock,
      fetch: (input, init) => {
        if (new URL(String(input)).pathname === '/auth/refresh') refreshes.push(String(init?.body));
        return fetch(input, init);
      },
    });
    const first = await session.login(OPS);
    clock.advance(850_000); // inside the 60 s refresh skew of the 900 s access token
    const answers = await Promise.all(Array.from({ length: 10 }, () => session.controlCenter.sessions()));
    expect(refreshes).toHaveLength(1);
    expect(answers.every((sessions) => sessions.some((s) => s.current))).toBe(true);
    const second = session.session();
    expect(second?.accessToken).not.toBe(first.accessToken);
    expect(second?.refreshToken).not.toBe(first.refreshToken);

    // What a second, concurrent refresh would have done: the spent token trips reuse detection.
    const replay = await fetch(`${platform.urls.controlCenter}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: first.refreshToken }),
    });
    expect(replay.status).toBe(401);
    // The server revoked the session: the client's next call gets a 401, tries one refresh, and ends the session.
    const ended = await failure(session.controlCenter.sessions());
    expect(ended).toMatchObject({ code: 'ERR_CLIENT_UNAUTHENTICATED', status: 401 });
    expect(refreshes).toHaveLength(2);
    expect(session.session()).toBeUndefined();
  });

  it('logs out: the server revokes the token, the client forgets it', async () => {
    const session = client();
    const tokens = await session.login(OPS);
    expect(await session.logout()).toEqual({ revoked: 1 });
    expect(session.session()).toBeUndefined();
    expect((await failure(session.orchestrator.listTasks())).code).toBe('ERR_CLIENT_NOT_AUTHENTICATED');
    const stale = client({ auth: { type: 'bearer', token: tokens.accessToken }, retry: false });
    expect(await failure(stale.orchestrator.listTasks())).toMatchObject({
      code: 'ERR_CLIENT_UNAUTHENTICATED',
      status: 401,
    });
  });

  it('API-key mode: a key from /api-tokens works on every service until it is revoked', async () => {
    // A key acts for its owner within its scopes (Cedar actions); production decrypts would also need MFA.
    const created = await admin.controlCenter.apiTokens.create({
      name: 'ci',
      scopes: ['list', 'read', 'encrypt'],
      expires_in_days: 1,
    });
    expect(created.token.startsWith(created.prefix)).toBe(true);
    const listed = await admin.controlCenter.apiTokens.list();
    expect(listed.find((t) => t.id === created.id)).not.toHaveProperty('token');
    const keyed = client({ auth: { type: 'apiKey', apiKey: created.token }, retry: false });
    await expect(keyed.orchestrator.listTasks()).resolves.toBeInstanceOf(Array);
    const { ciphertext } = await keyed.kms.encrypt('from a script');
    expect(new TextDecoder().decode((await admin.kms.decrypt(ciphertext)).plaintext)).toBe('from a script');
    expect((await keyed.extensionRegistry.list()).length).toBeGreaterThan(0);
    // Outside its scopes the key is refused, whatever its owner may do.
    expect(await failure(keyed.kms.decrypt(ciphertext))).toMatchObject({ code: 'ERR_CLIENT_FORBIDDEN', status: 403 });
    // Self-service needs a user session: a leaked key cannot mint more keys or enroll MFA.
    expect((await failure(keyed.controlCenter.apiTokens.list())).code).toBe('ERR_CLIENT_FORBIDDEN');
    expect(await admin.controlCenter.apiTokens.revoke(created.id)).toEqual({ revoked: 1 });
    expect(await failure(keyed.orchestrator.listTasks())).toMatchObject({ code: 'ERR_CLIENT_UNAUTHENTICATED' });
  });

  it('KMS: encrypt/decrypt round trip bound to its context, data keys, status', async () => {
    const data = randomBytes(1000);
    const encrypted = await admin.kms.encrypt(data, { tenant: 'acme', purpose: 'test' });
    const decrypted = await admin.kms.decrypt(encrypted.ciphertext, { purpose: 'test', tenant: 'acme' });
    expect(Buffer.from(decrypted.plaintext)).toEqual(data);
    expect(decrypted.keyId).toBe(encrypted.key_id);
    const mismatch = await failure(admin.kms.decrypt(encrypted.ciphertext, { tenant: 'other', purpose: 'test' }));
    expect(mismatch).toMatchObject({ code: 'ERR_CLIENT_BAD_REQUEST', status: 400, serverCode: 'CONTEXT_MISMATCH' });
    expect(mismatch.message).not.toContain(data.toString('base64'));
    const key = await admin.kms.generateDataKey('AES_256', { tenant: 'acme' });
    expect(key.plaintext).toHaveLength(32);
    expect(Buffer.from((await admin.kms.decrypt(key.ciphertext, { tenant: 'acme' })).plaintext)).toEqual(
      Buffer.from(key.plaintext),
    );
    expect(await admin.kms.status()).toMatchObject({ healthy: true });
  });

  it('API server: operations through wait() with progress, cancel(), conflicts, its own login and refresh', async () => {
    const request = {
      workspace: 'prod',
      provider: 'upcloud',
      plan: '1xCPU-2GB',
      hostname: 'web-01',
      zone: 'fi-hel1',
      check_mode: false,
      tags: ['web'],
    };
    const op = await admin.apiServer.createServer(request);
    const seen: string[] = [];
    const done = await op.wait({ intervalMs: 50, maxIntervalMs: 200, onProgress: (o) => seen.push(o.status) });
    expect(done.status).toBe('completed');
    expect(seen.at(0)).toMatch(/^(pending|running)$/);
    expect(seen.at(-1)).toBe('completed');
    const servers = [];
    for await (const server of admin.apiServer.servers({ pageSize: 1 })) servers.push(server);
    const web = servers.find((s) => s.hostname === 'web-01');
    expect(web?.id).toMatch(/^srv-/);
    expect(await admin.apiServer.getServer(web?.id as string)).toMatchObject({ hostname: 'web-01' });

    const duplicate = await failure(admin.apiServer.createServer(request));
    expect(duplicate).toMatchObject({ code: 'ERR_CLIENT_CONFLICT', status: 409, serverCode: 'SERVER_EXISTS' });
    const finished = await failure(op.cancel());
    expect(finished).toMatchObject({ code: 'ERR_CLIENT_CONFLICT', serverCode: 'OPERATION_FINISHED' });

    const second = await admin.apiServer.createServer({ ...request, hostname: 'web-02' });
    expect((await second.cancel()).status).toBe('cancelled');
    expect((await failure(second.wait({ intervalMs: 50 }))).code).toBe('ERR_CLIENT_OPERATION_CANCELLED');
    expect((await second.poll()).status).toBe('cancelled');

    const missing = await failure(admin.apiServer.getServer('srv-missing'));
    expect(missing).toMatchObject({ code: 'ERR_CLIENT_NOT_FOUND', status: 404, serverCode: 'SERVER_NOT_FOUND' });

    // The API server's own tokens: login, then /v1/auth/refresh rotates them.
    const tokens = await admin.apiServer.login(OPS);
    const rotated = await admin.apiServer.refresh(tokens.refresh_token);
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    const bearer = client({ auth: { type: 'bearer', token: rotated.token } });
    expect((await bearer.apiServer.metrics()).operations_total).toBeGreaterThanOrEqual(2);
    const spent = await failure(admin.apiServer.refresh(tokens.refresh_token));
    expect(spent).toMatchObject({ code: 'ERR_CLIENT_UNAUTHENTICATED', serverCode: 'INVALID_REFRESH_TOKEN' });
  });

  it('orchestrator: submits a workflow and follows its tasks to completion; 403 and 404 carry the server codes', async () => {
    const workflowId = await admin.orchestrator.submitWorkflow('servers', { infra: 'prod', params: { count: 2 } });
    const tasks = await eventually(async () => {
      const mine = [];
      for await (const task of admin.orchestrator.tasks({}, { pageSize: 2 })) {
        if ((task as { workflow_id?: string }).workflow_id === workflowId) mine.push(task);
      }
      return mine.length === 4 && mine.every((t) => t.status === 'Completed') ? mine : undefined;
    });
    expect(tasks.map((t) => t.name).sort()).toEqual(['configure', 'provision', 'validate', 'verify']);
    const one = await admin.orchestrator.getTask(tasks[0]?.id as string);
    expect(one).toMatchObject({ status: 'Completed', progress: 100 });
    const completed = await admin.orchestrator.listTasks({ status: 'Completed', limit: 1000 });
    expect(completed.filter((t) => tasks.some((m) => m.id === t.id))).toHaveLength(4);

    expect(await failure(admin.orchestrator.getTask(randomUUID()))).toMatchObject({
      code: 'ERR_CLIENT_NOT_FOUND',
      status: 404,
      serverCode: 'NOT_FOUND',
    });
    const viewer = await createUser('vera', ['Viewer']);
    const readOnly = client();
    await readOnly.login({ username: 'vera', password: viewer.password });
    expect(await failure(readOnly.orchestrator.submitWorkflow('servers', { infra: 'x', params: {} }))).toMatchObject({
      code: 'ERR_CLIENT_FORBIDDEN',
      status: 403,
      serverCode: 'FORBIDDEN',
    });
    expect((await failure(readOnly.controlCenter.users.list())).code).toBe('ERR_CLIENT_FORBIDDEN');
  });

  it('orchestrator: streams task events over /ws (the token in the URL, as the platform does)', async () => {
    const stop = new AbortController();
    // Node 20 has no global WebSocket: the ws package stands in.
    const stream = admin.orchestrator.events({
      events: ['task'],
      signal: stop.signal,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const seen: OrchestratorEvent[] = [];
    const reading = (async () => {
      for await (const event of stream) {
        seen.push(event);
        if (event.task?.status === 'Completed') stop.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 500)); // let the socket open before the workflow starts
    await admin.orchestrator.submitWorkflow('batch', { infra: 'events', params: {} });
    await Promise.race([reading, new Promise((_, reject) => setTimeout(() => reject(new Error('no events')), 20_000))]);
    expect(seen.every((e) => e.event_type === 'task')).toBe(true);
    expect(seen.map((e) => e.task?.status)).toContain('Completed');
  });

  it('extension registry: listing with token auth, pagination, latest version, versions, 404', async () => {
    const anonymous = await failure(client({ auth: { type: 'none' } }).extensionRegistry.list());
    expect(anonymous).toMatchObject({ code: 'ERR_CLIENT_UNAUTHENTICATED', status: 401 });
    // The list has the latest version of each extension.
    const all = await admin.extensionRegistry.list();
    expect(all.map((e) => `${e.type}/${e.name}@${e.version}`)).toEqual([
      'cluster/k8s-ha@0.1.0',
      'provider/upcloud@1.1.0',
      'taskserv/kubernetes@2.0.0',
    ]);
    const paged = [];
    for await (const e of admin.extensionRegistry.extensions({}, { pageSize: 1 })) paged.push(e);
    expect(paged).toEqual(all);
    expect((await admin.extensionRegistry.list({ type: 'provider' })).every((e) => e.type === 'provider')).toBe(true);
    const latest = await admin.extensionRegistry.get('provider', 'upcloud');
    expect(latest).toMatchObject({ version: '1.1.0', source: 'oci', author: 'Platform Team', tags: ['cloud', 'test'] });
    expect(latest.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await admin.extensionRegistry.versions('provider', 'upcloud')).map((e) => e.version)).toEqual([
      '1.1.0',
      '1.0.0',
    ]);
    expect(await failure(admin.extensionRegistry.get('provider', 'nope'))).toMatchObject({
      code: 'ERR_CLIENT_NOT_FOUND',
      serverCode: 'EXTENSION_NOT_FOUND',
    });
  });

  it('extension registry: search, and downloads verified against the announced checksum', async () => {
    const hits = await admin.extensionRegistry.search({ q: 'upcloud' });
    expect(hits.map((e) => `${e.type}/${e.name}@${e.version}`)).toEqual(['provider/upcloud@1.1.0']);
    const latest = await admin.extensionRegistry.download('provider', 'upcloud');
    expect(latest.version).toBe('1.1.0');
    expect(latest.checksum).toBe(hits[0]?.checksum);
    expect(latest.bytes.byteLength).toBe(hits[0]?.size);
    const old = await admin.extensionRegistry.download('provider', 'upcloud', { version: '1.0.0', source: 'oci' });
    expect(old.version).toBe('1.0.0');
    expect(old.checksum).not.toBe(latest.checksum);
    expect(await failure(admin.extensionRegistry.download('provider', 'upcloud', { version: '9.9.9' }))).toMatchObject({
      code: 'ERR_CLIENT_NOT_FOUND',
      serverCode: 'EXTENSION_NOT_FOUND',
    });
  });

  it('users: 409 for a taken username; a role change ends the user’s sessions', async () => {
    const bob = await createUser('bob', ['Viewer']);
    const taken = await failure(admin.controlCenter.users.create({ username: 'bob', password: 'y'.repeat(20) }));
    expect(taken).toMatchObject({ code: 'ERR_CLIENT_CONFLICT', status: 409, serverCode: 'USER_EXISTS' });
    const session = client({ retry: false });
    await session.login({ username: 'bob', password: bob.password });
    expect((await admin.controlCenter.users.setRoles(bob.id, ['Developer'])).roles).toEqual(['Developer']);
    expect((await failure(session.controlCenter.sessions())).code).toBe('ERR_CLIENT_UNAUTHENTICATED');
    expect((await admin.controlCenter.users.list()).map((u) => u.username)).toEqual(
      expect.arrayContaining(['root', 'bob']),
    );
  });

  it('changes a password: the old one stops working, other sessions end, this one stays', async () => {
    const carol = await createUser('carol', ['Viewer']);
    const here = client({ retry: false });
    const elsewhere = client({ retry: false });
    await here.login({ username: 'carol', password: carol.password });
    await elsewhere.login({ username: 'carol', password: carol.password });
    const wrong = await failure(here.controlCenter.changePassword('not-the-password', 'n'.repeat(20)));
    // 403, not 401: the token is fine, and a 401 would make a client refresh and retry.
    expect(wrong).toMatchObject({ status: 403, serverCode: 'INVALID_CURRENT_PASSWORD' });
    const next = `carol-new-password-${randomUUID()}`;
    expect(await here.controlCenter.changePassword(carol.password, next)).toEqual({
      changed: true,
      sessions_revoked: 1,
    });
    expect((await failure(elsewhere.controlCenter.sessions())).code).toBe('ERR_CLIENT_UNAUTHENTICATED');
    expect((await here.controlCenter.sessions()).length).toBe(1);
    expect((await failure(client().login({ username: 'carol', password: carol.password }))).status).toBe(401);
    await client().login({ username: 'carol', password: next });
  });

  it('policy status: the set in force and how it was loaded', async () => {
    const status = await admin.controlCenter.policies.status();
    expect(status.version).toMatch(/^sha256:/);
    expect(status.policies).toBeGreaterThan(10);
    expect(status.last_reload).toMatchObject({ outcome: 'loaded', errors: [] });
  });

  describe('the orchestrator’s security routes through the client', () => {
    /** A user with roles and teams who logged in with TOTP (a session stepped up by MFA). */
    const mfaUser = async (username: string, roles: string[], teams: string[]) => {
      const { id, password } = await createUser(username, roles);
      await admin.controlCenter.users.setTeams(id, teams);
      const session = client();
      await session.login({ username, password });
      const enrollment = await session.controlCenter.mfa.enroll('totp');
      if (enrollment.type !== 'totp') throw new Error('expected a TOTP enrollment');
      await session.controlCenter.mfa.verify(totp(base32Decode(enrollment.secret), Date.now()));
      return { id, session };
    };

    it('dynamic secrets: generate (credentials once), get, list, expiring, stats, revoke', async () => {
      const secret = await admin.orchestrator.secrets.generate({
        type: 'ssh_key',
        ttl_seconds: 900,
        params: { workspace: 'dev-eu' },
      });
      expect(secret).toMatchObject({ type: 'ssh_key', revoked: false });
      expect(Object.keys(secret.credentials).length).toBeGreaterThan(0);
      const lease = await admin.orchestrator.secrets.get(secret.id);
      expect(lease).toMatchObject({ id: secret.id, revoked: false });
      expect(lease).not.toHaveProperty('credentials');
      const listed = [];
      for await (const l of admin.orchestrator.secrets.list({ pageSize: 1 })) listed.push(l.id);
      expect(listed).toContain(secret.id);
      expect((await admin.orchestrator.secrets.expiring(3600)).map((l) => l.id)).toContain(secret.id);
      expect((await admin.orchestrator.secrets.stats()).active).toBeGreaterThanOrEqual(1);
      expect((await admin.orchestrator.secrets.revoke(secret.id, 'test finished')).revoked).toBe(true);
      expect(await failure(admin.orchestrator.secrets.get('secret-ssh-key:missing'))).toMatchObject({
        code: 'ERR_CLIENT_NOT_FOUND',
      });
    });

    it('SSH temporal keys: generate (private key once), get, list, revoke', async () => {
      const key = await admin.orchestrator.ssh.generate({ server: 'dev-web', user: 'deploy', ttl_seconds: 600 });
      expect(key).toMatchObject({ type: 'dynamic', server: 'dev-web', user: 'deploy', revoked: false });
      expect(key.fingerprint).toMatch(/^SHA256:/);
      expect(key.private_key).toContain('PRIVATE KEY');
      const again = await admin.orchestrator.ssh.get(key.id);
      expect(again.private_key).toBeUndefined();
      const all = [];
      for await (const k of admin.orchestrator.ssh.list()) all.push(k.id);
      expect(all).toContain(key.id);
      expect((await admin.orchestrator.ssh.revoke(key.id, 'done')).revoked).toBe(true);
    });

    it('audit: query page by page, one event, verify the chain, stats, exports in their formats', async () => {
      const events = [];
      for await (const e of admin.orchestrator.audit.events({ outcome: 'success' }, { pageSize: 20, maxItems: 50 })) {
        events.push(e);
      }
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.outcome === 'success')).toBe(true);
      const first = events[0] as (typeof events)[number];
      expect(await admin.orchestrator.audit.get(first.id)).toMatchObject({ id: first.id, action: first.action });
      expect(await admin.orchestrator.audit.verify()).toMatchObject({ valid: true, first_invalid_id: null });
      expect((await admin.orchestrator.audit.stats()).total).toBeGreaterThanOrEqual(events.length);
      const csv = await admin.orchestrator.audit.export('csv');
      expect(csv.split('\n')[0]).toMatch(/,/);
      expect(csv).not.toContain(ADMIN.password);
      const jsonl = await admin.orchestrator.audit.export('jsonl');
      const lines = jsonl.trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines.slice(0, 5)) expect(() => JSON.parse(line)).not.toThrow();
      // Only auditors, security and administrators read the trail.
      const viewer = client();
      const { password } = await createUser('viktor', ['Viewer']);
      await viewer.login({ username: 'viktor', password });
      expect((await failure(viewer.orchestrator.audit.query())).code).toBe('ERR_CLIENT_FORBIDDEN');
    });

    it('compliance: controls, a report, a GDPR request, incidents', async () => {
      const controls = await admin.orchestrator.compliance.controls('soc2');
      expect(controls.length).toBeGreaterThan(0);
      expect(controls.every((c) => c.framework === 'soc2')).toBe(true);
      expect(await admin.orchestrator.compliance.report('soc2')).toBeDefined();
      const me = (await admin.controlCenter.verify()).claims.sub;
      const request = await admin.orchestrator.compliance.createDataSubjectRequest({ type: 'access', subject: me });
      expect((await admin.orchestrator.compliance.getDataSubjectRequest(request.id)).id).toBe(request.id);
      // A request filed for someone else waits for verification; its deadline can be extended once.
      const { id: cleo } = await createUser('cleo', ['Viewer']);
      const filed = await admin.orchestrator.compliance.createDataSubjectRequest({ type: 'erasure', subject: cleo });
      expect(filed.status).toBe('received');
      const reason = 'the erasure spans several archived systems';
      const extended = await admin.orchestrator.compliance.extendDataSubjectRequest(filed.id, reason);
      expect(extended.extension?.reason).toBe(reason);
      expect(Date.parse(extended.due_at)).toBeGreaterThan(Date.parse(filed.due_at));
      expect(await failure(admin.orchestrator.compliance.extendDataSubjectRequest(filed.id, reason))).toMatchObject({
        code: 'ERR_CLIENT_CONFLICT',
        serverCode: 'EXTENSION_REFUSED',
      });
      const incident = await admin.orchestrator.compliance.createIncident({ title: 'Test incident', severity: 'low' });
      const incidents = [];
      for await (const i of admin.orchestrator.compliance.incidents()) incidents.push(i.id);
      expect(incidents).toContain(incident.id);
    });

    it('break-glass: two teams approve, the requester activates, the emergency token works in its scope only', async () => {
      await admin.controlCenter.users.setTeams((await admin.controlCenter.verify()).claims.sub, ['platform-admin']);
      const rita = await mfaUser('rita', ['Operator'], ['sre']);
      const sam = await mfaUser('sam', ['Viewer'], ['security']);
      const filed = await rita.session.orchestrator.breakGlass.request({
        reason: 'the staging database is down and the on-call must fail it over',
        incident_id: 'INC-7',
        permissions: ['create', 'list'],
        duration_seconds: 600,
      });
      expect(filed).toMatchObject({ status: 'pending', requester: rita.id });
      // The requester cannot approve their own request.
      expect((await failure(rita.session.orchestrator.breakGlass.approve(filed.id))).status).toBe(403);
      expect((await admin.orchestrator.breakGlass.approve(filed.id, 'seen')).status).toBe('pending');
      expect((await sam.session.orchestrator.breakGlass.approve(filed.id)).status).toBe('approved');
      const activation = await rita.session.orchestrator.breakGlass.activate(filed.id);
      expect(activation.request_id).toBe(filed.id);
      expect((await admin.orchestrator.breakGlass.active()).map((r) => r.id)).toContain(filed.id);

      const emergency = client({ auth: { type: 'bearer', token: activation.token }, retry: false });
      await expect(
        emergency.orchestrator.submitWorkflow('cluster', { infra: 'staging-eu', params: {} }),
      ).resolves.toEqual(expect.any(String));
      expect(await failure(emergency.kms.encrypt('outside the scope'))).toMatchObject({
        code: 'ERR_CLIENT_FORBIDDEN',
        serverCode: 'EMERGENCY_SCOPE',
      });
      expect((await rita.session.orchestrator.breakGlass.revoke(filed.id, 'over')).status).not.toBe('active');
      expect((await failure(emergency.orchestrator.listTasks())).code).toBe('ERR_CLIENT_UNAUTHENTICATED');
      expect(await failure(admin.orchestrator.breakGlass.get('missing'))).toMatchObject({
        code: 'ERR_CLIENT_NOT_FOUND',
        serverCode: 'BREAK_GLASS_NOT_FOUND',
      });
    });
  });

  it('429 with Retry-After: repeated wrong passwords lock the account (never retried by the client)', async () => {
    const mallory = await createUser('mallory', ['Viewer']);
    const attacker = client();
    let locked: PlatformClientError | undefined;
    for (let attempt = 1; attempt <= 8 && locked === undefined; attempt++) {
      const error = await failure(attacker.login({ username: 'mallory', password: 'wrong password!!' }));
      if (error.status === 429) locked = error;
      else expect(error).toMatchObject({ status: 401, serverCode: 'INVALID_CREDENTIALS' });
    }
    expect(locked).toMatchObject({ code: 'ERR_CLIENT_RATE_LIMITED', retryable: true, serverCode: 'LOCKED_OUT' });
    expect(locked?.retryAfterMs).toBeGreaterThan(0);
    expect(locked?.retryAfterMs).toBeLessThanOrEqual(60_000);
    // The right password does not get through the lockout either.
    expect((await failure(attacker.login({ username: 'mallory', password: mallory.password }))).status).toBe(429);
  });
  describe('the provisioning CLI against them (spawned, as the bin runs)', () => {
    let home: { path: string; remove(): void };
    let env: Record<string, string>;
    let password: string;
    let adaId: string;
    let secret: Buffer;
    beforeAll(async () => {
      home = tempDir();
      env = { ...platform.cliEnv, PROVISIONING_SESSION_FILE: join(home.path, 'session.json') };
      // A user with TOTP, enrolled through the client.
      ({ id: adaId, password } = await createUser('cli-ada', ['Admin']));
      const enrolling = client();
      await enrolling.login({ username: 'cli-ada', password });
      const enrollment = await enrolling.controlCenter.mfa.enroll('totp');
      if (enrollment.type !== 'totp') throw new Error('expected a TOTP enrollment');
      secret = base32Decode(enrollment.secret);
      expect((await enrolling.controlCenter.mfa.verify(totp(secret, Date.now()))).verified).toBe(true);
    });
    afterAll(() => home?.remove());
    const cli = (args: string[], extra: { env?: Record<string, string>; input?: string } = {}) =>
      runCliProcess(args, {
        env: { ...env, ...extra.env },
        ...(extra.input !== undefined ? { input: extra.input } : {}),
      });

    it('health and status: tables, --json, exit 0 with every service healthy', async () => {
      const health = await cli(['health']);
      expect(health.code).toBe(EXIT_CODES.ok);
      for (const service of SERVICE_NAMES)
        expect(health.stdout).toMatch(new RegExp(`${service}\\s+http://\\S+\\s+healthy`));
      const status = await cli(['status', '--json']);
      expect(status.code).toBe(EXIT_CODES.ok);
      expect(JSON.parse(status.stdout)).toMatchObject({ healthy: true, session: null });
    });

    it('login: exit 3 without the MFA code; with a TOTP code, an owner-only session file; then status', async () => {
      const without = await cli(['login', '--username', 'cli-ada', '--password-stdin'], { input: `${password}\n` });
      expect(without.code).toBe(EXIT_CODES.auth);
      expect(without.stderr).toContain('ERR_CLIENT_MFA_REQUIRED');
      const code = totp(secret, Date.now() + 30_000);
      const login = await cli(['login', '--username', 'cli-ada', '--password-stdin', '--mfa-code', code], {
        input: `${password}\n`,
      });
      expect(login.code).toBe(EXIT_CODES.ok);
      expect(login.stdout).toContain('logged in as cli-ada');
      expect(login.stdout + login.stderr).not.toContain(password);
      expect(statSync(env.PROVISIONING_SESSION_FILE as string).mode & 0o777).toBe(0o600);
      const status = await cli(['status']);
      expect(status.code).toBe(EXIT_CODES.ok);
      expect(status.stdout).toContain('logged in as cli-ada (Admin)');
    });

    it('kms encrypt | decrypt round trip with a context; the wrong context exits 6', async () => {
      const encrypted = await cli(['kms', 'encrypt', '--context', 'tenant=acme'], { input: 'cli secret value' });
      expect(encrypted.code).toBe(EXIT_CODES.ok);
      const ciphertext = encrypted.stdout.trim();
      expect(ciphertext).not.toContain('cli secret value');
      const decrypted = await cli(['kms', 'decrypt', '--context', 'tenant=acme'], { input: ciphertext });
      expect(decrypted).toMatchObject({ code: EXIT_CODES.ok, stdout: 'cli secret value' });
      // --out into a file that already exists, world-readable: the plaintext lands owner-only.
      const plainOut = join(home.path, 'plain.txt');
      writeFileSync(plainOut, '', { mode: 0o644 });
      chmodSync(plainOut, 0o644);
      const toFile = await cli(['kms', 'decrypt', '--context', 'tenant=acme', '--out', plainOut], {
        input: ciphertext,
      });
      expect(toFile.code).toBe(EXIT_CODES.ok);
      expect(readFileSync(plainOut, 'utf8')).toBe('cli secret value');
      expect(statSync(plainOut).mode & 0o777).toBe(0o600);
      const wrong = await cli(['kms', 'decrypt', '--context', 'tenant=other', '--json'], { input: ciphertext });
      expect(wrong.code).toBe(EXIT_CODES.rejected);
      expect(JSON.parse(wrong.stderr).error).toMatchObject({
        code: 'ERR_CLIENT_BAD_REQUEST',
        serverCode: 'CONTEXT_MISMATCH',
      });
    });

    it('workflow submit, status (of the workflow id) and list; an unknown id exits 5', async () => {
      const submit = await cli([
        'workflow',
        'submit',
        'taskserv',
        '--infra',
        'staging',
        '--param',
        'name=k8s',
        '--json',
      ]);
      expect(submit.code).toBe(EXIT_CODES.ok);
      const id = JSON.parse(submit.stdout).workflow_id as string;
      const done = await eventually(async () => {
        const status = await cli(['workflow', 'status', id, '--json']);
        expect(status.code).toBe(EXIT_CODES.ok);
        const value = JSON.parse(status.stdout) as { status: string; tasks: unknown[] };
        return value.status === 'Completed' ? value : undefined;
      });
      expect(done.tasks).toHaveLength(3);
      const table = await cli(['workflow', 'status', id]);
      expect(table.stdout).toMatch(/validate\s+Completed\s+100%/);
      expect(table.stdout).toContain(`workflow ${id}: Completed`);
      const list = await cli(['workflow', 'list', '--status', 'Completed', '--json']);
      expect(JSON.parse(list.stdout).length).toBeGreaterThanOrEqual(3);
      expect((await cli(['workflow', 'status', randomUUID()])).code).toBe(EXIT_CODES.notFound);
    });

    it('audit query (table, --json) and export --format csv', async () => {
      const table = await cli(['audit', 'query', '--limit', '5']);
      expect(table.code).toBe(EXIT_CODES.ok);
      expect(table.stdout).toMatch(/^time\s+actor\s+action\s+resource\s+outcome/m);
      const events = JSON.parse(
        (await cli(['audit', 'query', '--outcome', 'success', '--limit', '3', '--json'])).stdout,
      );
      expect(events).toHaveLength(3);
      expect(events.every((e: { outcome: string }) => e.outcome === 'success')).toBe(true);
      const out = join(home.path, 'audit.csv');
      const exported = await cli(['audit', 'export', '--format', 'csv', '--out', out, '--json']);
      expect(exported.code).toBe(EXIT_CODES.ok);
      expect(JSON.parse(exported.stdout).bytes).toBeGreaterThan(0);
    });

    it('extension list, show and download (checked against the registry checksum)', async () => {
      const list = JSON.parse((await cli(['extension', 'list', '--type', 'provider', '--json'])).stdout);
      expect(list.map((e: { name: string; version: string }) => `${e.name}@${e.version}`)).toEqual(['upcloud@1.1.0']);
      const table = await cli(['extension', 'list']);
      expect(table.stdout).toMatch(/^type\s+name\s+version/m);
      expect(table.stdout).toMatch(/taskserv\s+kubernetes\s+2\.0\.0/);
      const show = JSON.parse((await cli(['extension', 'show', 'provider', 'upcloud', '--json'])).stdout);
      expect([show.version, show.versions.map((v: { version: string }) => v.version).sort()]).toEqual([
        '1.1.0',
        ['1.0.0', '1.1.0'],
      ]);
      const out = join(home.path, 'upcloud.tar.gz');
      const got = await cli(['extension', 'download', 'provider', 'upcloud@1.0.0', '--out', out, '--json']);
      expect(got.code).toBe(EXIT_CODES.ok);
      const result = JSON.parse(got.stdout);
      expect(result).toMatchObject({ out, version: '1.0.0' });
      expect(`sha256:${createHash('sha256').update(readFileSync(out)).digest('hex')}`).toBe(result.checksum);
      expect((await cli(['extension', 'list', '--type', 'plugin'])).code).toBe(EXIT_CODES.usage);
      expect((await cli(['extension', 'download', 'provider', 'upcloud@../x'])).code).toBe(EXIT_CODES.usage);
      expect((await cli(['extension', 'show', 'provider', 'nope'])).code).toBe(EXIT_CODES.notFound);
    });

    it('gdpr: an own access request exports to an owner-only file; a filed erasure is extended once, verified, completed', async () => {
      // Without --out or --json the export (the only copy) would have nowhere to go: refused before any call.
      const refused = await cli(['gdpr', 'request', 'access', '--subject', adaId]);
      expect(refused.code).toBe(EXIT_CODES.usage);
      expect(refused.stderr).toContain('--out');
      const out = join(home.path, 'dsr-export.json');
      const access = await cli(['gdpr', 'request', 'access', '--subject', adaId, '--out', out]);
      expect(access.code).toBe(EXIT_CODES.ok);
      expect(access.stdout).toMatch(new RegExp(`access for ${adaId}, completed, due \\S+\n`));
      expect(access.stdout).toContain(`export written to ${out}`);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ format: 'provisioning.dsr-export/v1' });

      const { id: dora } = await createUser('cli-dora', ['Viewer']);
      const filed = JSON.parse((await cli(['gdpr', 'request', 'erasure', '--subject', dora, '--json'])).stdout);
      expect(filed).toMatchObject({ type: 'erasure', subject: dora, status: 'received' });
      const reason = 'the erasure spans archived systems';
      const extended = await cli(['gdpr', 'extend', filed.id, '--reason', reason]);
      expect(extended.code).toBe(EXIT_CODES.ok);
      expect(extended.stdout).toContain(`: ${reason}\n`);
      const again = await cli(['gdpr', 'extend', filed.id, '--reason', reason, '--json']);
      expect(again.code).toBe(EXIT_CODES.rejected);
      expect(JSON.parse(again.stderr).error).toMatchObject({ serverCode: 'EXTENSION_REFUSED' });
      const status = JSON.parse((await cli(['gdpr', 'status', filed.id, '--json'])).stdout);
      expect(Date.parse(status.due_at)).toBeGreaterThan(Date.parse(filed.due_at));
      expect((await cli(['gdpr', 'verify', filed.id, '--reference', 'TICKET-4711'])).code).toBe(EXIT_CODES.usage);
      const verified = await cli(['gdpr', 'verify', filed.id, '--reference', 'TICKET-4711', '--json']);
      expect(verified.code).toBe(EXIT_CODES.ok);
      expect(JSON.parse(verified.stdout)).toMatchObject({ id: filed.id, status: 'completed' });

      expect((await cli(['gdpr', 'request', 'rectification', '--subject', dora])).code).toBe(EXIT_CODES.usage);
      expect((await cli(['gdpr', 'request', 'deletion', '--subject', dora])).code).toBe(EXIT_CODES.usage);
      expect((await cli(['gdpr', 'status', randomUUID()])).code).toBe(EXIT_CODES.notFound);
    });

    it('logout --all revokes the sessions; the CLI then exits 3', async () => {
      const logout = await cli(['logout', '--all', '--json']);
      expect(logout.code).toBe(EXIT_CODES.ok);
      expect(JSON.parse(logout.stdout).revoked).toBeGreaterThanOrEqual(1);
      const after = await cli(['kms', 'encrypt'], { input: 'x' });
      expect(after.code).toBe(EXIT_CODES.auth);
    });
  });
});
