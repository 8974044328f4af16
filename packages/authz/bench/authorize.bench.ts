// Decisions per second and p99 latency on the shipped policy set with
// realistic entities (11 users in 5 teams / 5 roles, 3 environments, servers,
// clusters, workflows, secrets, keys, break-glass sessions), over a mix of
// requests (deploys, reads, deletes, SSH, break-glass, audit):
//   - this package: preparsed (stateful) engine, inline entities (sync path)
//   - this package: authorize() with a cached entity provider (async path)
//   - this package: authorizeBatch() of 100 requests (per decision)
//   - cedar-wasm per-call isAuthorized (re-parses policies and schema each call)
//   - Cedar's official Express middleware engine
//     (@cedar-policy/authorization-for-expressjs → CedarInlineAuthorizationEngine)
// Every contender gets the same per-request entity slice (what the decision needs).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CedarInlineAuthorizationEngine } from '@cedar-policy/authorization-for-expressjs';
import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { Bench } from 'tinybench';
import { closure } from '../src/entities.js';
import {
  type AuthorizationRequest,
  cachedEntityProvider,
  createAuthorizer,
  createContextBuilder,
  readPolicyDirectory,
  shippedPolicyDir,
  staticEntityProvider,
} from '../src/index.js';
import { type CedarEntity, entityKey, forEachEntityRef, parseEntityRef } from '../src/uid.js';

const entities = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'entities.json'), 'utf8'),
) as CedarEntity[];
const pool = new Map(entities.map((e) => [entityKey(e.uid), e]));
const at = Date.parse('2026-01-06T10:00:00Z');
const contexts = createContextBuilder();
const ctx = (extra: Parameters<typeof contexts.build>[0] extends infer T ? Partial<T> : never = {}) =>
  contexts.build({ clientIp: '10.0.0.5', at, mfaVerifiedAt: at - 60_000, ...extra });
const u = (id: string) => `Provisioning::User::"${id}"`;
const mix: Omit<AuthorizationRequest, 'entities'>[] = [
  {
    principal: u('sam'),
    action: 'deploy',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ approvalId: 'CHG-1' }),
  },
  { principal: u('dana'), action: 'read', resource: 'Provisioning::Server::"prod-web"', context: ctx() },
  {
    principal: u('root'),
    action: 'delete',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ mfaVerifiedAt: null }),
  },
  { principal: u('vic'), action: 'monitor', resource: 'Provisioning::Cluster::"prod-k8s"', context: ctx() },
  {
    principal: u('sam'),
    action: 'ssh',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ approvalId: 'CHG-2' }),
  },
  {
    principal: u('dana'),
    action: 'deploy',
    resource: 'Provisioning::Server::"stg-web"',
    context: ctx({ approvalId: 'CHG-3' }),
  },
  {
    principal: u('sam'),
    action: 'delete',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ approvalId: 'EMERGENCY-1', breakGlassSession: 'Provisioning::BreakGlassSession::"bg-sam"' }),
  },
  { principal: u('avery'), action: 'export', resource: 'Provisioning::AuditLog::"main"', context: ctx() },
];
// Each request with the entity slice it needs.
const requests: AuthorizationRequest[] = mix.map((r) => {
  const roots = [parseEntityRef(r.principal), parseEntityRef(r.resource)];
  forEachEntityRef(r.context, (ref) => roots.push(ref));
  return { ...r, entities: closure(roots, pool) };
});
const avgEntities = requests.reduce((n, r) => n + (r.entities?.length ?? 0), 0) / requests.length;

const dir = await readPolicyDirectory(shippedPolicyDir);
const schemaText = (dir.schema as { text: string }).text;
const policyText = dir.files.map((f) => f.text).join('\n');

const ours = await createAuthorizer({ policyDir: shippedPolicyDir });
const provided = await createAuthorizer({
  policyDir: shippedPolicyDir,
  entities: cachedEntityProvider(staticEntityProvider(entities), { ttlSeconds: 60 }),
});
const express = new CedarInlineAuthorizationEngine({
  staticPolicies: policyText,
  schema: { type: 'cedarFormat', schema: schemaText },
  validateRequest: true,
});

