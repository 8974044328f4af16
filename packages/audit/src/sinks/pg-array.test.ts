import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { prng } from '../../test/helpers.js';
import { pgArrayLiteral, pgTextElement } from './pg-array.js';

// pg's own encoder of array parameters, which the PostgreSQL store used before writing the
// literals itself: the text must stay the same, byte for byte.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => unknown;
};

// What an array literal treats specially: quotes, backslashes, braces, commas, white space,
// the word NULL; and text that is not ASCII.
const PIECES = ['a', 'Z', '0', '"', '\\', '\\"', '{', '}', ',', ' ', '\n', '\t', 'NULL', 'null', 'é', '中', '😀', "'"];

const literal = (values: readonly (string | null)[]): string => `{${values.map(pgTextElement).join(',')}}`;

describe('PostgreSQL array literals', () => {
  it('differential: text elements are written exactly as pg writes a text[] parameter', () => {
    const rand = prng(7);
    for (let round = 0; round < 2000; round++) {
      const values: (string | null)[] = [];
      const n = Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) {
        if (rand() < 0.15) {
          values.push(null);
          continue;
        }
        let s = '';
        const len = Math.floor(rand() * 8);
        for (let j = 0; j < len; j++) s += PIECES[Math.floor(rand() * PIECES.length)];
        values.push(s);
      }
      expect(literal(values)).toBe(prepareValue(values));
    }
  });

  it('quotes the empty string, the word NULL and special characters, and escapes only quote and backslash', () => {
    expect(literal(['', 'NULL', null, 'a,b', '{x}', 'say "hi"', 'C:\\dir'])).toBe(
      '{"","NULL",NULL,"a,b","{x}","say \\"hi\\"","C:\\\\dir"}',
    );
    expect(pgTextElement(undefined)).toBe('NULL');
  });

  it('column literals: JSON.stringify text when nothing was escaped, element by element otherwise', () => {
    expect(pgArrayLiteral(['a', 'b,c', '{x}', null, 7, ''])).toBe('{"a","b,c","{x}",null,7,""}');
    // JSON would write \n and \u0001, which an array literal reads as "n" and "u0001".
    expect(pgArrayLiteral(['a\nb', '\u0001', 'q"', null, 7])).toBe('{"a\nb","\u0001","q\\"",NULL,7}');
    expect(pgArrayLiteral([Number.NaN, 1])).toBe('{null,1}');
    // Not a column value: written as pg wrote it (an object as its JSON text), never as structure.
    expect(pgArrayLiteral([{ a: ['x', 'y'] }, true])).toBe(`{${pgTextElement('{"a":["x","y"]}')},"true"}`);
  });

  it('differential: every literal reads back (array_in rules) as the values it was made of', () => {
    const rand = prng(11);
    for (let round = 0; round < 2000; round++) {
      const values: (string | number | null)[] = [];
      const n = Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) {
        const kind = rand();
        if (kind < 0.1) values.push(null);
        else if (kind < 0.25) values.push(Math.floor(rand() * 2 ** 53));
        else {
          let s = '';
          const len = Math.floor(rand() * 8);
          for (let j = 0; j < len; j++) s += PIECES[Math.floor(rand() * PIECES.length)];
          values.push(s);
        }
      }
      expect(readArrayLiteral(pgArrayLiteral(values))).toEqual(values.map((v) => (v === null ? null : String(v))));
    }
  });
});

// PostgreSQL's array_in for one dimension, as far as these literals use it: elements separated
// by commas; a double-quoted element is literal text in which a backslash takes the next
// character as it is; an unquoted element is its text, or NULL (in any case) for null.
function readArrayLiteral(literal: string): (string | null)[] {
  expect(literal.startsWith('{') && literal.endsWith('}')).toBe(true);
  const out: (string | null)[] = [];
  let i = 1;
  const end = literal.length - 1;
  if (i === end) return out;
  for (;;) {
    if (literal[i] === '"') {
      let s = '';
      i++;
      while (literal[i] !== '"') {
        if (literal[i] === '\\') i++;
        s += literal[i];
        i++;
        expect(i).toBeLessThan(end);
      }
      i++;
      out.push(s);
    } else {
      let s = '';
      while (i < end && literal[i] !== ',') s += literal[i++];
      expect(s).toMatch(/^[^"\\{}\s]+$/);
      out.push(s.toUpperCase() === 'NULL' ? null : s);
    }
    if (i === end) return out;
    expect(literal[i]).toBe(',');
    i++;
  }
}
