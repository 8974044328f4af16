import { type Clock, systemClock } from '@provisioning/core';
import { AuthzError } from './errors.js';
import { type CedarEntity, type EntityRef, entityKey, forEachEntityRef } from './uid.js';

/**
 * Loads entities for decisions. `load` returns the entities it knows among
 * `uids` (unknown ones are simply absent); the authorizer follows `parents`
 * and entity-valued attributes and asks again for those, so a provider only
 * answers for the uids it is given.
 */
export interface EntityProvider {
  readonly id: string;
  /** Loads the entities with these uids. Rejecting makes the decision reject. */
  load(uids: readonly EntityRef[]): Promise<readonly CedarEntity[]>;
}

/**
 * A provider over a fixed list of entities (tests, quick starts, small
 * deployments that load entities from a file).
 *
 * @example
 * ```ts
 * const provider = staticEntityProvider([{ uid: { type: 'Provisioning::Team', id: 'sre' }, attrs: { name: 'sre' }, parents: [] }]);
 * ```
 */
export function staticEntityProvider(entities: readonly CedarEntity[]): EntityProvider {
  const byKey = new Map(entities.map((e) => [entityKey(e.uid), e]));
  return {
    id: 'static',
    load: async (uids) => uids.flatMap((u) => byKey.get(entityKey(u)) ?? []),
  };
}

/** Options of {@link cachedEntityProvider}. */
export interface CachedEntityProviderOptions {
  /** How long a loaded entity is reused, in seconds. Default 30. */
  readonly ttlSeconds?: number;
  /** The most entities kept; the least recently used go first. Default 10,000. */
  readonly maxEntries?: number;
  /** Time source for expiry. Default `systemClock`. */
  readonly clock?: Clock;
}

/** A caching {@link EntityProvider}, with `invalidate` for when an entity changes. */
export interface CachedEntityProvider extends EntityProvider {
  /** Drops one entity (or everything) from the cache. */
  invalidate(uid?: EntityRef): void;
  /** Number of cached entities. */
  readonly size: number;
}

/**
 * Wraps a provider with a bounded LRU cache with a TTL. Concurrent loads of
 * the same uid share one call to the inner provider. Unknown uids are not
 * cached, so a newly created user is seen at once; a changed or removed
 * entity is seen after at most `ttlSeconds` unless you `invalidate` it —
 * keep the TTL short for entities whose membership grants rights.
 *
 * @throws AuthzError `ERR_AUTHZ_INVALID_OPTIONS` for a bad TTL or size.
 * @example
 * ```ts
 * const entities = cachedEntityProvider(myDatabaseProvider, { ttlSeconds: 10, maxEntries: 5000 });
 * const authz = await createAuthorizer({ policyDir, entities });
 * ```
 */
