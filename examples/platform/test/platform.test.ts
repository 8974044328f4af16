import { afterEach, describe, expect, it } from 'vitest';
import { resource } from '../src/kit/resources.js';
import { addUser, createTestPlatform } from './platform-fixture.js';

const devServer = { action: 'delete', resource: () => resource('Server', 'web-1', { workspace: 'dev-eu' }) };
const readDev = { action: 'read', resource: () => resource('Server', 'web-1', { workspace: 'dev-eu' }) };
const loopback = { clientAddress: '127.0.0.1' };

const platforms: Array<{ dispose(): Promise<void> }> = [];
afterEach(async () => {
  for (const p of platforms.splice(0)) await p.dispose();
});

describe('platform composition', () => {
  it('logs a user in, and the chain accepts the access token until it is revoked', async () => {
    const platform = await createTestPlatform();
    platforms.push(platform);
    await addUser(platform, 'ada', 'correct horse battery staple', ['Admin']);
    const result = await platform.login.login({
      username: 'ada',
      password: 'correct horse battery staple',
      ip: '127.0.0.1',
    });
    const token = result.tokens?.accessToken as string;
    const request = () => new Request('http://local/x', { headers: { authorization: `Bearer ${token}` } });
    const ok = await platform.chain.handle(request(), devServer, loopback, () => new Response('done'));
    expect(ok.status).toBe(200);
    const claims = await platform.tokens.verify(token);
    await platform.tokens.revokeSession(claims.sid);
    const refused = await platform.chain.handle(request(), readDev, loopback, () => new Response('done'));
    expect(refused.status).toBe(401);
  });

  it('writes the chain decisions to the tamper-evident audit log, where they are queryable', async () => {
    const platform = await createTestPlatform();
    platforms.push(platform);
    const userId = await addUser(platform, 'bob', 'correct horse battery staple', ['Viewer']);
    const result = await platform.login.login({ username: 'bob', password: 'correct horse battery staple' });
    const headers = { authorization: `Bearer ${result.tokens?.accessToken}`, 'x-request-id': 'req-audit-1' };
    const denied = await platform.chain.handle(
      new Request('http://local/x', { headers }),
      devServer,
      loopback,
      () => new Response(),
    );
    expect(denied.status).toBe(403);
    // The recorder runs after the response; give it a turn, then flush the log.
    await new Promise((r) => setImmediate(r));
    await platform.auditLog.flush();
    const found = await platform.auditLog.query({ requestId: 'req-audit-1' });
    expect(found.records.map((r) => [r.event.action, r.event.outcome, r.event.actor.id])).toEqual([
      ['authz.denied', 'denied', userId],
    ]);
    expect((await platform.auditLog.verify()).ok).toBe(true);
  });
});
