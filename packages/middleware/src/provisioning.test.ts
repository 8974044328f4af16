// The whole chain with the real packages: RS256 tokens issued and verified by
// @provisioning/auth (revocation, expiry, API keys, break-glass), decisions by
// @provisioning/authz's Cedar engine with the shipped policies, events in a
// real @provisioning/audit log (memory store and a JSONL file) — through Hono,
// Express and Fastify.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEvent, type AuditLog, createAuditLog, jsonlSink, memoryAuditStore } from '@provisioning/audit';
import {
  type BreakGlassActor,
  callbackNotifier,
  createApiKeyService,
  createBreakGlass,
  createKeySet,
  createTokenService,
} from '@provisioning/auth';
import { type CedarEntity, createAuthorizer, shippedPolicyDir, staticEntityProvider } from '@provisioning/authz';
import { createManualClock, memoryStore } from '@provisioning/core';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecurityChain, type SecurityChain } from './chain.js';
import { security as expressSecurity } from './express.js';
import { security as fastifySecurity } from './fastify.js';
import { security as honoSecurity, type SecurityVariables } from './hono.js';
import { auditRecorderFrom, authenticatorFrom, authorizerFrom } from './provisioning.js';
import type { Principal, RouteSecurity } from './types.js';

const NS = 'Provisioning';
const ref = (type: string, id: string) => ({ __entity: { type: `${NS}::${type}`, id } });
const env = (id: string, tier: string): CedarEntity => ({
  uid: { type: `${NS}::Environment`, id },
  attrs: { name: id, tier, requires_approval: tier === 'production', requires_mfa: tier === 'production' },
  parents: [],
});
const workspace = (id: string, environment: string): CedarEntity => ({
  uid: { type: `${NS}::Workspace`, id },
  attrs: { name: id, owner: ref('User', 'root'), environment: ref('Environment', environment) },
  parents: [{ type: `${NS}::Environment`, id: environment }],
});
const server = (id: string, ws: string, environment: string): CedarEntity => ({
  uid: { type: `${NS}::Server`, id },
  attrs: {
    hostname: `${id}.example.com`,
    provider: 'upcloud',
    status: 'running',
    workspace: ref('Workspace', ws),
    environment: ref('Environment', environment),
  },
  parents: [{ type: `${NS}::Workspace`, id: ws }],
});
const ENTITIES: CedarEntity[] = [
  env('prod', 'production'),
  env('stg', 'staging'),
  workspace('ws-prod', 'prod'),
  workspace('ws-stg', 'stg'),
  server('prod-web', 'ws-prod', 'prod'),
  server('prod-db', 'ws-prod', 'prod'),
  server('stg-web', 'ws-stg', 'stg'),
];

const serverResource: RouteSecurity['resource'] = (_r, p) => ({ type: 'Provisioning::Server', id: p.id ?? '' });
const ROUTES = {
  read: { action: 'read', resource: serverResource },
  delete: { action: 'delete', resource: serverResource },
  // The approval id comes from a header: the adapter must not let a client claim an emergency.
  deploy: {
    action: 'deploy',
    resource: serverResource,
    context: (r) => {
      const approval = r.headers.get('x-approval-id');
      return approval === null ? {} : { approvalId: approval };
    },
  },
  // Step-up in the chain itself, before Cedar.
  restart: { action: 'update', sensitive: true, resource: serverResource },
} satisfies Record<string, RouteSecurity>;

// 2026-03-02 is a Monday; 10:00 UTC is inside the production deploy hours.
const START = new Date('2026-03-02T10:00:00Z');

