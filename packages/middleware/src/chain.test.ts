import { memoryStore } from '@provisioning/core';
import { describe, expect, it, vi } from 'vitest';
import { createSecurityChain } from './chain.js';
import { MiddlewareError } from './errors.js';
import { get, harness, TOKENS } from './test-fixtures.js';
import type { RouteSecurity } from './types.js';

const ok = () => Response.json({ ok: true });
const read: RouteSecurity = {
  action: 'read',
  resource: (_r, p) => ({ type: 'Provisioning::Server', id: p.id ?? 'none' }),
};
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('security chain: each layer short-circuits', () => {
  it('lets an authenticated, authorized request through with a SecurityContext built once', async () => {
    const h = harness();
    let seen: unknown;
    const res = await h.chain.handle(
      get('/servers/srv-1', { ...bearer(TOKENS.admin), 'user-agent': 'cli/1' }),
      read,
      { clientAddress: '198.51.100.7', params: { id: 'srv-1' } },
      (ctx) => {
        seen = ctx;
        return ok();
      },
    );
    expect(res.status).toBe(200);
    expect(seen).toMatchObject({
      clientIp: '198.51.100.7',
      principal: { id: 'u-admin' },
      roles: ['Admin'],
      sessionId: 's-1',
      action: 'read',
      resource: { type: 'Provisioning::Server', id: 'srv-1' },
      decision: { allowed: true, policyIds: ['allow-policy'], version: 'v1' },
      userAgent: 'cli/1',
    });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('ratelimit-policy')).toContain('"ip";q=5;w=60');
  });

  it('sends both limiters in one RateLimit-Policy and RateLimit, per IP first, counting down on each request', async () => {
    const h = harness();
    for (const [ip, principal] of [
      [4, 2],
      [3, 1],
    ]) {
      const res = await h.chain.handle(get('/s', bearer(TOKENS.viewer)), read, { clientAddress: '192.0.2.50' }, ok);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"ip";q=5;w=60, "principal";q=3;w=60');
      expect(res.headers.get('ratelimit')).toBe(`"ip";r=${ip};t=60, "principal";r=${principal};t=60`);
      expect(res.headers.get('retry-after')).toBeNull();
    }
  });

  it('429 with Retry-After and RateLimit headers once the per-IP limit is spent, before authenticating', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) {
      expect((await h.chain.handle(get('/x'), { public: true }, { clientAddress: '203.0.113.1' }, ok)).status).toBe(
        200,
      );
    }
    const res = await h.chain.handle(get('/x', bearer(TOKENS.admin)), read, { clientAddress: '203.0.113.1' }, ok);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(res.headers.get('ratelimit')).toBe('"ip";r=0;t=60');
    expect(await res.json()).toMatchObject({ error: 'rate_limited', code: '429' });
    expect(h.calls).not.toContain('authenticate');
    // Another IP is unaffected, and the window resets.
    expect((await h.chain.handle(get('/x'), { public: true }, { clientAddress: '203.0.113.2' }, ok)).status).toBe(200);
    h.clock.advance(60_001);
    expect((await h.chain.handle(get('/x'), { public: true }, { clientAddress: '203.0.113.1' }, ok)).status).toBe(200);
  });

  it('429 per principal across IPs', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) {
      expect((await h.chain.handle(get('/s'), read, { clientAddress: `192.0.2.${i}` }, ok)).status).not.toBe(429);
    }
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await h.chain.handle(get('/s', bearer(TOKENS.viewer)), read, { clientAddress: `192.0.2.${10 + i}` }, ok))
          .status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('401 with WWW-Authenticate when no credential is presented; the authorizer is never asked', async () => {
    const h = harness();
    const res = await h.chain.handle(get('/s'), read, {}, ok);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="provisioning"');
    expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
    expect(h.calls).toEqual([]);
  });

  it('401 invalid_token for a revoked or unknown token, without echoing it or the reason', async () => {
    const h = harness();
    const res = await h.chain.handle(get('/s', bearer(TOKENS.revoked)), read, {}, ok);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="provisioning", error="invalid_token"');
    const text = await res.text();
    expect(text).not.toContain(TOKENS.revoked);
    expect(text).not.toContain('REVOKED');
    expect(h.calls).toEqual(['authenticate']);
  });

  it('401 invalid_request for a malformed Authorization header', async () => {
    const h = harness();
    for (const header of ['Bearer', 'Basic dXNlcjpwYXNz', 'Bearer two words', 'Bearer tök']) {
      const res = await h.chain.handle(get('/s', { authorization: header }), read, {}, ok);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('invalid_request');
    }
    expect(h.calls).toEqual([]);
  });

  it('accepts API keys in the x-api-key header and as Authorization: ApiKey', async () => {
    const h = harness();
    expect((await h.chain.handle(get('/s', { 'x-api-key': TOKENS.apiKey }), read, {}, ok)).status).toBe(200);
    expect((await h.chain.handle(get('/s', { authorization: `ApiKey ${TOKENS.apiKey}` }), read, {}, ok)).status).toBe(
      200,
    );
  });

  it('403 mfa_required on a sensitive route without a recent MFA, before the policy is consulted', async () => {
    const h = harness();
    const sensitive: RouteSecurity = { action: 'delete', sensitive: true, mfaMaxAgeSeconds: 300 };
    const res = await h.chain.handle(get('/s', bearer(TOKENS.admin)), sensitive, {}, ok);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'mfa_required' });
    expect(h.calls).toEqual(['authenticate']);
    // A fresh MFA passes the step-up (then the policy decides).
    const fresh = await h.chain.handle(get('/s', bearer(TOKENS.freshMfa)), { ...sensitive, action: 'read' }, {}, ok);
    expect(fresh.status).toBe(200);
    // The same MFA grows too old.
    h.clock.advance(300_000);
    const stale = await h.chain.handle(get('/s', bearer(TOKENS.freshMfa)), { ...sensitive, action: 'read' }, {}, ok);
    expect(stale.status).toBe(403);
  });

  it('403 forbidden when the policy denies; the handler never runs', async () => {
    const h = harness();
    let ran = false;
    const res = await h.chain.handle(get('/s', bearer(TOKENS.viewer)), { action: 'delete' }, {}, () => {
      ran = true;
      return ok();
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'forbidden' });
    expect(ran).toBe(false);
  });

  it('fails closed: an authorizer error, an evaluation error, a route without an action, a store failure', async () => {
    const throwing = harness({ authorizer: { authorize: async () => Promise.reject(new Error('wasm broke')) } });
    expect((await throwing.chain.handle(get('/s', bearer(TOKENS.admin)), read, {}, ok)).status).toBe(403);
    const erroring = harness({
      authorizer: { authorize: async () => ({ allowed: true, errors: ['policy p1 errored'] }) },
    });
    const res = await erroring.chain.handle(get('/s', bearer(TOKENS.admin)), read, {}, ok);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'authorization_failed' });
    const noAction = harness();
    expect((await noAction.chain.handle(get('/s', bearer(TOKENS.admin)), {}, {}, ok)).status).toBe(403);
    const store = memoryStore();
    await store.close();
    const broken = harness({ rateLimit: { store } });
    expect((await broken.chain.handle(get('/s', bearer(TOKENS.admin)), read, {}, ok)).status).toBe(500);
  });

  it('keeps break-glass tokens inside their approved scope and audits them for 7 years', async () => {
    const h = harness();
    const inScope = await h.chain.handle(get('/s', bearer(TOKENS.emergency)), read, { params: { id: 'srv-1' } }, ok);
    expect(inScope.status).toBe(200);
    const otherResource = await h.chain.handle(
      get('/s', bearer(TOKENS.emergency)),
      read,
      { params: { id: 'srv-2' } },
      ok,
    );
    expect(otherResource.status).toBe(403);
    expect(await otherResource.json()).toMatchObject({ error: 'emergency_scope' });
    const otherAction = await h.chain.handle(
      get('/s', bearer(TOKENS.emergency)),
      { ...read, action: 'delete' },
      { params: { id: 'srv-1' } },
      ok,
    );
    expect(otherAction.status).toBe(403);
    await h.settle();
    const emergencyEvents = h.events.filter((e) => e.emergencySessionId === 'EMERGENCY-42');
    expect(emergencyEvents.length).toBeGreaterThanOrEqual(4);
    expect(emergencyEvents.every((e) => e.retention === 'break-glass')).toBe(true);
    expect(h.events.map((e) => e.action)).toContain('breakglass.used');
    // The approval id reaches the policy context.
    expect(h.authorizations[0]?.context).toMatchObject({ emergency: true, approvalId: 'EMERGENCY-42' });
  });

  it('reads its own headers from info.headers when the adapter gives them, and hands the request on unchanged', async () => {
    const h = harness({ clientIp: { trustedProxies: ['10.0.0.1'] } });
    // The request's own headers say nothing; the adapter's view has the same request's headers.
    const request = get('/servers/srv-1');
    const view = new Headers({
      ...bearer(TOKENS.admin),
      'x-request-id': 'req-from-view',
      'user-agent': 'view/1',
      'x-forwarded-for': '203.0.113.5',
    });
    let resolvedWith: unknown;
    const result = await h.chain.check(
      request,
      {
        ...read,
        resource: (r, p) => {
          resolvedWith = r;
          return { type: 'Provisioning::Server', id: p.id ?? 'none' };
        },
      },
      { clientAddress: '10.0.0.1', params: { id: 'srv-1' }, headers: view },
    );
    expect(result.ok).toBe(true);
    expect(result.context).toMatchObject({
      requestId: 'req-from-view',
      userAgent: 'view/1',
      clientIp: '203.0.113.5',
      principal: { id: 'u-admin' },
    });
    expect(resolvedWith).toBe(request);
    // Without a view the request's headers are read: no credential there.
    const plain = await h.chain.check(request, read, { clientAddress: '10.0.0.1', params: { id: 'srv-1' } });
    expect(plain.ok).toBe(false);
    expect(plain.ok === false && plain.code).toBe('ERR_MW_UNAUTHENTICATED');
  });

  it('gives the policy the MFA, IP and time context', async () => {
    const h = harness();
    await h.chain.handle(get('/s', bearer(TOKENS.freshMfa)), read, { clientAddress: '198.51.100.9' }, ok);
    expect(h.authorizations[0]?.context).toMatchObject({
      mfa: { present: true, ageSeconds: 60 },
      ip: '198.51.100.9',
      time: '2026-03-02T10:00:00.000Z',
      emergency: false,
    });
  });
});

