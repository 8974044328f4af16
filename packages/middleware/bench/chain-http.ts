// The server's CPU per request over real HTTP, in one process: the route of
// chain.bench.ts (bare and behind the full chain) on Fastify, Hono
// (@hono/node-server) and Express, listening on loopback, and a minimal
// keep-alive client over raw sockets in the same process (CONNECTIONS
// connections, each sending its next request when the previous answer is
// complete). The client's own cost is the same for every variant, so the
// difference between a chain variant and the bare route is what the chain
// costs the server, framework work included (hooks, extra response headers,
// listeners, promise hops, garbage collection).
//
// Per variant and round: process.cpuUsage() over N requests after a warm-up,
// the bytes allocated per request (v8.GCProfiler: heap used before each GC
// minus after the previous one), and the GC pauses; the minimum over ROUNDS
// rounds, the variants run alternately so a busy machine slows them alike.
// Not a *.bench.ts: `npm run bench` does not run it. By hand:
//   node --import ./scripts/bench-loader/register.mjs --conditions=@provisioning/source \
//     packages/middleware/bench/chain-http.ts [variant filter…]
// Variants: `<adapter> <mode>`, mode bare | chain | cached | both (decision + token cache), audit per AUDIT
// (none | jsonl | memory, default none). Env: N (4000), ROUNDS (5),
// CONNECTIONS (8), ADAPTERS (fastify,hono,express), MODES (bare,chain,cached,both).

import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { serve as honoServe } from '@hono/node-server';
import { createAuditLog, jsonlSink, memoryAuditStore } from '@provisioning/audit';
import { createKeySet, createTokenService } from '@provisioning/auth';
import { cachedEntityProvider, createAuthorizer, shippedPolicyDir, staticEntityProvider } from '@provisioning/authz';
import { memoryStore } from '@provisioning/core';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createSecurityChain, type SecurityChain } from '../src/chain.js';
import { security as expressSecurity } from '../src/express.js';
import { security as fastifySecurity } from '../src/fastify.js';
import { security as honoSecurity } from '../src/hono.js';
import { auditRecorderFrom, authenticatorFrom, authorizerFrom } from '../src/provisioning.js';
import { benchEntities } from './fixtures.js';

type Adapter = 'hono' | 'express' | 'fastify';
// hook (Fastify only): an async preHandler that only sets the chain's three
// response headers and a 'finish' listener; stub: the real chain and adapter
// with an authenticator and an authorizer that answer at once; stub-norl: the
// same without rate limiting.
type Mode = 'bare' | 'chain' | 'cached' | 'both' | 'hook' | 'stub' | 'stub-norl';
const N = Number(process.env.N ?? 4000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8);
const AUDIT = process.env.AUDIT ?? 'none';
const ADAPTERS = (process.env.ADAPTERS ?? 'fastify,hono,express').split(',') as Adapter[];
const MODES = (process.env.MODES ?? 'bare,chain,cached,both').split(',') as Mode[];
const only = process.argv.slice(2);
const PATH = '/servers/prod-web';

const tokenStore = memoryStore();
const keys = await createKeySet();
// `both` uses the verified-token cache; the other modes check every signature.
const tokensWith = (cache: boolean) =>
  createTokenService({
    keys,
    issuer: 'https://auth.bench',
    audience: 'provisioning',
    store: tokenStore,
    cache: cache ? { maxEntries: 10_000 } : false,
  });
const tokens = tokensWith(false);
const cachedTokens = tokensWith(true);
const authz = await createAuthorizer({
  policyDir: shippedPolicyDir,
  entities: cachedEntityProvider(staticEntityProvider(benchEntities), { ttlSeconds: 600 }),
});
const directory = mkdtempSync(join(tmpdir(), 'mw-http-audit-'));
const log = await createAuditLog({ sinks: [AUDIT === 'memory' ? memoryAuditStore() : jsonlSink({ directory })] });
const token = (await tokens.issue({ subject: 'vera', roles: ['Viewer'], accessTtlSeconds: 4 * 3600, refresh: false }))
  .accessToken;
