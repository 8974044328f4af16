// Cedar's runtime values for the compiled evaluator, and the two ways an
// evaluation can stop early: a Cedar evaluation error (the policy errored,
// exactly as cedar-wasm would report it) and a decline (the compiled path is
// not sure it matches cedar-wasm here, so the request goes to cedar-wasm).

import { entityKey } from '../uid.js';

/** An entity uid value; `key` is {@link entityKey} of it. */
export class EntityUid {
  readonly key: string;
  constructor(
    readonly type: string,
    readonly id: string,
  ) {
    this.key = entityKey(this);
  }
}

/** A Cedar set: duplicates are allowed in `items`, equality and membership go by value. */
export class CedarSet {
  #keys: Set<string> | undefined;
  constructor(readonly items: readonly Value[]) {}
  /** The value keys of the members (computed once). */
  keys(): Set<string> {
    this.#keys ??= new Set(this.items.map(valueKey));
    return this.#keys;
  }
  has(v: Value): boolean {
    return this.keys().has(valueKey(v));
  }
}

/**
 * An `ipaddr` value: the address as given (host bits are kept, as in Cedar)
 * and its prefix length (32 or 128 for a single address).
 */
export class IpAddr {
  constructor(
    readonly v6: boolean,
    /** The address as an unsigned integer: a `number` for IPv4, a `bigint` for IPv6. */
    readonly addr: number | bigint,
    readonly prefix: number,
  ) {}
}

/** A `decimal` value: the number times 10^4, exactly (normalised like a Long). */
export class Decimal {
  constructor(readonly scaled: number | bigint) {}
}

/** A Cedar record. */
export type CedarRecord = ReadonlyMap<string, Value>;

/**
 * A Cedar value: Bool, Long (a safe-integer `number`, or a `bigint` for the
 * results of arithmetic beyond 2^53 — never both for one integer, so `===`
 * compares Longs), String, entity, set, record, `ipaddr`, `decimal`.
 */
export type Value = boolean | number | bigint | string | EntityUid | CedarSet | CedarRecord | IpAddr | Decimal;

/** A Cedar evaluation error: the policy is not satisfied and is reported as errored. */
export class EvaluationError {
  constructor(readonly message: string) {}
}

/** Why a policy set cannot take the compiled path (thrown while compiling it). */
export class Unsupported extends Error {
  override readonly name = 'Unsupported';
}

/** Thrown to hand the request to cedar-wasm (see the module comment). */
export const DECLINE: unique symbol = Symbol('decline');

/** A value of the wrong type: strict validation makes it unreachable, so cedar-wasm decides. */
export function typeMismatch(): never {
  throw DECLINE;
}

export function asBool(v: Value): boolean {
  return typeof v === 'boolean' ? v : typeMismatch();
}

export function asLong(v: Value): number | bigint {
  return typeof v === 'number' || typeof v === 'bigint' ? v : typeMismatch();
}

export function asString(v: Value): string {
  return typeof v === 'string' ? v : typeMismatch();
}

export function asEntity(v: Value): EntityUid {
  return v instanceof EntityUid ? v : typeMismatch();
}

export function asSet(v: Value): CedarSet {
  return v instanceof CedarSet ? v : typeMismatch();
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Exact 64-bit arithmetic: an overflow is an evaluation error, as in Cedar. */
export function arith(op: '+' | '-' | '*', a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = op === '+' ? a + b : op === '-' ? a - b : a * b;
    // Exact: a result of safe integers that is itself safe was not rounded.
    if (Number.isSafeInteger(r)) return r;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  const r = op === '+' ? x + y : op === '-' ? x - y : x * y;
  if (r < I64_MIN || r > I64_MAX) throw new EvaluationError('integer overflow');
  return normalizeLong(r);
}

/** The one representation of an integer: a number when it is safe, a bigint otherwise. */
export function normalizeLong(v: bigint): number | bigint {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

/** Cedar's `==`: values of different types are unequal, records and sets compare by content. */
export function equals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (a instanceof EntityUid) return b instanceof EntityUid && a.key === b.key;
  if (a instanceof CedarSet) {
    if (!(b instanceof CedarSet)) return false;
    const ka = a.keys();
    const kb = b.keys();
    if (ka.size !== kb.size) return false;
    for (const k of ka) if (!kb.has(k)) return false;
    return true;
  }
  if (a instanceof Decimal) return b instanceof Decimal && a.scaled === b.scaled;
  // ipaddr: same family, address and prefix (Cedar does not mask host bits).
  if (a instanceof IpAddr) return b instanceof IpAddr && a.v6 === b.v6 && a.addr === b.addr && a.prefix === b.prefix;
  const record = a as CedarRecord;
  if (!(b instanceof Map) || record.size !== b.size) return false;
  for (const [k, v] of record) {
    const w = (b as CedarRecord).get(k);
    if (w === undefined || !equals(v, w)) return false;
  }
  return true;
}

/** A string that is equal for equal values and different otherwise (set membership). */
export function valueKey(v: Value): string {
  switch (typeof v) {
    case 'boolean':
      return v ? 'T' : 'F';
    case 'number':
    case 'bigint':
      return `l${v}`;
    case 'string':
      return `s${v}`;
  }
  if (v instanceof EntityUid) return `e${v.key}`;
  if (v instanceof CedarSet) return `S${JSON.stringify([...v.keys()].sort())}`;
  if (v instanceof Decimal) return `d${v.scaled}`;
  if (v instanceof IpAddr) return `i${v.v6 ? 6 : 4}:${v.addr}/${v.prefix}`;
  const entries = [...(v as CedarRecord)].map(([k, x]): [string, string] => [k, valueKey(x)]);
  entries.sort((p, q) => (p[0] < q[0] ? -1 : 1));
  return `r${JSON.stringify(entries)}`;
}
