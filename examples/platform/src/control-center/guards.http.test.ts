import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform } from '../../test/platform-fixture.js';
import { type RunningServer, serve } from '../kit/serve.js';
import { createControlCenterApp } from './index.js';
import { PASSWORD } from './test-helpers.js';

// Over a real @hono/node-server (not app.request()): its lightweight Response
// once turned every refusal of a self-service route into a 500.
let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let server: RunningServer;
beforeAll(async () => {
  platform = await createTestPlatform();
  await addUser(platform, 'ada', PASSWORD, ['Viewer']);
  server = await serve(createControlCenterApp(platform), { host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await server.close(1000);
  await platform.dispose();
});

describe('control center guards over HTTP', () => {
  it('answers 401 for a revoked, a forged and a missing token on self-service and platform routes', async () => {
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ada', password: PASSWORD }),
    });
    const token = ((await login.json()) as { data: { access_token: string } }).data.access_token;
    const get = (path: string, auth?: string) =>
      fetch(`${server.url}${path}`, auth === undefined ? {} : { headers: { authorization: auth } });
    expect((await get('/api-tokens', `Bearer ${token}`)).status).toBe(200);
    await platform.tokens.revokeSession((await platform.tokens.verify(token)).sid);
    for (const auth of [`Bearer ${token}`, 'Bearer not-a-token', undefined]) {
      for (const path of ['/auth/verify', '/api-tokens', '/mfa/status', '/users']) {
        const res = await get(path, auth);
        expect([path, res.status]).toEqual([path, 401]);
        const body = (await res.json()) as { success: boolean; code: string };
        expect([body.success, body.code]).toEqual([false, auth === undefined ? 'UNAUTHENTICATED' : 'INVALID_TOKEN']);
      }
    }
  });
});
