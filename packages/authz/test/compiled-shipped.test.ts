// The compiled evaluation path against cedar-wasm over the shipped policies:
// every policy-test scenario, the fail-closed cases, and random requests,
// contexts and entities (missing attributes, wrong types, extension values,
// extra attributes, missing entities, changed hierarchies), asserting that
// both paths fail, decide, name the same determining policies and report the
// same erroring policies.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { schemaModel } from '../src/compiled/schema.js';
import { createContextBuilder } from '../src/context.js';
import { closure } from '../src/entities.js';
import { isEntitySnapshot, snapshotEntity } from '../src/entity-snapshot.js';
import { compilePolicySet, readPolicyDirectory, shippedPolicyDir } from '../src/index.js';
import { loadPolicyTestFile } from '../src/policy-tests.js';
import { type CedarEntity, entityKey, forEachEntityRef, parseEntityRef } from '../src/uid.js';
import { both, type Differential, differential, type Request, tally } from './differential.js';
import { fixtureEntities, TUESDAY_10_UTC } from './helpers.js';

const suite = await loadPolicyTestFile(join(import.meta.dirname, 'shipped-policies.yaml'));
const pool = new Map(fixtureEntities.map((e) => [entityKey(e.uid), e]));
const ref = (s: string, ns?: string) => parseEntityRef(s, ns);

let d: Differential;
beforeAll(async () => {
  d = differential(compilePolicySet(await readPolicyDirectory(shippedPolicyDir)));
});

describe('compiled path = cedar-wasm on the shipped policy-test scenarios', () => {
  it('decides every scenario itself, exactly as cedar-wasm', () => {
    const builder = createContextBuilder(suite.contextBuilder);
    const t = tally();
    for (const c of suite.tests) {
      const g = { ...suite.given, ...c.given };
      const at = Date.parse(g.at as string);
      const context = {
        ...builder.build({
          clientIp: g.clientIp as string,
          at,
          mfaVerifiedAt: g.mfaAgeSeconds == null ? null : at - g.mfaAgeSeconds * 1000,
          ...(g.approvalId === undefined ? {} : { approvalId: g.approvalId }),
          ...(g.breakGlassSession === undefined ? {} : { breakGlassSession: g.breakGlassSession }),
          ...(g.force === undefined ? {} : { force: g.force }),
        }),
        ...(c.context ?? {}),
      };
      const r: Request = {
        principal: ref(c.principal),
        action: ref(c.action, 'Provisioning'),
        resource: ref(c.resource),
        context,
        entities: [...(suite.entities ?? []), ...(c.entities ?? [])],
      };
      const { compiled, wasm } = both(d, r, t);
      expect({ name: c.name, ...compiled }).toEqual({ name: c.name, ...wasm });
    }
    expect(t.declined).toBe(0);
    expect(t.decided).toBe(suite.tests.length);
  });

  it('fails closed on both: a guarding forbid whose attribute is missing errors on both paths', () => {
    const builder = createContextBuilder();
    const { mfa: _mfa, ...noMfa } = builder.build({ clientIp: '10.0.0.5', at: TUESDAY_10_UTC });
    const t = tally();
    const cases: Request[] = [
      // the production environment entity is missing: prod-delete-mfa errors, admin-full-access allows
      {
        principal: ref('Provisioning::User::"root"'),
        action: ref('delete', 'Provisioning'),
        resource: ref('Provisioning::Server::"prod-web"'),
        context: builder.build({ clientIp: '10.0.0.5', at: TUESDAY_10_UTC, mfaVerifiedAt: null }),
        entities: fixtureEntities.filter((e) => e.uid.id !== 'prod'),
      },
      // a context without `mfa`: the request does not match the schema
      {
        principal: ref('Provisioning::User::"root"'),
        action: ref('delete', 'Provisioning'),
        resource: ref('Provisioning::Server::"prod-web"'),
        context: noMfa,
        entities: fixtureEntities,
      },
    ];
    const [missingEntity, missingMfa] = cases.map((r) => both(d, r, t)) as [
      ReturnType<typeof both>,
      ReturnType<typeof both>,
    ];
    expect(missingEntity.compiled).toEqual(missingEntity.wasm);
    // Cedar allows (the authorizer then denies: fail closed), and both report the guard as errored.
    expect(missingEntity.compiled).toMatchObject({ decision: 'allow' });
    expect(missingEntity.compiled.errored).toContain('prod-delete-mfa');
    expect(missingMfa.compiled).toEqual({ type: 'failure' });
    expect(missingMfa.wasm).toEqual({ type: 'failure' });
    expect(t.declined).toBe(0);
  });
});

