import { createPlatformClient } from '@provisioning/platform-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { controlCenter, expectNoSecretsInErrors, PASSWORD, type TestPlatform } from './test-helpers.js';

const platforms: TestPlatform[] = [];
afterEach(async () => {
  for (const p of platforms.splice(0)) await p.dispose();
});
afterAll(() => expectNoSecretsInErrors());

describe('control center: the platform client against the server', () => {
  it('logs in, maps MFA_REQUIRED, steps up, lists sessions and logs out through the client', async () => {
    const cc = await controlCenter();
    platforms.push(cc.platform);
    await cc.addUser('ada', PASSWORD, ['Viewer']);
    const { secret } = await cc.enrollTotp('ada', PASSWORD);
    const client = createPlatformClient({
      baseUrls: { controlCenter: 'http://cc.test' },
      auth: { type: 'session' },
      fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
        cc.app.request(input instanceof Request ? input : String(input), init)) as typeof fetch,
      retry: false,
      clock: cc.platform.clock,
    });
    expect(await client.controlCenter.health()).toEqual({ status: 'healthy' });
    await expect(client.login({ username: 'ada', password: PASSWORD })).rejects.toMatchObject({
      code: 'ERR_CLIENT_MFA_REQUIRED',
    });
    await expect(client.login({ username: 'ada', password: 'wrong password!!' })).rejects.toMatchObject({
      status: 401,
    });
    await client.login({ username: 'ada', password: PASSWORD, mfaCode: cc.totp(secret) });
    const verify = await client.controlCenter.verify();
    expect(verify.claims.mfa).toBe(true);
    expect(await client.controlCenter.mfa.status()).toMatchObject({ enabled: true, methods: ['totp'] });
    expect(await client.controlCenter.sessions()).toHaveLength(2);
    // A Viewer may not read the Cedar policies: the chain's refusal, in the envelope.
    await expect(client.controlCenter.policies.list()).rejects.toMatchObject({ status: 403, serverCode: 'FORBIDDEN' });
    expect(await client.logout()).toEqual({ revoked: 1 });
  });
});
