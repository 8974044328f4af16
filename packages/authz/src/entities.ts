import { type Clock, systemClock } from '@provisioning/core';
import { entityLinks, keyOfEntity, keyOfRef, snapshotEntity } from './entity-snapshot.js';
import { AuthzError } from './errors.js';
import { type CedarEntity, type EntityRef, entityKey } from './uid.js';

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
  /**
   * Optional: answers exactly as `load` would, synchronously, when it can do
   * so without waiting for anything (every uid is in memory); `undefined`
   * means "call `load`". The authorizer asks this first at every level of an
   * entity load, so a decision whose entities are all at hand does not wait
   * for the event loop. Throwing makes the decision reject, as `load`
   * rejecting does.
   */
  loadSync?(uids: readonly EntityRef[]): readonly CedarEntity[] | undefined;
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
  const get = (uids: readonly EntityRef[]): CedarEntity[] => {
    const found: CedarEntity[] = [];
    for (const u of uids) {
      const e = byKey.get(entityKey(u));
      if (e !== undefined) found.push(e);
    }
    return found;
  };
  return {
    id: 'static',
    load: async (uids) => get(uids),
    loadSync: get,
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
 * The cache keeps and returns a frozen copy of each entity as the inner
 * provider gave it, so a change the inner provider makes to its own objects
 * is seen, like any other change, when the entry is reloaded (after the TTL
 * or `invalidate`). The authorizer keeps its work on each copy (links,
 * schema checks) and reuses it until then. Cached entities are also answered
 * synchronously (`loadSync`), and so are misses when the inner provider
 * has a `loadSync` of its own (an in-memory provider), so a decision whose
 * entities are all cached, or all in memory, does not wait for the event
 * loop — including one that names uids nobody knows (which stay uncached).
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

  // Security: the cache keeps a frozen snapshot of each entity as the inner
  // provider returned it (see entity-snapshot.ts), and hands out only that.
  // What the authorizer derives from a snapshot (its links, its converted and
  // schema-checked form) is kept per snapshot object, so it is valid exactly
  // as long as the entry: a reload after the TTL or an `invalidate` makes a
  // new snapshot, and an inner provider that changes its objects in place
  // cannot change an entity behind the cache's back.
  const put = (entity: CedarEntity): CedarEntity => {
    const key = entityKey(entity.uid);
    const snap = snapshotEntity(entity);
    cache.delete(key);
    cache.set(key, { entity: snap, expiresAt: clock.now() + ttlMs });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value as string;
      cache.delete(oldest);
    }
    return snap;
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
    loadSync(uids) {
      // Answers exactly as `load` would, or not at all: fresh hits from the
      // cache, and the misses from the inner provider's own `loadSync` when it
      // has one (an in-memory inner provider: `load` would ask it the same and
      // get the same answer, so nothing is cached that `load` would not cache;
      // unknown uids stay uncached). A miss that is in flight, or an inner
      // provider that cannot answer synchronously, means "call `load`".
      const now = clock.now();
      const hits: [string, { entity: CedarEntity; expiresAt: number }][] = [];
      let missing: EntityRef[] | undefined;
      for (const uid of uids) {
        const key = keyOfRef(uid);
        const hit = cache.get(key);
        if (hit && hit.expiresAt > now) {
          hits.push([key, hit]);
          continue;
        }
        if (inner.loadSync === undefined || inflight.has(key)) return undefined;
        missing ??= [];
        missing.push(uid);
      }
      const fromInner = missing === undefined ? undefined : inner.loadSync?.(missing);
      if (missing !== undefined && fromInner === undefined) return undefined;
      const found: CedarEntity[] = [];
      for (const [key, hit] of hits) {
        // refresh recency (LRU)
        cache.delete(key);
        cache.set(key, hit);
        found.push(hit.entity);
      }
      if (missing !== undefined && fromInner !== undefined) {
        // As `load` does: an expired entry goes, what the inner provider
        // answered is cached, and only the uids asked for are returned.
        for (const uid of missing) cache.delete(keyOfRef(uid));
        const byKey = new Map<string, CedarEntity>();
        for (const e of fromInner) {
          const snap = put(e);
          byKey.set(entityKey(snap.uid), snap);
        }
        for (const uid of missing) {
          const e = byKey.get(entityKey(uid));
          if (e) found.push(e);
        }
      }
      return found;
    },
    async load(uids) {
      const now = clock.now();
      const found: CedarEntity[] = [];
      const waits: Promise<CedarEntity | undefined>[] = [];
      const missing: EntityRef[] = [];
      for (const uid of uids) {
        const key = keyOfRef(uid);
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
          const byKey = new Map<string, CedarEntity>();
          for (const e of list) {
            const snap = put(e);
            byKey.set(entityKey(snap.uid), snap);
          }
          return byKey;
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
 * provider call per level for all requests together. Each level asks the
 * provider's `loadSync` first: when every level is answered that way, the
 * whole collection runs synchronously and `undefined` is returned; otherwise
 * the returned promise settles when it is done.
 *
 * @throws AuthzError `ERR_AUTHZ_ENTITY_PROVIDER` (thrown or rejected) when the provider fails.
 */
export function collectEntities(
  requests: readonly EntityRequest[],
  provider: EntityProvider | undefined,
  loaded: Map<string, CedarEntity>,
): Promise<void> | undefined {
  return new Collection(requests, provider, loaded).run();
}

type Item = { readonly uid: EntityRef; readonly key: string; readonly req: number };

/** The state of one {@link collectEntities} (a class: its steps are not closures made per call). */
class Collection {
  #frontier: Item[] = [];
  #current: Item[] = [];
  #round = 0;
  readonly #seen: Set<string>[];

  constructor(
    readonly requests: readonly EntityRequest[],
    readonly provider: EntityProvider | undefined,
    readonly loaded: Map<string, CedarEntity>,
  ) {
    for (let req = 0; req < requests.length; req++) {
      for (const uid of (requests[req] as EntityRequest).roots) this.#frontier.push({ uid, key: entityKey(uid), req });
    }
    this.#seen = requests.map(() => new Set<string>());
  }

  run(): Promise<void> | undefined {
    const { provider } = this;
    while (this.#round < MAX_ROUNDS && this.#frontier.length > 0) {
      const wanted = this.#select();
      let list: readonly CedarEntity[] | undefined = NONE;
      if (wanted.length > 0 && provider) {
        try {
          list = provider.loadSync?.(wanted);
        } catch (cause) {
          throw providerFailed(provider, cause);
        }
        if (list === undefined) {
          return loadAsync(provider, wanted).then((answer) => (this.#advance(answer) ? undefined : this.run()));
        }
      }
      if (this.#advance(list)) break;
    }
    return undefined;
  }

  /** This level's items not seen before (per request), and the uids to ask the provider for. */
  #select(): EntityRef[] {
    const { requests, loaded } = this;
    const current: Item[] = [];
    const wanted = new Map<string, EntityRef>();
    for (const item of this.#frontier) {
      const seen = this.#seen[item.req] as Set<string>;
      if (seen.has(item.key)) continue;
      seen.add(item.key);
      current.push(item);
      if (!requests[item.req]?.inline.has(item.key) && !loaded.has(item.key)) wanted.set(item.key, item.uid);
    }
    this.#current = current;
    return [...wanted.values()];
  }

  /** Stores what the provider answered and moves to the next level; true when the load must stop. */
  #advance(list: readonly CedarEntity[]): boolean {
    const { requests, loaded } = this;
    for (const e of list) loaded.set(keyOfEntity(e), e);
    const next: Item[] = [];
    for (const item of this.#current) {
      const e = requests[item.req]?.inline.get(item.key) ?? loaded.get(item.key);
      if (!e) continue;
      const { refs, refKeys } = entityLinks(e);
      for (let i = 0; i < refs.length; i++) {
        next.push({ uid: refs[i] as EntityRef, key: refKeys[i] as string, req: item.req });
      }
    }
    this.#frontier = next;
    this.#round++;
    return loaded.size > MAX_ENTITIES;
  }
}

const NONE: readonly CedarEntity[] = Object.freeze([]);

async function loadAsync(provider: EntityProvider, uids: readonly EntityRef[]): Promise<readonly CedarEntity[]> {
  try {
    return await provider.load(uids);
  } catch (cause) {
    throw providerFailed(provider, cause);
  }
}

function providerFailed(provider: EntityProvider, cause: unknown): AuthzError {
  return new AuthzError('the entity provider failed', {
    code: 'ERR_AUTHZ_ENTITY_PROVIDER',
    fault: 'server',
    retryable: true,
    cause,
    details: { provider: provider.id },
  });
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
  const stack = roots.map(entityKey);
  while (stack.length > 0) {
    const key = stack.pop() as string;
    if (seen.has(key)) continue;
    seen.add(key);
    const e = pool.get(key);
    if (!e) continue;
    out.push(e);
    for (const k of entityLinks(e).refKeys) stack.push(k);
  }
  return out;
}
