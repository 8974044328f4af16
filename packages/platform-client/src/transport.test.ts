import { describe, expect, it } from 'vitest';
import { failure, hangUntilAbort, json, loginAnswer, ok, task, testClient } from '../test/helpers.js';
import { isPlatformClientError, PlatformClientError } from './errors.js';
import { backoffDelay, parseRetryAfter } from './transport.js';

const apiKey = { type: 'apiKey', apiKey: 'k-secret-api-key-123' } as const;

describe('retries', () => {
  it('retries a retryable failure of an idempotent request with full-jitter backoff, then succeeds', async () => {
    let calls = 0;
    const { client, sleeps } = testClient(() => (++calls < 3 ? json({ success: false, error: 'busy' }, 503) : ok([])), {
      auth: apiKey,
      random: () => 0.5,
    });
    await expect(client.orchestrator.listTasks()).resolves.toEqual([]);
    expect(calls).toBe(3);
    // attempt 1: 0.5 * min(10000, 100 * 2^0) = 50; attempt 2: 0.5 * 200 = 100
    expect(sleeps).toEqual([50, 100]);
  });

  it('never retries a non-idempotent POST (a workflow submission could run twice)', async () => {
    let calls = 0;
    const { client } = testClient(
      () => {
        calls++;
        return json({ success: false, error: 'unavailable' }, 503);
      },
      { auth: apiKey },
    );
    const error = await failure(client.orchestrator.submitWorkflow('servers', { infra: 'prod', params: {} }));
    expect(error.code).toBe('ERR_CLIENT_SERVER_ERROR');
    expect(error.retryable).toBe(true);
    expect(calls).toBe(1);
  });

  it('does not retry client errors, and carries the status and the server code', async () => {
    let calls = 0;
    const { client } = testClient(
      () => {
        calls++;
        return json({ success: false, data: null, error: 'task not found', code: 'TASK_NOT_FOUND' }, 404);
      },
      { auth: apiKey },
    );
    const error = await failure(client.orchestrator.getTask('t-1'));
    expect(calls).toBe(1);
    expect(error).toMatchObject({
      code: 'ERR_CLIENT_NOT_FOUND',
      fault: 'client',
      retryable: false,
      status: 404,
      serverCode: 'TASK_NOT_FOUND',
      service: 'orchestrator',
    });
  });

  it('reads the API server error shape { error, message, code: "400" }', async () => {
    const { client } = testClient(
      () => json({ error: 'VALIDATION_ERROR', message: 'hostname is required', code: '400' }, 400),
      {
        auth: apiKey,
      },
    );
    const error = await failure(
      client.apiServer.createServer({
        workspace: 'w',
        provider: 'upcloud',
        plan: 'p',
        hostname: '',
        zone: 'z',
        check_mode: true,
        tags: [],
      }),
    );
    expect(error).toMatchObject({ code: 'ERR_CLIENT_BAD_REQUEST', status: 400, serverCode: 'VALIDATION_ERROR' });
    expect(error.message).toContain('hostname is required');
  });

  it('honours Retry-After (seconds) instead of a shorter backoff', async () => {
    let calls = 0;
    const { client, sleeps } = testClient(
      () => (++calls === 1 ? json({ success: false, error: 'slow down' }, 429, { 'retry-after': '2' }) : ok([])),
      { auth: apiKey },
    );
    await client.orchestrator.listTasks();
    expect(sleeps).toEqual([2000]);
  });

  it('gives up at once when Retry-After is longer than maxRetryAfterMs', async () => {
    const { client, sleeps } = testClient(
      () => json({ success: false, error: 'later' }, 503, { 'retry-after': '3600' }),
      {
        auth: apiKey,
      },
    );
    const error = await failure(client.orchestrator.listTasks());
    expect(error.code).toBe('ERR_CLIENT_SERVER_ERROR');
    expect(error.retryAfterMs).toBe(3_600_000);
    expect(sleeps).toEqual([]);
  });

  it('stops after maxAttempts and throws the last error', async () => {
    let calls = 0;
    const { client } = testClient(
      () => {
        calls++;
        return json({ success: false, error: 'boom' }, 502);
      },
      { auth: apiKey, retry: { maxAttempts: 4 } },
    );
    const error = await failure(client.orchestrator.listTasks());
    expect(calls).toBe(4);
    expect(error.status).toBe(502);
  });

  it('retries network errors of idempotent requests (ERR_CLIENT_NETWORK)', async () => {
    let calls = 0;
    const { client } = testClient(
      () => {
        if (++calls === 1) throw new TypeError('fetch failed');
        return ok([task('a')]);
      },
      { auth: apiKey },
    );
    await expect(client.orchestrator.listTasks()).resolves.toHaveLength(1);
    expect(calls).toBe(2);
  });

  it('computes full jitter within [0, min(cap, base·2^(n-1))]', () => {
    const retry = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, retry, () => 0.999)).toBe(99);
    expect(backoffDelay(5, retry, () => 0.999)).toBe(999);
    expect(backoffDelay(3, retry, () => 0)).toBe(0);
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('timeouts and cancellation', () => {
  it('times out an attempt after timeoutMs with a retryable ERR_CLIENT_TIMEOUT', async () => {
    const { client } = testClient(hangUntilAbort, { auth: apiKey, timeoutMs: 20, retry: false });
    const error = await failure(client.orchestrator.listTasks());
    expect(error).toMatchObject({ code: 'ERR_CLIENT_TIMEOUT', retryable: true, fault: 'server' });
  });

  it('retries a timed-out idempotent request', async () => {
    let calls = 0;
    const { client } = testClient((req, signal) => (++calls === 1 ? hangUntilAbort(req, signal) : ok([])), {
      auth: apiKey,
      timeoutMs: 20,
    });
    await expect(client.orchestrator.listTasks()).resolves.toEqual([]);
    expect(calls).toBe(2);
  });

  it('cancels with the caller’s AbortSignal (ERR_CLIENT_ABORTED, not retried)', async () => {
    let calls = 0;
    const { client } = testClient(
      (req, signal) => {
        calls++;
        return hangUntilAbort(req, signal);
      },
      { auth: apiKey },
    );
    const controller = new AbortController();
    const pending = client.orchestrator.listTasks({}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    const error = await failure(pending);
    expect(error).toMatchObject({ code: 'ERR_CLIENT_ABORTED', fault: 'client', retryable: false });
    expect(calls).toBe(1);
  });

  it('rejects at once with an already aborted signal', async () => {
    const { client, seen } = testClient(() => ok([]), { auth: apiKey });
    const error = await failure(client.orchestrator.listTasks({}, { signal: AbortSignal.abort() }));
    expect(error.code).toBe('ERR_CLIENT_ABORTED');
    expect(seen).toHaveLength(0);
  });
});

describe('bad responses are typed errors', () => {
  it('rejects a body that is not JSON', async () => {
    const { client } = testClient(
      () => new Response('{"success":tr', { headers: { 'content-type': 'application/json' } }),
      {
        auth: apiKey,
      },
    );
    expect((await failure(client.orchestrator.listTasks())).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
  });

  it('rejects a wrong content type', async () => {
    const { client } = testClient(
      () => new Response('<html>login</html>', { headers: { 'content-type': 'text/html' } }),
      {
        auth: apiKey,
      },
    );
    expect((await failure(client.orchestrator.listTasks())).code).toBe('ERR_CLIENT_UNEXPECTED_CONTENT_TYPE');
  });

  it('rejects a missing envelope', async () => {
    const { client } = testClient(() => json([task('a')]), { auth: apiKey });
    expect((await failure(client.orchestrator.listTasks())).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
  });

  it('rejects data that breaks the contract, naming the path', async () => {
    const { client } = testClient(() => ok([task('a'), { ...task('b'), status: 'Exploded' }]), { auth: apiKey });
    const error = await failure(client.orchestrator.listTasks());
    expect(error.code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
    expect(error.details.path).toBe('$.data[1].status');
  });

  it('rejects a body shorter than its Content-Length (truncated)', async () => {
    const { client } = testClient(
      () =>
        new Response('{"success":true,"data":[]}', {
          headers: { 'content-type': 'application/json', 'content-length': '500' },
        }),
      { auth: apiKey, retry: false },
    );
    const error = await failure(client.orchestrator.listTasks());
    expect(error).toMatchObject({ code: 'ERR_CLIENT_TRUNCATED_RESPONSE', retryable: true });
  });

  it('rejects a body stream that errors mid-way (truncated)', async () => {
    const { client } = testClient(
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('{"success":true,'));
              controller.error(new TypeError('terminated'));
            },
          }),
          { headers: { 'content-type': 'application/json' } },
        ),
      { auth: apiKey, retry: false },
    );
    expect((await failure(client.orchestrator.listTasks())).code).toBe('ERR_CLIENT_TRUNCATED_RESPONSE');
  });

  it('rejects an empty 200 body where the contract wants data', async () => {
    const { client } = testClient(() => new Response(null, { status: 200 }), { auth: apiKey });
    expect((await failure(client.orchestrator.listTasks())).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
  });

  it('keeps unknown fields (forward compatibility) but validates known ones', async () => {
    const { client } = testClient(() => ok({ ...task('a'), extra: 1 }), { auth: apiKey });
    await expect(client.orchestrator.getTask('a')).resolves.toMatchObject({ id: 'a', extra: 1 });
  });
});

describe('requests', () => {
  it('sends query parameters, the API key header and JSON bodies', async () => {
    const { client, seen } = testClient(() => ok([]), { auth: apiKey });
    await client.orchestrator.listTasks({ status: 'Failed', limit: 10, offset: 20 });
    expect(seen[0]?.url.pathname).toBe('/tasks');
    expect(Object.fromEntries(seen[0]?.url.searchParams ?? [])).toEqual({
      status: 'Failed',
      limit: '10',
      offset: '20',
    });
    expect(seen[0]?.headers.get('x-api-key')).toBe('k-secret-api-key-123');
  });

  it('does not send credentials to public routes (health)', async () => {
    const { client, seen } = testClient(() => ok('Orchestrator is healthy'), { auth: apiKey });
    await client.orchestrator.health();
    expect(seen[0]?.headers.get('x-api-key')).toBeNull();
  });

  it('encodes path parameters', async () => {
    const { client, seen } = testClient(() => ok(task('a/b')), { auth: apiKey });
    await client.orchestrator.getTask('a/b');
    expect(seen[0]?.url.pathname).toBe('/tasks/a%2Fb');
  });

  it('rejects a base URL with credentials at construction', () => {
    expect(() => testClient(() => ok(null), { baseUrl: 'http://user:pw@platform.test' })).toThrow(PlatformClientError);
  });

  it('isPlatformClientError recognises its errors', async () => {
    const { client } = testClient(() => json({}, 500), { auth: apiKey, retry: false });
    const error = await failure(client.orchestrator.listTasks());
    expect(isPlatformClientError(error)).toBe(true);
    expect(isPlatformClientError(new Error('x'))).toBe(false);
  });
});

describe('log redaction', () => {
  it('never writes passwords, tokens, API keys or plaintexts to the debug log', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (message: string, fields?: Record<string, unknown>) => lines.push(message + JSON.stringify(fields)),
    };
    const { client } = testClient(
      (req) => {
        if (req.url.pathname === '/auth/login') {
          return ok({
            access_token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.sig-secret',
            refresh_token: 'refresh-secret-value',
            token_type: 'Bearer',
            expires_in: 900,
            user: { id: 'u', username: 'ada', email: 'a@x', roles: [] },
          });
        }
        return ok({ ciphertext: 'ct', key_id: 'k' });
      },
      { logger },
    );
    await client.login({ username: 'ada', password: 'hunter2-password', mfaCode: '654321' });
    await client.kms.encrypt('top secret plaintext', { tenant: 'a' });
    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const secret of [
      'hunter2-password',
      '654321',
      'sig-secret',
      'refresh-secret-value',
      'dG9wIHNlY3JldCBwbGFpbnRleHQ=',
    ]) {
      expect(log).not.toContain(secret);
    }
    expect(log).toContain('[REDACTED]');
  });

  it('never logs one-time codes, login challenges or bootstrap secrets sent in bodies', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (message: string, fields?: Record<string, unknown>) => lines.push(message + JSON.stringify(fields)),
    };
    const { client } = testClient(
      (req) => {
        if (req.url.pathname === '/auth/login/mfa') return ok(loginAnswer(1));
        if (req.url.pathname === '/mfa/verify') return ok({ verified: false });
        return ok({
          id: 'u1',
          username: 'root',
          email: '',
          roles: ['Admin'],
          teams: [],
          disabled: false,
          mfa_enabled: false,
          created_at: '2026-01-01T00:00:00Z',
          updated_at: '2026-01-01T00:00:00Z',
        });
      },
      { logger },
    );
    await client.completeLogin('challenge-bearer-secret', { code: '918273' });
    await client.controlCenter.mfa.verify('564738');
    await client.controlCenter.bootstrap({
      secret: 'bootstrap-one-time',
      username: 'root',
      password: 'pw-long-enough',
    });
    const log = lines.join('\n');
    for (const secret of ['challenge-bearer-secret', '918273', '564738', 'bootstrap-one-time', 'pw-long-enough']) {
      expect(log).not.toContain(secret);
    }
    expect(log).toContain('/auth/login/mfa');
  });

  it('keeps credentials out of error messages and details', async () => {
    const { client } = testClient(
      () => json({ success: false, error: 'bad token Bearer abcdefghijklmnop.qrstuvwx.yz' }, 401),
      { auth: { type: 'bearer', token: 'abcdefghijklmnop.qrstuvwx.yz' } },
    );
    const error = await failure(client.orchestrator.listTasks());
    expect(error.code).toBe('ERR_CLIENT_UNAUTHENTICATED');
    expect(JSON.stringify(error.toJSON())).not.toContain('abcdefghijklmnop');
  });
});