async function setup(auditSink: 'memory' | 'jsonl') {
  const clock = createManualClock(START);
  const store = memoryStore({ clock });
  const keys = await createKeySet({ clock }); // RS256
  const tokens = createTokenService({ keys, issuer: 'https://auth.test', audience: 'provisioning', store, clock });
  const apiKeys = createApiKeyService({ store, clock });
  const breakGlassAudit: unknown[] = [];
  const breakGlass = createBreakGlass({
    tokens,
    store,
    clock,
    audit: { write: async (event) => void breakGlassAudit.push(event) },
    notifier: callbackNotifier(() => {}),
    emergencyRoles: ['Operator'],
  });
  const authz = await createAuthorizer({ policyDir: shippedPolicyDir, entities: staticEntityProvider(ENTITIES) });
  const memory = memoryAuditStore();
  const directory = auditSink === 'jsonl' ? await mkdtemp(join(tmpdir(), 'mw-audit-')) : undefined;
  const log: AuditLog = await createAuditLog({
    sinks: [directory === undefined ? memory : jsonlSink({ directory, clock })],
    clock,
  });
  const auditErrors: unknown[] = [];
  const chain = createSecurityChain({
    clock,
    authenticator: authenticatorFrom({ tokens, apiKeys, breakGlass, apiKeyRoles: () => ['Viewer'] }),
    // Loopback counts as a trusted network, like an internal API gateway would.
    authorizer: authorizerFrom(authz, { context: { clock, trustedRanges: ['127.0.0.0/8'] } }),
    audit: auditRecorderFrom(log),
    onAuditError: (error) => auditErrors.push(error),
  });
  const issue = async (subject: string, roles: string[], extra: { mfaAgoSeconds?: number; ttl?: number } = {}) =>
    (
      await tokens.issue({
        subject,
        roles,
        amr: extra.mfaAgoSeconds === undefined ? ['pwd'] : ['pwd', 'otp'],
        ...(extra.mfaAgoSeconds === undefined ? {} : { mfaAt: new Date(clock.now() - extra.mfaAgoSeconds * 1000) }),
        ...(extra.ttl === undefined ? {} : { accessTtlSeconds: extra.ttl }),
      })
    ).accessToken;
  /** Waits for the chain's deferred audit calls, then for the log to write them. */
  const events = async (): Promise<AuditEvent[]> => {
    await new Promise((r) => setImmediate(r));
    await log.flush();
    if (directory === undefined) return memory.entries.map((e) => e.event);
    const text = await readFile(join(directory, 'audit.jsonl'), 'utf8');
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { event?: AuditEvent })
      .flatMap((entry) => (entry.event?.action === undefined ? [] : [entry.event]));
  };
  const close = async () => {
    authz.close();
    await log.close();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  };
  return { clock, tokens, apiKeys, breakGlass, breakGlassAudit, chain, issue, events, auditErrors, close };
}
type Setup = Awaited<ReturnType<typeof setup>>;

