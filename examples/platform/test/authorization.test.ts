import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedPolicyDir } from '@provisioning/authz';
import { afterEach, describe, expect, it } from 'vitest';
import { createClassifier, resource, resourceEntities } from '../src/kit/resources.js';
import { addUser, createTestPlatform } from './platform-fixture.js';

const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Cedar in the platform', () => {
  it('classifies workspaces strictest first, and an unknown name is production', () => {
    const classify = createClassifier();
    expect(
      ['dev', 'dev-eu', 'test-1', 'stg-eu', 'staging', 'prod-eu', 'customer-x', '*', 'prod-dev'].map(classify),
    ).toEqual([
      'development',
      'development',
      'development',
      'staging',
      'staging',
      'production',
      'production',
      'production',
      'production',
    ]);
    const [server, workspace, environment] = resourceEntities(
      resource('Server', 'web-1', { workspace: 'dev-eu' }),
      classify,
    );
    expect(server?.parents).toEqual([{ type: 'Provisioning::Workspace', id: 'dev-eu' }]);
    expect(workspace?.attrs.environment).toEqual({
      __entity: { type: 'Provisioning::Environment', id: 'development' },
    });
    expect(environment?.attrs).toMatchObject({ tier: 'development', requires_mfa: false });
  });

  it('hot-reloads the policy directory, audits each reload, and keeps the last good set on a broken file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cedar-'));
    disposers.push(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(shippedPolicyDir, dir, { recursive: true });
    const platform = await createTestPlatform({ authorization: { policyDir: dir, watch: true } });
    disposers.push(() => platform.dispose());
    const engine = platform.authorization.engine;
    const first = engine.version;
    const viewerId = await addUser(platform, 'vic', 'a long enough password', ['Viewer']);
    const ask = () =>
      platform.authorization.policies.authorize({
        principal: `Provisioning::User::"${viewerId}"`,
        action: 'deploy',
        resource: 'Provisioning::Server::"dev-web"',
      });
    expect((await ask()).decision).toBe('deny');

    // Viewers may deploy in development: a new policy, picked up by the watcher.
    writeFileSync(
      join(dir, 'local.cedar'),
      '@id("viewers-deploy-dev")\npermit (principal in Provisioning::Role::"Viewer", action == Provisioning::Action::"deploy", resource)\nwhen { resource has environment && resource.environment.tier == "development" };\n',
    );
    await until(() => engine.version !== first, 'the reload');
    expect(await ask()).toEqual({ decision: 'allow', policies: ['viewers-deploy-dev'], errors: [] });
    const second = engine.version;

    writeFileSync(join(dir, 'broken.cedar'), 'permit (principal, action, resource) when { ');
    await until(async () => {
      await platform.auditLog.flush();
      return (await platform.auditLog.query({ action: 'policy.reload.failed' })).records.length > 0;
    }, 'the failed reload');
    expect(engine.version).toBe(second);
    expect((await ask()).decision).toBe('allow');

    const events = (await platform.auditLog.query({ category: 'policy' })).records.map((r) => r.event);
    expect(events.map((e) => [e.action, e.actor.id])).toEqual([
      ['policy.reload.succeeded', 'system'],
      ['policy.reload.failed', 'system'],
    ]);
    expect(events[0]?.metadata).toMatchObject({ version: second, previousVersion: first });
    expect(events[1]?.metadata).toMatchObject({ version: second, code: 'ERR_AUTHZ_VALIDATION' });
    expect(String(events[1]?.metadata?.first)).toMatch(/broken\.cedar:1:/);
  });
});
