import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { createServiceApp } from './app.js';

type TestPlatform = Awaited<ReturnType<typeof createTestPlatform>>;
let platform: TestPlatform;
let app: ReturnType<typeof createServiceApp>;
beforeAll(async () => {
  platform = await createTestPlatform();
  app = fromLoopback(
    createServiceApp({ service: 'test', logger: platform.logger, metrics: platform.metrics, chain: platform.chain }),
  );
});
afterAll(() => platform.dispose());

const scrape = (authorization?: string) =>
  app.request('/metrics', { headers: authorization === undefined ? {} : { authorization } });

describe('/metrics is protected by the chain (Cedar `monitor` on the platform)', () => {
  it('refuses anonymous scrapes, serves a signed-in user and an API key with the monitor scope', async () => {
    const anonymous = await scrape();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ success: false, code: 'UNAUTHENTICATED' });

    const viewer = await addUser(platform, 'viewer', 'a long enough password', ['Viewer']);
    const { accessToken } = await platform.tokens.issue({ subject: viewer, roles: ['Viewer'] });
    const asViewer = await scrape(`Bearer ${accessToken}`);
    expect(asViewer.status).toBe(200);
    expect(asViewer.headers.get('content-type')).toContain('text/plain');
    expect(await asViewer.text()).toContain('http_requests_total');

    // What Prometheus sends with `authorization: { type: ApiKey, credentials_file: … }`.
    const scraper = await platform.apiKeys.create({ owner: viewer, name: 'prometheus', scopes: ['monitor'] });
    expect((await scrape(`ApiKey ${scraper.key}`)).status).toBe(200);
    // A key without the scope, and a forged one, are refused.
    const reader = await platform.apiKeys.create({ owner: viewer, name: 'reader', scopes: ['read'] });
    expect((await scrape(`ApiKey ${reader.key}`)).status).toBe(403);
    expect((await scrape(`ApiKey ${scraper.key.slice(0, -2)}xx`)).status).toBe(401);
  });

  it('audits refusals but not every successful scrape', async () => {
    const admin = await addUser(platform, 'admin', 'a long enough password', ['Admin']);
    const { accessToken } = await platform.tokens.issue({ subject: admin, roles: ['Admin'] });
    const metricsEvents = async () => {
      await new Promise((r) => setImmediate(r));
      await platform.auditLog.flush();
      const page = await platform.auditLog.query({}, { limit: 1000 });
      return page.records.map((r) => r.event).filter((e) => e.actor.id === admin || e.actor.id === 'anonymous');
    };
    const before = (await metricsEvents()).length;
    for (let i = 0; i < 3; i++) expect((await scrape(`Bearer ${accessToken}`)).status).toBe(200);
    expect((await metricsEvents()).length).toBe(before);
    expect((await scrape('Bearer forged')).status).toBe(401);
    expect((await metricsEvents()).length).toBe(before + 1);
  });
});
