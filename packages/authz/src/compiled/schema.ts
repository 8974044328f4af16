// The schema as the compiled path needs it: entity types with their allowed
// parent types and attribute types, and actions with the principal and
// resource types they apply to, their context type and their groups. It is
// read from Cedar's own type resolution (`schemaToJsonWithResolvedTypes`),
// so names resolve exactly as cedar-wasm resolves them.

import { type CedarSteps, cedarCall, runLocal } from '../cedar-calls.js';
import { entityKey } from '../uid.js';
import { EntityUid, Unsupported } from './values.js';

/** An attribute or context type. */
export type SchemaType =
  | { readonly kind: 'Bool' | 'Long' | 'String' | 'ipaddr' | 'decimal' }
  | { readonly kind: 'Entity'; readonly name: string }
  | { readonly kind: 'Set'; readonly element: SchemaType }
  | RecordType;

/** A record type: its attributes and whether each is required. */
export interface RecordType {
  readonly kind: 'Record';
  readonly attributes: ReadonlyMap<string, { readonly type: SchemaType; readonly required: boolean }>;
}

/** An entity type: the parent types it may have and its attributes. */
export interface EntityTypeModel {
  readonly memberOf: ReadonlySet<string>;
  readonly shape: RecordType;
}

/** An action: its uid, every group it is in (transitively), and what it applies to. */
export interface ActionModel {
  readonly uid: EntityUid;
  /** Direct groups, as the action entity's parents. */
  readonly parents: readonly EntityUid[];
  /** Keys of every group the action is in, transitively. */
  readonly ancestors: ReadonlySet<string>;
  /** Absent for an action that applies to nothing (a pure group). */
  readonly appliesTo?: {
    readonly principals: ReadonlySet<string>;
    readonly resources: ReadonlySet<string>;
    readonly context: RecordType;
  };
}

/** The schema model of the compiled path. */
export interface SchemaModel {
  readonly entityTypes: ReadonlyMap<string, EntityTypeModel>;
  /** By {@link entityKey} of the action uid. */
  readonly actions: ReadonlyMap<string, ActionModel>;
  /** Whether the parent-type graph has a cycle (then entity hierarchies are checked for cycles per request). */
  readonly cyclicTypes: boolean;
}

type Json = Record<string, unknown>;

const EMPTY_RECORD: RecordType = { kind: 'Record', attributes: new Map() };
const EXTENSION_TYPES = new Set(['ipaddr', 'decimal']);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function unsupported(reason: string): never {
  throw new Unsupported(`schema: ${reason}`);
}

/**
 * The entries of a map in the resolved schema. A name such as `__proto__`
 * does not survive as a key of a plain object (it changes the prototype
 * instead), so such a schema stays on cedar-wasm.
 */
function entries(o: unknown): [string, unknown][] {
  if (o === undefined) return [];
  if (!isObject(o) || Object.getPrototypeOf(o) !== Object.prototype) return unsupported('a name it cannot read');
  return Object.entries(o);
}

/**
 * Builds the model of a schema (Cedar text, or the JSON form cedar-wasm takes).
 *
 * @throws Unsupported when the schema uses something the compiled path does
 *   not implement (entity tags, enumerated entity types, open records, other
 *   extension types, action attributes).
 */
export function schemaModel(schema: string | Json): SchemaModel {
  return runLocal(schemaModelSteps(schema));
}

/** {@link schemaModel} as cedar-wasm calls (the two conversions), then JavaScript. */
export function* schemaModelSteps(schema: string | Json): CedarSteps<SchemaModel> {
  let text = schema;
  if (typeof text !== 'string') {
    const answer = yield* cedarCall('schemaToText', text as never);
    if (answer.type !== 'success') unsupported('cannot convert the JSON schema to text');
    text = answer.text;
  }
  const resolved = yield* cedarCall('schemaToJsonWithResolvedTypes', text);
  if (resolved.type !== 'success') unsupported('cannot resolve its types');
  return modelOfResolved(resolved.json as unknown as Record<string, Json>);
}