describe('security chain: audit', () => {
  it('records one decision and one operation event with outcome and latency, off the response path', async () => {
    const h = harness();
    const res = await h.chain.handle(get('/s', bearer(TOKENS.admin)), read, { clientAddress: '198.51.100.7' }, () => {
      h.clock.advance(12);
      return new Response('made', { status: 201 });
    });
    // Nothing is recorded synchronously with the response.
    expect(h.events).toHaveLength(0);
    await h.settle();
    expect(h.events.map((e) => [e.kind, e.action, e.outcome])).toEqual([
      ['decision', 'authz.allowed', 'success'],
      ['operation', 'operation.completed', 'success'],
    ]);
    expect(h.events[1]).toMatchObject({
      status: 201,
      latencyMs: 12,
      actor: { id: 'u-admin', ip: '198.51.100.7' },
      retention: 'default',
    });
    expect(res.headers.get('x-request-id')).toBe(h.events[0]?.requestId);
  });

  it('records denials and never lets a failing recorder fail the request', async () => {
    const errors: unknown[] = [];
    const h = harness({
      audit: { record: () => Promise.reject(new Error('disk full')) },
      onAuditError: (e) => errors.push(e),
    });
    const res = await h.chain.handle(get('/s', bearer(TOKENS.viewer)), { action: 'delete' }, {}, ok);
    expect(res.status).toBe(403);
    await h.settle();
    await h.settle();
    expect(errors).toHaveLength(1);
    const throwing = harness({
      audit: {
        record: () => {
          throw new Error('sync failure');
        },
      },
    });
    expect((await throwing.chain.handle(get('/s', bearer(TOKENS.admin)), read, {}, ok)).status).toBe(200);
  });

  it('records each event of a turn on its own, in order: a recorder failure loses only that event', async () => {
    const recorded: string[] = [];
    const failed: string[] = [];
    let calls = 0;
    const h = harness({
      audit: {
        record: (event) => {
          calls++;
          // Every other call fails, synchronously or by rejecting.
          if (calls % 4 === 1) throw new Error('sync failure');
          if (calls % 4 === 3) return Promise.reject(new Error('async failure'));
          recorded.push(`${event.requestId}:${event.action}`);
          return undefined;
        },
      },
      onAuditError: (_e, event) => failed.push(`${event.requestId}:${event.action}`),
    });
    // Two requests in the same turn of the event loop: four events, one flush.
    const [a, b] = await Promise.all(
      ['r-a', 'r-b'].map((id) =>
        h.chain.handle(get('/s', { ...bearer(TOKENS.admin), 'x-request-id': id }), read, {}, ok),
      ),
    );
    expect([a?.status, b?.status]).toEqual([200, 200]);
    expect(calls).toBe(0);
    await h.settle();
    await h.settle();
    expect(calls).toBe(4);
    const all = [...recorded, ...failed].sort();
    expect(all).toEqual(
      ['r-a:authz.allowed', 'r-a:operation.completed', 'r-b:authz.allowed', 'r-b:operation.completed'].sort(),
    );
    expect(failed).toHaveLength(2);
    // A later event gets its own turn again.
    await h.chain.handle(get('/s', { ...bearer(TOKENS.admin), 'x-request-id': 'r-c' }), read, {}, ok);
    await h.settle();
    await h.settle();
    expect(calls).toBe(6);
  });

  it('a throwing onAuditError stays an uncaught error and costs the later events nothing', async () => {
    const thrown: unknown[] = [];
    // Catch what the chain rethrows instead of letting it reach the test runner. Every
    // other microtask runs as usual (Node 24 queues its own through queueMicrotask too).
    const original = globalThis.queueMicrotask;
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) =>
      original(() => {
        try {
          callback();
        } catch (error) {
          if ((error as Error)?.message !== 'onAuditError is broken too') throw error;
          thrown.push(error);
        }
      }),
    );
    try {
      const recorded: string[] = [];
      const h = harness({
        audit: {
          record: (event) => {
            if (event.action === 'authz.allowed') throw new Error('recorder down');
            recorded.push(event.action);
          },
        },
        onAuditError: () => {
          throw new Error('onAuditError is broken too');
        },
      });
      expect((await h.chain.handle(get('/s', bearer(TOKENS.admin)), read, {}, ok)).status).toBe(200);
      await h.settle();
      expect(recorded).toEqual(['operation.completed']);
      expect(thrown).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });

  it("audits only refusals and failed operations of an `audit: 'failures'` route, emergency use always", async () => {
    const h = harness();
    const scraped: RouteSecurity = { ...read, audit: 'failures' };
    expect((await h.chain.handle(get('/s', bearer(TOKENS.admin)), scraped, {}, ok)).status).toBe(200);
    await h.settle();
    expect(h.events).toEqual([]);
    // Refused by the chain, and failed in the handler: recorded.
    expect((await h.chain.handle(get('/s'), scraped, {}, ok)).status).toBe(401);
    expect(
      (await h.chain.handle(get('/s', bearer(TOKENS.viewer)), { ...scraped, action: 'delete' }, {}, ok)).status,
    ).toBe(403);
    const failing = () => new Response('no', { status: 503 });
    expect((await h.chain.handle(get('/s', bearer(TOKENS.admin)), scraped, {}, failing)).status).toBe(503);
    // Emergency access is audited in full.
    const emergency = await h.chain.handle(
      get('/s', bearer(TOKENS.emergency)),
      scraped,
      { params: { id: 'srv-1' } },
      ok,
    );
    expect(emergency.status).toBe(200);
    await h.settle();
    expect(h.events.map((e) => [e.action, e.outcome, e.status])).toEqual([
      ['auth.missing', 'failure', 401],
      ['authz.denied', 'denied', 403],
      ['operation.completed', 'failure', 503],
      ['breakglass.used', 'success', undefined],
      ['operation.completed', 'success', 200],
    ]);
  });

  it('keeps a caller-supplied request id only when it is well-formed', async () => {
    const h = harness();
    const good = await h.chain.handle(get('/s', { ...bearer(TOKENS.admin), 'x-request-id': 'req-123' }), read, {}, ok);
    expect(good.headers.get('x-request-id')).toBe('req-123');
    const bad = await h.chain.handle(
      get('/s', { ...bearer(TOKENS.admin), 'x-request-id': 'a b<script>' }),
      read,
      {},
      ok,
    );
    expect(bad.headers.get('x-request-id')).not.toContain('script');
  });
});