interface Client {
  request(path: string, headers?: Record<string, string>, method?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

const mount = {
  hono(chain: SecurityChain): Client {
    const app = new Hono<{ Variables: SecurityVariables }>();
    const opts = { clientAddress: () => '10.1.2.3' };
    const ok = (c: { get(k: 'security'): SecurityVariables['security']; json(b: unknown): Response }) =>
      c.json({ by: c.get('security').principal?.id, policies: c.get('security').decision?.policyIds });
    app.get('/servers/:id', honoSecurity(chain, ROUTES.read, opts), ok);
    app.delete('/servers/:id', honoSecurity(chain, ROUTES.delete, opts), ok);
    app.post('/servers/:id/deploy', honoSecurity(chain, ROUTES.deploy, opts), ok);
    app.post('/servers/:id/restart', honoSecurity(chain, ROUTES.restart, opts), ok);
    return {
      async request(path, headers = {}, method = 'GET') {
        const res = await app.request(path, { method, headers });
        return { status: res.status, body: await res.json() };
      },
      close: async () => {},
    };
  },
  async express(chain: SecurityChain): Promise<Client> {
    const app = express();
    const ok = (req: express.Request, res: express.Response) =>
      void res.json({ by: req.security?.principal?.id, policies: req.security?.decision?.policyIds });
    app.get('/servers/:id', expressSecurity(chain, ROUTES.read), ok);
    app.delete('/servers/:id', expressSecurity(chain, ROUTES.delete), ok);
    app.post('/servers/:id/deploy', expressSecurity(chain, ROUTES.deploy), ok);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    return {
      async request(path, headers = {}, method = 'GET') {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers });
        return { status: res.status, body: await res.json() };
      },
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
  async fastify(chain: SecurityChain): Promise<Client> {
    const app = Fastify();
    const ok = async (request: { security?: { principal?: { id: string }; decision?: { policyIds?: unknown } } }) => ({
      by: request.security?.principal?.id,
      policies: request.security?.decision?.policyIds,
    });
    app.get('/servers/:id', { preHandler: fastifySecurity(chain, ROUTES.read) }, ok);
    app.delete('/servers/:id', { preHandler: fastifySecurity(chain, ROUTES.delete) }, ok);
    app.post('/servers/:id/deploy', { preHandler: fastifySecurity(chain, ROUTES.deploy) }, ok);
    await app.ready();
    return {
      async request(url, headers = {}, method = 'GET') {
        const res = await app.inject({ method: method as 'GET', url, headers });
        return { status: res.statusCode, body: res.json() };
      },
      close: () => app.close(),
    };
  },
};

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const get = (path: string, headers: Record<string, string> = {}) => new Request(`http://api${path}`, { headers });

describe('the chain on Hono with auth tokens and the shipped Cedar policies', () => {
  let s: Setup;
  let client: Client;
  beforeAll(async () => {
    s = await setup('memory');
    client = mount.hono(s.chain);
  });
  afterAll(async () => {
    await client.close();
    await s.close();
  });

  it('lets a Viewer read a production server (read-only-baseline)', async () => {
    const res = await client.request('/servers/prod-web', bearer(await s.issue('vera', ['Viewer'])));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ by: 'vera', policies: ['read-only-baseline'] });
  });

  it('refuses a Viewer deleting a production server (default deny)', async () => {
    const res = await client.request('/servers/prod-web', bearer(await s.issue('vera', ['Viewer'])), 'DELETE');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('forbidden');
  });

  it('refuses a production deploy without MFA by policy, and allows it with MFA and a change approval', async () => {
    const noMfa = await s.issue('olga', ['Operator']);
    const refused = await client.request(
      '/servers/prod-web/deploy',
      { ...bearer(noMfa), 'x-approval-id': 'CHG-7' },
      'POST',
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('forbidden');
    const withMfa = await s.issue('olga', ['Operator'], { mfaAgoSeconds: 60 });
    const allowed = await client.request(
      '/servers/prod-web/deploy',
      { ...bearer(withMfa), 'x-approval-id': 'CHG-7' },
      'POST',
    );
    expect(allowed.status).toBe(200);
    expect(allowed.body.policies).toEqual(['prod-sre-deploy']);
    const events = await s.events();
    const denial = events.find((e) => e.action === 'authz.denied' && e.actor.id === 'olga');
    expect(denial?.metadata?.policyIds).toContain('prod-deploy-mfa');
    expect(denial?.outcome).toBe('denied');
  });

  it('drops a client-supplied EMERGENCY-… approval id (it would lift production guards)', async () => {
    const token = await s.issue('olga', ['Operator'], { mfaAgoSeconds: 60 });
    const res = await client.request(
      '/servers/prod-web/deploy',
      { ...bearer(token), 'x-approval-id': 'EMERGENCY-1' },
      'POST',
    );
    expect(res.status).toBe(403);
    const events = await s.events();
    expect(events.at(-1)?.metadata?.policyIds).toEqual(['prod-deploy-approval']);
  });

  it('asks for step-up on a sensitive route before the policy runs', async () => {
    const res = await client.request('/servers/prod-web/restart', bearer(await s.issue('olga', ['Operator'])), 'POST');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('mfa_required');
  });

  it('refuses a revoked token with 401, and records why without the token', async () => {
    const token = await s.issue('rev', ['Viewer']);
    expect((await client.request('/servers/prod-web', bearer(token))).status).toBe(200); // now cached too
    const claims = await s.tokens.verify(token);
    await s.tokens.revokeToken(claims);
    const res = await client.request('/servers/prod-web', bearer(token));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    const events = await s.events();
    const failed = events.at(-1);
    expect(failed).toMatchObject({ action: 'auth.login.failed', outcome: 'failure', reason: 'ERR_AUTH_TOKEN_REVOKED' });
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it('refuses an expired token with 401', async () => {
    const token = await s.issue('exp', ['Viewer'], { ttl: 60 });
    expect((await client.request('/servers/prod-web', bearer(token))).status).toBe(200);
    s.clock.advance(60_000 + 31_000); // past exp and the 30 s skew
    const res = await client.request('/servers/prod-web', bearer(token));
    expect(res.status).toBe(401);
    expect((await s.events()).at(-1)?.reason).toBe('ERR_AUTH_TOKEN_EXPIRED');
  });

  it('records decisions and completed operations in the standard retention class', async () => {
    const events = await s.events();
    expect(s.auditErrors).toEqual([]);
    expect(events.length).toBeGreaterThan(8);
    expect(new Set(events.map((e) => e.retention))).toEqual(new Set(['standard']));
    const completed = events.filter((e) => e.metadata?.event === 'operation.completed');
    expect(completed.length).toBeGreaterThan(0);
    expect(completed[0]).toMatchObject({ action: 'authz.allowed', outcome: 'success', actor: { ip: '10.1.2.3' } });
    expect(completed[0]?.metadata?.status).toBe(200);
  });
});

describe('the chain on Express with API keys and a JSONL audit log', () => {
  let s: Setup;
  let client: Client;
  beforeAll(async () => {
    s = await setup('jsonl');
    client = await mount.express(s.chain);
  });
  afterAll(async () => {
    await client.close();
    await s.close();
  });

  it('accepts an API key within its scopes and refuses one outside them', async () => {
    const { key, info } = await s.apiKeys.create({ owner: 'ci-bot', name: 'ci', scopes: ['read'] });
    const read = await client.request('/servers/prod-web', { 'x-api-key': key });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ by: info.id, policies: ['read-only-baseline'] });
    const del = await client.request('/servers/stg-web', { authorization: `ApiKey ${key}` }, 'DELETE');
    expect(del.status).toBe(403);
    await s.apiKeys.revoke(info.id);
    expect((await client.request('/servers/prod-web', { 'x-api-key': key })).status).toBe(401);
    const events = await s.events();
    expect(events.find((e) => e.actor.type === 'api_key' && e.action === 'authz.allowed')?.actor).toMatchObject({
      id: info.id,
      ip: '127.0.0.1',
    });
    expect(events.find((e) => e.action === 'authz.denied')?.metadata?.policyIds).toEqual(['api-key-scope']);
    expect(events.at(-1)?.reason).toBe('ERR_AUTH_API_KEY_REVOKED');
    expect(JSON.stringify(events)).not.toContain(key);
  });

  it('refuses a request without credentials and writes it to the file as an anonymous denial', async () => {
    const res = await client.request('/servers/prod-web');
    expect(res.status).toBe(401);
    expect((await s.events()).at(-1)).toMatchObject({
      action: 'authz.denied',
      outcome: 'failure',
      actor: { id: 'anonymous', type: 'anonymous' },
      metadata: { event: 'auth.missing' },
      retention: 'standard',
    });
  });
});

describe('the chain on Fastify with a break-glass token', () => {
  let s: Setup;
  let client: Client;
  let token: string;
  const rita: BreakGlassActor = { id: 'rita', team: 'sre' };
  beforeAll(async () => {
    s = await setup('memory');
    client = await mount.fastify(s.chain);
    const request = await s.breakGlass.request({
      requester: rita,
      reason: 'INC-42',
      justification: 'staging web tier is down and on-call needs to replace it',
      scope: ['Provisioning::Server::stg-*'],
      durationSeconds: 3600,
    });
    await s.breakGlass.approve(request.id, { id: 'alice', team: 'platform-admin' });
    await s.breakGlass.approve(request.id, { id: 'bob', team: 'security' });
    token = (await s.breakGlass.activate(request.id, rita)).token;
  });
  afterAll(async () => {
    await client.close();
    await s.close();
  });

  it('an Operator may not delete a staging server without break-glass', async () => {
    const res = await client.request('/servers/stg-web', bearer(await s.issue('rita', ['Operator'])), 'DELETE');
    expect(res.status).toBe(403);
  });

  it('the emergency token deletes inside its scope (emergency-access policy) and nowhere else', async () => {
    const inside = await client.request('/servers/stg-web', bearer(token), 'DELETE');
    expect(inside.status).toBe(200);
    expect(inside.body).toEqual({ by: 'rita', policies: ['emergency-access'] });
    const outside = await client.request('/servers/prod-db', bearer(token), 'DELETE');
    expect(outside.status).toBe(403);
    expect(outside.body.error).toBe('emergency_scope');
  });

  it('records everything done with it in the 7-year break-glass retention class', async () => {
    const events = (await s.events()).filter((e) => e.actor.id === 'rita' && e.sessionId?.startsWith('bg-'));
    expect(events.map((e) => [e.action, e.metadata?.event, e.retention])).toEqual([
      ['break_glass.used', 'breakglass.used', 'break_glass'],
      ['break_glass.used', 'operation.completed', 'break_glass'],
      ['authz.denied', 'breakglass.denied', 'break_glass'],
    ]);
    expect(events[0]?.metadata?.emergencySessionId).toBe(events[0]?.sessionId);
    expect(s.auditErrors).toEqual([]);
  });

  it('goes through break-glass verification: an idle session ends although the JWT is still valid', async () => {
    s.clock.advance(31 * 60_000); // past the 30 min inactivity timeout, well before the 1 h expiry
    await expect(s.tokens.verify(token)).resolves.toMatchObject({ sub: 'rita' });
    const res = await client.request('/servers/stg-web', bearer(token));
    expect(res.status).toBe(401);
    expect((await s.events()).at(-1)?.reason).toBe('ERR_AUTH_BREAK_GLASS_INACTIVE');
  });
});

describe('adapter options', () => {
  it('refuses emergency tokens and API keys when their services are not given', async () => {
    const s = await setup('memory');
    const chain = createSecurityChain({
      authenticator: authenticatorFrom({ tokens: s.tokens }),
      authorizer: { authorize: async () => ({ allowed: true }) },
    });
    const { key } = await s.apiKeys.create({ owner: 'x', name: 'x', scopes: ['read'] });
    const ok = () => Response.json({});
    const info = { clientAddress: '10.0.0.1' };
    expect((await chain.handle(get('/servers/a', { 'x-api-key': key }), ROUTES.read, info, ok)).status).toBe(401);
    expect(
      (await chain.handle(get('/servers/a', bearer(await s.issue('u', ['Viewer']))), ROUTES.read, info, ok)).status,
    ).toBe(200);
    // A token carrying the emergency claim (from any issuer path) is not trusted without break-glass.
    const forged = (await s.tokens.issue({ subject: 'u', roles: ['Admin'], claims: { emergency: true } })).accessToken;
    expect((await chain.handle(get('/servers/a', bearer(forged)), ROUTES.read, info, ok)).status).toBe(401);
    await s.close();
  });

  it('grants nothing to an emergency token without an approved scope', async () => {
    const claims = { sub: 'u', sid: 'bg-1', roles: ['Operator'], amr: ['pwd'], exp: 2_000_000_000, emergency: true };
    const authenticator = authenticatorFrom({
      tokens: { verify: async () => claims as never },
      breakGlass: { verify: async () => ({ ...claims, bg_sid: 'bg-1' }) as never },
    });
    const principal = await authenticator.authenticate({ kind: 'bearer', token: 't' }, get('/servers/a'));
    expect(principal.emergency).toMatchObject({ sessionId: 'bg-1', actions: [] });
    const chain = createSecurityChain({ authenticator, authorizer: { authorize: async () => ({ allowed: true }) } });
    const res = await chain.handle(get('/servers/a', bearer('t')), ROUTES.read, { clientAddress: '10.0.0.1' }, () =>
      Response.json({}),
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('emergency_scope');
  });

  it('validates its inputs at construction', () => {
    expect(() => authenticatorFrom({} as never)).toThrow(/tokens/);
    expect(() => authorizerFrom({} as never)).toThrow(/Authorizer/);
    expect(() => auditRecorderFrom({} as never)).toThrow(/audit/);
  });
});

describe('the decision cache of authorizerFrom', () => {
  // A stand-in for authz's engine that counts evaluations and can change its policy version.
  const fakeAuthz = () => {
    const clock = createManualClock(START);
    const engine = {
      clock,
      version: 'sha256:v1',
      evaluations: 0,
      errors: [] as { policyId?: string; message: string }[],
      async authorize() {
        engine.evaluations++;
        return {
          decision: 'allow' as const,
          allowed: true,
          policyIds: ['p'],
          errors: engine.errors,
          failedClosed: false,
          policySetVersion: engine.version,
        };
      },
    };
    return engine;
  };
  const request = (clock: { now(): number }, roles = ['Viewer']) => ({
    principal: { id: 'u', type: 'user' as const, roles },
    action: 'read',
    resource: { type: 'Provisioning::Server', id: 'prod-web' },
    context: { mfa: { present: false, ageSeconds: -1 }, ip: '10.0.0.1', time: new Date(clock.now()).toISOString() },
  });

  it('is off by default: every request is evaluated', async () => {
    const engine = fakeAuthz();
    const authorizer = authorizerFrom(engine);
    await authorizer.authorize(request(engine.clock));
    await authorizer.authorize(request(engine.clock));
    expect(engine.evaluations).toBe(2);
  });

  it('answers an identical request within the same second, and nothing else', async () => {
    const engine = fakeAuthz();
    const authorizer = authorizerFrom(engine, { decisionCache: true });
    const first = await authorizer.authorize(request(engine.clock));
    expect(await authorizer.authorize(request(engine.clock))).toEqual(first);
    expect(engine.evaluations).toBe(1);
    await authorizer.authorize(request(engine.clock, ['Admin'])); // other roles: another request
    expect(engine.evaluations).toBe(2);
    engine.clock.advance(1000); // the next second
    await authorizer.authorize(request(engine.clock));
    expect(engine.evaluations).toBe(3);
    engine.version = 'sha256:v2'; // a policy reload takes effect at once
    expect((await authorizer.authorize(request(engine.clock))).version).toBe('sha256:v2');
    expect(engine.evaluations).toBe(4);
  });

  it('never caches a decision with evaluation errors', async () => {
    const engine = fakeAuthz();
    engine.errors = [{ policyId: 'guard', message: 'entity missing' }];
    const authorizer = authorizerFrom(engine, { decisionCache: true });
    expect((await authorizer.authorize(request(engine.clock))).errors).toEqual(['guard: entity missing']);
    await authorizer.authorize(request(engine.clock));
    expect(engine.evaluations).toBe(2);
  });
});

describe('principals shared between requests of one token', () => {
  // tokens.verify() as the verified-token cache answers: the same frozen claims for the same token.
  const claimsOf = (sub: string, extra: Record<string, unknown> = {}) =>
    Object.freeze({ sub, sid: `s-${sub}`, roles: Object.freeze(['Viewer']), amr: Object.freeze(['pwd']), ...extra });
  const cached = {
    a: claimsOf('a'),
    b: claimsOf('b'),
    // The same user with other roles (another token): the same principal uid, another entity.
    admin: claimsOf('a', { roles: Object.freeze(['Admin']) }),
    m: claimsOf('m', { mfa_at: START.getTime() / 1000 }),
  };
  const tokens = { verify: async (t: string) => cached[t as keyof typeof cached] as never };
  const credential = (token: string) => ({ kind: 'bearer' as const, token });
  const req = get('/servers/prod-web');

  it('reuses one frozen principal for the same verified claims, which no handler can change', async () => {
    const authenticator = authenticatorFrom({ tokens });
    const first = await authenticator.authenticate(credential('a'), req);
    expect(await authenticator.authenticate(credential('a'), req)).toBe(first);
    expect(first).toEqual({ id: 'a', type: 'user', roles: ['Viewer'], sessionId: 's-a', amr: ['pwd'] });
    expect(() => (first.roles as string[]).push('Admin')).toThrow(TypeError);
    expect(() => {
      (first as { id: string }).id = 'root';
    }).toThrow(TypeError);
    expect((await authenticator.authenticate(credential('b'), req)).id).toBe('b');
  });

  it('builds a new principal each time for a token with mfa_at (a Date cannot be frozen)', async () => {
    const authenticator = authenticatorFrom({ tokens });
    const first = await authenticator.authenticate(credential('m'), req);
    first.mfaAt?.setTime(0); // a handler changing it changes nothing for the next request
    const second = await authenticator.authenticate(credential('m'), req);
    expect(second).not.toBe(first);
    expect(second.mfaAt?.getTime()).toBe(START.getTime());
  });

  it('the decision cache tells shared principals apart', async () => {
    let evaluations = 0;
    const principals: unknown[] = [];
    const engine = {
      clock: createManualClock(START),
      version: 'sha256:v1',
      async authorize(request: { principal: unknown }) {
        evaluations++;
        principals.push(request.principal);
        return {
          decision: 'allow' as const,
          allowed: true,
          policyIds: ['p'],
          errors: [],
          failedClosed: false,
          policySetVersion: 'sha256:v1',
        };
      },
    };
    const authenticator = authenticatorFrom({ tokens });
    const authorizer = authorizerFrom(engine, { decisionCache: true });
    const decide = async (token: string) =>
      authorizer.authorize({
        principal: await authenticator.authenticate(credential(token), req),
        action: 'read',
        resource: { type: 'Provisioning::Server', id: 'prod-web' },
        context: { mfa: { present: false, ageSeconds: -1 }, ip: '10.0.0.1', time: START.toISOString() },
      });
    for (const token of ['a', 'a', 'b', 'a', 'b', 'admin', 'a', 'admin']) await decide(token);
    expect(evaluations).toBe(3);
    expect(principals).toEqual([
      { type: 'Provisioning::User', id: 'a' },
      { type: 'Provisioning::User', id: 'b' },
      { type: 'Provisioning::User', id: 'a' },
    ]);
  });
});

describe('the Cedar request authorizerFrom sends', () => {
  it('makes the inline principal a member of its roles and string teams, and reports errors as policy: message', async () => {
    const sent: { entities?: readonly CedarEntity[] }[] = [];
    let errors: { policyId?: string; message: string }[] = [];
    const engine = {
      clock: createManualClock(START),
      version: 'sha256:v1',
      async authorize(request: { entities?: readonly CedarEntity[] }) {
        sent.push(request);
        return {
          decision: 'deny' as const,
          allowed: false,
          policyIds: [],
          errors,
          failedClosed: errors.length > 0,
          policySetVersion: 'sha256:v1',
        };
      },
    };
    const authorizer = authorizerFrom(engine);
    const ask = () =>
      authorizer.authorize({
        principal: {
          id: 'ada',
          type: 'user',
          roles: ['Developer', 'Operator'],
          attributes: { teams: ['sre', 42, 'platform'], email: 'ada@example.com' },
        },
        action: 'read',
        resource: { type: 'Server', id: 'prod-web' },
        context: { mfa: { present: false, ageSeconds: -1 }, ip: '10.0.0.1', time: new Date(START).toISOString() },
      });
    expect((await ask()).errors).toEqual([]);
    expect(sent[0]?.entities?.[0]).toEqual({
      uid: { type: 'Provisioning::User', id: 'ada' },
      attrs: { email: 'ada@example.com', username: 'ada', mfa_enabled: false, created_at: '' },
      parents: [
        { type: 'Provisioning::Role', id: 'Developer' },
        { type: 'Provisioning::Role', id: 'Operator' },
        { type: 'Provisioning::Team', id: 'sre' },
        { type: 'Provisioning::Team', id: 'platform' },
      ],
    });
    errors = [{ policyId: 'guard', message: 'no such attribute' }, { message: 'bad request' }];
    expect((await ask()).errors).toEqual(['guard: no such attribute', 'bad request']);
  });
});

describe('the inline principal entity authorizerFrom sends', () => {
  const sent: CedarEntity[] = [];
  const engine = {
    clock: createManualClock(START),
    version: 'sha256:v1',
    async authorize(request: { entities?: readonly CedarEntity[] }) {
      sent.push(request.entities?.[0] as CedarEntity);
      return {
        decision: 'deny' as const,
        allowed: false,
        policyIds: [],
        errors: [],
        failedClosed: false,
        policySetVersion: 'v',
      };
    },
  };
  const authorizer = authorizerFrom(engine);
  const ask = async (principal: Principal): Promise<CedarEntity> => {
    await authorizer.authorize({
      principal,
      action: 'read',
      resource: { type: 'Server', id: 'prod-web' },
      context: { mfa: { present: false, ageSeconds: -1 }, ip: '10.0.0.1', time: new Date(START).toISOString() },
    });
    return sent.at(-1) as CedarEntity;
  };
  const ada: Principal = {
    id: 'ada',
    type: 'user',
    roles: ['Developer'],
    attributes: { teams: ['sre'], email: 'ada@example.com', username: 'ada.l', createdAt: '2024-01-01' },
  };
  const expected = (p: Principal) => {
    const a = p.attributes ?? {};
    const owner = p.type === 'api-key' && typeof a.owner === 'string' ? a.owner : p.id;
    return {
      uid: { type: 'Provisioning::User', id: owner },
      attrs: {
        email: typeof a.email === 'string' ? a.email : '',
        username: typeof a.username === 'string' ? a.username : owner,
        mfa_enabled: p.mfaAt !== undefined || a.mfaEnabled === true,
        created_at: typeof a.createdAt === 'string' ? a.createdAt : '',
      },
      parents: [
        ...p.roles.map((id) => ({ type: 'Provisioning::Role', id })),
        ...((a.teams as string[] | undefined) ?? []).map((id) => ({ type: 'Provisioning::Team', id })),
      ],
    };
  };

  it('is one frozen snapshot per content: the same principal gets the same entity, any difference another one', async () => {
    // authz's snapshotEntity is loaded on the first decision.
    for (let i = 0; i < 50 && !Object.isFrozen(await ask(ada)); i++) await new Promise((r) => setTimeout(r, 1));
    const first = await ask(ada);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.parents)).toBe(true);
    expect(first).toEqual(expected(ada));
    // Another principal object with the same content: the same snapshot.
    expect(await ask({ ...ada, roles: [...ada.roles], attributes: { ...ada.attributes } })).toBe(first);
    const variants: Principal[] = [
      { ...ada, id: 'bob' },
      { ...ada, roles: ['Admin'] },
      { ...ada, roles: ['Developer', 'Operator'] },
      { ...ada, roles: [] },
      { ...ada, attributes: { ...ada.attributes, teams: ['platform'] } },
      { ...ada, attributes: { ...ada.attributes, teams: [] } },
      { ...ada, attributes: { ...ada.attributes, email: 'other@example.com' } },
      { ...ada, attributes: { ...ada.attributes, username: 'ada' } },
      { ...ada, attributes: { ...ada.attributes, createdAt: '2025-01-01' } },
      { ...ada, mfaAt: new Date(START) },
      {
        id: 'key-1',
        type: 'api-key',
        roles: ['Developer'],
        scopes: ['*'],
        attributes: { ...ada.attributes, owner: 'carol' },
      },
    ];
    const seen = new Set<CedarEntity>([first]);
    for (const variant of variants) {
      const entity = await ask(variant);
      expect(entity).toEqual(expected(variant));
      expect(seen.has(entity)).toBe(false);
      seen.add(entity);
      // and kept: asked again, the same snapshot
      expect(await ask(variant)).toBe(entity);
    }
    expect(await ask(ada)).toBe(first);
    // `mfaEnabled` and an `mfaAt` make the same entity (mfa_enabled: true): the same snapshot.
    expect(await ask({ ...ada, attributes: { ...ada.attributes, mfaEnabled: true } })).toBe(
      await ask({ ...ada, mfaAt: new Date(START) }),
    );
  });

  it('sends a principal with a role that is not a string as a new plain object each time', async () => {
    const odd = { ...ada, roles: ['Developer', 7 as unknown as string] };
    const one = await ask(odd);
    expect(Object.isFrozen(one)).toBe(false);
    expect(await ask(odd)).not.toBe(one);
  });
});
