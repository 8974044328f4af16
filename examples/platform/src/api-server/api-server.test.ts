import { parseRouteResponse, API_SERVER_ROUTES as R } from '@provisioning/platform-client/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { type ApiServerOptions, createApiServer } from './index.js';
import type { ProvisioningStep } from './provisioner.js';

type TestPlatform = Awaited<ReturnType<typeof createTestPlatform>>;
type Op = { id: string; status: string; result: unknown; error: string | null; type?: string };

/** A provisioning step that waits until released (or aborted). */
function gate(): { step: ProvisioningStep; release(): void; started: number } {
  const waiting: (() => void)[] = [];
  let open = false;
  const g = {
    started: 0,
    step: ((_type, signal) => {
      g.started++;
      if (open) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push(resolve);
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    }) as ProvisioningStep,
    release() {
      open = true;
      for (const w of waiting.splice(0)) w();
    },
  };
  return g;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('API server', () => {
  let platform: TestPlatform;
  let server: Awaited<ReturnType<typeof createApiServer>>;
  const tokens: Record<string, string> = {};

  const start = async (options: ApiServerOptions = {}) => {
    await server?.close();
    const created = await createApiServer(platform, { step: async () => {}, ...options });
    server = Object.assign(created, { app: fromLoopback(created.app) });
    return server;
  };
  const call = (method: string, path: string, who: string | undefined, body?: unknown, type = 'application/json') =>
    server.app.request(path, {
      method,
      headers: {
        ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}),
        ...(body !== undefined ? { 'content-type': type } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
  const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;
  const op = async (id: string) => json<Op>(await call('GET', `/v1/operations/${id}`, 'admin'));
  const serverBody = (hostname: string, extra: Record<string, unknown> = {}) => ({
    workspace: 'ws1',
    provider: 'upcloud',
    plan: 'small',
    hostname,
    zone: 'fi-hel1',
    check_mode: false,
    tags: ['web'],
    ...extra,
  });

  beforeEach(async () => {
    platform = await createTestPlatform();
    for (const [name, roles] of Object.entries({
      admin: ['Admin'],
      operator: ['Operator'],
      developer: ['Developer'],
      viewer: ['Viewer'],
    })) {
      const id = await addUser(platform, name, 'correct horse battery staple', roles);
      tokens[name] = (
        await platform.tokens.issue({ subject: id, roles, mfaAt: new Date(platform.clock.now()) })
      ).accessToken;
      const noMfa = (await platform.tokens.issue({ subject: id, roles })).accessToken;
      tokens[`${name}-nomfa`] = noMfa;
    }
    await start();
  });
  afterEach(async () => {
    await server.close();
    await platform.dispose();
  });

  it('answers health without auth, and serves its OpenAPI document', async () => {
    for (const path of ['/health', R.health.path]) {
      const res = await call('GET', path, undefined);
      expect(res.status).toBe(200);
      expect(parseRouteResponse(R.health, await res.json())).toMatchObject({ status: 'healthy' });
    }
    const doc = await json<{ paths: Record<string, unknown> }>(await call('GET', '/openapi.json', undefined));
    expect(Object.keys(doc.paths)).toContain(R.createServer.path);
  });

  it('logs in with a password, refreshes with rotation, and refuses wrong credentials', async () => {
    const res = await call('POST', R.login.path, undefined, {
      username: 'admin',
      password: 'correct horse battery staple',
    });
    expect(res.status).toBe(200);
    const login = parseRouteResponse(R.login, await res.json()) as {
      token: string;
      refresh_token: string;
      expires_in: number;
    };
    expect(login.expires_in).toBe(900);
    const list = await server.app.request(R.listServers.path, { headers: { authorization: `Bearer ${login.token}` } });
    expect(list.status).toBe(200);

    const refreshed = await call('POST', R.refresh.path, undefined, { refresh_token: login.refresh_token });
    expect(refreshed.status).toBe(200);
    const next = parseRouteResponse(R.refresh, await refreshed.json()) as { refresh_token: string };
    expect(next.refresh_token).not.toBe(login.refresh_token);

    const wrong = await call('POST', R.login.path, undefined, { username: 'admin', password: 'nope' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'INVALID_CREDENTIALS', message: expect.any(String), code: '401' });
    const unknown = await call('POST', R.login.path, undefined, { username: 'ghost', password: 'nope' });
    expect(await unknown.json()).toMatchObject({ error: 'INVALID_CREDENTIALS', code: '401' });
    const badRefresh = await call('POST', R.refresh.path, undefined, { refresh_token: 'forged' });
    expect(badRefresh.status).toBe(401);
    expect(await badRefresh.json()).toMatchObject({ error: 'INVALID_REFRESH_TOKEN', code: '401' });
  });

  it('runs a server creation asynchronously: 202 pending → poll → completed, persisted', async () => {
    const g = gate();
    await start({ step: g.step });
    const res = await call('POST', R.createServer.path, 'admin', serverBody('web-1'));
    expect(res.status).toBe(202);
    const created = parseRouteResponse(R.createServer, await res.json()) as Op;
    expect(created).toMatchObject({ status: 'pending', result: null, error: null, type: 'server.create' });
    await until(async () => (await op(created.id)).status === 'running', 'running');
    g.release();
    await server.runner.idle();
    const done = parseRouteResponse(
      R.getOperation,
      await (await call('GET', `/v1/operations/${created.id}`, 'admin')).json(),
    ) as Op;
    expect(done.status).toBe('completed');
    const made = done.result as { id: string; hostname: string };
    expect(made).toMatchObject({ hostname: 'web-1', provider: 'upcloud', status: 'running' });
    expect(made.id).toMatch(/^srv-/);

    const listed = await call('GET', R.listServers.path, 'viewer');
    expect(parseRouteResponse(R.listServers, await listed.json())).toEqual([made]);
    const one = await call('GET', `/v1/servers/${made.id}`, 'viewer');
    expect(parseRouteResponse(R.getServer, await one.json())).toEqual(made);
    expect((await call('GET', '/v1/servers/srv-nope', 'viewer')).status).toBe(404);

    // The state is in the database: a fresh API server on the same platform sees it.
    await start();
    expect((await op(created.id)).status).toBe('completed');
    const ops = parseRouteResponse(
      R.listOperations,
      await json(await call('GET', '/v1/operations?status=completed', 'admin')),
    );
    expect((ops as Op[]).map((o) => o.id)).toEqual([created.id]);
    // A second server with the same hostname is refused up front.
    expect((await call('POST', R.createServer.path, 'admin', serverBody('web-1'))).status).toBe(409);
  });

  it('plans without changing anything in check mode', async () => {
    const created = await json<Op>(
      await call('POST', R.createServer.path, 'admin', serverBody('plan-1', { check_mode: true })),
    );
    await server.runner.idle();
    expect(await op(created.id)).toMatchObject({ status: 'completed', result: { check_mode: true } });
    expect(await json(await call('GET', R.listServers.path, 'admin'))).toEqual([]);
  });

  it('cancels a running operation: its effect is never applied; cancelling twice is harmless, a finished one 409', async () => {
    const g = gate();
    await start({ step: g.step });
    const created = await json<Op>(await call('POST', R.createServer.path, 'admin', serverBody('web-2')));
    await until(async () => (await op(created.id)).status === 'running', 'running');
    const cancel = await call('POST', `/v1/operations/${created.id}/cancel`, 'admin');
    expect(cancel.status).toBe(200);
    expect(parseRouteResponse(R.cancelOperation, await cancel.json())).toMatchObject({ status: 'cancelled' });
    g.release();
    await server.runner.idle();
    expect((await op(created.id)).status).toBe('cancelled');
    expect(await json(await call('GET', R.listServers.path, 'admin'))).toEqual([]);
    expect(await json(await call('POST', `/v1/operations/${created.id}/cancel`, 'admin'))).toMatchObject({
      status: 'cancelled',
    });

    const finished = await json<Op>(
      await call('POST', R.createCluster.path, 'admin', {
        workspace: 'ws1',
        cluster: 'k8s',
        node_count: 3,
        check_mode: false,
      }),
    );
    await server.runner.idle();
    expect(await op(finished.id)).toMatchObject({
      status: 'completed',
      result: { cluster: 'k8s', node_count: 3, status: 'ready' },
    });
    const late = await call('POST', `/v1/operations/${finished.id}/cancel`, 'admin');
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ error: 'OPERATION_FINISHED', code: '409' });
    expect((await call('POST', '/v1/operations/nope/cancel', 'admin')).status).toBe(404);
  });

  it('cancels a pending operation before it starts', async () => {
    const g = gate();
    await start({ step: g.step, maxConcurrentOperations: 1 });
    const body = { workspace: 'w', cluster: 'c', node_count: 1, check_mode: false };
    const first = await json<Op>(await call('POST', R.createCluster.path, 'admin', body));
    const second = await json<Op>(await call('POST', R.createCluster.path, 'admin', body));
    await until(async () => (await op(first.id)).status === 'running', 'running');
    expect((await op(second.id)).status).toBe('pending');
    expect(await json(await call('POST', `/v1/operations/${second.id}/cancel`, 'admin'))).toMatchObject({
      status: 'cancelled',
    });
    g.release();
    await server.runner.idle();
    expect((await op(first.id)).status).toBe('completed');
    expect((await op(second.id)).status).toBe('cancelled');
    expect(g.started).toBe(1);
  });

  it('bounds concurrency and reports it in /v1/metrics', async () => {
    const g = gate();
    await start({ step: g.step, maxConcurrentOperations: 2 });
    const body = { workspace: 'w', cluster: 'c', node_count: 1, check_mode: true };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await json<Op>(await call('POST', R.createCluster.path, 'admin', body))).id);
    await until(async () => g.started === 2, 'two started');
    const statuses = await Promise.all(ids.map(async (id) => (await op(id)).status));
    expect(statuses.filter((s) => s === 'running')).toHaveLength(2);
    expect(statuses.filter((s) => s === 'pending')).toHaveLength(3);
    const metrics = parseRouteResponse(R.metrics, await json(await call('GET', R.metrics.path, 'admin')));
    expect(metrics).toMatchObject({ operations_running: 2, operations_total: 5, max_concurrent_operations: 2 });
    g.release();
    await server.runner.idle();
    for (const id of ids) expect((await op(id)).status).toBe('completed');
  });

  it('fails an operation that exceeds its timeout, and one interrupted by shutdown', async () => {
    await start({ step: gate().step, timeoutSeconds: 0.05 });
    const created = await json<Op>(await call('POST', R.createServer.path, 'admin', serverBody('slow')));
    await server.runner.idle();
    expect(await op(created.id)).toMatchObject({ status: 'failed', error: 'timed out after 0 s' });

    await start({ step: gate().step });
    const stuck = await json<Op>(await call('POST', R.createServer.path, 'admin', serverBody('stuck')));
    await until(async () => (await op(stuck.id)).status === 'running', 'running');
    await server.close();
    expect(await op(stuck.id)).toMatchObject({ status: 'failed', error: 'interrupted by shutdown' });
    expect(await json(await call('GET', R.listServers.path, 'admin'))).toEqual([]);
  });

  it('recovers after a restart: pending operations run, running ones are failed', async () => {
    await start({ step: gate().step, maxConcurrentOperations: 1 });
    const body = { workspace: 'w', cluster: 'c', node_count: 1, check_mode: false };
    const first = await json<Op>(await call('POST', R.createCluster.path, 'admin', body));
    const second = await json<Op>(await call('POST', R.createCluster.path, 'admin', body));
    await until(async () => (await op(first.id)).status === 'running', 'running');
    await server.close();
    expect((await op(second.id)).status).toBe('pending');
    await start(); // a new process on the same database, with an instant step
    await until(async () => (await op(second.id)).status === 'completed', 'the pending one to complete');
    expect(await op(first.id)).toMatchObject({ status: 'failed', error: 'interrupted by shutdown' });
  });

  it('fails a taskserv install on an unknown server with a readable error', async () => {
    const created = await json<Op>(
      await call('POST', R.createTaskserv.path, 'admin', {
        workspace: 'w',
        taskserv: 'kubernetes',
        servers: ['nowhere'],
        check_mode: false,
      }),
    );
    await server.runner.idle();
    expect(await op(created.id)).toMatchObject({ status: 'failed', error: 'server nowhere not found' });
  });

  it('deletes a server asynchronously, only with a recent MFA', async () => {
    const created = await json<Op>(await call('POST', R.createServer.path, 'admin', serverBody('gone')));
    await server.runner.idle();
    const id = ((await op(created.id)).result as { id: string }).id;
    expect((await call('DELETE', `/v1/servers/${id}`, 'admin-nomfa')).status).toBe(403);
    const del = await call('DELETE', `/v1/servers/${id}`, 'admin');
    expect(del.status).toBe(202);
    await server.runner.idle();
    expect(await op((await json<Op>(del)).id)).toMatchObject({ status: 'completed', result: { id, deleted: true } });
    expect((await call('GET', `/v1/servers/${id}`, 'admin')).status).toBe(404);
  });

  describe('RBAC', () => {
    it('a Viewer cannot create (403 in the API error shape) and nothing is recorded', async () => {
      const res = await call('POST', R.createServer.path, 'viewer', serverBody('v'));
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: '403' });
      expect(await json(await call('GET', R.listOperations.path, 'admin'))).toEqual([]);
    });

    it('needs both the route permission (RBAC) and Cedar, in one audited decision', async () => {
      const dev = { workspace: 'dev-eu', cluster: 'c', node_count: 1, check_mode: true };
      const prod = { ...dev, workspace: 'prod-eu' };
      const viewer = await call('POST', R.createServer.path, 'viewer', serverBody('v', { workspace: 'dev-eu' }));
      expect(viewer.status).toBe(403);
      expect(await viewer.json()).toEqual({
        error: 'forbidden',
        message: 'The policy denies this request.',
        code: '403',
        request_id: expect.any(String),
      });
      // RBAC alone: a Developer has no cluster_manage, even where Cedar would let them (development).
      expect((await call('POST', R.createCluster.path, 'developer', dev)).status).toBe(403);
      // Cedar alone: an Operator has cluster_manage, but only administrators change production clusters.
      expect((await call('POST', R.createCluster.path, 'operator', prod)).status).toBe(403);
      expect((await call('POST', R.createCluster.path, 'operator', dev)).status).toBe(202);
      expect(
        (await call('POST', R.createServer.path, 'developer', serverBody('d', { workspace: 'dev-eu' }))).status,
      ).toBe(202);
      expect(
        (await call('POST', R.createServer.path, 'developer', serverBody('p', { workspace: 'prod-eu' }))).status,
      ).toBe(403);
      expect((await call('GET', R.listServers.path, 'viewer')).status).toBe(200);
      expect((await call('GET', R.metrics.path, 'viewer')).status).toBe(200);
      const ops = await json<Op[]>(await call('GET', R.listOperations.path, 'viewer'));
      expect(ops.map((o) => o.type).sort()).toEqual(['cluster.create', 'server.create']);
      await server.runner.idle();
      const ours = ops.find((o) => o.type === 'cluster.create') as Op;
      expect((await call('POST', `/v1/operations/${ours.id}/cancel`, 'viewer')).status).toBe(403);

      await new Promise((r) => setImmediate(r));
      await platform.auditLog.flush();
      const decisions = await platform.auditLog.query({ action: ['authz.allowed', 'authz.denied'] }, { limit: 100 });
      const ids = decisions.records
        .filter((r) => r.event.metadata?.kind === 'decision' && r.event.metadata?.operation === 'create')
        .map((r) => [r.event.outcome, r.event.metadata?.policyIds]);
      expect(ids).toEqual([
        ['denied', ['rbac:server_create']],
        ['denied', ['rbac:cluster_create']],
        ['denied', ['prod-cluster-admin-only']],
        ['success', ['rbac:cluster_create', 'dev-full-access']],
        ['success', ['rbac:server_create', 'dev-full-access']],
        ['denied', []],
      ]);
    });
  });

  describe('bad input', () => {
    const cluster = { workspace: 'w', cluster: 'c', node_count: 1, check_mode: false };
    const taskserv = { workspace: 'w', taskserv: 't', servers: ['a'], check_mode: false };
    it.each([
      [R.login.path, '{"username":', 400, 'MALFORMED_JSON'],
      [R.login.path, { username: 'admin' }, 400, 'INVALID_REQUEST'],
      [R.login.path, { username: 'admin', password: 1 }, 400, 'INVALID_REQUEST'],
      [R.login.path, { username: 'admin', password: 'x', mfa_code: '1' }, 400, 'UNKNOWN_FIELD'],
      [R.refresh.path, { refresh_token: 5 }, 400, 'INVALID_REQUEST'],
      [R.refresh.path, { refresh_token: 'x', extra: true }, 400, 'UNKNOWN_FIELD'],
      [R.createServer.path, '[', 400, 'MALFORMED_JSON'],
      [R.createServer.path, serverBody('x', { check_mode: 'yes' }), 400, 'INVALID_REQUEST'],
      [R.createServer.path, serverBody('x', { tags: 'web' }), 400, 'INVALID_REQUEST'],
      [R.createServer.path, serverBody('x', { size: 3 }), 400, 'UNKNOWN_FIELD'],
      [R.createServer.path, serverBody('bad host/name'), 400, 'INVALID_REQUEST'],
      [R.createServer.path, { hostname: 'x' }, 400, 'INVALID_REQUEST'],
      [R.createTaskserv.path, { ...taskserv, servers: [] }, 400, 'INVALID_REQUEST'],
      [R.createTaskserv.path, { ...taskserv, servers: [1] }, 400, 'INVALID_REQUEST'],
      [R.createCluster.path, { ...cluster, node_count: 0 }, 400, 'INVALID_REQUEST'],
      [R.createCluster.path, { ...cluster, node_count: 1.5 }, 400, 'INVALID_REQUEST'],
      [R.createCluster.path, { ...cluster, nodes: 2 }, 400, 'UNKNOWN_FIELD'],
    ])('POST %s %j → %i %s, nothing recorded', async (path, body, status, code) => {
      const res = await call('POST', path, 'admin', body);
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ error: code, message: expect.any(String), code: String(status) });
      expect(await json(await call('GET', R.listOperations.path, 'admin'))).toEqual([]);
    });

    it('refuses a wrong content type, an oversize body and a body on cancel', async () => {
      expect((await call('POST', R.createCluster.path, 'admin', 'workspace=w', 'text/plain')).status).toBe(415);
      const huge = await call('POST', R.createCluster.path, 'admin', {
        ...cluster,
        workspace: 'w'.repeat(2 * 1024 * 1024),
      });
      expect(huge.status).toBe(413);
      expect(await huge.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', code: '413' });
      const created = await json<Op>(await call('POST', R.createCluster.path, 'admin', cluster));
      await server.runner.idle();
      expect((await call('POST', `/v1/operations/${created.id}/cancel`, 'admin', { force: true })).status).toBe(400);
      expect((await op(created.id)).status).toBe('completed');
    });

    it.each([
      '/v1/servers?limit=0',
      '/v1/servers?limit=1001',
      '/v1/servers?limit=ten',
      '/v1/servers?offset=-1',
      '/v1/operations?status=done',
      '/v1/operations?limit=1.5',
    ])('GET %s → 400 INVALID_QUERY', async (path) => {
      const res = await call('GET', path, 'admin');
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'INVALID_QUERY', code: '400' });
    });

    it('answers unknown operations and routes with 404 in the API shape, and no token with 401', async () => {
      expect(await json(await call('GET', '/v1/operations/nope', 'admin'))).toMatchObject({
        error: 'OPERATION_NOT_FOUND',
        code: '404',
      });
      expect(await json(await call('GET', '/v1/nothing', 'admin'))).toMatchObject({ error: 'NOT_FOUND', code: '404' });
      expect((await call('GET', R.listServers.path, undefined)).status).toBe(401);
    });
  });
});
