// Decisions per second and p99 latency on the shipped policy set with
// realistic entities (11 users in 5 teams / 5 roles, 3 environments, servers,
// clusters, workflows, secrets, keys, break-glass sessions), over a mix of
// requests (deploys, reads, deletes, SSH, break-glass, audit), on both
// evaluation paths of this package (compiled, the default, and wasm):
//   - authorizeSync(): inline entities (sync path)
//   - authorize(): a cached entity provider (async path)
//   - authorizeBatch() of 100 requests (per decision)
//   - cedar-wasm per-call isAuthorized (re-parses policies and schema each call)
//   - Cedar's official Express middleware engine
//     (@cedar-policy/authorization-for-expressjs → CedarInlineAuthorizationEngine)
// Every contender gets the same per-request entity slice (what the decision needs).

import { loadavg } from 'node:os';
import { CedarInlineAuthorizationEngine } from '@cedar-policy/authorization-for-expressjs';
import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { Bench } from 'tinybench';
import {
  type AuthorizationRequest,
  cachedEntityProvider,
  createAuthorizer,
  readPolicyDirectory,
  shippedPolicyDir,
  staticEntityProvider,
} from '../src/index.js';
import { avgEntities, calls, entities, requests } from './requests.js';

const dir = await readPolicyDirectory(shippedPolicyDir);
const schemaText = (dir.schema as { text: string }).text;
const policyText = dir.files.map((f) => f.text).join('\n');

const ours = await createAuthorizer({ policyDir: shippedPolicyDir });
const provided = await createAuthorizer({
  policyDir: shippedPolicyDir,
  entities: cachedEntityProvider(staticEntityProvider(entities), { ttlSeconds: 60 }),
});
const oursWasm = await createAuthorizer({ policyDir: shippedPolicyDir, evaluation: 'wasm' });
const providedWasm = await createAuthorizer({
  policyDir: shippedPolicyDir,
  evaluation: 'wasm',
  entities: cachedEntityProvider(staticEntityProvider(entities), { ttlSeconds: 60 }),
});
if (ours.evaluation.path !== 'compiled' || provided.evaluation.path !== 'compiled') {
  throw new Error(`the shipped set is not on the compiled path: ${ours.evaluation.fallbackReason}`);
}
const express = new CedarInlineAuthorizationEngine({
  staticPolicies: policyText,
  schema: { type: 'cedarFormat', schema: schemaText },
  validateRequest: true,
});

// Sanity: every contender decides the mix the same way (both paths: the whole decision).
const expected = requests.map((r) => ours.authorizeSync(r).decision);
for (const r of requests) {
  if (JSON.stringify(ours.authorizeSync(r)) !== JSON.stringify(oursWasm.authorizeSync(r))) {
    throw new Error('the compiled and wasm paths disagree');
  }
}
for (const [i, r] of requests.entries()) {
  const c = calls[i] as (typeof calls)[number];
  const raw = isAuthorized({
    ...c,
    policies: { staticPolicies: policyText },
    schema: schemaText,
    validateRequest: true,
  });
  const viaExpress = await express.isAuthorized(
    { principal: c.principal, action: c.action, resource: c.resource, context: c.context },
    c.entities,
  );
  const viaProvider = (await provided.authorize({ ...r, entities: [] })).decision;
  const viaProviderWasm = (await providedWasm.authorize({ ...r, entities: [] })).decision;
  if (
    raw.type !== 'success' ||
    raw.response.decision !== expected[i] ||
    viaExpress.type !== expected[i] ||
    viaProvider !== expected[i] ||
    viaProviderWasm !== expected[i]
  ) {
    throw new Error(`contenders disagree on request ${i}`);
  }
}

const batch = Array.from({ length: 100 }, (_, k) => requests[k % requests.length] as AuthorizationRequest);

