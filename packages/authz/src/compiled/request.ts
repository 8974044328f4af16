// Request-time schema checks and the conversion of the request's JSON (context
// and entities) into Cedar values. cedar-wasm, called with a schema and
// `validateRequest: true`, rejects the whole request when the action is not
// declared, when the principal or resource type is not one the action
// applies to, when the context does not have the action's context type, or
// when an entity does not conform to its declared type (undeclared type,
// missing or undeclared attribute, attribute of the wrong type, parent of a
// type it may not have, a tag, a cycle in the hierarchy). These checks
// reproduce exactly those (each is tested against cedar-wasm), and a request
// in a shape whose treatment by cedar-wasm is not pinned down here is
// declined, so cedar-wasm decides it.

import { isEntitySnapshot } from '../entity-snapshot.js';
import { INVALID, parseDecimal, parseIp } from './extensions.js';
import type { ActionModel, RecordType, SchemaModel, SchemaType } from './schema.js';
import { type CedarRecord, CedarSet, DECLINE, EntityUid, equals, type Value } from './values.js';

/** The request does not conform to the schema: cedar-wasm answers `failure` for it. */
export class RequestFailure {
  constructor(readonly message: string) {}
}

/** An entity of the request, converted. */
export interface StoredEntity {
  readonly uid: EntityUid;
  readonly attrs: CedarRecord;
  readonly parents: readonly EntityUid[];
}

const NO_ATTRS: CedarRecord = new Map();

function fail(message: string): never {
  throw new RequestFailure(message);
}

function decline(): never {
  throw DECLINE;
}

// cedar-wasm reads strings as UTF-8, replacing lone surrogates: such a string
// would mean something else there, so it is declined.
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** An own field, `undefined` when absent; an own field holding `undefined` or `null` is declined. */
function field(o: Record<string, unknown>, name: string): unknown {
  if (!Object.hasOwn(o, name)) return undefined;
  return o[name] ?? decline();
}

/** Whether a type name is an action type (`Action`, `Ns::Action`). */
export function isActionType(type: string): boolean {
  return type === 'Action' || type.endsWith('::Action');
}

/**
 * A value cedar-wasm rejects in a slot of another type, whatever it holds (a
 * JSON primitive, array or object: no escape makes a value of another type
 * fit, tested); anything that is not JSON (`null`, fractions, class
 * instances) is declined.
 */
function wrongType(v: unknown, where: string): never {
  const json =
    typeof v === 'boolean' ||
    typeof v === 'string' ||
    (typeof v === 'number' && Number.isSafeInteger(v)) ||
    Array.isArray(v) ||
    isPlainObject(v);
  return json ? fail(`${where} has the wrong type`) : decline();
}

/** `{ __entity: { type, id } }` or `{ type, id }` (strings), else `undefined`. */
function entityJson(v: unknown): EntityUid | undefined {
  if (!isPlainObject(v)) return undefined;
  const keys = Object.keys(v);
  let inner: Record<string, unknown> = v;
  if (keys.length === 1 && keys[0] === '__entity') {
    if (!isPlainObject(v.__entity)) return undefined;
    inner = v.__entity;
    if (Object.keys(inner).length !== 2) return undefined;
  } else if (keys.length !== 2) return undefined;
  const { type, id } = inner;
  if (typeof type !== 'string' || typeof id !== 'string' || !wellFormed(id)) return undefined;
  return new EntityUid(type, id);
}

const EXTENSION_FN = { ipaddr: 'ip', decimal: 'decimal' } as const;

// cedar-wasm takes an extension value as `{ __extn: { fn, arg } }`, as
// `{ fn, arg }` and as the constructor's string alone (all tested).
function extension(v: unknown, kind: 'ipaddr' | 'decimal', where: string): Value {
  let arg: unknown = v;
  if (isPlainObject(v)) {
    const escaped = Object.hasOwn(v, '__extn') && Object.keys(v).length === 1;
    const call = escaped ? v.__extn : v;
    const keys = isPlainObject(call) ? Object.keys(call) : [];
    if (!isPlainObject(call) || keys.length !== 2 || !Object.hasOwn(call, 'fn') || !Object.hasOwn(call, 'arg')) {
      // A record is a value of the wrong type; other calls (`args`, …) are cedar-wasm's business.
      return escaped || Object.hasOwn(v, 'fn') ? decline() : wrongType(v, where);
    }
    if (typeof call.fn !== 'string') return decline();
    // Another function makes a value of another type (or does not exist): an error either way.
    if (call.fn !== EXTENSION_FN[kind]) fail(`${where} has the wrong type`);
    arg = call.arg;
  }
  if (typeof arg !== 'string') return wrongType(arg, where);
  const value = kind === 'ipaddr' ? parseIp(arg) : parseDecimal(arg);
  if (value === INVALID) fail(`${where} is not a valid ${kind}`);
  return value ?? decline();
}

