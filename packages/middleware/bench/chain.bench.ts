// The same route bare and behind the full security chain, on Hono
// (@hono/node-server), Express and Fastify, loaded over loopback. The full
// chain is the real thing: rate limit (memory store, limits high enough never
// to refuse), RS256 access-token verification by @provisioning/auth
// (signature check, then the revocation check on a memory store, every request),
// a Cedar decision by @provisioning/authz with the shipped policies (entities
// from a cached provider), and two audit events per request into a
// @provisioning/audit log with a JSONL file sink (hash chain).
//
// The server runs in a child process pinned to one core (taskset), the load
// generators in this process on another, so each gets a core and they never
// share an event loop. Per adapter, every mode's server is started, warmed
// up, and loaded at fixed rates (5,000/s: the issue's) in interleaved slices
// for the latency comparison; then each gets a maximum-throughput run
// (autocannon, closed loop: each connection sends its next request when the
// previous answer arrives). The server reports its own CPU
// time, so each run also gives the server's CPU µs per request, which moves
// far less with the machine's load than the rates do.
//
// Why not autocannon's `overallRate` for the fixed rates: it is a quota per
// second, not a pace. Each connection sends back to back until it has made
// its share of the second's requests, then waits for the next second, so a
// "1,000/s" run is a burst at full speed with 10 requests in flight followed
// by idle time, and its latencies are those of the saturated server (the +3 ms
// p50 at 1,000/s of earlier runs). The open-loop generator here sends request
// i at start + i/rate (the clock checked on every turn of its event loop) on
// a keep-alive pool of raw sockets, whatever the answers do, and measures
// each latency from its scheduled send time (no coordinated omission: a
// server that falls behind shows it in the latency instead of slowing the
// load down).
//
// Modes: `bare` (no chain), `chain` (the full chain with no cache: every
// token's signature checked, every request decided by Cedar), `cached`
// (authorizerFrom's decision cache), `both` (the decision cache and auth's
// verified-token cache, which skips the signature check of a reused token;
// the revocation check still runs on every request).
//
// Run: `npm run bench -- middleware`. Env: BENCH_SECONDS (default 5),
// BENCH_CONNECTIONS (10, autocannon's max run), BENCH_RATES (5000,1000: the
// issue's rate, and a light one), BENCH_ADAPTERS (hono,express,fastify),
// BENCH_MODES (bare,chain,cached,both), BENCH_AUDIT (jsonl|memory|none), BENCH_SLICES (10:
// the slices each fixed-rate run is cut into), BENCH_VERBOSE (1: every slice's figures).

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve as honoServe } from '@hono/node-server';
import { createAuditLog, jsonlSink, memoryAuditStore } from '@provisioning/audit';
import { createKeySet, createTokenService } from '@provisioning/auth';
import { cachedEntityProvider, createAuthorizer, shippedPolicyDir, staticEntityProvider } from '@provisioning/authz';
import { memoryStore } from '@provisioning/core';
import autocannon from 'autocannon';
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
type Mode = 'bare' | 'chain' | 'cached' | 'both';
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'hono,express,fastify').split(',') as Adapter[];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
// Each fixed-rate run is cut into this many slices, interleaved across the modes.
const SLICES = Number(process.env.BENCH_SLICES ?? 10);
// Keep-alive connections of the open-loop generator (each carries one request at a time).
const PACED_CONNECTIONS = 64;
const RATES = (process.env.BENCH_RATES ?? '5000,1000').split(',').map(Number);
const PATH = '/servers/prod-web';
const MODES = (process.env.BENCH_MODES ?? 'bare,chain,cached,both').split(',') as Mode[];
// Where the audit events go: a JSONL file (default), the audit log's memory store, or nowhere (for profiling).
const AUDIT = process.env.BENCH_AUDIT ?? 'jsonl';

// ---------------------------------------------------------------------------
// Server side (child process)
// ---------------------------------------------------------------------------

