import { createPlatformClient } from '@provisioning/platform-client';
import { afterEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { orchestratorService } from './index.js';

const disposers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const d of disposers.splice(0)) await d();
});

async function setup() {
  const platform = await createTestPlatform();
  const service = await orchestratorService.create(platform);
  disposers.push(async () => {
    await service.close?.();
    await platform.dispose();
  });
  // A password login, then (unless `mfa: false`) a token stepped up by MFA now,
  // as the control center's /mfa/verify issues it.
  const token = async (username: string, roles: string[], options: { mfa?: boolean } = {}) => {
    const id = await addUser(platform, username, 'a long enough password', roles);
    if (options.mfa === false) {
      const result = await platform.login.login({ username, password: 'a long enough password' });
      return result.tokens?.accessToken as string;
    }
    return (
      await platform.tokens.issue({ subject: id, roles, amr: ['pwd', 'otp'], mfaAt: new Date(platform.clock.now()) })
    ).accessToken;
  };
  return { platform, app: fromLoopback(service.app), token };
}

const json = (token: string, body: unknown) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('orchestrator server', () => {
  it('answers health without a token in the platform envelope', async () => {
    const { app } = await setup();
    const res = await app.request('/health');
    expect(await res.json()).toEqual({ success: true, data: 'Orchestrator is healthy' });
  });

  it('submits a servers workflow, lists and reads its tasks, and runs it to completion', async () => {
    const { app, token } = await setup();
    const admin = await token('root', ['Admin']);
    const res = await app.request(
      '/workflows/servers/create',
      json(admin, { infra: 'prod', params: { hostname: 'web-1' } }),
    );
    expect(res.status).toBe(200);
    const { data: workflowId } = (await res.json()) as { data: string };
    let tasks: Array<{ id: string; status: string; name: string }> = [];
    for (let i = 0; i < 100; i++) {
      const list = await app.request('/tasks?limit=100', { headers: { authorization: `Bearer ${admin}` } });
      tasks = (
        (await list.json()) as { data: Array<{ id: string; status: string; name: string; workflow_id: string }> }
      ).data.filter((t) => t.workflow_id === workflowId);
      if (tasks.length === 4 && tasks.every((t) => t.status === 'Completed')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(tasks.map((t) => t.status)).toEqual(['Completed', 'Completed', 'Completed', 'Completed']);
    const one = await app.request(`/tasks/${tasks[0]?.id}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(((await one.json()) as { data: { progress: number } }).data.progress).toBe(100);
  });

  it('refuses bad input with 4xx and creates nothing', async () => {
    const { app, token } = await setup();
    const admin = await token('root', ['Admin']);
    const cases: Array<[unknown, number, string]> = [
      ['{not json', 400, 'MALFORMED_JSON'],
      [{ infra: 5, params: {} }, 400, 'INVALID_REQUEST'],
      [{ infra: 'x', params: {}, extra: true }, 400, 'UNKNOWN_FIELD'],
      [{ infra: 'x', params: { big: 'y'.repeat(2 * 1024 * 1024) } }, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [body, status, code] of cases) {
      const res = await app.request('/workflows/servers/create', json(admin, body));
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ success: false, code });
    }
    const wrongType = await app.request('/workflows/servers/create', {
      ...json(admin, {}),
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(wrongType.status).toBe(415);
    expect((await app.request('/tasks?limit=5000', { headers: { authorization: `Bearer ${admin}` } })).status).toBe(
      400,
    );
    expect((await app.request('/tasks?status=Bogus', { headers: { authorization: `Bearer ${admin}` } })).status).toBe(
      400,
    );
    const list = await app.request('/tasks', { headers: { authorization: `Bearer ${admin}` } });
    expect(((await list.json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('requires a token, and a forged or revoked one is refused', async () => {
    const { app, token, platform } = await setup();
    expect((await app.request('/tasks')).status).toBe(401);
    const viewer = await token('ann', ['Viewer'], { mfa: false });
    expect((await app.request('/tasks', { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(200);
    const [h, p] = viewer.split('.');
    const forged = `${h}.${p}.${'A'.repeat(342)}`;
    expect((await app.request('/tasks', { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
    await platform.tokens.revokeSession((await platform.tokens.verify(viewer)).sid);
    expect((await app.request('/tasks', { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(401);
  });

  it('cancels a workflow and 404s unknown tasks', async () => {
    const { app, token } = await setup();
    const admin = await token('root', ['Admin']);
    const res = await app.request('/workflows/cluster/create', json(admin, { infra: 'dev', params: {} }));
    const { data: workflowId } = (await res.json()) as { data: string };
    const cancel = await app.request(`/tasks/${workflowId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(cancel.status).toBe(200);
    const missing = await app.request('/tasks/nope', { headers: { authorization: `Bearer ${admin}` } });
    expect(missing.status).toBe(404);
  });

  it('through the client: lists one workflow by workflow_id and cancels it with cancelTask', async () => {
    const { app, token, platform } = await setup();
    const admin = await token('root', ['Admin']);
    const client = createPlatformClient({
      baseUrls: { orchestrator: 'http://orchestrator.test' },
      auth: { type: 'bearer', token: admin },
      fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
        app.request(input instanceof Request ? input : String(input), init)) as typeof fetch,
      retry: false,
      clock: platform.clock,
    });
    // Two workflows; the filter keeps the tasks of one, each naming it.
    const first = await client.orchestrator.submitWorkflow('cluster', { infra: 'dev', params: {} });
    const second = await client.orchestrator.submitWorkflow('cluster', { infra: 'dev', params: {} });
    const tasks = await client.orchestrator.listTasks({ workflow_id: first, limit: 100 });
    expect(tasks.length).toBeGreaterThan(0);
    expect(new Set(tasks.map((t) => t.workflow_id))).toEqual(new Set([first]));
    const paged: string[] = [];
    for await (const t of client.orchestrator.tasks({ workflow_id: second })) paged.push(t.workflow_id as string);
    expect(new Set(paged)).toEqual(new Set([second]));

    const cancelled = await client.orchestrator.cancelTask(first);
    expect(cancelled.length).toBeGreaterThan(0);
    expect(cancelled.every((t) => t.workflow_id === first && t.status === 'Cancelled')).toBe(true);
    // The other workflow is untouched; cancelling again is a conflict, an unknown id a 404.
    const others = await client.orchestrator.listTasks({ workflow_id: second, limit: 100 });
    expect(others.some((t) => t.status === 'Cancelled')).toBe(false);
    await expect(client.orchestrator.cancelTask(first)).rejects.toMatchObject({ status: 409 });
    await expect(client.orchestrator.cancelTask('0190a1b2-0000-7000-8000-000000000000')).rejects.toMatchObject({
      code: 'ERR_CLIENT_NOT_FOUND',
    });
    // A malformed filter is a typed 400, not an empty list.
    const bad = await app.request('/tasks?workflow_id=%27%3B--', { headers: { authorization: `Bearer ${admin}` } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ success: false, code: 'INVALID_QUERY' });
  });

  it('lets Cedar decide by environment: production needs MFA, developers act only outside production', async () => {
    const { app, token, platform } = await setup();
    const admin = await token('root', ['Admin'], { mfa: false });
    const dev = await token('dana', ['Developer']);
    const submit = (who: string, infra: string) =>
      app.request('/workflows/servers/create', json(who, { infra, params: {} }));
    const refused = await submit(admin, 'prod-eu');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ success: false, code: 'FORBIDDEN', request_id: expect.any(String) });
    expect((await submit(admin, 'dev-eu')).status).toBe(200);
    expect((await submit(dev, 'dev-eu')).status).toBe(200);
    // An unclassified workspace is production: the strictest rules.
    expect((await submit(dev, 'customer-x')).status).toBe(403);
    await new Promise((r) => setImmediate(r));
    await platform.auditLog.flush();
    const denied = await platform.auditLog.query({ action: 'authz.denied' });
    expect(denied.records.map((r) => r.event.metadata?.policyIds)).toEqual([['prod-sensitive-mfa'], []]);
  });
});
