import { afterEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform } from './platform-fixture.js';

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
    const ok = await platform.chain.handle(request(), { action: 'delete' }, {}, () => new Response('done'));
    expect(ok.status).toBe(200);
    const claims = await platform.tokens.verify(token);
    await platform.tokens.revokeSession(claims.sid);
    const refused = await platform.chain.handle(request(), { action: 'read' }, {}, () => new Response('done'));
    expect(refused.status).toBe(401);
  });
});