async function serve(adapter: Adapter, mode: Mode): Promise<void> {
  let chain: SecurityChain | undefined;
  let token = '';
  let cleanup = async (): Promise<void> => {};
  if (mode !== 'bare') {
    const store = memoryStore();
    const keys = await createKeySet(); // RS256
    // The verified-token cache only in `both`: the other modes check the signature on every request.
    const tokens = createTokenService({
      keys,
      issuer: 'https://auth.bench',
      audience: 'provisioning',
      store,
      cache: mode === 'both' ? { maxEntries: 10_000, maxAgeSeconds: 60 } : false,
    });
    const authz = await createAuthorizer({
      policyDir: shippedPolicyDir,
      entities: cachedEntityProvider(staticEntityProvider(benchEntities), { ttlSeconds: 60 }),
    });
    const directory = mkdtempSync(join(tmpdir(), 'mw-bench-audit-'));
    const log = await createAuditLog({ sinks: [AUDIT === 'memory' ? memoryAuditStore() : jsonlSink({ directory })] });
    const auditErrors = new Map<string, number>();
    chain = createSecurityChain({
      authenticator: authenticatorFrom({ tokens }),
      // The load comes from loopback: count it as a trusted network for the production IP guard.
      authorizer: authorizerFrom(authz, {
        context: { trustedRanges: ['127.0.0.0/8'] },
        decisionCache: mode === 'cached' || mode === 'both',
      }),
      ...(AUDIT === 'none' ? {} : { audit: auditRecorderFrom(log) }),
      onAuditError: (error) => {
        const code = String((error as { code?: unknown })?.code ?? 'unknown');
        auditErrors.set(code, (auditErrors.get(code) ?? 0) + 1);
      },
      rateLimit: { store: memoryStore(), perIp: 1e9, perPrincipal: 1e9, windowSeconds: 60 },
    });
    token = (await tokens.issue({ subject: 'vera', roles: ['Viewer'], accessTtlSeconds: 4 * 3600, refresh: false }))
      .accessToken;
    cleanup = async () => {
      // The chain records after the response is handed back: let the last events reach the log.
      await new Promise((r) => setTimeout(r, 50));
      const stats = log.stats();
      await log.close();
      authz.close();
      rmSync(directory, { recursive: true, force: true });
      if (auditErrors.size > 0) console.error(`audit errors (${mode}): ${JSON.stringify([...auditErrors])}`);
      if (stats.lost > 0 || stats.dropped > 0) console.error(`audit lost ${stats.lost}, dropped ${stats.dropped}`);
    };
  }
  const route = {
    action: 'read',
    resource: (_r: unknown, p: Readonly<Record<string, string>>) => ({ type: 'Provisioning::Server', id: p.id ?? '' }),
  };

  let port: number;
  let close: () => Promise<void>;
  let listener: HttpServer;
  if (adapter === 'hono') {
    const app = new Hono();
    const handler = (c: { req: { param(n: string): string }; json(b: unknown): Response }) =>
      c.json({ id: c.req.param('id') });
    if (chain === undefined) app.get('/servers/:id', handler);
    else app.get('/servers/:id', honoSecurity(chain, route), handler);
    const server = honoServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((r) => server.close(() => r()));
    listener = server as HttpServer; // @hono/node-server's default: node:http's createServer
  } else if (adapter === 'express') {
    const app = express();
    const handler = (req: express.Request, res: express.Response) => void res.json({ id: req.params.id });
    if (chain === undefined) app.get('/servers/:id', handler);
    else app.get('/servers/:id', expressSecurity(chain, route), handler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((r) => server.close(() => r()));
    listener = server;
  } else {
    const app = Fastify({ logger: false });
    const handler = async (request: { params: unknown }) => ({ id: (request.params as { id: string }).id });
    if (chain === undefined) app.get('/servers/:id', handler);
    else app.get('/servers/:id', { preHandler: fastifySecurity(chain, route) }, handler);
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    close = () => app.close();
    listener = app.server;
  }
  // The paced generator keeps its connections for the whole run of an adapter, idle while the
  // other modes' slices run: Node's 5 s default (Fastify sets 72 s) would close them meanwhile.
  listener.keepAliveTimeout = 120_000;
  // The runner asks for the server's CPU time and request count around each run.
  let served = 0;
  listener.on('request', () => {
    served++;
  });
  const shutdown = async (): Promise<void> => {
    await close();
    await cleanup();
    process.exit(0);
  };
  // Under the runner: IPC. By hand (e.g. with --cpu-prof): the port is printed and the token
  // written to a 0600 file (never printed), stop with Ctrl-C.
  if (process.send === undefined) {
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'mw-bench-')), 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    console.log(JSON.stringify({ port, tokenFile }));
  } else process.send({ port, token });
  process.on('message', (message) => {
    if (message === 'stop') void shutdown();
    else if (message === 'cpu') process.send?.({ cpu: process.cpuUsage(), served });
  });
  process.once('SIGINT', () => void shutdown());
}

