import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedPolicyDir } from '@provisioning/authz';
import { parseRouteResponse, CONTROL_CENTER_ROUTES as R } from '@provisioning/platform-client/api';
import { afterEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { createControlCenterApp } from './index.js';
import { PASSWORD } from './test-helpers.js';

const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

describe('control center: policy status', () => {
  it('reports the set in force and its last reload; a failed one names where, and keeps the last good set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cedar-status-'));
    disposers.push(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(shippedPolicyDir, dir, { recursive: true });
    const platform = await createTestPlatform({ authorization: { policyDir: dir } });
    disposers.push(() => platform.dispose());
    const app = fromLoopback(createControlCenterApp(platform));
    await addUser(platform, 'root', PASSWORD, ['Admin']);
    await addUser(platform, 'vic', PASSWORD, ['Viewer']);
    const token = async (username: string) => {
      const res = await app.request('/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: PASSWORD }),
      });
      return ((await res.json()) as { data: { access_token: string } }).data.access_token;
    };
    const admin = await token('root');
    const status = async (t = admin) => {
      const res = await app.request('/policies/status', { headers: { authorization: `Bearer ${t}` } });
      return { status: res.status, json: (await res.json()) as any };
    };
    const engine = platform.authorization.engine;
    const first = await status();
    expect(first.status).toBe(200);
    expect(parseRouteResponse(R.policyStatus, first.json)).toEqual({
      version: engine.version,
      policies: engine.policyIds.length,
      last_reload: { at: new Date(platform.clock.now()).toISOString(), outcome: 'loaded', errors: [] },
    });
    expect(engine.policyIds.length).toBeGreaterThan(5);

    platform.clock.advance(60_000);
    writeFileSync(join(dir, 'broken.cedar'), 'permit (principal, action, resource) when { ');
    await expect(engine.reload()).rejects.toMatchObject({ code: 'ERR_AUTHZ_VALIDATION' });
    const failed = (await status()).json.data;
    expect(failed.version).toBe(first.json.data.version);
    expect(failed.last_reload).toMatchObject({ outcome: 'failed', at: new Date(platform.clock.now()).toISOString() });
    expect(failed.last_reload.errors[0]).toMatch(/broken\.cedar:1:/);

    unlinkSync(join(dir, 'broken.cedar'));
    writeFileSync(
      join(dir, 'local.cedar'),
      '@id("local-forbid-nothing")\nforbid (principal, action, resource) when { false };\n',
    );
    await engine.reload();
    const reloaded = (await status()).json.data;
    expect(reloaded).toMatchObject({
      policies: first.json.data.policies + 1,
      last_reload: { outcome: 'succeeded', errors: [] },
    });
    expect(reloaded.version).not.toBe(first.json.data.version);

    // Like listing the policies: not for a Viewer, and not without a token.
    expect((await status(await token('vic'))).status).toBe(403);
    expect((await app.request('/policies/status')).status).toBe(401);
    // `/policies/{id}` still answers for real ids.
    const one = await app.request(`/policies/${engine.policyIds[0]}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(one.status).toBe(200);
  });
});
