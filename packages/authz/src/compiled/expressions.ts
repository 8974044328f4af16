// Translates a Cedar expression in its JSON form (the EST cedar-wasm's
// `policyToJson` returns) into a JavaScript closure with Cedar's semantics:
// left-to-right evaluation, `&&`/`||`/`if` short-circuit, errors for missing
// entities and attributes and for 64-bit overflow. A construct it does not
// implement throws `Unsupported` at compile time (the whole set then stays on
// cedar-wasm); a value of an unexpected type at run time declines the request.

import { EXTENSION_FUNCTIONS, INVALID, parseDecimal, parseIp } from './extensions.js';
import type { EntityStore } from './request.js';
import {
  arith,
  asBool,
  asEntity,
  asLong,
  asSet,
  asString,
  type CedarRecord,
  CedarSet,
  EntityUid,
  EvaluationError,
  equals,
  typeMismatch,
  Unsupported,
  type Value,
} from './values.js';

/** What an expression is evaluated against. */
export interface Env {
  readonly principal: EntityUid;
  readonly action: EntityUid;
  readonly resource: EntityUid;
  readonly context: CedarRecord;
  readonly store: EntityStore;
}

/** A compiled expression. */
export type Compiled = (env: Env) => Value;

/** Deeper expression trees are not compiled (long `&&` chains nest one level per operand). */
export const MAX_EXPRESSION_DEPTH = 200;

type Json = Record<string, unknown>;

function unsupported(what: string): never {
  throw new Unsupported(what);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A literal: Bool, safe Long, String, entity uid. */
export function literal(v: unknown): Value {
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'number':
      // Larger literals lost precision in the JSON form: keep those sets on cedar-wasm.
      return Number.isSafeInteger(v) ? v : unsupported('an integer literal beyond 2^53');
    case 'string':
      return v;
  }
  if (isObject(v) && isObject(v.__entity) && Object.keys(v).length === 1) {
    const { type, id } = v.__entity;
    if (typeof type === 'string' && typeof id === 'string') return new EntityUid(type, id);
  }
  return unsupported('a literal of this kind');
}

/** Cedar's attribute access `v.attr`. */
export function getAttr(env: Env, v: Value, attr: string): Value {
  let attrs: CedarRecord;
  if (v instanceof EntityUid) {
    const e = env.store.get(v);
    if (!e) throw new EvaluationError(`an entity of type ${v.type} does not exist`);
    attrs = e.attrs;
  } else if (v instanceof Map) attrs = v;
  else return typeMismatch();
  const found = attrs.get(attr);
  if (found === undefined) throw new EvaluationError(`attribute ${attr} does not exist`);
  return found;
}

/** Cedar's `v has attr`: false for an entity the request does not have. */
export function hasAttr(env: Env, v: Value, attr: string): boolean {
  if (v instanceof EntityUid) return env.store.get(v)?.attrs.has(attr) ?? false;
  if (v instanceof Map) return v.has(attr);
  return typeMismatch();
}

/** Cedar's `a in b`: b an entity or a set of entities. */
function isIn(env: Env, a: Value, b: Value): boolean {
  const uid = asEntity(a);
  if (b instanceof EntityUid) return env.store.isIn(uid, b);
  for (const item of asSet(b).items) if (env.store.isIn(uid, asEntity(item))) return true;
  return false;
}

/**
 * `like`: `*` matches any sequence of characters, every other element
 * literally. Greedy leftmost matching of the inner literals is exact for
 * patterns with only `*`, and runs in linear time.
 */
export function compileLike(pattern: readonly unknown[]): (s: string) => boolean {
  const parts: string[] = [''];
  for (const el of pattern) {
    if (el === 'Wildcard') parts.push('');
    else if (isObject(el) && typeof el.Literal === 'string') parts[parts.length - 1] += el.Literal;
    else unsupported('a like pattern element of this kind');
  }
  if (parts.length === 1) {
    const only = parts[0] as string;
    return (s) => s === only;
  }
  const head = parts[0] as string;
  const tail = parts[parts.length - 1] as string;
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  return (s) => {
    if (s.length < head.length + tail.length || !s.startsWith(head) || !s.endsWith(tail)) return false;
    let at = head.length;
    const end = s.length - tail.length;
    for (const m of middle) {
      const i = s.indexOf(m, at);
      if (i < 0 || i + m.length > end) return false;
      at = i + m.length;
    }
    return true;
  };
}

const BINARY = new Set([
  '==',
  '!=',
  'in',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  '+',
  '-',
  '*',
  'contains',
  'containsAll',
  'containsAny',
]);

/**
 * Compiles one expression.
 *
 * @throws Unsupported for a construct the compiled path does not implement.
 */
