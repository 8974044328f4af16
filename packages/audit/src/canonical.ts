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