// --- random requests over the shipped policies ------------------------------

const users = ['root', 'sam', 'dana', 'avery', 'sec', 'olivia', 'vic', 'aud', 'adam', 'devon', 'nobody', 'ghost'];
const actions = [
  'read',
  'list',
  'monitor',
  'create',
  'update',
  'delete',
  'deploy',
  'rollback',
  'ssh',
  'execute',
  'admin',
  'generate',
  'revoke',
  'renew',
  'encrypt',
  'decrypt',
  'rotate',
  'export',
  'request_break_glass',
  'approve_break_glass',
  'revoke_break_glass',
  'lockdown',
  'read-only',
  'teleport',
];
const resources = [
  ...fixtureEntities
    .filter((e) => !['Provisioning::User', 'Provisioning::Team', 'Provisioning::Role'].includes(e.uid.type))
    .map((e) => `${e.uid.type}::"${e.uid.id}"`),
  'Provisioning::Server::"ghost"',
  'Provisioning::Team::"sre"',
  'Provisioning::User::"sam"',
];
const sessions = ['bg-sam', 'bg-sam-expired', 'bg-sam-pending', 'bg-root', 'bg-dana', 'bg-ghost'];
const teams = ['platform-admin', 'sre', 'developers', 'audit', 'security'];
const roles = ['Admin', 'Developer', 'Operator', 'Viewer', 'Auditor'];

const ipString = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      '10.0.0.5',
      '10.255.255.255',
      '11.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '172.32.0.1',
      '192.168.10.20',
      '198.51.100.7',
      '8.8.8.8',
      '127.0.0.1',
      '::1',
      'fe80::1',
      '2001:db8::42',
      '10.0.0.5/8',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('::ffff:10.0.0.1', '010.0.0.5', '10.0.0', '', '1::2::3', '10.0.0.1/33') },
  { weight: 3, arbitrary: fc.ipV4() },
  { weight: 1, arbitrary: fc.ipV6() },
);

// A context the builder makes, or one bent out of shape.
const contextInput = fc.record({
  clientIp: ipString,
  minutes: fc.integer({ min: 0, max: 7 * 24 * 60 }),
  mfaAge: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: null }),
  approvalId: fc.option(
    fc.oneof(fc.constantFrom('CHG-1', 'EMERGENCY-7', 'chg-1', 'EMERGENCY', 'CHG-', '', 'X-CHG-1'), fc.string()),
    { nil: undefined },
  ),
  session: fc.option(fc.constantFrom(...sessions), { nil: undefined }),
  force: fc.option(fc.boolean(), { nil: undefined }),
  windows: fc.boolean(),
});

type Mutation = (r: { context: Record<string, unknown>; entities: CedarEntity[] }) => void;

const pathArb = fc.constantFrom(
  ['mfa'],
  ['mfa', 'present'],
  ['mfa', 'age_seconds'],
  ['time', 'utc', 'hour'],
  ['time'],
  ['client_ip'],
  ['trusted_network'],
  ['windows', 'change_freeze'],
);
const wrongValue = fc.constantFrom<unknown>(
  'yes',
  60,
  true,
  [1],
  { a: 1 },
  { __extn: { fn: 'decimal', arg: '1.0' } },
  { __entity: { type: 'Provisioning::User', id: 'sam' } },
);

const setPath = (root: Record<string, unknown>, path: readonly string[], value: unknown) => {
  let o = root;
  for (const k of path.slice(0, -1)) {
    const next = o[k];
    if (typeof next !== 'object' || next === null) return;
    o = next as Record<string, unknown>;
  }
  const last = path[path.length - 1] as string;
  if (value === undefined) delete o[last];
  else o[last] = value;
};

const contextMutation: fc.Arbitrary<Mutation> = fc.oneof(
  pathArb.map(
    (p): Mutation =>
      (r) =>
        setPath(r.context, p, undefined),
  ),
  fc.tuple(pathArb, wrongValue).map(
    ([p, v]): Mutation =>
      (r) =>
        setPath(r.context, p, v),
  ),
  ipString.map(
    (ip): Mutation =>
      (r) =>
        setPath(r.context, ['client_ip'], { __extn: { fn: 'ip', arg: ip } }),
  ),
  fc.constant<Mutation>((r) => setPath(r.context, ['zz'], 1)),
  fc.constant<Mutation>((r) => setPath(r.context, ['mfa', 'extra'], true)),
  fc.constant<Mutation>((r) =>
    setPath(r.context, ['break_glass'], { __entity: { type: 'Provisioning::User', id: 'sam' } }),
  ),
  fc.constant<Mutation>((r) => setPath(r.context, ['windows'], { change_freeze: true })),
);

const entityMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map(
    (n): Mutation =>
      (r) =>
        void r.entities.splice(n % Math.max(1, r.entities.length), 1),
  ),
  // a missing environment, workspace or session: the policies that read it error
  fc.constantFrom('Provisioning::Environment', 'Provisioning::Workspace', 'Provisioning::BreakGlassSession').map(
    (type): Mutation =>
      (r) => {
        r.entities = r.entities.filter((e) => e.uid.type !== type);
      },
  ),
  fc.tuple(fc.nat(), fc.nat()).map(
    ([n, k]): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { attrs: Record<string, unknown> } | undefined;
        const keys = Object.keys(e?.attrs ?? {});
        if (e && keys.length > 0) delete e.attrs[keys[k % keys.length] as string];
      },
  ),
  fc.tuple(fc.nat(), fc.nat(), wrongValue).map(
    ([n, k, v]): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { attrs: Record<string, unknown> } | undefined;
        const keys = Object.keys(e?.attrs ?? {});
        if (e && keys.length > 0) e.attrs[keys[k % keys.length] as string] = v;
      },
  ),
  fc.nat().map(
    (n): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { attrs: Record<string, unknown> } | undefined;
        if (e) e.attrs.undeclared = 'x';
      },
  ),
  fc.tuple(fc.nat(), fc.constantFrom(...teams, ...roles)).map(
    ([n, g]): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { parents: unknown[] } | undefined;
        e?.parents.push({ type: teams.includes(g) ? 'Provisioning::Team' : 'Provisioning::Role', id: g });
      },
  ),
  fc.tuple(fc.nat(), fc.constantFrom('dev', 'stg', 'prod', 'ghost')).map(
    ([n, env]): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { attrs: Record<string, unknown> } | undefined;
        if (e && 'environment' in e.attrs)
          e.attrs.environment = { __entity: { type: 'Provisioning::Environment', id: env } };
      },
  ),
  fc.tuple(fc.nat(), fc.constantFrom('development', 'staging', 'production', 'Production')).map(
    ([n, tier]): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { attrs: Record<string, unknown> } | undefined;
        if (e && 'tier' in e.attrs) e.attrs.tier = tier;
      },
  ),
  fc.nat().map(
    (n): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)];
        if (e) r.entities.push(structuredClone(e)); // an equal duplicate
      },
  ),
  fc.nat().map(
    (n): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { tags?: unknown } | undefined;
        if (e) e.tags = { a: 1 };
      },
  ),
  fc.nat().map(
    (n): Mutation =>
      (r) => {
        const e = r.entities[n % Math.max(1, r.entities.length)] as { parents: unknown[] } | undefined;
        e?.parents.push({ type: 'Provisioning::Server', id: 'dev-web' }); // a parent of a type it may not have
      },
  ),
  fc.constant<Mutation>(
    (r) => void r.entities.push({ uid: { type: 'Provisioning::Robot', id: 'r2' }, attrs: {}, parents: [] }),
  ),
);

// Mostly (action, resource) pairs the schema allows, so that most requests get to the policies.
const model = schemaModel(readFileSync(join(shippedPolicyDir, 'schema.cedarschema'), 'utf8'));
const validPairs = actions.flatMap((a) => {
  const applies = model.actions.get(entityKey(ref(a, 'Provisioning')))?.appliesTo;
  return resources.filter((r) => applies?.resources.has(ref(r).type)).map((r) => [a, r] as const);
});

const randomRequest = fc.record({
  principal: fc.constantFrom(...users),
  target: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...validPairs) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...actions), fc.constantFrom(...resources)) },
  ),
  input: contextInput,
  mutations: fc.oneof(
    { weight: 3, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: fc.array(fc.oneof(contextMutation, entityMutation), { minLength: 1, maxLength: 3 }) },
  ),
  extra: fc.subarray(
    fixtureEntities.map((e) => entityKey(e.uid)),
    { maxLength: 3 },
  ),
  // a missing environment, workspace or session: the policies that read it error
  drop: fc.option(
    fc.constantFrom('Provisioning::Environment', 'Provisioning::Workspace', 'Provisioning::BreakGlassSession'),
    { freq: 2, nil: undefined },
  ),
});

const plain = createContextBuilder({ trustedRanges: ['198.51.100.0/24', '2001:db8::/32'] });
const withWindows = createContextBuilder({
  windows: {
    change_freeze: { days: [5], start: '12:00', end: '23:59' },
    business_hours: { start: '08:00', end: '18:00' },
  },
});

