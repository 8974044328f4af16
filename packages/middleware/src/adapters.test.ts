import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { type Context, Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { security as expressSecurity } from './express.js';
import { security as fastifySecurity } from './fastify.js';
import { security as honoSecurity, type SecurityVariables } from './hono.js';
import { harness, TOKENS } from './test-fixtures.js';
import type { RouteSecurity } from './types.js';

const route: RouteSecurity = {
  action: 'read',
  resource: (_r, p) => ({ type: 'Provisioning::Server', id: p.id ?? '?' }),
};
const sensitive: RouteSecurity = {
  action: 'delete',
  sensitive: true,
  resource: (_r, p) => ({ type: 'Provisioning::Server', id: p.id ?? '?' }),
};

interface Client {
  request(
    path: string,
    headers?: Record<string, string>,
    method?: string,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * GET /servers/srv-1 on a loopback port through node:http, to send header
 * lines fetch would merge or refuse (two Authorization lines, for one).
 */
const sender =
  (port: number) =>
  (headers: Record<string, string | string[]>): Promise<{ status: number; body: any; headers: IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port, path: '/servers/srv-1', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), headers: res.headers }));
      }).once('error', reject);
    });

// Each framework through its own test client: Hono's app.request(), Fastify's
// inject(), Express over a loopback socket (it has no in-process client).
const frameworks: Record<string, (h: ReturnType<typeof harness>) => Promise<Client>> = {
  async hono(h) {
    const app = new Hono<{ Variables: SecurityVariables }>();
    app.get('/servers/:id', honoSecurity(h.chain, route, { clientAddress: () => '198.51.100.1' }), (c) =>
      c.json({ id: c.req.param('id'), by: c.get('security').principal?.id }),
    );
    app.delete('/servers/:id', honoSecurity(h.chain, sensitive, { clientAddress: () => '198.51.100.1' }), (c) =>
      c.json({ deleted: true }),
    );
    return {
      async request(path, headers = {}, method = 'GET') {
        const res = await app.request(path, { method, headers });
        return { status: res.status, body: await res.json(), headers: res.headers };
      },
      close: async () => {},
    };
  },
  async express(h) {
    const app = express();
    app.get('/servers/:id', expressSecurity(h.chain, route), (req, res) => {
      res.json({ id: req.params.id, by: req.security?.principal?.id });
    });
    app.delete('/servers/:id', expressSecurity(h.chain, sensitive), (_req, res) => {
      res.json({ deleted: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    return {
      async request(path, headers = {}, method = 'GET') {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers });
        return { status: res.status, body: await res.json(), headers: res.headers };
      },
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
  async fastify(h) {
    const app = Fastify();
    app.get<{ Params: { id: string } }>(
      '/servers/:id',
      { preHandler: fastifySecurity(h.chain, route) },
      async (request) => ({
        id: request.params.id,
        by: request.security?.principal?.id,
      }),
    );
    app.delete('/servers/:id', { preHandler: fastifySecurity(h.chain, sensitive) }, async () => ({ deleted: true }));
    await app.ready();
    return {
      async request(path, headers = {}, method = 'GET') {
        const res = await app.inject({ method: method as 'GET', url: path, headers });
        return {
          status: res.statusCode,
          body: res.json(),
          headers: new Headers(res.headers as Record<string, string>),
        };
      },
      close: () => app.close(),
    };
  },
};

describe.each(Object.keys(frameworks))('the whole chain on %s', (name) => {
  const open = frameworks[name] as (h: ReturnType<typeof harness>) => Promise<Client>;

  it('passes an authorized request with the context, rate-limit headers and a request id', async () => {
    const h = harness();
    const client = await open(h);
    const res = await client.request('/servers/srv-1', { authorization: `Bearer ${TOKENS.viewer}` });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: 'srv-1', by: 'u-viewer' });
    expect(res.headers.get('ratelimit-policy')).toContain('q=5');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    await h.settle();
    expect(h.events.map((e) => e.action)).toEqual(['authz.allowed', 'operation.completed']);
    expect(h.events[1]).toMatchObject({ status: 200, resource: { id: 'srv-1' } });
    await client.close();
  });

  it('answers 401, 403 mfa_required and 403 forbidden with JSON bodies', async () => {
    const h = harness();
    const client = await open(h);
    const missing = await client.request('/servers/srv-1');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expect(missing.body).toMatchObject({ error: 'unauthenticated', code: '401' });
    const noMfa = await client.request('/servers/srv-1', { authorization: `Bearer ${TOKENS.admin}` }, 'DELETE');
    expect(noMfa.status).toBe(403);
    expect(noMfa.body).toMatchObject({ error: 'mfa_required' });
    const denied = await client.request('/servers/srv-1', { authorization: `Bearer ${TOKENS.freshMfa}` }, 'DELETE');
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: 'forbidden' });
    await client.close();
  });

  it('answers 429 after the per-IP limit', async () => {
    const h = harness();
    const client = await open(h);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await client.request('/servers/srv-1', { authorization: `Bearer ${TOKENS.admin}` })).status);
    // Per-IP 5 and per-principal 3: the principal limit bites first.
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    await client.close();
  });
});

