import type { CedarValueJson } from './cedar.js';
import { AuthzError } from './errors.js';

/** A Cedar entity uid: its type (`Provisioning::User`) and id (`alice`). */
export interface EntityRef {
  readonly type: string;
  readonly id: string;
}

/** A Cedar value as the JSON entity/context format writes it. */
export type CedarValue = CedarValueJson;

/** A Cedar entity in the JSON entity format. */
export interface CedarEntity {
  readonly uid: EntityRef;
  readonly attrs: Readonly<Record<string, CedarValue>>;
  readonly parents: readonly EntityRef[];
  readonly tags?: Readonly<Record<string, CedarValue>>;
}

/** An entity uid as an object or as Cedar text: `Provisioning::User::"alice"`. */
export type EntityInput = EntityRef | string;

const UID_TEXT = /^((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*)::"((?:[^"\\]|\\.)*)"$/;
const TYPE_NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*$/;
const ACTION_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Parses an entity uid given as `{ type, id }` or Cedar text
 * (`Provisioning::User::"alice"`). With `actionNamespace`, a bare name such as
 * `deploy` means `<namespace>::Action::"deploy"`.
 *
 * @throws AuthzError `ERR_AUTHZ_INVALID_REQUEST` for anything else.
 * @example
 * ```ts
 * parseEntityRef('Provisioning::User::"alice"'); // { type: 'Provisioning::User', id: 'alice' }
 * parseEntityRef('deploy', 'Provisioning');      // { type: 'Provisioning::Action', id: 'deploy' }
 * ```
 */
export function parseEntityRef(input: EntityInput, actionNamespace?: string): EntityRef {
  if (typeof input === 'string') {
    const m = UID_TEXT.exec(input);
    if (m) return { type: m[1] as string, id: JSON.parse(`"${m[2]}"`) as string };
    if (actionNamespace !== undefined && ACTION_NAME.test(input)) {
      return { type: actionNamespace === '' ? 'Action' : `${actionNamespace}::Action`, id: input };
    }
    throw invalid('an entity uid must look like Namespace::Type::"id"');
  }
  if (
    typeof input !== 'object' ||
    input === null ||
    typeof input.type !== 'string' ||
    typeof input.id !== 'string' ||
    !TYPE_NAME.test(input.type)
  ) {
    throw invalid('an entity uid must be { type, id } with a valid type name');
  }
  return input;
}

/**
 * `Type::"id"`, the text form of a uid.
 *
 * @example
 * ```ts
 * formatEntityRef({ type: 'Provisioning::User', id: 'alice' }); // 'Provisioning::User::"alice"'
 * ```
 */
export function formatEntityRef(ref: EntityRef): string {
  return `${ref.type}::${JSON.stringify(ref.id)}`;
}

/** A map key for a uid. */
export function entityKey(ref: EntityRef): string {
  return `${ref.type}\u0000${ref.id}`;
}

function invalid(message: string): AuthzError {
  return new AuthzError(message, { code: 'ERR_AUTHZ_INVALID_REQUEST', fault: 'client' });
}

/** Values nested deeper than this are rejected before they reach Cedar. */
export const MAX_VALUE_DEPTH = 32;

/**
 * Checks a context or attribute value before it reaches cedar-wasm: integers
 * must be safe (Cedar longs are 64-bit, JavaScript loses precision above
 * 2^53, so a larger number would silently change meaning), no fractions, no
 * undefined/functions, and no nesting beyond {@link MAX_VALUE_DEPTH}.
 */
export function assertCedarValue(value: unknown, path: string, depth = 0): void {
  if (depth > MAX_VALUE_DEPTH) throw invalid(`${path} is nested deeper than ${MAX_VALUE_DEPTH} levels`);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isSafeInteger(value)) throw invalid(`${path} must be an integer between -(2^53-1) and 2^53-1`);
      return;
    case 'object': {
      if (value === null) throw invalid(`${path} is null: Cedar has no null`);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) assertCedarValue(value[i], `${path}[${i}]`, depth + 1);
        return;
      }
      for (const key of Object.keys(value)) {
        assertCedarValue((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
      }
      return;
    }
    default:
      throw invalid(`${path} has a ${typeof value} value, which Cedar cannot represent`);
  }
}

/** Calls `visit` for every entity uid referenced inside a Cedar value. */
export function forEachEntityRef(value: unknown, visit: (ref: EntityRef) => void, depth = 0): void {
  if (typeof value !== 'object' || value === null || depth > MAX_VALUE_DEPTH) return;
  if (Array.isArray(value)) {
    for (const v of value) forEachEntityRef(v, visit, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  const escaped = record.__entity as Record<string, unknown> | undefined;
  if (escaped && typeof escaped.type === 'string' && typeof escaped.id === 'string') {
    visit({ type: escaped.type, id: escaped.id });
    return;
  }
  if (record.__extn !== undefined) return;
  const keys = Object.keys(record);
  if (keys.length === 2 && typeof record.type === 'string' && typeof record.id === 'string') {
    visit({ type: record.type, id: record.id });
    return;
  }
  for (const k of keys) forEachEntityRef(record[k], visit, depth + 1);
}

/**
 * An entity reference value for a context or an attribute: `{ __entity: { type, id } }`.
 *
 * @throws AuthzError `ERR_AUTHZ_INVALID_REQUEST` for a malformed uid.
 * @example
 * ```ts
 * const context = { ...built, reviewer: entityValue('Provisioning::User::"bob"') };
 * ```
 */
export function entityValue(ref: EntityInput): CedarValue {
  const r = parseEntityRef(ref);
  return { __entity: { type: r.type, id: r.id } };
}