// ---------------------------------------------------------------------------
// Load side (this process)
// ---------------------------------------------------------------------------

interface Measured {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  /** The server process's CPU time (user + system) per request served, in µs. */
  readonly cpuMicros: number;
  /** Fixed rates: the p99 of each slice, in slice order. */
  readonly sliceP99?: readonly number[];
}

const canPin = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;

interface Server_ {
  readonly child: ChildProcess;
  readonly port: number;
  readonly token: string;
}

async function start(adapter: Adapter, mode: Mode): Promise<Server_> {
  const self = fileURLToPath(import.meta.url);
  const node = [...process.execArgv, self, '--server', adapter, mode];
  const [command, args] = canPin ? ['taskset', ['-c', '1', process.execPath, ...node]] : [process.execPath, node];
  const child = spawn(command as string, args as string[], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ port: number; token: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; token: string }));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  child.once('exit', (code, signal) => {
    if (!stopping.has(child))
      console.error(`the ${adapter} ${mode} server died (${code ?? signal}): its figures are not valid`);
  });
  return { child, ...ready };
}

const stopping = new WeakSet<ChildProcess>();

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.connected) return; // it died: reported by the run
  stopping.add(child);
  const exited = new Promise((r) => child.once('exit', r));
  child.send('stop');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// The server's CPU time so far (µs) and requests seen, asked over IPC.
const usage = (child: ChildProcess): Promise<{ micros: number; served: number }> =>
  new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      const { cpu, served } = m as { cpu?: NodeJS.CpuUsage; served: number };
      if (cpu === undefined) return;
      child.off('message', onMessage);
      resolve({ micros: cpu.user + cpu.system, served });
    };
    child.on('message', onMessage);
    child.send('cpu');
  });

// Runs one load and adds the server's CPU µs per request it served meanwhile.
async function measured(server: Server_, run: () => Promise<Omit<Measured, 'cpuMicros'>>): Promise<Measured> {
  const before = await usage(server.child);
  const result = await run();
  // The chain records its audit events after the response: let the last ones be counted too.
  await new Promise((r) => setTimeout(r, 20));
  const after = await usage(server.child);
  return { ...result, cpuMicros: (after.micros - before.micros) / Math.max(1, after.served - before.served) };
}

const quantile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);