function modelOfResolved(namespaces: Record<string, Json>): SchemaModel {
  const qualify = (ns: string, name: string) => (ns === '' ? name : `${ns}::${name}`);
  const common = new Map<string, unknown>();
  for (const [ns, def] of entries(namespaces) as [string, Json][]) {
    for (const [name, type] of entries(def.commonTypes)) {
      const q = qualify(ns, name);
      if (EXTENSION_TYPES.has(q)) unsupported(`a common type named ${q}`);
      common.set(q, type);
    }
  }

  const resolving = new Set<string>();
  const toType = (raw: unknown): SchemaType => {
    if (!isObject(raw) || typeof raw.type !== 'string') return unsupported('a type it cannot read');
    switch (raw.type) {
      case 'Bool':
      case 'Boolean':
        return { kind: 'Bool' };
      case 'Long':
        return { kind: 'Long' };
      case 'String':
        return { kind: 'String' };
      case 'Set':
        return { kind: 'Set', element: toType(raw.element) };
      case 'Entity':
        if (typeof raw.name !== 'string') return unsupported('an entity type without a name');
        return { kind: 'Entity', name: raw.name };
      case 'Extension':
        if (typeof raw.name !== 'string' || !EXTENSION_TYPES.has(raw.name)) {
          return unsupported(`the extension type ${String(raw.name)}`);
        }
        return { kind: raw.name as 'ipaddr' | 'decimal' };
      case 'Record':
        return toRecord(raw);
    }
    const target = common.get(raw.type);
    if (target !== undefined) {
      if (resolving.has(raw.type)) return unsupported(`the recursive type ${raw.type}`);
      resolving.add(raw.type);
      try {
        return toType(target);
      } finally {
        resolving.delete(raw.type);
      }
    }
    if (EXTENSION_TYPES.has(raw.type)) return { kind: raw.type as 'ipaddr' | 'decimal' };
    return unsupported(`the type ${raw.type}`);
  };
  const toRecord = (raw: Json): RecordType => {
    if (raw.additionalAttributes === true) unsupported('a record with additional attributes');
    const attributes = new Map<string, { type: SchemaType; required: boolean }>();
    for (const [name, attr] of entries(raw.attributes)) {
      if (!isObject(attr)) unsupported(`the attribute ${name}`);
      attributes.set(name, { type: toType(attr), required: attr.required !== false });
    }
    return { kind: 'Record', attributes };
  };
  const toShape = (raw: unknown): RecordType => {
    if (raw === undefined) return EMPTY_RECORD;
    const t = toType(raw);
    return t.kind === 'Record' ? t : unsupported('a shape that is not a record');
  };

  const entityTypes = new Map<string, EntityTypeModel>();
  const rawActions: { uid: EntityUid; raw: Json; ns: string }[] = [];
  for (const [ns, def] of entries(namespaces) as [string, Json][]) {
    for (const [name, raw] of entries(def.entityTypes)) {
      if (!isObject(raw)) unsupported(`the entity type ${name}`);
      if ('enum' in raw) unsupported(`the enumerated entity type ${name}`);
      if (raw.tags !== undefined) unsupported(`tags on ${name}`);
      const memberOf = (raw.memberOfTypes ?? []) as string[];
      entityTypes.set(qualify(ns, name), { memberOf: new Set(memberOf), shape: toShape(raw.shape) });
    }
    for (const [id, raw] of entries(def.actions)) {
      if (!isObject(raw)) unsupported(`the action ${id}`);
      if (raw.attributes !== undefined && Object.keys(raw.attributes as Json).length > 0) {
        unsupported(`attributes on the action ${id}`);
      }
      rawActions.push({ uid: new EntityUid(qualify(ns, 'Action'), id), raw, ns });
    }
  }

  const parentsOf = new Map<string, EntityUid[]>();
  for (const { uid, raw, ns } of rawActions) {
    const memberOf = (raw.memberOf ?? []) as { id: string; type?: string }[];
    parentsOf.set(
      uid.key,
      memberOf.map((m) => new EntityUid(m.type ?? qualify(ns, 'Action'), m.id)),
    );
  }
  const actions = new Map<string, ActionModel>();
  for (const { uid, raw } of rawActions) {
    const ancestors = new Set<string>();
    const stack = [...(parentsOf.get(uid.key) ?? [])];
    while (stack.length > 0) {
      const p = stack.pop() as EntityUid;
      if (ancestors.has(p.key)) continue;
      ancestors.add(p.key);
      stack.push(...(parentsOf.get(p.key) ?? []));
    }
    const applies = raw.appliesTo as Json | undefined;
    const model: ActionModel = {
      uid,
      parents: parentsOf.get(uid.key) ?? [],
      ancestors,
      ...(applies === undefined
        ? {}
        : {
            appliesTo: {
              principals: new Set((applies.principalTypes ?? []) as string[]),
              resources: new Set((applies.resourceTypes ?? []) as string[]),
              context: applies.context === undefined ? EMPTY_RECORD : toShape(applies.context),
            },
          }),
    };
    actions.set(entityKey(uid), model);
  }

  return { entityTypes, actions, cyclicTypes: hasCycle(entityTypes) };
}

function hasCycle(types: ReadonlyMap<string, EntityTypeModel>): boolean {
  const state = new Map<string, 1 | 2>(); // 1 on the path, 2 done
  const visit = (name: string): boolean => {
    const s = state.get(name);
    if (s === 1) return true;
    if (s === 2) return false;
    state.set(name, 1);
    for (const parent of types.get(name)?.memberOf ?? []) if (visit(parent)) return true;
    state.set(name, 2);
    return false;
  };
  for (const name of types.keys()) if (visit(name)) return true;
  return false;
}
