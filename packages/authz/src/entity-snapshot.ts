// Frozen snapshots of the entities the entity cache hands out. A snapshot is
// a deep copy of a JSON-shaped entity, frozen and registered here, so its
// content cannot change for as long as the object lives: whatever is derived
// from its content alone (its uid key and the uids it references, here; its
// conversion and schema check on the compiled path, in compiled/request.ts)
// can be kept beside it, keyed by the object. A changed entity is never the
// same snapshot: the cache makes a new one on every load from its inner
// provider, so nothing derived from the old content is used for the new.
// Only objects made by `snapshotEntity` are registered; an entity passed
// inline, or by another provider, is a caller's object that may change
// between decisions, and everything about it is computed afresh each time.

import { type CedarEntity, type EntityRef, entityKey, forEachEntityRef, MAX_VALUE_DEPTH } from './uid.js';

const snapshots = new WeakSet<object>();

/** Returned by `copy` for a value that is not plain JSON data. */
const NOT_JSON: unique symbol = Symbol('not JSON');

/**
 * A frozen deep copy of `value` when it is JSON data (primitives, `null`,
 * `undefined`, dense arrays, objects with the plain or the null prototype
 * whose own properties are enumerable string-keyed data properties), else
 * `NOT_JSON`. Such a copy cannot be told apart from the original by anything
 * that reads it (the compiled path, cedar-wasm's conversion), which is what
 * makes it a faithful snapshot.
 */
function copy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'number':
    case 'undefined':
      return value;
    case 'object':
      break;
    default:
      return NOT_JSON;
  }
  if (value === null) return null;
  // Deeper than any value the authorizer accepts elsewhere (and a cyclic object).
  if (depth > MAX_VALUE_DEPTH + 2) return NOT_JSON;
  const proto = Object.getPrototypeOf(value);
  const keys = Reflect.ownKeys(value);
  if (Array.isArray(value)) {
    if (proto !== Array.prototype || keys.length !== value.length + 1) return NOT_JSON;
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const d = Object.getOwnPropertyDescriptor(value, i);
      if (d === undefined || !('value' in d) || !d.enumerable) return NOT_JSON;
      const v = copy(d.value, depth + 1);
      if (v === NOT_JSON) return NOT_JSON;
      out[i] = v;
    }
    return Object.freeze(out);
  }
  if (proto !== Object.prototype && proto !== null) return NOT_JSON;
  const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
  for (const key of keys) {
    if (typeof key !== 'string') return NOT_JSON;
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (d === undefined || !('value' in d) || !d.enumerable) return NOT_JSON;
    const v = copy(d.value, depth + 1);
    if (v === NOT_JSON) return NOT_JSON;
    out[key] = v;
  }
  return Object.freeze(out);
}

/**
 * A frozen snapshot of an entity as it is now, or the entity itself when it
 * is not plain JSON data (or has no `parents` array): such an entity is used
 * as before, with nothing kept about it.
 *
 * A snapshot cannot change, so the authorizer converts and checks it once
 * and reuses that work in every decision it is passed to (inline or from a
 * provider); a plain object is converted afresh each time. For callers that
 * send the same inline entity with many decisions (the middleware's principal).
 *
 * @example
 * ```ts
 * const alice = snapshotEntity({ uid: { type: 'Provisioning::User', id: 'alice' }, attrs: {}, parents: [] });
 * Object.isFrozen(alice); // true
 * ```
 */
export function snapshotEntity(entity: CedarEntity): CedarEntity {
  if (snapshots.has(entity)) return entity;
  const snap = copy(entity, 0);
  if (snap === NOT_JSON || typeof snap !== 'object' || snap === null || Array.isArray(snap)) return entity;
  const e = snap as CedarEntity;
  if (!Array.isArray(e.parents) || typeof e.uid !== 'object' || e.uid === null) return entity;
  snapshots.add(e);
  return e;
}

/** Whether `value` was made by {@link snapshotEntity} (and so can never change). */
export function isEntitySnapshot(value: unknown): boolean {
  return typeof value === 'object' && value !== null && snapshots.has(value);
}

/** An entity's uid key and the uids it references: its parents, then the entities its attributes name. */
export interface EntityLinks {
  readonly key: string;
  readonly refs: readonly EntityRef[];
  readonly refKeys: readonly string[];
}

const links = new WeakMap<CedarEntity, EntityLinks>();
// The keys of the uids in snapshots' links: frozen data objects made here (a
// snapshot's parents, and the uids read from its attributes), so a key kept
// for one stays right. Building a key and hashing the new string costs more
// than the lookup it serves.
const refKeys = new WeakMap<EntityRef, string>();

/**
 * {@link EntityLinks} of an entity: computed once for a snapshot (its content
 * cannot change), afresh for any other entity.
 */
export function entityLinks(entity: CedarEntity): EntityLinks {
  const kept = links.get(entity);
  if (kept) return kept;
  const frozen = snapshots.has(entity);
  const refs: EntityRef[] = [...entity.parents];
  forEachEntityRef(entity.attrs, (r) => refs.push(frozen ? Object.freeze(r) : r));
  const l: EntityLinks = { key: entityKey(entity.uid), refs, refKeys: refs.map(entityKey) };
  if (frozen) {
    for (let i = 0; i < refs.length; i++) refKeys.set(refs[i] as EntityRef, l.refKeys[i] as string);
    Object.freeze(refs);
    Object.freeze(l.refKeys);
    links.set(entity, Object.freeze(l));
  }
  return l;
}

/** {@link entityKey} of an entity's uid, kept for a snapshot. */
export function keyOfEntity(entity: CedarEntity): string {
  return snapshots.has(entity) ? entityLinks(entity).key : entityKey(entity.uid);
}

/** {@link entityKey} of a uid, kept for the uids in a snapshot's links. */
export function keyOfRef(ref: EntityRef): string {
  return refKeys.get(ref) ?? entityKey(ref);
}