describe('security chain: options', () => {
  it('throws at construction for missing or invalid options', () => {
    expect(() => createSecurityChain({} as never)).toThrow(MiddlewareError);
    const h = harness();
    expect(h.chain).toBeDefined();
    expect(() =>
      createSecurityChain({
        authenticator: { authenticate: async () => ({ id: 'x', type: 'user', roles: [] }) },
        authorizer: { authorize: async () => ({ allowed: true }) },
        clientIp: { trustedProxies: ['not-an-ip'] },
      }),
    ).toThrow(/trustedProxies/);
  });

  it('answers refusals in the shape errorBody builds, from the table row only', async () => {
    const seen: unknown[] = [];
    const h = harness({
      errorBody: (refusal) => {
        seen.push(refusal);
        return { success: false, data: null, error: refusal.message, code: refusal.error.toUpperCase() };
      },
    });
    const res = await h.chain.handle(
      get('/x', bearer('not-a-known-token')),
      read,
      { clientAddress: '198.51.100.7' },
      ok,
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
    const body = await res.json();
    expect(body).toEqual({
      success: false,
      data: null,
      error: 'The credentials were refused.',
      code: 'INVALID_TOKEN',
    });
    expect(seen).toEqual([
      {
        status: 401,
        error: 'invalid_token',
        message: 'The credentials were refused.',
        code: 'ERR_MW_INVALID_CREDENTIALS',
        requestId: res.headers.get('x-request-id'),
      },
    ]);
    expect(JSON.stringify(body)).not.toContain('not-a-known-token');
    expect(() => harness({ errorBody: 'envelope' as never })).toThrow(/errorBody/);
  });

  it('answers the API server shape by default', async () => {
    const h = harness();
    const res = await h.chain.handle(get('/x'), read, { clientAddress: '198.51.100.7' }, ok);
    expect(await res.json()).toEqual({
      error: 'unauthenticated',
      message: 'Authentication is required.',
      code: '401',
      request_id: res.headers.get('x-request-id'),
    });
  });

  it("lets a route's context override the chain's keys and keeps a __proto__ key a plain key", async () => {
    const h = harness();
    const fromRequest = JSON.parse('{"__proto__": {"polluted": true}, "ip": "192.0.2.1", "ticket": "CHG-1"}');
    await h.chain.handle(
      get('/s', bearer(TOKENS.admin)),
      { ...read, context: () => fromRequest },
      { clientAddress: '198.51.100.9' },
      ok,
    );
    const context = h.authorizations[0]?.context as Record<string, unknown>;
    expect(context.ip).toBe('192.0.2.1');
    expect(context.ticket).toBe('CHG-1');
    expect(Object.getPrototypeOf(context)).toBe(Object.prototype);
    expect(Object.hasOwn(context, '__proto__')).toBe(true);
    expect((context as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('awaits an asynchronous resource resolver and refuses 400 when it rejects', async () => {
    const h = harness({ rateLimit: { store: memoryStore(), perIp: 100, perPrincipal: 100 } });
    const ok200 = await h.chain.handle(
      get('/s', bearer(TOKENS.admin)),
      { action: 'read', resource: async () => ({ type: 'Provisioning::Server', id: 'async-1' }) },
      {},
      ok,
    );
    expect(ok200.status).toBe(200);
    expect(h.authorizations.at(-1)?.resource.id).toBe('async-1');
    // Any thenable is awaited, as `await` would.
    const thenable = await h.chain.handle(
      get('/s', bearer(TOKENS.admin)),
      {
        action: 'read',
        resource: () =>
          ({
            // biome-ignore lint/suspicious/noThenProperty: a custom thenable is the point of the test
            then: (resolve: (r: { type: string; id: string }) => void) => resolve({ type: 'T', id: 'thenable-1' }),
          }) as unknown as { type: string; id: string },
      },
      {},
      ok,
    );
    expect(thenable.status).toBe(200);
    expect(h.authorizations.at(-1)?.resource.id).toBe('thenable-1');
    const bad = await h.chain.handle(
      get('/s', bearer(TOKENS.admin)),
      { action: 'read', resource: () => Promise.reject(new Error('no such server')) },
      {},
      ok,
    );
    expect(bad.status).toBe(400);
    const badSync = await h.chain.handle(
      get('/s', bearer(TOKENS.admin)),
      {
        action: 'read',
        resource: () => {
          throw new Error('unparsable');
        },
      },
      {},
      ok,
    );
    expect(badSync.status).toBe(400);
  });

  it('hands the authenticated principal to the resource resolver', async () => {
    const h = harness();
    const seen: string[] = [];
    const res = await h.chain.handle(
      get('/requests/new', bearer(TOKENS.viewer)),
      {
        action: 'read',
        resource: (_r, _p, principal) => {
          seen.push(principal.id);
          return { type: 'Provisioning::BreakGlassSession', id: 'new', attributes: { requester: principal.id } };
        },
      },
      { clientAddress: '198.51.100.7' },
      ok,
    );
    expect(res.status).toBe(200);
    expect(seen).toEqual(['u-viewer']);
    expect(h.authorizations.at(-1)?.resource.attributes).toEqual({ requester: 'u-viewer' });
  });
});
