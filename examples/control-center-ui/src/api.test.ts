import type { LoginResponse } from '@provisioning/platform-client/api';
import { afterEach, describe, expect, it } from 'vitest';
import { controlCenter, PASSWORD, type TestPlatform } from '../../platform/src/control-center/test-helpers.js';
import { type ApiClient, ApiError, createApiClient, type SessionEnd } from './api.js';

// The UI's API client against the real control center (app.request as fetch).
const platforms: TestPlatform[] = [];
const clients: ApiClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.end('signed-out');
  for (const p of platforms.splice(0)) await p.dispose();
});

async function setup(roles = ['Viewer']) {
  const cc = await controlCenter();
  platforms.push(cc.platform);
  await cc.addUser('ada', PASSWORD, roles);
  const paths: string[] = [];
  const ends: Array<SessionEnd | undefined> = [];
  const client = createApiClient({
    onChange: (user, reason) => {
      if (user === undefined) ends.push(reason);
    },
    fetch: (async (input: string, init?: RequestInit) => {
      paths.push(`${init?.method ?? 'GET'} ${input}`);
      return cc.app.request(input, init);
    }) as typeof fetch,
  });
  clients.push(client);
  client.signIn(await client.open<LoginResponse>('POST', '/auth/login', { username: 'ada', password: PASSWORD }));
  return { cc, client, paths, ends };
}

describe('UI API client', () => {
  it('refreshes an expired access token once and repeats the call; concurrent calls share one refresh', async () => {
    const { cc, client, paths } = await setup();
    cc.platform.clock.advance(16 * 60_000); // past the 15-minute access token
    paths.length = 0;
    const [a, b] = await Promise.all([
      client.call<unknown[]>('GET', '/auth/sessions'),
      client.call<{ enabled: boolean }>('GET', '/mfa/status'),
    ]);
    expect(a).toHaveLength(1);
    expect(b.enabled).toBe(false);
    expect(paths.filter((p) => p === 'POST /auth/refresh')).toHaveLength(1);
  });

  it('ends the session when the refresh token is refused too', async () => {
    const { cc, client, ends } = await setup();
    const [session] = await cc.platform.tokens.listSessions(client.user?.id as string);
    await cc.platform.tokens.revokeSession(session?.sessionId as string);
    await expect(client.call('GET', '/auth/sessions')).rejects.toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
    expect(ends).toEqual(['expired']);
    expect(client.user).toBeUndefined();
  });

  it('does not refresh for a 401 that is no token problem (an unknown MFA challenge)', async () => {
    const { client, paths, ends } = await setup();
    paths.length = 0;
    const error = await client
      .call('POST', '/auth/login/mfa', { challenge_id: 'A'.repeat(43), code: '123456' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect([(error as ApiError).status, (error as ApiError).code]).toEqual([401, 'MFA_CHALLENGE_INVALID']);
    expect(paths).not.toContain('POST /auth/refresh');
    expect(ends).toEqual([]);
  });

  it('maps the envelope and the chain refusals to one code namespace; step-up is recognised', async () => {
    const { cc, client } = await setup();
    const { secret, backupCodes } = await cc.enrollTotp('ada', PASSWORD);
    expect(backupCodes).toHaveLength(10);
    // A session without a recent MFA: removing a factor needs a step-up (the chain's 403 mfa_required).
    cc.platform.clock.advance(30 * 60_000);
    const fresh = createApiClient({
      onChange: () => undefined,
      fetch: ((i: string, init?: RequestInit) => cc.app.request(i, init)) as typeof fetch,
    });
    clients.push(fresh);
    const login = await fresh
      .open<LoginResponse>('POST', '/auth/login', { username: 'ada', password: PASSWORD, mfa_code: cc.totp(secret) })
      .catch((e: unknown) => e);
    expect(login).not.toBeInstanceOf(Error);
    cc.platform.clock.advance(20 * 60_000);
    fresh.signIn(login as LoginResponse);
    const refused = await fresh.call('POST', '/mfa/backup-codes').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).needsStepUp).toBe(true);
    // The envelope's code, and its data (the MFA challenge of a login).
    const mfa = await client
      .open('POST', '/auth/login', { username: 'ada', password: PASSWORD })
      .catch((e: unknown) => e);
    expect(mfa).toMatchObject({ status: 401, code: 'MFA_REQUIRED', data: { methods: ['totp', 'backup_code'] } });
    expect((mfa as ApiError).needsStepUp).toBe(false);
  });
});