const asked = (r: AuthorizationRequest): AuthorizationRequest => ({
  principal: r.principal,
  action: r.action,
  resource: r.resource,
  context: r.context ?? {},
});
let i = 0;
const nextRequest = () => requests[i++ % requests.length] as AuthorizationRequest;
const nextCall = () => calls[i++ % calls.length] as (typeof calls)[number];
// One entry per contender: its name, how many decisions one call makes, and the call.
const contenders: [name: string, perCall: number, fn: () => unknown][] = [
  ['authz compiled: authorizeSync', 1, () => ours.authorizeSync(nextRequest())],
  ['authz compiled: authorize (cached provider)', 1, () => provided.authorize(asked(nextRequest()))],
  ['authz compiled: authorizeBatch x100', 100, () => ours.authorizeBatch(batch)],
  ['authz wasm: authorizeSync (preparsed)', 1, () => oursWasm.authorizeSync(nextRequest())],
  ['authz wasm: authorize (cached provider)', 1, () => providedWasm.authorize(asked(nextRequest()))],
  ['authz wasm: authorizeBatch x100', 100, () => oursWasm.authorizeBatch(batch)],
  [
    'cedar-wasm isAuthorized (per call)',
    1,
    () =>
      isAuthorized({
        ...nextCall(),
        policies: { staticPolicies: policyText },
        schema: schemaText,
        validateRequest: true,
      }),
  ],
  [
    'authorization-for-expressjs engine',
    1,
    () => {
      const c = nextCall();
      return express.isAuthorized(
        { principal: c.principal, action: c.action, resource: c.resource, context: c.context },
        c.entities,
      );
    },
  ],
];

const bench = new Bench({ time: 3000, warmupTime: 500 });
for (const [name, , fn] of contenders) bench.add(name, fn);
await bench.run();

// CPU time per decision (process.cpuUsage over a fixed number of calls after
// the timed run): on a shared machine this is steadier than wall time, and
// 1e6 / µs is the rate one core sustains.
const cpuMicros = new Map<string, number>();
for (const [name, perCall, fn] of contenders) {
  const calls = name.includes('isAuthorized') || name.includes('expressjs') ? 100 : perCall > 1 ? 200 : 20_000;
  const start = process.cpuUsage();
  for (let k = 0; k < calls; k++) {
    const r = fn();
    if (r instanceof Promise) await r;
  }
  const used = process.cpuUsage(start);
  cpuMicros.set(name, (used.user + used.system) / (calls * perCall));
}

const perDecision = (name: string) => contenders.find((c) => c[0] === name)?.[1] ?? 1;
const rate = (t: (typeof bench.tasks)[number]) =>
  (t.result && 'throughput' in t.result ? (t.result.throughput as { mean: number }).mean : 0) * perDecision(t.name);
const p99 = (t: (typeof bench.tasks)[number]) =>
  t.result && 'latency' in t.result ? ((t.result.latency as { p99?: number }).p99 ?? 0) / perDecision(t.name) : 0;
const baseline = rate(bench.tasks.find((t) => t.name.startsWith('cedar-wasm')) as (typeof bench.tasks)[number]);
const baselineCpu = cpuMicros.get('cedar-wasm isAuthorized (per call)') ?? 1;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `shipped set: ${ours.policyIds.length} policies; ${requests.length} request kinds, ${avgEntities.toFixed(1)} entities per decision on average`,
);
console.log(
  `load average: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log('');
// A Markdown table, ready for the README.
console.log(
  '| contender | decisions/s | p99 | CPU µs / decision | decisions/s per core (CPU) | × per-call `isAuthorized` (CPU) |',
);
console.log('|---|---:|---:|---:|---:|---:|');
for (const t of bench.tasks) {
  const cpu = cpuMicros.get(t.name) ?? 0;
  console.log(
    `| ${t.name} | ${fmt(rate(t))} | ${p99(t).toFixed(3)} ms | ${cpu.toFixed(1)} | ${fmt(1e6 / cpu)} | ${(baselineCpu / cpu).toFixed(1)} (${(rate(t) / baseline).toFixed(1)}) |`,
  );
}
console.log('');
console.log('p99 is per call (per decision for a batch: its p99 / 100); × is by CPU time (by wall-clock rate).');
for (const a of [ours, provided, oursWasm, providedWasm]) a.close();
