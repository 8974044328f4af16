// The entity cache hands out frozen snapshots, and the authorizer keeps what
// it derives from each snapshot (its links; on the compiled path its
// conversion and schema check). These tests pin down that nothing kept
// outlives the entity it was derived from: a changed entity is seen by the
// next decision as soon as the cache drops the old one (invalidate, TTL),
// whether the provider changed its object or replaced it, and a decision
// from cached entities is the decision from the same entities passed inline.

import { createManualClock } from '@provisioning/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuthorizationRequest, type Authorizer, createAuthorizer } from '../src/authorizer.js';
import { createContextBuilder } from '../src/context.js';
import { type CachedEntityProvider, cachedEntityProvider, closure, type EntityProvider } from '../src/entities.js';
import { shippedPolicyDir } from '../src/shipped.js';
import { type CedarEntity, entityKey, forEachEntityRef, parseEntityRef } from '../src/uid.js';
import { fixtureEntities, TUESDAY_10_UTC, user } from './helpers.js';

const contexts = createContextBuilder();
const ctx = (over: Parameters<typeof contexts.build>[0] extends infer T ? Partial<T> : never = {}) =>
  contexts.build({ clientIp: '10.0.0.5', at: TUESDAY_10_UTC, mfaVerifiedAt: TUESDAY_10_UTC - 60_000, ...over });

const samDeploys: AuthorizationRequest = {
  principal: user('sam'),
  action: 'deploy',
  resource: 'Provisioning::Server::"prod-web"',
  context: ctx({ approvalId: 'CHG-1' }),
};

/** A provider over a live map: it returns its own objects, which a test may change or replace. */
function liveProvider(): EntityProvider & { byKey: Map<string, CedarEntity> } {
  const byKey = new Map(structuredClone(fixtureEntities).map((e) => [entityKey(e.uid), e]));
  return {
    id: 'live',
    byKey,
    load: async (uids) => uids.flatMap((u) => byKey.get(entityKey(u)) ?? []),
  };
}

const key = (text: string) => entityKey(parseEntityRef(text));

describe.each(['compiled', 'wasm'] as const)('%s path: entity cache freshness', (evaluation) => {
  let inner: ReturnType<typeof liveProvider>;
  let clock: ReturnType<typeof createManualClock>;
  let cache: CachedEntityProvider;
  let authz: Authorizer;
  beforeEach(async () => {
    inner = liveProvider();
    clock = createManualClock(0);
    cache = cachedEntityProvider(inner, { ttlSeconds: 60, clock });
    authz = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir, entities: cache });
  });
  afterEach(() => authz.close());

  it('a replaced entity is seen by the next decision after invalidate', async () => {
    expect((await authz.authorize(samDeploys)).decision).toBe('allow');
    expect((await authz.authorize(samDeploys)).decision).toBe('allow'); // from the cache
    const sam = inner.byKey.get(key(user('sam'))) as CedarEntity;
    inner.byKey.set(key(user('sam')), { ...sam, parents: [] }); // sam leaves the sre team
    expect((await authz.authorize(samDeploys)).decision).toBe('allow'); // still cached: within the TTL
    cache.invalidate(parseEntityRef(user('sam')));
    expect(await authz.authorize(samDeploys)).toMatchObject({ decision: 'deny', policyIds: [] });
  });

  it('an entity changed in place by the provider is seen after the TTL, never half-seen before', async () => {
    expect((await authz.authorize(samDeploys)).decision).toBe('allow');
    const sam = inner.byKey.get(key(user('sam'))) as unknown as { parents: unknown[] };
    sam.parents.length = 0; // the same object, changed
    // The cache holds a snapshot: the decision is still the one of the entity as loaded.
    expect((await authz.authorize(samDeploys)).decision).toBe('allow');
    clock.advance(60_001);
    expect(await authz.authorize(samDeploys)).toMatchObject({ decision: 'deny', policyIds: [] });
    sam.parents.push({ type: 'Provisioning::Team', id: 'sre' });
    clock.advance(60_001);
    expect((await authz.authorize(samDeploys)).decision).toBe('allow');
  });

  it('an entity that stops matching the schema fails the next decision after invalidate, and passes once fixed', async () => {
    const prodKey = key('Provisioning::Environment::"prod"');
    const prod = inner.byKey.get(prodKey) as CedarEntity;
    const prodRef = parseEntityRef('Provisioning::Environment::"prod"');
    expect((await authz.authorize(samDeploys)).decision).toBe('allow');
    inner.byKey.set(prodKey, { ...prod, attrs: { ...prod.attrs, tier: 3 } }); // tier must be a String
    cache.invalidate(prodRef);
    const broken = await authz.authorize(samDeploys);
    expect(broken).toMatchObject({ decision: 'deny', allowed: false, failedClosed: true, policyIds: [] });
    expect(broken.errors.length).toBeGreaterThan(0);
    expect(await authz.authorize(samDeploys)).toEqual(broken); // the kept check fails again
    inner.byKey.set(prodKey, prod);
    cache.invalidate(prodRef);
    expect(await authz.authorize(samDeploys)).toMatchObject({ decision: 'allow', errors: [] });
  });

  it('decides with cached entities exactly as with the same entities inline, answered at once or not', async () => {
    const pool = new Map(fixtureEntities.map((e) => [entityKey(e.uid), e]));
    const asyncOnly: EntityProvider = { id: 'async', load: (uids) => inner.load(uids) };
    const other = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir, entities: asyncOnly });
    try {
      const requests: AuthorizationRequest[] = [];
      for (const u of ['root', 'sam', 'dana', 'avery', 'sec', 'vic', 'nobody'])
        for (const action of ['read', 'deploy', 'delete', 'ssh', 'export'])
          for (const resource of [
            'Provisioning::Server::"prod-web"',
            'Provisioning::Server::"stg-web"',
            'Provisioning::AuditLog::"main"',
          ])
            requests.push({
              principal: user(u),
              action,
              resource,
              context: ctx({
                approvalId: 'EMERGENCY-1',
                breakGlassSession: 'Provisioning::BreakGlassSession::"bg-sam"',
              }),
            });
      for (const r of requests) await authz.authorize(r); // fill the cache
      const decisions = new Set<string>();
      for (const r of requests) {
        const roots = [parseEntityRef(r.principal), parseEntityRef(r.resource)];
        forEachEntityRef(r.context, (x) => roots.push(x));
        const inline = authz.authorizeSync({ ...r, entities: closure(roots, pool) });
        const cached = await authz.authorize(r); // every level answered by loadSync
        const loaded = await other.authorize(r); // every level awaited
        expect({ r, d: cached }).toEqual({ r, d: inline });
        expect({ r, d: loaded }).toEqual({ r, d: inline });
        decisions.add(`${cached.decision}:${cached.failedClosed}`);
      }
      expect(decisions).toEqual(new Set(['allow:false', 'deny:false', 'deny:true']));
    } finally {
      other.close();
    }
  });
});
