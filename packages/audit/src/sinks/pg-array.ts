// PostgreSQL array literals for the append statement's unnest() parameters.
//
// Handed a JavaScript array, pg builds the literal itself (`arrayString` in pg/lib/utils.js):
// per element a call of prepareValue, two regular-expression replaces and the quotes, which
// cost the client more per event than the whole SHA-256 chain link. The server parses the
// literal the same way whoever wrote it (array_in); `pg-array.test.ts` and the PostgreSQL
// integration tests check that every value comes back as it was.

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
 * @internal The array literal of one column (text, integers and nulls).
 *
 * JSON.stringify writes most columns in one native pass, and its text is an array literal
 * but for the brackets: strings in double quotes, elements separated by commas, no white
 * space, `null` (which array_in reads as NULL, in any case, when unquoted). It differs only
 * in its escapes: `\"` and `\\` mean the same in both, but `\n`, `\t`, `\u00XX` … do not.
 * So the JSON is used only when it holds no backslash at all (nothing was escaped); else the
 * column is written element by element. A non-finite number would become NULL (JSON has no
 * NaN), which the NOT NULL integer columns refuse as pg's "NaN" text was refused.
 */
export function pgArrayLiteral(values: readonly unknown[]): string {
  // Only strings, numbers and nulls: anything else (an event a transform rewrote badly) would
  // be written by JSON as structure, not as one quoted element.
  let plain = true;
  for (let i = 0; i < values.length && plain; i++) {
    const t = typeof values[i];
    plain = t === 'string' || t === 'number' || values[i] === null;
  }
  if (plain) {
    const json = JSON.stringify(values);
    if (!json.includes('\\')) return `{${json.slice(1, -1)}}`;
  }
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (typeof v === 'number') out += Number.isFinite(v) ? String(v) : 'NULL';
    else if (v === null || v === undefined || typeof v === 'string') out += pgTextElement(v);
    // As pg would write it (its prepareValue): objects as JSON, the rest as their string.
    else out += pgTextElement(typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return `${out}}`;
}
