import { AuditEventSchema, parseRouteResponse, ORCHESTRATOR_ROUTES as R } from '@provisioning/platform-client/api';
import { afterEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { orchestratorService } from '../orchestrator/index.js';
import { clientOver, tamperAuditEvent } from './test-helpers.js';

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
  const app = fromLoopback(service.app);
  const token = async (name: string, roles: string[]) => {
    const id = await addUser(platform, name, 'a long enough password', roles);
    return (await platform.tokens.issue({ subject: id, roles, mfaAt: new Date(platform.clock.now()) })).accessToken;
  };
  const get = (path: string, who: string) => app.request(path, { headers: { authorization: `Bearer ${who}` } });
  const data = async (res: Response) => ((await res.json()) as { data: any }).data;
  // Something to audit: a denied and an allowed request, then a clock step.
  const settle = async () => {
    await new Promise((r) => setImmediate(r));
    await platform.auditLog.flush();
  };
  return { platform, app, token, get, data, settle };
}

describe('audit over the orchestrator: query, one event, export, verify, stats', () => {
  it('lets Auditors query the tamper-evident log with filters and pages, in the contract shape', async () => {
    const { platform, token, get, data, settle } = await setup();
    const auditor = await token('audrey', ['Auditor']);
    const viewer = await token('vic', ['Viewer']);
    expect((await get(R.listTasks.path, viewer)).status).toBe(200);
    expect((await get(R.queryAudit.path, viewer)).status).toBe(403);
    await settle();
    // The auditor's own queries are audited too, and may land between two of
    // them (the writer drains on the next tick): pages are compared within a
    // window that ends before the first of those queries.
    const before = new Date(platform.clock.now() + 1).toISOString();
    platform.clock.advance(60_000);

    const all = await get(`${R.queryAudit.path}?limit=1000&to=${before}`, auditor);
    expect(all.status).toBe(200);
    const events = parseRouteResponse(R.queryAudit, await all.json()) as Array<{ id: string; action: string }>;
    expect(events.length).toBeGreaterThanOrEqual(3);
    const denied = await data(await get(`${R.queryAudit.path}?outcome=denied`, auditor));
    expect(denied.map((e: { action: string; resource: string }) => [e.action, e.resource])).toEqual([
      ['authz.denied', 'Provisioning::AuditLog::platform'],
    ]);
    // Newest first, paged.
    const first = await data(await get(`${R.queryAudit.path}?limit=1&to=${before}`, auditor));
    const second = await data(await get(`${R.queryAudit.path}?limit=1&offset=1&to=${before}`, auditor));
    expect([first[0].id, second[0].id]).toEqual([events[0]?.id, events[1]?.id]);
    expect(first[0].id > second[0].id).toBe(true);
    const later = await data(
      await get(`${R.queryAudit.path}?from=${new Date(platform.clock.now() - 1000).toISOString()}`, auditor),
    );
    expect(later.every((e: { actor: string }) => e.actor !== 'vic')).toBe(true);
    const byAction = await data(await get(`${R.queryAudit.path}?action=authz.allowed&limit=1000`, auditor));
    expect(byAction.length).toBeGreaterThan(0);
    expect(byAction.every((e: { action: string }) => e.action === 'authz.allowed')).toBe(true);

    const one = await get(R.getAuditEvent.path.replace('{id}', events[1]?.id as string), auditor);
    const event = parseRouteResponse(R.getAuditEvent, await one.json());
    expect(AuditEventSchema.parse(event)).toMatchObject({
      id: events[1]?.id,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(
      (await get(R.getAuditEvent.path.replace('{id}', '0193aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee'), auditor)).status,
    ).toBe(404);
    expect((await get(R.getAuditEvent.path.replace('{id}', 'nope'), auditor)).status).toBe(404);
  });

  it('exports every format as a download, verifies the chain and counts outcomes', async () => {
    const { platform, token, get, data, settle } = await setup();
    const auditor = await token('audrey', ['Auditor']);
    await get(R.listTasks.path, auditor);
    await settle();
    for (const [format, type] of [
      ['json', 'application/json'],
      ['jsonl', 'application/x-ndjson'],
      ['csv', 'text/csv'],
      ['ecs', 'application/x-ndjson'],
      ['splunk', 'application/x-ndjson'],
    ] as const) {
      const res = await get(`${R.exportAudit.path}?format=${format}`, auditor);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(`${type}; charset=utf-8`);
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-/);
      const text = await res.text();
      if (format === 'json') expect((JSON.parse(text) as unknown[]).length).toBeGreaterThan(0);
      if (format === 'jsonl') {
        const lines = text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as unknown);
        expect(lines.length).toBeGreaterThan(0);
        expect(text).toContain('authz.allowed');
      }
      if (format === 'csv') expect(text.split('\n')[0]).toContain('action');
    }
    expect((await get(`${R.exportAudit.path}?format=xml`, auditor)).status).toBe(400);
    expect((await get(R.exportAudit.path, auditor)).status).toBe(400);

    await settle();
    const verified = await data(await get(R.verifyAudit.path, auditor));
    expect(verified).toMatchObject({ valid: true, first_invalid_id: null });
    expect(verified.checked).toBeGreaterThan(10);
    const stats = await data(await get(R.auditStats.path, auditor));
    // The verify request itself was audited meanwhile: at least as many events now.
    expect(stats.total).toBeGreaterThanOrEqual(verified.checked);
    expect(stats.by_outcome.success).toBeGreaterThan(0);
    expect(stats.oldest <= stats.newest).toBe(true);

    // Someone with write access to the database edits an event: the chain says where.
    await settle();
    const target = (await platform.auditLog.query({}, { limit: 3 })).records[2];
    expect(target).toBeDefined();
    tamperAuditEvent(platform, target?.seq);
    const broken = await data(await get(R.verifyAudit.path, auditor));
    expect(broken).toMatchObject({ valid: false, first_invalid_id: target?.event.id });
  });

  it('filters the query and the export by resource type and id, with the same filters', async () => {
    const { platform, app, token, get, data, settle } = await setup();
    const auditor = await token('audrey', ['Auditor']);
    const at = new Date(platform.clock.now()).toISOString();
    for (const [type, id] of [
      ['api_key', 'key-1'],
      ['api_key', 'key-2'],
      ['user', 'key-1'],
    ] as const) {
      await platform.auditLog.record({
        action: 'auth.api_key.revoked',
        outcome: 'success',
        actor: { id: 'someone', type: 'user' },
        resource: { type, id },
      });
    }
    await settle();
    const resources = async (query: string) =>
      (await data(await get(`${R.queryAudit.path}?from=${at}&${query}`, auditor))).map(
        (e: { resource: string }) => e.resource,
      );
    expect(await resources('resource_type=api_key&resource_id=key-1')).toEqual(['api_key::key-1']);
    expect((await resources('resource_type=api_key')).sort()).toEqual(['api_key::key-1', 'api_key::key-2']);
    expect((await resources('resource_id=key-1')).sort()).toEqual(['api_key::key-1', 'user::key-1']);
    // The chain's own decisions (of the queries above) name their Cedar resource.
    await settle();
    expect(await resources('resource_type=Provisioning::AuditLog&resource_id=platform&limit=1')).toEqual([
      'Provisioning::AuditLog::platform',
    ]);

    // The export holds exactly what the same filters show, every filter applied (not only the time range).
    const res = await get(
      `${R.exportAudit.path}?format=jsonl&from=${at}&actor=someone&action=auth.api_key.revoked&outcome=success&resource_type=api_key`,
      auditor,
    );
    expect(res.status).toBe(200);
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: { resource: { type: string; id: string } } });
    expect(lines.map(({ event: e }) => `${e.resource.type}::${e.resource.id}`)).toEqual([
      'api_key::key-1',
      'api_key::key-2',
    ]);
    const none = await get(
      `${R.exportAudit.path}?format=json&from=${at}&outcome=denied&resource_type=api_key`,
      auditor,
    );
    expect(JSON.parse(await none.text())).toEqual([]);
    expect((await get(`${R.exportAudit.path}?format=json&action=nope`, auditor)).status).toBe(400);

    // The typed client sends the same filters to both routes.
    const client = clientOver(app, auditor, { orchestrator: 'http://orchestrator.test' });
    const filters = { from: at, resource_type: 'user', resource_id: 'key-1' };
    expect((await client.orchestrator.audit.query(filters)).map((e) => e.resource)).toEqual(['user::key-1']);
    const csv = await client.orchestrator.audit.export('csv', filters);
    expect(csv).toContain('key-1');
    expect(csv).not.toContain('key-2');
  });

  it('refuses bad queries with a typed 400', async () => {
    const { token, get } = await setup();
    const auditor = await token('audrey', ['Auditor']);
    for (const query of [
      'outcome=unknown',
      'action=not.an.action',
      'from=yesterday',
      'from=2026-03-02T10:00:00Z&to=2026-03-01T10:00:00Z',
      'limit=0',
      'limit=1001',
      'offset=10001',
      'actor=%20',
      'resource_type=a%0Ab',
      `resource_id=${'x'.repeat(257)}`,
    ]) {
      const res = await get(`${R.queryAudit.path}?${query}`, auditor);
      expect([res.status, ((await res.json()) as { code: string }).code], query).toEqual([400, 'INVALID_QUERY']);
    }
  });
});