let auditErrors = 0;
const stubPrincipal = { id: 'vera', type: 'user' as const, roles: ['Viewer'] };
const stubDecision = Object.freeze({ allowed: true, policyIds: ['p'], errors: [], version: 'v' });
const chainOf = (mode: Mode): SecurityChain =>
  createSecurityChain({
    authenticator: mode.startsWith('stub')
      ? { authenticate: () => Promise.resolve(stubPrincipal) }
      : authenticatorFrom({ tokens: mode === 'both' ? cachedTokens : tokens }),
    authorizer: mode.startsWith('stub')
      ? { authorize: () => Promise.resolve(stubDecision) }
      : authorizerFrom(authz, {
          context: { trustedRanges: ['127.0.0.0/8'] },
          decisionCache: mode === 'cached' || mode === 'both',
        }),
    ...(AUDIT === 'none' ? {} : { audit: auditRecorderFrom(log) }),
    onAuditError: () => {
      auditErrors++;
    },
    ...(mode === 'stub-norl'
      ? {}
      : { rateLimit: { store: memoryStore(), perIp: 1e9, perPrincipal: 1e9, windowSeconds: 60 } }),
  });
const route = {
  action: 'read',
  resource: (_r: unknown, p: Readonly<Record<string, string>>) => ({ type: 'Provisioning::Server', id: p.id ?? '' }),
};

async function listen(adapter: Adapter, mode: Mode): Promise<{ port: number; close: () => Promise<void> }> {
  const chain = mode === 'bare' || mode === 'hook' ? undefined : chainOf(mode);
  if (adapter === 'hono') {
    const app = new Hono();
    const handler = (c: { req: { param(n: string): string }; json(b: unknown): Response }) =>
      c.json({ id: c.req.param('id') });
    if (chain === undefined) app.get('/servers/:id', handler);
    else app.get('/servers/:id', honoSecurity(chain, route), handler);
    const server = honoServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((r) => server.once('listening', r));
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise((r) => server.close(() => r())),
    };
  }
  if (adapter === 'express') {
    const app = express();
    const handler = (req: express.Request, res: express.Response) => void res.json({ id: req.params.id });
    if (chain === undefined) app.get('/servers/:id', handler);
    else app.get('/servers/:id', expressSecurity(chain, route), handler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise((r) => server.close(() => r())),
    };
  }
  const app = Fastify({ logger: false });
  const handler = async (request: { params: unknown }) => ({ id: (request.params as { id: string }).id });
  const onFinish = (): void => {};
  if (mode === 'hook') {
    app.get(
      '/servers/:id',
      {
        preHandler: async (_request, reply) => {
          reply.header('RateLimit-Policy', '"ip";q=1000000000;w=60, "principal";q=1000000000;w=60');
          reply.header('RateLimit', `"ip";r=${999999999};t=60, "principal";r=${999999999};t=60`);
          reply.header('x-request-id', '0193b2d5-7a3e-7c3f-9d4e-5f6a7b8c9d0e');
          reply.raw.on('finish', onFinish);
        },
      },
      handler,
    );
  } else if (chain === undefined) app.get('/servers/:id', handler);
  else app.get('/servers/:id', { preHandler: fastifySecurity(chain, route) }, handler);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

// A closed-loop keep-alive client: each connection sends its next request when
// the previous response (headers + Content-Length body, or a chunked body) is in.
function drive(port: number, total: number, bearer: string | undefined): Promise<void> {
  const request = Buffer.from(
    `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: chain-http\r\n${
      bearer === undefined ? '' : `Authorization: Bearer ${bearer}\r\n`
    }\r\n`,
  );
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const sockets: Socket[] = [];
    const finish = (): void => {
      for (const s of sockets) s.destroy();
      resolve();
    };
    for (let c = 0; c < Math.min(CONNECTIONS, total); c++) {
      const socket = connect(port, '127.0.0.1');
      sockets.push(socket);
      socket.setNoDelay(true);
      let buffered = '';
      const next = (): void => {
        if (sent < total) {
          sent++;
          socket.write(request);
        }
      };
      socket.on('connect', next);
      socket.on('error', reject);
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        for (;;) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buffered.slice(0, end);
          if (!head.startsWith('HTTP/1.1 200')) {
            reject(new Error(`unexpected response: ${head.split('\r\n')[0]}`));
            return;
          }
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          let consumed: number;
          if (length !== null) {
            consumed = end + 4 + Number(length[1]);
            if (buffered.length < consumed) return;
          } else {
            const last = buffered.indexOf('\r\n0\r\n\r\n', end);
            if (last < 0) return;
            consumed = last + 7;
          }
          buffered = buffered.slice(consumed);
          if (++done === total) {
            finish();
            return;
          }
          next();
        }
      });
    }
  });
}