// Closed loop at full speed (autocannon): the maximum throughput.
async function load(port: number, token: string, seconds: number): Promise<Omit<Measured, 'cpuMicros'>> {
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}${PATH}`,
        headers: token === '' ? {} : { authorization: `Bearer ${token}` },
        connections: CONNECTIONS,
        duration: seconds,
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) times.push(ms);
    });
  });
  const sorted = Float64Array.from(times).sort();
  return {
    rps: result.requests.total / (result.duration || seconds),
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

// Open loop at a fixed rate: request i is due at start + i/rate and is sent
// then (on a free keep-alive connection, or queued for one), whatever the
// earlier answers did; its latency counts from when it was due (no
// coordinated omission). The generator has its own core, so it polls the
// clock on every turn of its event loop (setImmediate) instead of a 1 ms
// timer, and speaks HTTP/1.1 over raw sockets instead of node:http's client:
// a timer tick let up to five requests of a 5,000/s run leave together, and
// the client's own parsing and garbage put milliseconds of noise into every
// p99 (the bare route's p99 at 5,000/s was 5-6 ms with the server idle).
interface PacedPool {
  /** One open-loop run of `seconds` at `rate` requests/s over the pool's connections. */
  run(seconds: number, rate: number): Promise<Sample>;
  close(): void;
}

// Opens PACED_CONNECTIONS keep-alive connections, kept for every slice of a server (so no
// slice starts with the server accepting connections).
async function pacedPool(port: number, token: string): Promise<PacedPool> {
  const request = Buffer.from(
    `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${token === '' ? '' : `Authorization: Bearer ${token}\r\n`}\r\n`,
  );
  const sockets: Socket[] = [];
  const free: Socket[] = [];
  const inFlight = new Map<Socket, number>(); // socket → when its request was due
  let onSettled: (socket: Socket, dueAt: number, status: number) => void = () => {};
  let broken: Error | undefined;
  await Promise.all(
    Array.from(
      { length: PACED_CONNECTIONS },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => resolve());
          sockets.push(socket);
          socket.setNoDelay(true);
          socket.setEncoding('latin1');
          let buffered = '';
          socket.on('error', (error) => {
            broken ??= error;
            reject(error);
          });
          // A connection the server closed (an error, or its keep-alive timeout): its request,
          // if one was in flight, failed, and a run that cannot finish says so.
          socket.on('close', () => {
            broken ??= new Error('the server closed a connection');
            const dueAt = inFlight.get(socket);
            inFlight.delete(socket);
            if (dueAt !== undefined) onSettled(socket, dueAt, 0);
          });
          socket.on('data', (chunk: string) => {
            buffered += chunk;
            const end = buffered.indexOf('\r\n\r\n');
            if (end < 0) return;
            const head = buffered.slice(0, end);
            const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
            let consumed: number;
            if (length !== null) {
              consumed = end + 4 + Number(length[1]);
            } else {
              const last = buffered.indexOf('\r\n0\r\n\r\n', end);
              if (last < 0) return;
              consumed = last + 7;
            }
            if (buffered.length < consumed) return;
            buffered = buffered.slice(consumed);
            const dueAt = inFlight.get(socket) as number;
            inFlight.delete(socket);
            onSettled(socket, dueAt, Number(head.slice(9, 12)));
          });
          free.push(socket);
        }),
    ),
  );
  const send = (socket: Socket, dueAt: number): void => {
    inFlight.set(socket, dueAt);
    socket.write(request);
  };
  return {
    close: () => {
      for (const socket of sockets) socket.destroy();
    },
    run: (seconds, rate) => {
      const total = Math.max(1, Math.round(rate * seconds));
      const times = new Float64Array(total);
      let ok = 0;
      let non2xx = 0;
      let errors = 0;
      let done = 0;
      let sent = 0;
      const backlog: number[] = []; // due times of requests waiting for a connection
      let backlogHead = 0;
      onSettled = (socket, dueAt, status) => {
        if (status === 0) errors++;
        else if (status >= 200 && status < 300) times[ok++] = performance.now() - dueAt;
        else non2xx++;
        done++;
        if (status === 0) return; // a broken connection is not reused
        if (backlogHead < backlog.length) send(socket, backlog[backlogHead++] as number);
        else free.push(socket);
      };
      const started = performance.now();
      return new Promise<Sample>((resolve, reject) => {
        const tick = (): void => {
          if (broken !== undefined) {
            reject(broken);
            return;
          }
          const now = performance.now();
          const due = Math.min(total, Math.floor(((now - started) * rate) / 1000) + 1);
          for (; sent < due; sent++) {
            const dueAt = started + (sent * 1000) / rate;
            const socket = free.shift(); // oldest idle first: none idles into a keep-alive timeout
            if (socket === undefined) backlog.push(dueAt);
            else send(socket, dueAt);
          }
          if (done === total)
            resolve({ times: times.subarray(0, ok), non2xx, errors, seconds: (now - started) / 1000 });
          else setImmediate(tick);
        };
        tick();
      });
    },
  };
}

// The latencies of one paced slice.
interface Sample {
  readonly times: Float64Array;
  readonly non2xx: number;
  readonly errors: number;
  readonly seconds: number;
}

// Pools the slices of one server at one rate: the quantiles over all their requests.
function pooled(samples: readonly Sample[]): Omit<Measured, 'cpuMicros'> {
  const all = new Float64Array(samples.reduce((n, x) => n + x.times.length, 0));
  let at = 0;
  for (const x of samples) {
    all.set(x.times, at);
    at += x.times.length;
  }
  all.sort();
  return {
    rps: all.length / samples.reduce((t, x) => t + x.seconds, 0),
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    non2xx: samples.reduce((n, x) => n + x.non2xx, 0),
    errors: samples.reduce((n, x) => n + x.errors, 0),
  };
}

async function main(): Promise<void> {
  if (canPin) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  console.log(
    `max: autocannon, ${CONNECTIONS} connections; fixed rates ${RATES.join(', ')} req/s open loop; ${SECONDS} s per run; server ${
      canPin ? 'pinned to CPU 1, load generators to CPU 0' : 'not pinned (taskset missing or one CPU)'
    }; load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const rows: Record<string, string>[] = [];
  const summary: string[] = [];
  for (const adapter of ADAPTERS) {
    const results: Partial<Record<Mode, { max: Measured; fixed: Measured[] }>> = {};
    // Every mode's server is up at once (idle ones cost nothing): the maximum runs go one after
    // the other, the fixed rates in interleaved slices (bare, chain, …, bare, chain, …) pooled
    // per server, so the machine's slow spells (steal time reaches 10-15% on this VM) fall on
    // every mode alike instead of on whichever ran during them.
    const servers = new Map<Mode, Server_>();
    try {
      for (const mode of MODES) servers.set(mode, await start(adapter, mode));
      // Warm-up: JIT, caches, the first Cedar calls; then one discarded paced second, so the
      // first slice does not pay for the warm-up's garbage. The fixed rates run before the
      // maximum runs for the same reason (a saturated run leaves an old generation to collect).
      const pools = new Map<Mode, PacedPool>();
      for (const [mode, server] of servers) {
        await load(server.port, server.token, 2);
        const pool = await pacedPool(server.port, server.token);
        pools.set(mode, pool);
        await pool.run(1, RATES[0] ?? 1000);
      }
      const fixedOf = new Map<Mode, Measured[]>();
      for (const rate of RATES) {
        const slices = new Map<Mode, Sample[]>();
        const cpu = new Map<Mode, { micros: number; served: number }>();
        for (let slice = 0; slice < SLICES; slice++) {
          for (const [mode, server] of servers) {
            const before = await usage(server.child);
            const sample = await (pools.get(mode) as PacedPool).run(SECONDS / SLICES, rate);
            await new Promise((r) => setTimeout(r, 20)); // the audit events recorded after the last responses
            const after = await usage(server.child);
            slices.set(mode, [...(slices.get(mode) ?? []), sample]);
            if (process.env.BENCH_VERBOSE) {
              const t = Float64Array.from(sample.times).sort();
              console.error(
                `${adapter} ${mode} ${rate}/s slice ${slice}: p50 ${quantile(t, 0.5).toFixed(3)} p99 ${quantile(t, 0.99).toFixed(3)} max ${(t[t.length - 1] ?? 0).toFixed(3)} ms, over 1 ms: ${t.filter((x) => x > 1).length}`,
              );
            }
            const sum = cpu.get(mode) ?? { micros: 0, served: 0 };
            cpu.set(mode, {
              micros: sum.micros + after.micros - before.micros,
              served: sum.served + after.served - before.served,
            });
          }
        }
        for (const mode of servers.keys()) {
          const c = cpu.get(mode) as { micros: number; served: number };
          const list = slices.get(mode) as Sample[];
          const sliceP99 = list.map((x) => quantile(Float64Array.from(x.times).sort(), 0.99));
          const m = { ...pooled(list), cpuMicros: c.micros / Math.max(1, c.served), sliceP99 };
          fixedOf.set(mode, [...(fixedOf.get(mode) ?? []), m]);
        }
      }
      for (const pool of pools.values()) pool.close();
      const maxOf = new Map<Mode, Measured>();
      for (const [mode, server] of servers) {
        maxOf.set(mode, await measured(server, () => load(server.port, server.token, SECONDS)));
      }
      for (const mode of servers.keys()) {
        const max = maxOf.get(mode) as Measured;
        const fixed = fixedOf.get(mode) as Measured[];
        results[mode] = { max, fixed };
        for (const [kind, m] of [
          ['max', max] as const,
          ...RATES.map((r, i) => [`${r}/s`, fixed[i] as Measured] as const),
        ]) {
          rows.push({
            adapter,
            route: {
              bare: 'bare',
              chain: 'full chain',
              cached: 'full chain, decision cache',
              both: 'full chain, decision + token cache',
            }[mode],
            load: kind,
            'req/s': Math.round(m.rps).toLocaleString('en-US'),
            'p50 ms': m.p50.toFixed(3),
            'p99 ms': m.p99.toFixed(3),
            'server CPU µs/req': m.cpuMicros.toFixed(0),
            'non-2xx/errors': `${m.non2xx}/${m.errors}`,
          });
        }
      }
    } finally {
      for (const server of servers.values()) await stop(server.child);
    }
    const bare = results.bare;
    for (const mode of ['chain', 'cached', 'both'] as const) {
      const full = results[mode];
      if (bare === undefined || full === undefined) continue;
      const share = `${((100 * full.max.rps) / bare.max.rps).toFixed(0)}%`;
      const added = RATES.map((rate, i) => {
        const f = full.fixed[i] as Measured;
        const b = bare.fixed[i] as Measured;
        // Slice k of the chain ran right after slice k of the bare route: their p99s met the same machine.
        const deltas = (f.sliceP99 ?? []).map((x, k) => x - (b.sliceP99?.[k] ?? Number.NaN)).sort((x, y) => x - y);
        const median = deltas[deltas.length >> 1] ?? Number.NaN;
        const within = deltas.filter((d) => d <= 0.5).length;
        return `+${(f.p50 - b.p50).toFixed(3)} ms p50 / +${(f.p99 - b.p99).toFixed(3)} ms p99 at ${rate}/s offered (${Math.round(f.rps)} served; p99 slice by slice: median +${median.toFixed(3)} ms, ${within} of ${deltas.length} slices within +0.5 ms)`;
      });
      const cpu = `server CPU ${full.max.cpuMicros.toFixed(0)} µs/req against ${bare.max.cpuMicros.toFixed(0)} bare (at max)`;
      summary.push(
        `${adapter}, ${{ chain: 'full chain', cached: 'full chain + decision cache', both: 'full chain + decision + token cache' }[mode]}: ${share} of bare max throughput (target >= 60%); ${cpu}; ${added.join('; ')} (target <= 0.5 ms at 5000/s)`,
      );
    }
  }
  console.table(rows);
  for (const line of summary) console.log(line);
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

const serverAt = process.argv.indexOf('--server');
if (serverAt >= 0) await serve(process.argv[serverAt + 1] as Adapter, process.argv[serverAt + 2] as Mode);
else await main();