function build(sample: typeof randomRequest extends fc.Arbitrary<infer T> ? T : never): Request {
  const { input } = sample;
  const at = TUESDAY_10_UTC - 2 * 24 * 3600_000 + input.minutes * 60_000;
  let context: Record<string, unknown>;
  try {
    context = (input.windows ? withWindows : plain).build({
      clientIp: input.clientIp,
      at,
      mfaVerifiedAt: input.mfaAge === null ? null : at - input.mfaAge * 1000,
      ...(input.approvalId === undefined ? {} : { approvalId: input.approvalId }),
      ...(input.session === undefined
        ? {}
        : { breakGlassSession: `Provisioning::BreakGlassSession::"${input.session}"` }),
      ...(input.force === undefined ? {} : { force: input.force }),
    });
  } catch {
    context = plain.build({ clientIp: '10.0.0.5', at });
    setPath(context, ['client_ip'], { __extn: { fn: 'ip', arg: input.clientIp } });
  }
  const principal = ref(`Provisioning::User::"${sample.principal}"`);
  const [action, target] = sample.target;
  const resource = ref(target);
  const roots = [principal, resource];
  forEachEntityRef(context, (x) => roots.push(x));
  for (const k of sample.extra) roots.push((pool.get(k) as CedarEntity).uid);
  const r = {
    context,
    entities: structuredClone(closure(roots, pool)).filter((e) => e.uid.type !== sample.drop),
  };
  for (const m of sample.mutations) m(r);
  return { principal, action: ref(action, 'Provisioning'), resource, ...r };
}

describe('compiled path = cedar-wasm on random requests over the shipped policies', () => {
  it('agrees on 3,000 random requests, contexts and entity sets', () => {
    const t = tally();
    fc.assert(
      fc.property(randomRequest, (sample) => {
        const { compiled, wasm } = both(d, build(sample), t);
        expect(compiled).toEqual(wasm);
      }),
      { numRuns: 3000 },
    );
    // The comparison is only worth something if the compiled path decided, and
    // if the runs covered allows, denies with errors and failed requests.
    expect(t.decided).toBeGreaterThan(t.declined * 4);
    expect(t.allowed).toBeGreaterThan(100);
    expect(t.errored).toBeGreaterThan(50);
    expect(t.failures).toBeGreaterThan(100);
  }, 120_000);
});

describe('compiled path on entity snapshots (the entity cache) = on plain entities = cedar-wasm', () => {
  it('agrees on 1,500 random requests whose entities are shared snapshots, each decided twice', () => {
    // Snapshots are shared across requests whenever the content is the same
    // (as the entity cache shares them across decisions), so the memoised
    // conversion of one is reused by requests with other contexts, other
    // principals and other neighbours; a mutated entity gets its own.
    const shared = new Map<string, { content: unknown; snap: CedarEntity }[]>();
    const snapshotOf = (e: CedarEntity): CedarEntity => {
      const key = JSON.stringify(e.uid ?? null);
      const bucket = shared.get(key) ?? [];
      shared.set(key, bucket);
      const found = bucket.find((b) => isDeepStrictEqual(b.content, e));
      if (found) {
        reused++;
        return found.snap;
      }
      const snap = snapshotEntity(e);
      bucket.push({ content: structuredClone(e), snap });
      return snap;
    };
    const t = tally();
    let snapshots = 0;
    let reused = 0;
    fc.assert(
      fc.property(randomRequest, (sample) => {
        const r = build(sample);
        const plain = d.compiled(r);
        const entities = (r.entities as CedarEntity[]).map(snapshotOf);
        snapshots += entities.filter(isEntitySnapshot).length;
        const first = d.compiled({ ...r, entities });
        const second = d.compiled({ ...r, entities });
        // The whole answer (messages too) is the plain entities' answer, the
        // first time (conversions made) and the second (conversions kept)…
        expect(first).toEqual(plain);
        expect(second).toEqual(plain);
        // …and that one is cedar-wasm's.
        const { compiled, wasm } = both(d, r, t);
        expect(compiled).toEqual(wasm);
      }),
      { numRuns: 1500 },
    );
    expect(snapshots).toBeGreaterThan(5000);
    expect(reused).toBeGreaterThan(snapshots / 2);
    expect(t.decided).toBeGreaterThan(t.declined * 4);
    expect(t.allowed).toBeGreaterThan(50);
    expect(t.errored).toBeGreaterThan(25);
    expect(t.failures).toBeGreaterThan(50);
  }, 120_000);
});
