import { describe, expect, it } from 'vitest';
import { json, loginAnswer, ok, task, testClient } from '../test/helpers.js';
import { PlatformClientError } from './errors.js';
import type { SessionTokens } from './session.js';

describe('login', () => {
  it('logs in with password and MFA code and uses the access token afterwards', async () => {
    const { client, seen } = testClient((req) => (req.url.pathname === '/auth/login' ? ok(loginAnswer(1)) : ok([])));
    const tokens = await client.login({ username: 'ada', password: 'pw', mfaCode: '123456' });
    expect(tokens.user?.username).toBe('ada');
    expect(seen[0]?.body).toEqual({ username: 'ada', password: 'pw', mfa_code: '123456' });
    await client.orchestrator.listTasks();
    expect(seen[1]?.headers.get('authorization')).toBe('Bearer access-1');
  });

  it('maps the MFA_REQUIRED answer to ERR_CLIENT_MFA_REQUIRED', async () => {
    const { client } = testClient(() =>
      json({ success: false, error: 'MFA code required', code: 'MFA_REQUIRED' }, 401),
    );
    await expect(client.login({ username: 'ada', password: 'pw' })).rejects.toMatchObject({
      code: 'ERR_CLIENT_MFA_REQUIRED',
      status: 401,
    });
  });

  it('never retries a login (a retry could burn a one-time code)', async () => {
    let calls = 0;
    const { client } = testClient(() => {
      calls++;
      return json({ success: false, error: 'down' }, 503);
    });
    await expect(client.login({ username: 'a', password: 'b' })).rejects.toBeInstanceOf(PlatformClientError);
    expect(calls).toBe(1);
  });

  it('refuses authenticated calls before login with ERR_CLIENT_NOT_AUTHENTICATED, sending nothing', async () => {
    const { client, seen } = testClient(() => ok([]));
    await expect(client.orchestrator.listTasks()).rejects.toMatchObject({ code: 'ERR_CLIENT_NOT_AUTHENTICATED' });
    expect(seen).toHaveLength(0);
  });
});