interface Figures {
  cpuMicros: number;
  allocatedBytes: number;
  gcMicros: number;
}

async function measure(port: number, bearer: string | undefined): Promise<Figures> {
  await drive(port, 1000, bearer); // warm-up (JIT, caches)
  await new Promise((r) => setTimeout(r, 20));
  const profiler = new GCProfiler();
  profiler.start();
  const heapAtStart = getHeapStatistics().used_heap_size;
  const before = process.cpuUsage();
  await drive(port, N, bearer);
  // The audit events are recorded after the response (setImmediate), their writes after that.
  await new Promise((r) => setTimeout(r, 20));
  const used = process.cpuUsage(before);
  const heapAtEnd = getHeapStatistics().used_heap_size;
  const gc = profiler.stop() as unknown as {
    statistics: {
      cost: number;
      beforeGC: { heapStatistics: { usedHeapSize: number } };
      afterGC: { heapStatistics: { usedHeapSize: number } };
    }[];
  };
  // Allocated = the growth of the used heap between collections, summed.
  let allocated = 0;
  let gcMicros = 0;
  let previousAfter = heapAtStart;
  for (const s of gc.statistics) {
    allocated += s.beforeGC.heapStatistics.usedHeapSize - previousAfter;
    previousAfter = s.afterGC.heapStatistics.usedHeapSize;
    gcMicros += s.cost;
  }
  allocated += heapAtEnd - previousAfter;
  return { cpuMicros: (used.user + used.system) / N, allocatedBytes: allocated / N, gcMicros: gcMicros / N };
}

const variants: { name: string; adapter: Adapter; mode: Mode }[] = [];
for (const adapter of ADAPTERS)
  for (const mode of MODES) {
    const name = `${adapter} ${mode}`;
    if (only.length === 0 || only.some((o) => name.includes(o))) variants.push({ name, adapter, mode });
  }
const servers = new Map<string, { port: number; close: () => Promise<void> }>();
for (const v of variants) servers.set(v.name, await listen(v.adapter, v.mode));
// HEAP_PROFILE=<file>: a sampling heap profile of every allocation (collected
// ones included) during the first variant's first measured round.
const heapProfile = process.env.HEAP_PROFILE;
if (heapProfile !== undefined && variants[0] !== undefined) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const port = (servers.get(variants[0].name) as { port: number }).port;
  const bearer = variants[0].mode === 'bare' ? undefined : token;
  await drive(port, 1000, bearer);
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await drive(port, N, bearer);
  await new Promise((r) => setTimeout(r, 20));
  const { profile } = await session.post('HeapProfiler.stopSampling');
  writeFileSync(heapProfile, JSON.stringify(profile));
  session.disconnect();
}
const results = new Map<string, Figures[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const v of variants) {
    const server = servers.get(v.name) as { port: number };
    const figures = await measure(server.port, v.mode === 'bare' ? undefined : token);
    const list = results.get(v.name) ?? [];
    list.push(figures);
    results.set(v.name, list);
  }
}
const min = (list: Figures[], key: keyof Figures): number => Math.min(...list.map((f) => f[key]));
const bareOf = (adapter: Adapter): number | undefined => {
  const list = results.get(`${adapter} bare`);
  return list === undefined ? undefined : min(list, 'cpuMicros');
};
console.log(`N=${N} ROUNDS=${ROUNDS} CONNECTIONS=${CONNECTIONS} AUDIT=${AUDIT}`);
console.table(
  variants.map((v) => {
    const list = results.get(v.name) as Figures[];
    const cpu = min(list, 'cpuMicros');
    const bare = bareOf(v.adapter);
    return {
      variant: v.name,
      'min CPU µs/req': cpu.toFixed(1),
      'median CPU µs/req': [...list.map((f) => f.cpuMicros)].sort((a, b) => a - b)[list.length >> 1]?.toFixed(1),
      'over bare µs': bare === undefined || v.mode === 'bare' ? '' : (cpu - bare).toFixed(1),
      'alloc KB/req': (min(list, 'allocatedBytes') / 1024).toFixed(1),
      'GC µs/req': min(list, 'gcMicros').toFixed(1),
    };
  }),
);
if (auditErrors > 0) console.error(`audit errors: ${auditErrors}`);
for (const s of servers.values()) await s.close();
await log.close();
authz.close();
rmSync(directory, { recursive: true, force: true });