export function cachedEntityProvider(
  inner: EntityProvider,
  options: CachedEntityProviderOptions = {},
): CachedEntityProvider {
  const ttlSeconds = options.ttlSeconds ?? 30;
  const maxEntries = options.maxEntries ?? 10_000;
  const clock = options.clock ?? systemClock;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new AuthzError('ttlSeconds must be a positive number', {
      code: 'ERR_AUTHZ_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new AuthzError('maxEntries must be a positive integer', {
      code: 'ERR_AUTHZ_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const ttlMs = ttlSeconds * 1000;
  const cache = new Map<string, { entity: CedarEntity; expiresAt: number }>();
  const inflight = new Map<string, Promise<CedarEntity | undefined>>();

  const put = (entity: CedarEntity): void => {
    const key = entityKey(entity.uid);
    cache.delete(key);
    cache.set(key, { entity, expiresAt: clock.now() + ttlMs });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value as string;
      cache.delete(oldest);
    }
  };

  return {
    id: `cached(${inner.id})`,
    get size() {
      return cache.size;
    },
    invalidate(uid) {
      if (uid) cache.delete(entityKey(uid));
      else cache.clear();
    },
    async load(uids) {
      const now = clock.now();
      const found: CedarEntity[] = [];
      const waits: Promise<CedarEntity | undefined>[] = [];
      const missing: EntityRef[] = [];
      for (const uid of uids) {
        const key = entityKey(uid);
        const hit = cache.get(key);
        if (hit && hit.expiresAt > now) {
          // refresh recency (LRU)
          cache.delete(key);
          cache.set(key, hit);
          found.push(hit.entity);
          continue;
        }
        if (hit) cache.delete(key);
        const pending = inflight.get(key);
        if (pending) waits.push(pending);
        else missing.push(uid);
      }
      if (missing.length > 0) {
        const batch = inner.load(missing).then((list) => {
          for (const e of list) put(e);
          return new Map(list.map((e) => [entityKey(e.uid), e]));
        });
        for (const uid of missing) {
          const key = entityKey(uid);
          const one = batch.then((m) => m.get(key));
          inflight.set(key, one);
          waits.push(one);
          const clear = () => {
            if (inflight.get(key) === one) inflight.delete(key);
          };
          one.then(clear, clear);
        }
      }
      for (const e of await Promise.all(waits)) if (e) found.push(e);
      return found;
    },
  };
}

/** Limits of the entity closure a decision loads. */
const MAX_ROUNDS = 8;
const MAX_ENTITIES = 2_000;

/** One decision's starting points for {@link collectEntities}: its roots and its inline entities. */
export interface EntityRequest {
  readonly roots: readonly EntityRef[];
  /** Entities the caller passed for this decision: never asked of the provider, but followed. */
  readonly inline: ReadonlyMap<string, CedarEntity>;
}

/**
 * Collects the entities decisions need: each request's roots, then (level by
 * level) their parents and every entity their attributes reference, from the
 * request's own inline entities first and then from `provider`, with one
 * provider call per level for all requests together.
 */
export async function collectEntities(
  requests: readonly EntityRequest[],
  provider: EntityProvider | undefined,
  loaded: Map<string, CedarEntity>,
): Promise<void> {
  type Item = { readonly uid: EntityRef; readonly req: number };
  let frontier: Item[] = requests.flatMap((r, req) => r.roots.map((uid) => ({ uid, req })));
  const seen = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS && frontier.length > 0; round++) {
    const current: Item[] = [];
    const wanted = new Map<string, EntityRef>();
    for (const item of frontier) {
      const key = entityKey(item.uid);
      const seenKey = `${item.req}\u0001${key}`;
      if (seen.has(seenKey)) continue;
      seen.add(seenKey);
      current.push(item);
      if (!requests[item.req]?.inline.has(key) && !loaded.has(key)) wanted.set(key, item.uid);
    }
    if (wanted.size > 0 && provider) {
      let list: readonly CedarEntity[];
      try {
        list = await provider.load([...wanted.values()]);
      } catch (cause) {
        throw new AuthzError('the entity provider failed', {
          code: 'ERR_AUTHZ_ENTITY_PROVIDER',
          fault: 'server',
          retryable: true,
          cause,
          details: { provider: provider.id },
        });
      }
      for (const e of list) loaded.set(entityKey(e.uid), e);
    }
    const next: Item[] = [];
    for (const item of current) {
      const key = entityKey(item.uid);
      const e = requests[item.req]?.inline.get(key) ?? loaded.get(key);
      if (!e) continue;
      for (const p of e.parents) next.push({ uid: p, req: item.req });
      forEachEntityRef(e.attrs, (r) => next.push({ uid: r, req: item.req }));
    }
    frontier = next;
    if (loaded.size > MAX_ENTITIES) break;
  }
}

/**
 * Picks from `pool` the entities reachable from `roots` through parents and
 * entity-valued attributes: only these are sent to Cedar, whose cost grows
 * with every entity passed.
 */
export function closure(
  roots: readonly EntityRef[],
  pool: { get(key: string): CedarEntity | undefined },
): CedarEntity[] {
  const out: CedarEntity[] = [];
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const uid = stack.pop() as EntityRef;
    const key = entityKey(uid);
    if (seen.has(key)) continue;
    seen.add(key);
    const e = pool.get(key);
    if (!e) continue;
    out.push(e);
    for (const p of e.parents) stack.push(p);
    forEachEntityRef(e.attrs, (r) => stack.push(r));
  }
  return out;
}