describe('refresh.single-flight', () => {
  it('refreshes before expiry with ONE refresh for many concurrent calls', async () => {
    let refreshes = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { client, clock, seen } = testClient(async (req) => {
      if (req.url.pathname === '/auth/login') return ok(loginAnswer(1));
      if (req.url.pathname === '/auth/refresh') {
        refreshes++;
        expect(req.body).toEqual({ refresh_token: 'refresh-1' });
        await gate;
        return ok(loginAnswer(2));
      }
      return ok([]);
    });
    await client.login({ username: 'ada', password: 'pw' });
    clock.advance(850_000); // within the 60 s skew of the 900 s expiry
    const calls = Array.from({ length: 10 }, () => client.orchestrator.listTasks());
    await new Promise((r) => setTimeout(r, 5));
    release();
    await Promise.all(calls);
    expect(refreshes).toBe(1);
    const used = seen.filter((r) => r.url.pathname === '/tasks').map((r) => r.headers.get('authorization'));
    expect(used).toHaveLength(10);
    expect(new Set(used)).toEqual(new Set(['Bearer access-2']));
    expect(client.session()?.refreshToken).toBe('refresh-2');
  });

  it('refreshes once after a 401 and resends; concurrent 401s share the refresh', async () => {
    let refreshes = 0;
    const { client } = testClient(async (req) => {
      if (req.url.pathname === '/auth/login') return ok(loginAnswer(1));
      if (req.url.pathname === '/auth/refresh') {
        refreshes++;
        await new Promise((r) => setTimeout(r, 5));
        return ok(loginAnswer(2));
      }
      // The server revoked access-1 early.
      if (req.headers.get('authorization') === 'Bearer access-1')
        return json({ success: false, error: 'expired' }, 401);
      return ok([task('a')]);
    });
    await client.login({ username: 'ada', password: 'pw' });
    const results = await Promise.all([1, 2, 3, 4].map(() => client.orchestrator.listTasks()));
    expect(results.every((r) => r.length === 1)).toBe(true);
    expect(refreshes).toBe(1);
  });

  it('ends the session when the refresh token is rejected', async () => {
    const saved: (SessionTokens | undefined)[] = [];
    const { client, clock } = testClient(
      (req) => {
        if (req.url.pathname === '/auth/login') return ok(loginAnswer(1));
        if (req.url.pathname === '/auth/refresh')
          return json({ success: false, error: 'reused', code: 'TOKEN_REUSED' }, 401);
        return ok([]);
      },
      { auth: { type: 'session', onTokens: (t) => saved.push(t) } },
    );
    await client.login({ username: 'ada', password: 'pw' });
    clock.advance(900_000);
    await expect(client.orchestrator.listTasks()).rejects.toMatchObject({ code: 'ERR_CLIENT_UNAUTHENTICATED' });
    expect(client.session()).toBeUndefined();
    expect(saved.at(-1)).toBeUndefined();
  });

  it('keeps using a still-valid access token when a refresh fails transiently', async () => {
    const { client, clock, seen } = testClient((req) => {
      if (req.url.pathname === '/auth/login') return ok(loginAnswer(1));
      if (req.url.pathname === '/auth/refresh') throw new TypeError('fetch failed');
      return ok([]);
    });
    await client.login({ username: 'ada', password: 'pw' });
    clock.advance(870_000); // inside the skew, still before expiry
    await expect(client.orchestrator.listTasks()).resolves.toEqual([]);
    expect(seen.at(-1)?.headers.get('authorization')).toBe('Bearer access-1');
  });

  it('resumes a saved session and persists rotations through onTokens', async () => {
    const saved: (SessionTokens | undefined)[] = [];
    const { client } = testClient((req) => (req.url.pathname === '/auth/refresh' ? ok(loginAnswer(7)) : ok([])), {
      auth: {
        type: 'session',
        tokens: { accessToken: 'old', refreshToken: 'refresh-old', expiresAt: 0 },
        onTokens: (t) => saved.push(t),
      },
    });
    await client.orchestrator.listTasks();
    expect(saved[0]?.accessToken).toBe('access-7');
  });
});

describe('logout', () => {
  it('revokes at the control center and forgets the tokens', async () => {
    const { client, seen } = testClient((req) =>
      req.url.pathname === '/auth/login' ? ok(loginAnswer(1)) : ok({ revoked: 3 }),
    );
    await client.login({ username: 'ada', password: 'pw' });
    await expect(client.logout({ allSessions: true })).resolves.toEqual({ revoked: 3 });
    expect(seen[1]?.url.pathname).toBe('/auth/logout');
    expect(seen[1]?.body).toEqual({ all_sessions: true, refresh_token: 'refresh-1' });
    expect(seen[1]?.headers.get('authorization')).toBe('Bearer access-1');
    expect(client.session()).toBeUndefined();
  });

  it('forgets the tokens even when the server call fails', async () => {
    const { client } = testClient((req) =>
      req.url.pathname === '/auth/login' ? ok(loginAnswer(1)) : json({ success: false, error: 'x' }, 500),
    );
    await client.login({ username: 'ada', password: 'pw' });
    await expect(client.logout({ retry: false })).rejects.toBeInstanceOf(PlatformClientError);
    expect(client.session()).toBeUndefined();
  });
});

describe('other auth modes', () => {
  it('API-key mode sends the key in a configurable header and cannot log in', async () => {
    const { client, seen } = testClient(() => ok([]), {
      auth: { type: 'apiKey', apiKey: 'pk_1', headerName: 'Authorization-Key' },
    });
    await client.orchestrator.listTasks();
    expect(seen[0]?.headers.get('authorization-key')).toBe('pk_1');
    await expect(client.login({ username: 'a', password: 'b' })).rejects.toMatchObject({
      code: 'ERR_CLIENT_INVALID_OPTIONS',
    });
  });

  it('rejects an empty API key at construction', () => {
    expect(() => testClient(() => ok([]), { auth: { type: 'apiKey', apiKey: '' } })).toThrow(/apiKey/);
  });
});