/** Converts a JSON value to a Cedar value of the given schema type. */
export function toValue(v: unknown, type: SchemaType, where: string): Value {
  switch (type.kind) {
    case 'Bool':
      return typeof v === 'boolean' ? v : wrongType(v, where);
    case 'Long':
      if (typeof v !== 'number') return wrongType(v, where);
      return Number.isSafeInteger(v) ? v : decline();
    case 'String':
      if (typeof v !== 'string') return wrongType(v, where);
      return wellFormed(v) ? v : decline();
    case 'Entity': {
      const uid = entityJson(v);
      if (uid === undefined) {
        // cedar-wasm wants a literal entity reference here: anything else fails.
        return isPlainObject(v) && Object.hasOwn(v, '__entity') ? decline() : wrongType(v, where);
      }
      return uid.type === type.name ? uid : fail(`${where} is an entity of the wrong type`);
    }
    case 'ipaddr':
    case 'decimal':
      return extension(v, type.kind, where);
    case 'Set': {
      if (!Array.isArray(v)) return wrongType(v, where);
      const items: Value[] = new Array(v.length);
      for (let i = 0; i < v.length; i++) items[i] = toValue(v[i], type.element, where);
      return new CedarSet(items);
    }
    case 'Record':
      return toRecord(v, type, where);
  }
}

/** Converts a JSON object to a Cedar record of the given record type. */
export function toRecord(v: unknown, type: RecordType, where: string): CedarRecord {
  if (!isPlainObject(v)) return wrongType(v, where);
  const out = new Map<string, Value>();
  for (const key of Object.keys(v)) {
    const attr = type.attributes.get(key);
    if (!attr) return fail(`${where} has an attribute the schema does not declare`);
    out.set(key, toValue(v[key] ?? decline(), attr.type, `${where}.${key}`));
  }
  if (out.size < type.attributes.size) {
    for (const [name, attr] of type.attributes) {
      if (attr.required && !out.has(name)) fail(`${where} lacks the required attribute ${name}`);
    }
  }
  return out;
}

/**
 * Checks the request's principal, action and resource against the schema and
 * returns the action's model.
 */
export function checkRequest(
  model: SchemaModel,
  principal: EntityUid,
  action: EntityUid,
  resource: EntityUid,
): ActionModel & { appliesTo: NonNullable<ActionModel['appliesTo']> } {
  const a = model.actions.get(action.key);
  if (!a) return fail('the action is not declared in the schema');
  const applies = a.appliesTo;
  if (!applies?.principals.has(principal.type)) return fail('the principal type is not valid for the action');
  if (!applies.resources.has(resource.type)) return fail('the resource type is not valid for the action');
  return a as ActionModel & { appliesTo: typeof applies };
}

/** A uid given to the authorizer (`{ type, id }`), converted. */
export function requestUid(ref: { readonly type: string; readonly id: string }): EntityUid {
  return wellFormed(ref.id) ? new EntityUid(ref.type, ref.id) : decline();
}

/** What converting one entity gave: the entity, or the failure or decline it threw. */
export type Converted = StoredEntity | RequestFailure | typeof DECLINE;

/**
 * Converts and checks one entity on its own (its type, attributes, parents
 * and tags against the schema): a pure function of the entity's content and
 * the schema model.
 */
function convertEntity(model: SchemaModel, e: unknown): StoredEntity {
  if (!isPlainObject(e)) return decline();
  const uid = entityJson(field(e, 'uid')) ?? decline();
  // Action entities come from the schema; cedar-wasm compares any given ones with it.
  if (isActionType(uid.type)) return decline();
  // An undeclared type, or a malformed type name: rejected either way.
  const type = model.entityTypes.get(uid.type);
  if (!type) return fail('an entity has a type the schema does not declare');
  const rawAttrs = field(e, 'attrs');
  if (rawAttrs === undefined) return fail('an entity has no attrs');
  const attrs = toRecord(rawAttrs, type.shape, `an attribute of a ${uid.type}`);
  const rawParents = field(e, 'parents');
  if (rawParents === undefined) return fail('an entity has no parents');
  if (!Array.isArray(rawParents)) return decline();
  const parents: EntityUid[] = new Array(rawParents.length);
  for (let i = 0; i < rawParents.length; i++) {
    const p = entityJson(rawParents[i]) ?? decline();
    if (!type.memberOf.has(p.type)) fail(`a ${uid.type} has a parent of a type it may not have`);
    parents[i] = p;
  }
  const tags = field(e, 'tags');
  if (tags !== undefined) {
    if (!isPlainObject(tags)) return decline();
    // The compiled path takes only schemas without tags, where any tag is an error.
    if (Object.keys(tags).length > 0) fail('an entity has tags the schema does not declare');
  }
  return { uid, attrs, parents };
}