export function compileExpr(expr: unknown, depth = 0): Compiled {
  if (depth > MAX_EXPRESSION_DEPTH) unsupported('an expression nested this deep');
  if (!isObject(expr)) return unsupported('an expression of this kind');
  const keys = Object.keys(expr);
  if (keys.length !== 1) return unsupported('an expression of this kind');
  const op = keys[0] as string;
  const body = expr[op];
  const sub = (e: unknown) => compileExpr(e, depth + 1);

  if (op === 'Value') {
    const v = literal(body);
    return () => v;
  }
  if (op === 'Var') {
    switch (body) {
      case 'principal':
        return (env) => env.principal;
      case 'action':
        return (env) => env.action;
      case 'resource':
        return (env) => env.resource;
      case 'context':
        return (env) => env.context;
    }
    return unsupported('a variable of this kind');
  }
  if (Array.isArray(body)) return compileCall(op, body, sub);
  if (!isObject(body)) return unsupported(`the operator ${op}`);

  if (BINARY.has(op)) {
    const l = sub(body.left);
    const r = sub(body.right);
    switch (op) {
      case '==':
        return (env) => equals(l(env), r(env));
      case '!=':
        return (env) => !equals(l(env), r(env));
      case 'in':
        return (env) => isIn(env, l(env), r(env));
      case '<':
        return (env) => asLong(l(env)) < asLong(r(env));
      case '<=':
        return (env) => asLong(l(env)) <= asLong(r(env));
      case '>':
        return (env) => asLong(l(env)) > asLong(r(env));
      case '>=':
        return (env) => asLong(l(env)) >= asLong(r(env));
      case '&&':
        return (env) => asBool(l(env)) && asBool(r(env));
      case '||':
        return (env) => asBool(l(env)) || asBool(r(env));
      case '+':
      case '-':
      case '*':
        return (env) => arith(op, asLong(l(env)), asLong(r(env)));
      case 'contains':
        return (env) => {
          const set = asSet(l(env));
          return set.has(r(env));
        };
      case 'containsAll':
        return (env) => {
          const set = asSet(l(env));
          const keys = asSet(r(env)).keys();
          for (const k of keys) if (!set.keys().has(k)) return false;
          return true;
        };
      case 'containsAny':
        return (env) => {
          const set = asSet(l(env));
          const keys = asSet(r(env)).keys();
          for (const k of keys) if (set.keys().has(k)) return true;
          return false;
        };
    }
  }
  switch (op) {
    case '!': {
      const a = sub(body.arg);
      return (env) => !asBool(a(env));
    }
    case 'neg': {
      const a = sub(body.arg);
      return (env) => arith('-', 0, asLong(a(env)));
    }
    case 'isEmpty': {
      const a = sub(body.arg);
      return (env) => asSet(a(env)).items.length === 0;
    }
    case '.': {
      const a = sub(body.left);
      const attr = body.attr;
      if (typeof attr !== 'string') return unsupported('an attribute name of this kind');
      return (env) => getAttr(env, a(env), attr);
    }
    case 'has': {
      const a = sub(body.left);
      const path = typeof body.attr === 'string' ? [body.attr] : body.attr;
      if (!Array.isArray(path) || path.length === 0 || !path.every((p) => typeof p === 'string')) {
        return unsupported('a has path of this kind');
      }
      const attrs = path as string[];
      // `e has a.b` is `e has a && e.a has b`.
      return (env) => {
        let v = a(env);
        for (let i = 0; i < attrs.length - 1; i++) {
          if (!hasAttr(env, v, attrs[i] as string)) return false;
          v = getAttr(env, v, attrs[i] as string);
        }
        return hasAttr(env, v, attrs[attrs.length - 1] as string);
      };
    }
    case 'like': {
      const a = sub(body.left);
      if (!Array.isArray(body.pattern)) return unsupported('a like pattern of this kind');
      const match = compileLike(body.pattern);
      return (env) => match(asString(a(env)));
    }
    case 'is': {
      const a = sub(body.left);
      const type = body.entity_type;
      if (typeof type !== 'string') return unsupported('an is type of this kind');
      if (body.in === undefined) return (env) => asEntity(a(env)).type === type;
      const container = sub(body.in);
      return (env) => {
        const v = a(env);
        return asEntity(v).type === type && isIn(env, v, container(env));
      };
    }
    case 'if-then-else': {
      const c = sub(body.if);
      const t = sub(body.then);
      const e = sub(body.else);
      return (env) => (asBool(c(env)) ? t(env) : e(env));
    }
    case 'Record': {
      // A `__proto__` key would have become the prototype of the JSON form: not read here.
      if (Object.getPrototypeOf(body) !== Object.prototype) return unsupported('a record literal of this kind');
      const fields = Object.entries(body).map(([k, v]) => [k, sub(v)] as const);
      return (env) => {
        const out = new Map<string, Value>();
        for (const [k, f] of fields) out.set(k, f(env));
        return out;
      };
    }
  }
  return unsupported(`the operator ${op}`);
}

function compileCall(op: string, args: readonly unknown[], sub: (e: unknown) => Compiled): Compiled {
  if (op === 'Set') {
    const items = args.map(sub);
    return (env) => new CedarSet(items.map((f) => f(env)));
  }
  const fn = EXTENSION_FUNCTIONS.get(op);
  if (!fn || fn.arity !== args.length) return unsupported(`the function ${op}`);
  // Constructors of literals are evaluated once, here.
  const only = args[0];
  if ((op === 'ip' || op === 'decimal') && isObject(only) && typeof only.Value === 'string') {
    const v = op === 'ip' ? parseIp(only.Value) : parseDecimal(only.Value);
    if (v === undefined || v === INVALID) return unsupported(`the literal ${op}(…) of this form`);
    return () => v;
  }
  const compiled = args.map(sub);
  if (compiled.length === 1) {
    const a = compiled[0] as Compiled;
    return (env) => fn.call([a(env)]);
  }
  const [a, b] = compiled as [Compiled, Compiled];
  return (env) => {
    const x = a(env);
    return fn.call([x, b(env)]);
  };
}
