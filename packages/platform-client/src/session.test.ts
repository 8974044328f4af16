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

  it('maps the security chain’s step-up refusal (403 mfa_required) to ERR_CLIENT_MFA_REQUIRED', async () => {
    const body = {
      error: 'mfa_required',
      message: 'This operation needs a recent MFA verification.',
      code: '403',
      request_id: 'r1',
    };
    const { client } = testClient(() => json(body, 403), { auth: { type: 'bearer', token: 't' } });
    await expect(client.controlCenter.mfa.regenerateBackupCodes()).rejects.toMatchObject({
      code: 'ERR_CLIENT_MFA_REQUIRED',
      status: 403,
      serverCode: 'mfa_required',
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

describe('passkey sign-in (passkeyOptions / passkeyLogin)', () => {
  it('fetches the request options without credentials, then signs in with the assertion and keeps the session', async () => {
    const options = { challenge: 'c1', allowCredentials: [], userVerification: 'required' };
    const { client, seen } = testClient((req) => {
      if (req.url.pathname === '/auth/passkey/options') return ok({ options });
      if (req.url.pathname === '/auth/passkey/login') return ok(loginAnswer(5));
      return ok([]);
    });
    expect(await client.passkeyOptions()).toEqual({ options });
    const assertion = { id: 'cred', response: { signature: 'sig' } };
    const tokens = await client.passkeyLogin(assertion);
    expect(tokens.accessToken).toBe('access-5');
    expect(seen.map((r) => [r.method, r.url.pathname, r.body])).toEqual([
      ['POST', '/auth/passkey/options', undefined],
      ['POST', '/auth/passkey/login', { response: assertion }],
    ]);
    // Both steps are public: no token is sent before the session exists.
    expect(seen.every((r) => r.headers.get('authorization') === null)).toBe(true);
    await client.orchestrator.listTasks();
    expect(seen[2]?.headers.get('authorization')).toBe('Bearer access-5');
  });

  it('never retries a passkey login (an assertion answers one challenge)', async () => {
    let calls = 0;
    const { client } = testClient(() => {
      calls++;
      return json({ success: false, error: 'down' }, 503);
    });
    await expect(client.passkeyLogin({ id: 'cred' })).rejects.toBeInstanceOf(PlatformClientError);
    expect(calls).toBe(1);
    expect(client.session()).toBeUndefined();
  });
});

describe('two-step login (beginLogin / completeLogin)', () => {
  const challenge = {
    challenge_id: 'chal-secret-1',
    methods: ['totp', 'backup_code'],
    expires_at: '2026-01-01T00:05:00.000Z',
  };
  const mfaRequired = (data: unknown = challenge) =>
    json({ success: false, data, error: 'An MFA code is required.', code: 'MFA_REQUIRED' }, 401);

  it('answers the challenge instead of throwing, then completes it without the password', async () => {
    const { client, seen } = testClient((req) => {
      if (req.url.pathname === '/auth/login') return mfaRequired();
      if (req.url.pathname === '/auth/login/mfa') return ok(loginAnswer(3));
      return ok([]);
    });
    const step = await client.beginLogin({ username: 'ada', password: 'pw' });
    expect(step).toEqual({ status: 'mfa_required', challenge });
    expect(client.session()).toBeUndefined();
    if (step.status !== 'mfa_required') throw new Error('unreachable');
    const tokens = await client.completeLogin(step.challenge.challenge_id, { code: '123456' });
    expect(tokens.accessToken).toBe('access-3');
    expect(seen[1]).toMatchObject({ method: 'POST', body: { challenge_id: 'chal-secret-1', code: '123456' } });
    await client.orchestrator.listTasks();
    expect(seen[2]?.headers.get('authorization')).toBe('Bearer access-3');
  });

  it('sends a WebAuthn assertion as { webauthn }', async () => {
    const { client, seen } = testClient(() => ok(loginAnswer(4)));
    const assertion = { id: 'cred', response: { signature: 'sig' } };
    await client.completeLogin('chal', { webauthn: assertion });
    expect(seen[0]?.body).toEqual({ challenge_id: 'chal', webauthn: assertion });
  });

  it('resolves { authenticated } for an account without MFA', async () => {
    const { client } = testClient(() => ok(loginAnswer(1)));
    const step = await client.beginLogin({ username: 'ada', password: 'pw' });
    expect(step.status).toBe('authenticated');
    expect(client.session()?.accessToken).toBe('access-1');
  });

  it('still throws for wrong credentials and for an MFA_REQUIRED answer without a usable challenge', async () => {
    const { client } = testClient(() =>
      json({ success: false, data: null, error: 'Invalid username or password.', code: 'INVALID_CREDENTIALS' }, 401),
    );
    await expect(client.beginLogin({ username: 'ada', password: 'pw' })).rejects.toMatchObject({
      code: 'ERR_CLIENT_UNAUTHENTICATED',
      serverCode: 'INVALID_CREDENTIALS',
    });
    const bare = testClient(() => mfaRequired({ challenge_id: 42 }));
    await expect(bare.client.beginLogin({ username: 'ada', password: 'pw' })).rejects.toMatchObject({
      code: 'ERR_CLIENT_MFA_REQUIRED',
    });
  });

  it('never retries either step', async () => {
    let calls = 0;
    const { client } = testClient(() => {
      calls++;
      return json({ success: false, error: 'down' }, 503);
    });
    await expect(client.beginLogin({ username: 'a', password: 'b' })).rejects.toMatchObject({ status: 503 });
    await expect(client.completeLogin('chal', { code: '123456' })).rejects.toMatchObject({ status: 503 });
    expect(calls).toBe(2);
  });

  it('refuses a malformed answer before sending anything', async () => {
    const { client, seen } = testClient(() => ok(loginAnswer(1)));
    await expect(client.completeLogin('', { code: '1' })).rejects.toMatchObject({ code: 'ERR_CLIENT_INVALID_OPTIONS' });
    await expect(client.completeLogin('c', {} as never)).rejects.toMatchObject({ code: 'ERR_CLIENT_INVALID_OPTIONS' });
    expect(seen).toHaveLength(0);
  });
});

describe('MFA step-up', () => {
  it('adopts the stepped-up tokens of a verified code for the next calls', async () => {
    const { client, seen } = testClient((req) => {
      if (req.url.pathname === '/auth/login') return ok(loginAnswer(1));
      if (req.url.pathname === '/mfa/verify') {
        return ok({ verified: true, access_token: 'access-mfa', refresh_token: 'refresh-mfa', expires_in: 900 });
      }
      return ok([]);
    });
    await client.login({ username: 'ada', password: 'pw' });
    const answer = await client.controlCenter.mfa.verify('123456');
    expect(answer.verified).toBe(true);
    expect(client.session()).toMatchObject({ accessToken: 'access-mfa', refreshToken: 'refresh-mfa' });
    expect(client.session()?.user?.username).toBe('ada');
    await client.orchestrator.listTasks();
    expect(seen.at(-1)?.headers.get('authorization')).toBe('Bearer access-mfa');
  });

  it('keeps the session as it was when the code is not accepted', async () => {
    const { client } = testClient((req) =>
      req.url.pathname === '/auth/login' ? ok(loginAnswer(1)) : ok({ verified: false }),
    );
    await client.login({ username: 'ada', password: 'pw' });
    expect(await client.controlCenter.mfa.verify('000000')).toEqual({ verified: false });
    expect(client.session()?.accessToken).toBe('access-1');
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
