import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { pgPlainElement, pgTextElement } from './pg-array.js';

// pg's own encoder of array parameters, which the PostgreSQL store used before writing the
// literals itself: the text must stay the same, byte for byte.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => unknown;
};

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

  it('plain elements: integers unquoted, known-safe text quoted as pg would', () => {
    expect(pgPlainElement(9_007_199_254_740_991)).toBe('9007199254740991');
    expect(`{${pgPlainElement('0a1b')}}`).toBe(prepareValue(['0a1b']));
  });
});