describe('Hono response headers', () => {
  const mount = (handler: (c: Context) => Response | Promise<Response>) => {
    const h = harness();
    const app = new Hono<{ Variables: SecurityVariables }>();
    app.get('/servers/:id', honoSecurity(h.chain, route, { clientAddress: () => '198.51.100.1' }), handler);
    return app;
  };
  const auth = { authorization: `Bearer ${TOKENS.admin}` };

  it('puts the request id and rate-limit headers on responses built with the context', async () => {
    const res = await mount((c) => c.json({ ok: true })).request('/servers/a', { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('ratelimit-policy')).toContain('"ip"');
  });

  it('puts them on a plain Response too', async () => {
    const res = await mount(() => new Response('plain')).request('/servers/a', { headers: auth });
    expect(await res.text()).toBe('plain');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("keeps the handler's own value", async () => {
    const res = await mount((c) => {
      c.header('x-request-id', 'from-handler');
      return c.json({});
    }).request('/servers/a', { headers: auth });
    expect(res.headers.get('x-request-id')).toBe('from-handler');
  });
});

describe('completion events on Fastify and Express', () => {
  const auth = { authorization: `Bearer ${TOKENS.admin}` };
  const later = () => new Promise((r) => setTimeout(r, 20));
  const completions = (h: ReturnType<typeof harness>) =>
    h.events.filter((e) => e.action === 'operation.completed').map((e) => e.requestId);
  const decisions = (h: ReturnType<typeof harness>) =>
    h.events.filter((e) => e.action === 'authz.allowed').map((e) => e.requestId);

  it("Fastify: one completion per request although inject() emits 'finish' twice", async () => {
    const h = harness();
    const app = Fastify();
    app.get('/servers/:id', { preHandler: fastifySecurity(h.chain, route) }, async () => ({ ok: true }));
    for (let i = 0; i < 2; i++) expect((await app.inject({ url: '/servers/a', headers: auth })).statusCode).toBe(200);
    await later();
    expect(completions(h)).toHaveLength(2);
    expect(completions(h)).toEqual(decisions(h));
    await app.close();
  });

  it('Fastify: the same hook twice on a route completes both of its contexts', async () => {
    const h = harness();
    const hook = fastifySecurity(h.chain, route);
    const app = Fastify();
    app.get('/servers/:id', { preHandler: [hook, hook] }, async () => ({ ok: true }));
    expect((await app.inject({ url: '/servers/a', headers: auth })).statusCode).toBe(200);
    await later();
    expect(decisions(h)).toHaveLength(2);
    expect(new Set(decisions(h)).size).toBe(2);
    expect(completions(h).sort()).toEqual(decisions(h).sort());
    await app.close();
  });

  it('Express: one completion per request, and both contexts of a middleware listed twice', async () => {
    const h = harness();
    const mw = expressSecurity(h.chain, route);
    const app = express();
    app.get('/once/:id', mw, (_req, res) => void res.json({ ok: true }));
    app.get('/twice/:id', mw, mw, (_req, res) => void res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    expect((await fetch(`http://127.0.0.1:${port}/once/a`, { headers: auth })).status).toBe(200);
    await later();
    expect(completions(h)).toEqual(decisions(h));
    expect(completions(h)).toHaveLength(1);
    expect((await fetch(`http://127.0.0.1:${port}/twice/a`, { headers: auth })).status).toBe(200);
    await later();
    expect(decisions(h)).toHaveLength(3);
    expect(completions(h).sort()).toEqual(decisions(h).sort());
    await new Promise((r) => server.close(() => r(undefined)));
  });
});

describe('Hono on @hono/node-server', () => {
  it('hands resource() the Web Request, body included (the platform peeks JSON bodies to find the resource)', async () => {
    const h = harness();
    const app = new Hono<{ Variables: SecurityVariables }>();
    const seen: unknown[] = [];
    app.post(
      '/servers',
      honoSecurity(h.chain, {
        action: 'read',
        resource: async (request) => {
          seen.push(request instanceof Request);
          const body = (await (request as Request).clone().json()) as { id: string };
          return { type: 'Provisioning::Server', id: body.id };
        },
      }),
      async (c) => c.json({ id: (await c.req.json()).id, ip: c.get('security').clientIp }),
    );
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/servers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.viewer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'srv-body' }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: 'srv-body', ip: '127.0.0.1' });
      expect(seen).toEqual([true]);
      expect(h.authorizations.at(-1)?.resource.id).toBe('srv-body');
    } finally {
      await new Promise((r) => server.close(() => r(undefined)));
    }
  });

  it("reads the credential, request id and user agent from Node's headers, repeated headers joined as Headers.get() does", async () => {
    const h = harness({ clientIp: { trustedProxies: ['127.0.0.1'] } });
    const app = new Hono<{ Variables: SecurityVariables }>();
    const slots: (string | undefined)[][] = [];
    app.get('/servers/:id', honoSecurity(h.chain, route), (c) => {
      // What node-server has built of its Web Request by now (its `headersKey` slot holds a Web Headers once built).
      slots.push(Object.getOwnPropertySymbols(c.req.raw).map((s) => s.description));
      return c.json({
        by: c.get('security').principal?.id,
        ip: c.get('security').clientIp,
        ua: c.get('security').userAgent,
      });
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    const send = sender(port);
    try {
      const ok = await send({
        authorization: `Bearer ${TOKENS.viewer}`,
        'x-request-id': 'req-node-1',
        'user-agent': 'node-test/1',
        'x-forwarded-for': ['198.51.100.9', '203.0.113.7'],
      });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-request-id']).toBe('req-node-1');
      // Two X-Forwarded-For lines are one list, walked from the right.
      expect(ok.body).toEqual({ by: 'u-viewer', ip: '203.0.113.7', ua: 'node-test/1' });
      // The chain read Node's headers: no Web Headers was built for it.
      expect(slots).toEqual([['incomingKey', 'urlKey']]);
      // Two Authorization lines: one malformed value, as Headers.get() gives (Node alone would keep the first).
      const doubled = await send({ authorization: [`Bearer ${TOKENS.viewer}`, `Bearer ${TOKENS.admin}`] });
      expect(doubled.status).toBe(401);
      expect(doubled.headers['www-authenticate']).toBe('Bearer realm="provisioning", error="invalid_request"');
      expect(h.calls.filter((c) => c === 'authenticate')).toHaveLength(1);
    } finally {
      await new Promise((r) => server.close(() => r(undefined)));
    }
  });

  it("sees what an earlier middleware changed in the Web Request's headers (a cookie turned into a bearer token)", async () => {
    const h = harness();
    const app = new Hono<{ Variables: SecurityVariables }>();
    app.use('/servers/*', async (c, next) => {
      const session = /(?:^|;\s*)session=([^;]+)/.exec(c.req.header('cookie') ?? '')?.[1];
      if (session !== undefined) c.req.raw.headers.set('authorization', `Bearer ${session}`);
      await next();
    });
    app.get('/servers/:id', honoSecurity(h.chain, route), (c) => c.json({ by: c.get('security').principal?.id }));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    try {
      const viaCookie = await fetch(`http://127.0.0.1:${port}/servers/srv-1`, {
        headers: { cookie: `theme=dark; session=${TOKENS.viewer}` },
      });
      expect(viaCookie.status).toBe(200);
      expect(await viaCookie.json()).toEqual({ by: 'u-viewer' });
      const without = await fetch(`http://127.0.0.1:${port}/servers/srv-1`);
      expect(without.status).toBe(401);
    } finally {
      await new Promise((r) => server.close(() => r(undefined)));
    }
  });
});

describe('a doubled credential on Express and Fastify (Node keeps only the first Authorization line)', () => {
  const servers: Record<string, (h: ReturnType<typeof harness>) => Promise<{ port: number; close(): Promise<void> }>> =
    {
      async express(h) {
        const app = express();
        // An earlier middleware that sets the credential itself (a session cookie turned into a bearer token).
        app.use((req, _res, next) => {
          if (req.headers.cookie === 'session=admin') req.headers.authorization = `Bearer ${TOKENS.admin}`;
          next();
        });
        app.get('/servers/:id', expressSecurity(h.chain, route), (req, res) => {
          res.json({ by: req.security?.principal?.id, ua: req.security?.userAgent });
        });
        const server = app.listen(0, '127.0.0.1');
        await new Promise((r) => server.once('listening', r));
        return {
          port: (server.address() as AddressInfo).port,
          close: () => new Promise((r) => server.close(() => r())),
        };
      },
      async fastify(h) {
        const app = Fastify();
        app.addHook('onRequest', async (request) => {
          if (request.headers.cookie === 'session=admin') request.headers.authorization = `Bearer ${TOKENS.admin}`;
        });
        app.get('/servers/:id', { preHandler: fastifySecurity(h.chain, route) }, async (request) => ({
          by: request.security?.principal?.id,
          ua: request.security?.userAgent,
        }));
        await app.listen({ port: 0, host: '127.0.0.1' });
        return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
      },
    };

  it.each(Object.keys(servers))(
    '%s refuses two Authorization lines as Hono does, and reads one as before',
    async (name) => {
      const h = harness();
      const server = await (servers[name] as (typeof servers)['express'])(h);
      const send = sender(server.port);
      try {
        const one = await send({ authorization: `Bearer ${TOKENS.viewer}`, 'user-agent': 'ua/1' });
        expect(one.status).toBe(200);
        expect(one.body).toEqual({ by: 'u-viewer', ua: 'ua/1' });
        // Node's `headers` would hold only the viewer's token: accepting it would be guessing which line a proxy checked.
        const doubled = await send({ authorization: [`Bearer ${TOKENS.viewer}`, `Bearer ${TOKENS.admin}`] });
        expect(doubled.status).toBe(401);
        expect(doubled.headers['www-authenticate']).toBe('Bearer realm="provisioning", error="invalid_request"');
        // Two User-Agent lines are recorded as both, as Headers.get() gives them.
        const twoAgents = await send({ authorization: `Bearer ${TOKENS.viewer}`, 'user-agent': ['ua/1', 'ua/2'] });
        expect(twoAgents.body).toEqual({ by: 'u-viewer', ua: 'ua/1, ua/2' });
        // A credential an earlier middleware set is its decision, whatever the client sent.
        const set = await send({ cookie: 'session=admin', authorization: ['Bearer x', 'Bearer y'] });
        expect(set.status).toBe(200);
        expect(set.body.by).toBe('u-admin');
      } finally {
        await server.close();
      }
    },
  );
});
