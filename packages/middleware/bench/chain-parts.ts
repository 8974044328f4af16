// The full chain's parts, in process, in CPU µs per call (process.cpuUsage()
// over N calls, after a warm-up; the minimum of ROUNDS rounds, which moves
// far less with the machine's load than one round): the whole check +
// complete with and without the audit log, and each layer's own call as the
// chain makes it. Same setup as chain.bench.ts's full chain, without HTTP or
// a framework, so the figures are the chain's own and can be compared
// before/after a change on a busy machine. Not a *.bench.ts: `npm run bench`
// does not run it. By hand:
//   node --import ./scripts/bench-loader/register.mjs --conditions=@provisioning/source \
//     packages/middleware/bench/chain-parts.ts [name filter…]
// Env: N (default 10000), ROUNDS (default 5).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog, jsonlSink } from '@provisioning/audit';
import { createKeySet, createTokenService } from '@provisioning/auth';
import {
  cachedEntityProvider,
  createAuthorizer,
  createContextBuilder,
  shippedPolicyDir,
  staticEntityProvider,
} from '@provisioning/authz';
import { memoryStore } from '@provisioning/core';
import { createSecurityChain } from '../src/chain.js';
import { NodeHeaderReader } from '../src/node-http.js';
import { auditRecorderFrom, authenticatorFrom, authorizerFrom } from '../src/provisioning.js';
import { createRateLimiter } from '../src/rate-limit.js';
import type { RouteSecurity } from '../src/types.js';
import { benchEntities } from './fixtures.js';

const N = Number(process.env.N ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const only = process.argv.slice(2);

const tokens = createTokenService({
  keys: await createKeySet(),
  issuer: 'https://auth.bench',
  audience: 'provisioning',
  store: memoryStore(),
});
const authz = await createAuthorizer({
  policyDir: shippedPolicyDir,
  entities: cachedEntityProvider(staticEntityProvider(benchEntities), { ttlSeconds: 600 }),
});
const directory = mkdtempSync(join(tmpdir(), 'mw-parts-audit-'));
const log = await createAuditLog({ sinks: [jsonlSink({ directory })] });
const authenticator = authenticatorFrom({ tokens });
const authorizer = authorizerFrom(authz, { context: { trustedRanges: ['127.0.0.0/8'] } });
const chainWith = (audit: boolean) =>
  createSecurityChain({
    authenticator,
    authorizer,
    ...(audit ? { audit: auditRecorderFrom(log) } : {}),
    rateLimit: { store: memoryStore(), perIp: 1e9, perPrincipal: 1e9, windowSeconds: 60 },
  });
const audited = chainWith(true);
const unaudited = chainWith(false);
const token = (await tokens.issue({ subject: 'vera', roles: ['Viewer'], accessTtlSeconds: 4 * 3600, refresh: false }))
  .accessToken;
// What Node parses from autocannon's request, read as the Express and Fastify adapters read it.
const headers = { host: '127.0.0.1:3000', authorization: `Bearer ${token}`, 'user-agent': 'autocannon' };
const request = () => ({ method: 'GET', url: '/servers/prod-web', headers: new NodeHeaderReader(headers) });
const route: RouteSecurity = {
  action: 'read',
  resource: (_r, p) => ({ type: 'Provisioning::Server', id: p.id ?? '' }),
};
const info = { clientAddress: '127.0.0.1', params: { id: 'prod-web' } };
const principal = await authenticator.authenticate({ kind: 'bearer', token }, request());
const resource = { type: 'Provisioning::Server', id: 'prod-web' };
const contexts = createContextBuilder({ trustedRanges: ['127.0.0.0/8'] });
const limiter = createRateLimiter({ store: memoryStore(), limit: 1e9 });

const cases: Record<string, () => unknown> = {
  'check + complete, audit to JSONL': async () => {
    const r = await audited.check(request(), route, info);
    if (!r.ok) throw new Error(`refused: ${r.code}`);
    audited.complete(r.context, 200);
  },
  'check + complete, no audit': async () => {
    const r = await unaudited.check(request(), route, info);
    if (!r.ok) throw new Error(`refused: ${r.code}`);
    unaudited.complete(r.context, 200);
  },
  'authenticate (cached token, revocation read)': () =>
    authenticator.authenticate({ kind: 'bearer', token }, request()),
  'rate limit hit': () => limiter.hit('127.0.0.1'),
  'authorizerFrom().authorize': () =>
    authorizer.authorize({
      principal,
      action: 'read',
      resource,
      context: {
        mfa: { present: false, ageSeconds: -1 },
        ip: '127.0.0.1',
        time: new Date().toISOString(),
        emergency: false,
      },
    }),
  'context builder': () => contexts.build({ clientIp: '127.0.0.1', mfaVerifiedAt: null }),
};

const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(cases)) {
    if (only.length > 0 && !only.some((o) => name.includes(o))) continue;
    for (let i = 0; i < 2000; i++) await run();
    await new Promise((r) => setTimeout(r, 20)); // the audit log's writes of the warm-up
    const before = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      await run();
      // Let the audit events be recorded and written, as the event loop would between requests.
      if ((i & 63) === 63) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 20));
    const used = process.cpuUsage(before);
    const list = results.get(name) ?? [];
    list.push((used.user + used.system) / N);
    results.set(name, list);
  }
}
const rows = [...results].map(([name, list]) => ({
  part: name,
  'min µs/call': Math.min(...list).toFixed(1),
  'median µs/call': [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]?.toFixed(1),
}));
console.table(rows);
await log.close();
authz.close();
rmSync(directory, { recursive: true, force: true });
