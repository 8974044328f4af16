// PostgreSQL array literals for the append statement's unnest() parameters.
//
// Handed a JavaScript array, pg builds the literal itself (`arrayString` in pg/lib/utils.js):
// per element a call of prepareValue, two regular-expression replaces and the quotes, which
// cost the client more per event than the whole SHA-256 chain link. This writes the same
// literal with one test per element, and none for values the log itself produced in a fixed
// alphabet. The server parses it exactly as before (array_in); `pg-array.test.ts` compares
// the text byte for byte with pg's own on random strings.

// A double-quoted element holds any character; only `"` and `\` are escaped (with `\`).
// U+0000 never reaches here: prepareEvent rejects it, and PostgreSQL text cannot hold it.
const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/** @internal One text element of an array literal, quoted as pg quotes it (`NULL` for null). */
export function pgTextElement(value: string | null | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(ESCAPED, '\\$&')}"` : `"${value}"`;
}

/**
 * @internal One element known to need no escaping (no `"` or `\`): event ids, names from the
 * schema's fixed lists, hex hashes, safe integers. Quoted like the others except integers.
 */
export function pgPlainElement(value: string | number): string {
  return typeof value === 'number' ? String(value) : `"${value}"`;
}