// Sanity: every contender decides the mix the same way.
const expected = requests.map((r) => ours.authorizeSync(r).decision);
for (const [i, r] of requests.entries()) {
  const p = parseEntityRef(r.principal);
  const a = parseEntityRef(r.action, 'Provisioning');
  const res = parseEntityRef(r.resource);
  const raw = isAuthorized({
    principal: p,
    action: a,
    resource: res,
    context: r.context as never,
    policies: { staticPolicies: policyText },
    schema: schemaText,
    validateRequest: true,
    entities: r.entities as never,
  });
  const viaExpress = await express.isAuthorized(
    { principal: p, action: a, resource: res, context: r.context as never },
    r.entities as never,
  );
  const viaProvider = (await provided.authorize({ ...r, entities: [] })).decision;
  if (
    raw.type !== 'success' ||
    raw.response.decision !== expected[i] ||
    viaExpress.type !== expected[i] ||
    viaProvider !== expected[i]
  ) {
    throw new Error(`contenders disagree on request ${i}`);
  }
}

const calls = requests.map((r) => ({
  principal: parseEntityRef(r.principal),
  action: parseEntityRef(r.action, 'Provisioning'),
  resource: parseEntityRef(r.resource),
  context: r.context as never,
  entities: r.entities as never,
}));
const batch = Array.from({ length: 100 }, (_, k) => requests[k % requests.length] as AuthorizationRequest);

let i = 0;
const bench = new Bench({ time: 3000, warmupTime: 500 });
bench
  .add('@provisioning/authz authorizeSync (preparsed)', () => {
    ours.authorizeSync(requests[i++ % requests.length] as AuthorizationRequest);
  })
  .add('@provisioning/authz authorize (cached provider)', async () => {
    const r = requests[i++ % requests.length] as AuthorizationRequest;
    await provided.authorize({
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      context: r.context ?? {},
    });
  })
  .add('@provisioning/authz authorizeBatch x100', async () => {
    await ours.authorizeBatch(batch);
  })
  .add('cedar-wasm isAuthorized (per call)', () => {
    const c = calls[i++ % calls.length] as (typeof calls)[number];
    isAuthorized({ ...c, policies: { staticPolicies: policyText }, schema: schemaText, validateRequest: true });
  })
  .add('authorization-for-expressjs engine', async () => {
    const c = calls[i++ % calls.length] as (typeof calls)[number];
    await express.isAuthorized(
      { principal: c.principal, action: c.action, resource: c.resource, context: c.context },
      c.entities,
    );
  });
await bench.run();

const perDecision = (name: string) => (name.includes('x100') ? 100 : 1);
const rate = (t: (typeof bench.tasks)[number]) =>
  (t.result && 'throughput' in t.result ? (t.result.throughput as { mean: number }).mean : 0) * perDecision(t.name);
const p99 = (t: (typeof bench.tasks)[number]) =>
  t.result && 'latency' in t.result ? ((t.result.latency as { p99?: number }).p99 ?? 0) / perDecision(t.name) : 0;
const baseline = rate(bench.tasks.find((t) => t.name.startsWith('cedar-wasm')) as (typeof bench.tasks)[number]);
console.log(
  `shipped set: ${ours.policyIds.length} policies; ${requests.length} request kinds, ${avgEntities.toFixed(1)} entities per decision on average`,
);
console.log('decisions per second on one core (higher is better); p99 per call in ms (per decision for the batch)');
console.table(
  Object.fromEntries(
    bench.tasks.map((t) => [
      t.name,
      {
        'decisions/s': Math.round(rate(t)).toLocaleString('en-US'),
        'p99 ms': p99(t).toFixed(3),
        'x per-call isAuthorized': (rate(t) / baseline).toFixed(1),
      },
    ]),
  ),
);
ours.close();
provided.close();
