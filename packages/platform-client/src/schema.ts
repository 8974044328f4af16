/**
 * A tiny hand-written schema layer: each {@link Schema} both validates a
 * decoded JSON value at runtime and describes itself as JSON Schema, so the
 * client's checks and the OpenAPI documents the servers publish come from the
 * same definition and cannot drift apart. No runtime dependency.
 */

/** A JSON Schema (2020-12, as used by OpenAPI 3.1) fragment. */
export type JsonSchema = { readonly [key: string]: unknown };

/** Where and why a value failed validation. */
export interface SchemaIssue {
  /** JSON path of the offending value, e.g. `$.data[3].status`. */
  readonly path: string;
  /** What was expected there. */
  readonly expected: string;
}

/** Thrown by {@link Schema.parse}; the transport turns it into `ERR_CLIENT_MALFORMED_RESPONSE`. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError' as const;
  /** Where and why. */
  readonly issue: SchemaIssue;
  constructor(issue: SchemaIssue) {
    super(`${issue.path}: expected ${issue.expected}`);
    this.issue = issue;
  }
}

/**
 * A runtime validator for a value of type `T` that also knows its JSON Schema.
 *
 * @example
 * ```ts
 * const point = s.object({ x: s.number(), y: s.number() });
 * point.parse(JSON.parse(body)); // { x: number; y: number } or throws SchemaError
 * ```
 */
export interface Schema<T> {
  /** Returns `value` typed as `T`, or throws {@link SchemaError}. Unknown object fields are kept. */
  parse(value: unknown, path?: string): T;
  /** Whether `value` matches. */
  is(value: unknown): value is T;
  /** The JSON Schema of `T`. */
  readonly json: JsonSchema;
  /** Whether the field may be absent when used as an object property. */
  readonly optional?: boolean;
}

function make<T>(json: JsonSchema, check: (value: unknown, path: string) => T, optional?: boolean): Schema<T> {
  return {
    json,
    parse: (value: unknown, path = '$'): T => check(value, path),
    is(value: unknown): value is T {
      try {
        check(value, '$');
        return true;
      } catch {
        return false;
      }
    },
    ...(optional ? { optional: true } : {}),
  };
}

const fail = (path: string, expected: string): never => {
  throw new SchemaError({ path, expected });
};

function string(options: { format?: string; pattern?: RegExp; description?: string } = {}): Schema<string> {
  const json: Record<string, unknown> = { type: 'string' };
  if (options.format) json.format = options.format;
  if (options.pattern) json.pattern = options.pattern.source;
  if (options.description) json.description = options.description;
  return make(json, (v, p) => {
    if (typeof v !== 'string') return fail(p, 'a string');
    if (options.pattern && !options.pattern.test(v)) return fail(p, `a string matching ${options.pattern.source}`);
    return v;
  });
}

function number(options: { integer?: boolean; minimum?: number; maximum?: number } = {}): Schema<number> {
  const json: Record<string, unknown> = { type: options.integer ? 'integer' : 'number' };
  if (options.minimum !== undefined) json.minimum = options.minimum;
  if (options.maximum !== undefined) json.maximum = options.maximum;
  return make(json, (v, p) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(p, 'a finite number');
    if (options.integer && !Number.isInteger(v)) return fail(p, 'an integer');
    if (options.minimum !== undefined && v < options.minimum) return fail(p, `a number >= ${options.minimum}`);
    if (options.maximum !== undefined && v > options.maximum) return fail(p, `a number <= ${options.maximum}`);
    return v;
  });
}

function boolean(): Schema<boolean> {
  return make({ type: 'boolean' }, (v, p) => (typeof v === 'boolean' ? v : fail(p, 'a boolean')));
}

function unknown(): Schema<unknown> {
  return make({}, (v) => v);
}

function literal<const L extends readonly (string | number | boolean)[]>(...values: L): Schema<L[number]> {
  return make({ enum: [...values] }, (v, p) =>
    values.includes(v as L[number])
      ? (v as L[number])
      : fail(p, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`),
  );
}

function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return make({ anyOf: [inner.json, { type: 'null' }] }, (v, p) => (v === null ? null : inner.parse(v, p)));
}

function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return make(inner.json, (v, p) => (v === undefined ? undefined : inner.parse(v, p)), true);
}

function array<T>(item: Schema<T>, options: { maxItems?: number } = {}): Schema<T[]> {
  const json: Record<string, unknown> = { type: 'array', items: item.json };
  if (options.maxItems !== undefined) json.maxItems = options.maxItems;
  return make(json, (v, p) => {
    if (!Array.isArray(v)) return fail(p, 'an array');
    if (options.maxItems !== undefined && v.length > options.maxItems)
      return fail(p, `at most ${options.maxItems} items`);
    return v.map((x, i) => item.parse(x, `${p}[${i}]`));
  });
}

function record<T>(value: Schema<T>): Schema<Record<string, T>> {
  return make({ type: 'object', additionalProperties: value.json }, (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, 'an object');
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) out[k] = value.parse(x, `${p}.${k}`);
    return out;
  });
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
/** The TypeScript type an object shape describes. */
export type Infer<S extends Shape> = {
  [K in Exclude<keyof S, OptionalKeys<S>>]: S[K] extends Schema<infer T> ? T : never;
} & { [K in OptionalKeys<S>]?: S[K] extends Schema<infer T> ? T : never };

function object<S extends Shape>(shape: S, options: { description?: string } = {}): Schema<Infer<S>> {
  const required = Object.entries(shape)
    .filter(([, s]) => !s.optional)
    .map(([k]) => k);
  const json: Record<string, unknown> = {
    type: 'object',
    properties: Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, s.json])),
    required,
  };
  if (options.description) json.description = options.description;
  return make(json, (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, 'an object');
    const input = v as Record<string, unknown>;
    // Unknown fields are kept: a newer server may add fields without breaking older clients.
    const out: Record<string, unknown> = { ...input };
    for (const [k, s] of Object.entries(shape)) {
      const parsed = s.parse(input[k], `${p}.${k}`);
      if (parsed === undefined) delete out[k];
      else out[k] = parsed;
    }
    return out as Infer<S>;
  });
}

function union<T>(variants: readonly Schema<T>[], expected: string): Schema<T> {
  return make({ oneOf: variants.map((x) => x.json) }, (v, p) => {
    for (const variant of variants) if (variant.is(v)) return variant.parse(v, p);
    return fail(p, expected);
  });
}

const registry = new Map<string, JsonSchema>();

/** Annotates a schema with a named `$ref` for OpenAPI components (and registers its definition). */
function named<T>(
  name: string,
  inner: Schema<T>,
): Schema<T> & { readonly name: string; readonly definition: JsonSchema } {
  registry.set(name, inner.json);
  return { ...inner, name, definition: inner.json, json: { $ref: `#/components/schemas/${name}` } };
}

/** The definition of a schema registered with `s.named`, by name. */
export function namedDefinition(name: string): JsonSchema | undefined {
  return registry.get(name);
}

/** The schema builders. */
export const s: {
  string: typeof string;
  number: typeof number;
  boolean: typeof boolean;
  unknown: typeof unknown;
  literal: typeof literal;
  nullable: typeof nullable;
  optional: typeof optional;
  array: typeof array;
  record: typeof record;
  object: typeof object;
  union: typeof union;
  named: typeof named;
} = { string, number, boolean, unknown, literal, nullable, optional, array, record, object, union, named };

/** A schema registered under a component name (see `s.named`). */
export type NamedSchema<T> = Schema<T> & { readonly name: string; readonly definition: JsonSchema };
