import type { AuditEvent } from './events.js';

/**
 * Canonical JSON: object keys sorted by UTF-16 code units at every level, no
 * whitespace, strings and numbers as `JSON.stringify` writes them. For the
 * value types events allow (strings, finite numbers, booleans, null, arrays,
 * plain objects) this is the JSON Canonicalization Scheme of RFC 8785, so the
 * hash of an event does not depend on the order a caller built it in.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  // Objects built by normalizeEvent already have sorted keys: JSON.stringify is canonical for them and ~10x faster.
  if (typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CANONICAL] === true) {
    return JSON.stringify(value);
  }
  return slowCanonicalJson(value);
}

// A symbol-keyed marker: invisible to JSON.stringify, Object.keys and structuredClone
// (a clone, which may have been changed, loses it), and cheaper than a WeakSet.
const CANONICAL: unique symbol = Symbol('provisioning.audit.canonical');

/**
 * @internal Marks an object whose keys are sorted at every level (and holds
 * no `undefined`), so {@link canonicalJson} may use `JSON.stringify` directly.
 * Only code that builds such objects itself may call it.
 */
export function markCanonical<T extends object>(value: T): T {
  (value as Record<symbol, unknown>)[CANONICAL] = true;
  return value;
}

// Text that JSON.stringify writes as it is: no quote, backslash, control character
// (U+0000–U+001F) or surrogate. Surrogates go the slow way because JSON.stringify
// escapes lone ones (well-formed JSON.stringify) and a pair is cheaper to hand over than to check.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const str = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * @internal The canonical JSON of an event built by `normalizeEvent` (schema version 1),
 * byte for byte what {@link canonicalJson} writes for it, about twice as fast as
 * `JSON.stringify`: the fixed top-level fields are written in their sorted order and only
 * `metadata` goes through the generic canonicalisation. Only for events that code built
 * itself (every field validated, no unknown key): a key this function does not know would
 * be left out of the text the chain hashes. `events.test.ts` checks it against
 * {@link canonicalJson} on random events and on an event with every field set.
 */
export function eventJson(e: AuditEvent): string {
  const a = e.actor;
  // action, category, outcome, actor.type: validated names; id: a UUID; time: toISOString(). None needs escaping.
  let out = `{"action":"${e.action}","actor":{"id":${str(a.id)}`;
  if (a.ip !== undefined) out += `,"ip":${str(a.ip)}`;
  if (a.roles !== undefined) {
    out += ',"roles":[';
    for (let i = 0; i < a.roles.length; i++)
      out += i === 0 ? str(a.roles[i] as string) : `,${str(a.roles[i] as string)}`;
    out += ']';
  }
  out += `,"type":"${a.type}"`;
  if (a.userAgent !== undefined) out += `,"userAgent":${str(a.userAgent)}`;
  out += `},"category":"${e.category}","id":"${e.id}"`;
  if (e.metadata !== undefined) out += `,"metadata":${canonicalJson(e.metadata)}`;
  out += `,"outcome":"${e.outcome}"`;
  if (e.policyVersion !== undefined) out += `,"policyVersion":${str(e.policyVersion)}`;
  if (e.reason !== undefined) out += `,"reason":${str(e.reason)}`;
  if (e.requestId !== undefined) out += `,"requestId":${str(e.requestId)}`;
  if (e.resource !== undefined) {
    const r = e.resource;
    out +=
      r.id === undefined
        ? `,"resource":{"type":${str(r.type)}}`
        : `,"resource":{"id":${str(r.id)},"type":${str(r.type)}}`;
  }
  out += `,"retention":${str(e.retention)}`;
  if (e.sessionId !== undefined) out += `,"sessionId":${str(e.sessionId)}`;
  return `${out},"time":"${e.time}","v":${e.v}}`;
}

function slowCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item = value[i];
      out += item === undefined ? 'null' : slowCanonicalJson(item);
    }
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(key)}:${slowCanonicalJson(item)}`;
  }
  return `${out}}`;
}
