// Step one of the throughput work, kept so it can be re-taken: how far do
// exact changes on the cedar-wasm side get? CPU time per decision (the mix
// of requests.ts) for cedar-wasm's preparsed call with
//   - the whole shipped set and the schema (the `wasm` path),
//   - only the policies whose action scope can hold the request's action
//     (exact: the others are neither satisfied nor errored),
//   - that, without the schema (exact only with the request checks done in
//     JavaScript, which are not counted here),
//   - that, with entity attributes no policy names removed,
// against two floors (a one-policy set with the same context; with an empty
// context and no entities) and the compiled path.

import { loadavg } from 'node:os';
import {
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  type StatefulAuthorizationCall,
  statefulIsAuthorized,
} from '../src/cedar.js';
import { compilePolicySet, createAuthorizer, readPolicyDirectory, shippedPolicyDir } from '../src/index.js';
import type { CedarEntity } from '../src/uid.js';
import { calls, requests } from './requests.js';

const set = compilePolicySet(await readPolicyDirectory(shippedPolicyDir));
const schema = set.schema as Record<string, { actions: Record<string, { memberOf?: { id: string }[] }> }>;
const texts = new Map([...set.policies].map(([id, p]) => [id, p.text]));
const ests = new Map(
  [...texts].map(([id, text]) => [id, (policyToJson(text) as unknown as { json: Record<string, unknown> }).json]),
);

// Action groups, and the policies whose action scope can hold each action.
const groups = new Map(Object.entries(schema.Provisioning?.actions ?? {}).map(([id, a]) => [id, a.memberOf ?? []]));
const ancestors = (id: string): Set<string> => {
  const out = new Set([id]);
  const stack = [id];
  while (stack.length > 0) {
    for (const g of groups.get(stack.pop() as string) ?? []) {
      if (!out.has(g.id)) {
        out.add(g.id);
        stack.push(g.id);
      }
    }
  }
  return out;
};
type Scope = { op: string; entity?: { id: string }; entities?: { id: string }[] };
const slice = (action: string): Record<string, string> => {
  const mine = ancestors(action);
  const out: Record<string, string> = {};
  for (const [id, est] of ests) {
    const scope = est.action as Scope;
    const named = scope.entities ?? (scope.entity ? [scope.entity] : []);
    if (scope.op === 'All' || (scope.op === '==' ? named[0]?.id === action : named.some((e) => mine.has(e.id)))) {
      out[id] = texts.get(id) as string;
    }
  }
  return out;
};
// Attribute names the policies read (`.` and `has`).
const named = new Set<string>();
const walk = (v: unknown): void => {
  if (Array.isArray(v)) v.forEach(walk);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if ((k === '.' || k === 'has') && typeof x === 'object' && x !== null) {
        const attr = (x as { attr: string | string[] }).attr;
        for (const a of Array.isArray(attr) ? attr : [attr]) named.add(a);
      }
      walk(x);
    }
  }
};
for (const est of ests.values()) walk(est.conditions);
const pruned = calls.map((c) =>
  (c.entities as unknown as CedarEntity[]).map((e) => ({
    ...e,
    attrs: Object.fromEntries(Object.entries(e.attrs).filter(([k]) => named.has(k))),
  })),
);

preparseSchema('bench-schema', set.schema as never);
preparsePolicySet('bench-full', { staticPolicies: Object.fromEntries(texts) });
for (const c of calls) preparsePolicySet(`bench-${c.action.id}`, { staticPolicies: slice(c.action.id) });
preparsePolicySet('bench-trivial', { staticPolicies: { t: 'permit(principal, action, resource);' } });
const compiled = await createAuthorizer({ policyDir: shippedPolicyDir });

const wasm = (call: StatefulAuthorizationCall) => {
  const a = statefulIsAuthorized(call);
  if (a.type !== 'success') throw new Error(a.errors.map((e) => e.message).join('; '));
};
const variants: [name: string, decide: (k: number) => void][] = [
  [
    'whole set, schema (the wasm path)',
    (k) =>
      wasm({
        ...calls[k],
        preparsedPolicySetId: 'bench-full',
        preparsedSchemaName: 'bench-schema',
        validateRequest: true,
      } as never),
  ],
  [
    'action slice, schema',
    (k) => {
      const c = calls[k] as (typeof calls)[number];
      wasm({
        ...c,
        preparsedPolicySetId: `bench-${c.action.id}`,
        preparsedSchemaName: 'bench-schema',
        validateRequest: true,
      });
    },
  ],
  [
    'action slice, no schema',
    (k) => {
      const c = calls[k] as (typeof calls)[number];
      wasm({ ...c, preparsedPolicySetId: `bench-${c.action.id}`, validateRequest: false });
    },
  ],
  [
    'action slice, no schema, unread attributes removed',
    (k) => {
      const c = calls[k] as (typeof calls)[number];
      wasm({
        ...c,
        entities: pruned[k] as never,
        preparsedPolicySetId: `bench-${c.action.id}`,
        validateRequest: false,
      });
    },
  ],
  [
    'floor: one policy, same context, no entities, no schema',
    (k) =>
      wasm({
        ...calls[k],
        entities: [] as never,
        preparsedPolicySetId: 'bench-trivial',
        validateRequest: false,
      } as never),
  ],
  [
    'floor: one policy, empty context, no entities, no schema',
    (k) =>
      wasm({
        ...calls[k],
        context: {} as never,
        entities: [] as never,
        preparsedPolicySetId: 'bench-trivial',
        validateRequest: false,
      } as never),
  ],
  ['compiled path: authorizeSync', (k) => void compiled.authorizeSync(requests[k] as (typeof requests)[number])],
];

const cpu = (decide: (k: number) => void, n: number) => {
  for (let i = 0; i < n / 10; i++) decide(i % calls.length);
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) decide(i % calls.length);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
};
const results = variants.map(
  ([name, decide]) => [name, cpu(decide, name.startsWith('compiled') ? 20_000 : 2_000)] as const,
);
const today = results[0]?.[1] ?? 1;
console.log(
  `policies per action slice: ${calls.map((c) => Object.keys(slice(c.action.id)).length).join(', ')} of ${texts.size}`,
);
console.log(`attributes the policies read: ${[...named].sort().join(', ')}`);
console.log(
  `load average: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log('');
console.log('| variant | CPU µs / decision | of the wasm path | decisions/s per core |');
console.log('|---|---:|---:|---:|');
for (const [name, us] of results) {
  console.log(
    `| ${name} | ${us.toFixed(1)} | ${((100 * us) / today).toFixed(0)} % | ${Math.round(1e6 / us).toLocaleString('en-US')} |`,
  );
}
compiled.close();