/**
 * {@link convertEntity} of a snapshot, kept in `memo`. Safe because a snapshot
 * cannot change (entity-snapshot.ts) and `memo` belongs to one schema model
 * (one compiled evaluator): the same content and model always give the same
 * entity, failure or decline, which is replayed as thrown the first time.
 * The converted entity is shared by the decisions that use the snapshot; the
 * evaluator only reads it.
 */
function convertSnapshot(model: SchemaModel, e: object, memo: WeakMap<object, Converted>): StoredEntity {
  let c = memo.get(e);
  if (c === undefined) {
    try {
      c = convertEntity(model, e);
    } catch (thrown) {
      // Anything unexpected is not kept: it propagates as before (a decline).
      if (!(thrown instanceof RequestFailure) && thrown !== DECLINE) throw thrown;
      c = thrown;
    }
    memo.set(e, c);
  }
  if (c === DECLINE || c instanceof RequestFailure) throw c;
  return c;
}

/**
 * Converts and checks the request's entities. With `memo`, the per-entity
 * work for entity snapshots is done once per snapshot (see
 * {@link convertSnapshot}); duplicates and cycles are checked per request.
 */
export function toStore(
  model: SchemaModel,
  entities: readonly unknown[],
  memo?: WeakMap<object, Converted>,
): Map<string, StoredEntity> {
  const store = new Map<string, StoredEntity>();
  for (const e of entities) {
    const entity =
      memo !== undefined && isEntitySnapshot(e) ? convertSnapshot(model, e as object, memo) : convertEntity(model, e);
    const { uid, attrs, parents } = entity;
    const earlier = store.get(uid.key);
    if (earlier) {
      // cedar-wasm merges equal duplicates and rejects different ones (tested);
      // duplicates with different parent lists are its business.
      if (!sameParents(earlier.parents, parents)) return decline();
      if (!equals(earlier.attrs, attrs)) fail('two different entities have the same uid');
      continue;
    }
    store.set(uid.key, entity);
  }
  if (model.cyclicTypes && hasCycle(store)) fail('the entity hierarchy has a cycle');
  return store;
}

function sameParents(a: readonly EntityUid[], b: readonly EntityUid[]): boolean {
  const keys = new Set(a.map((p) => p.key));
  const other = new Set(b.map((p) => p.key));
  return keys.size === other.size && [...keys].every((k) => other.has(k));
}

function hasCycle(store: ReadonlyMap<string, StoredEntity>): boolean {
  const state = new Map<string, 1 | 2>();
  const visit = (key: string): boolean => {
    const s = state.get(key);
    if (s === 1) return true;
    if (s === 2) return false;
    state.set(key, 1);
    for (const p of store.get(key)?.parents ?? []) if (visit(p.key)) return true;
    state.set(key, 2);
    return false;
  };
  for (const key of store.keys()) if (visit(key)) return true;
  return false;
}

/**
 * The entities of one request plus the schema's action entities, with
 * hierarchy membership (`in`) computed on demand and memoised.
 */
export class EntityStore {
  readonly #ancestors = new Map<string, Set<string>>();
  constructor(
    readonly entities: ReadonlyMap<string, StoredEntity>,
    readonly actions: ReadonlyMap<string, ActionModel>,
  ) {}

  /** The entity, or `undefined` when the request does not have it. */
  get(uid: EntityUid): StoredEntity | undefined {
    const e = this.entities.get(uid.key);
    if (e) return e;
    const a = this.actions.get(uid.key);
    return a ? { uid: a.uid, attrs: NO_ATTRS, parents: a.parents } : undefined;
  }

  /** Cedar's `uid in ancestor`: equal, or an ancestor through the parents of the known entities. */
  isIn(uid: EntityUid, ancestor: EntityUid): boolean {
    if (uid.key === ancestor.key) return true;
    // The request has no action entities (they are declined): actions are the schema's.
    const action = this.actions.get(uid.key);
    if (action) return action.ancestors.has(ancestor.key);
    let set = this.#ancestors.get(uid.key);
    if (!set) {
      set = new Set();
      const stack = [...(this.entities.get(uid.key)?.parents ?? [])];
      while (stack.length > 0) {
        const p = stack.pop() as EntityUid;
        if (set.has(p.key)) continue;
        set.add(p.key);
        const parents = this.entities.get(p.key)?.parents;
        if (parents) stack.push(...parents);
        else {
          const a = this.actions.get(p.key);
          if (a) for (const k of a.ancestors) set.add(k);
        }
      }
      this.#ancestors.set(uid.key, set);
    }
    return set.has(ancestor.key);
  }
}
