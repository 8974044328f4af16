// The compiled path's operators and extension functions against cedar-wasm,
// one policy per operation over random context values: `ip` parsing and its
// methods (at their prefix bounds), `decimal` parsing and comparisons, `like`
// with wildcards and escapes, and 64-bit arithmetic at the overflow bounds.
// Each policy is satisfied, not satisfied or errors; both paths must agree
// policy by policy (the satisfied ones are the allow's determining policies).

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { compilePolicySet } from '../src/policy-set.js';
import { both, type Differential, differential, tally } from './differential.js';

const SCHEMA = `namespace F {
  entity E;
  action a appliesTo {
    principal: [E], resource: [E],
    context: { i: ipaddr, j: ipaddr, d: decimal, e: decimal, s: String, n: Long, m: Long },
  };
}`;

const PATTERNS = [
  '*',
  '',
  'a',
  'a*',
  '*a',
  '*a*',
  'a*b',
  'a**b',
  '*ab*ba*',
  'a\\*b',
  '\\**',
  '*\\*',
  'ab*ab',
  'a*b*b',
  '*a*a',
  'a*a*a',
  'ab*b*ab',
  'a*😀*a',
  '😀*',
  '*b*',
];
const conditions: string[] = [
  'context.i.isIpv4()',
  'context.i.isIpv6()',
  'context.i.isLoopback()',
  'context.i.isMulticast()',
  'context.i.isInRange(context.j)',
  'context.j.isInRange(context.i)',
  'context.i == context.j',
  'context.i.isInRange(ip("10.0.0.0/8"))',
  'context.i.isInRange(ip("::/0"))',
  'context.d.lessThan(context.e)',
  'context.d.lessThanOrEqual(context.e)',
  'context.d.greaterThan(context.e)',
  'context.d.greaterThanOrEqual(context.e)',
  'context.d == context.e',
  'context.d == decimal("-0.5")',
  ...PATTERNS.map((p) => `context.s like "${p}"`),
  'context.s == "a*b"',
  'context.n + context.m > 0',
  'context.n - context.m > 0',
  'context.n * context.m > 0',
  'context.n * context.m * context.m > 9007199254740991',
  '-context.n < context.m',
  'context.n * 1024 * 1024 * 1024 > context.m',
  '(context.n * 4096 * 4096) - (context.m * 4096 * 4096) == 0',
  'context.n < context.m',
  'context.n <= context.m',
  'context.n == context.m',
];

const VALID_IPS = [
  '10.0.0.5',
  '10.0.0.0/8',
  '127.0.0.1',
  '127.0.0.1/7',
  '127.0.0.1/8',
  '127.255.255.255/32',
  '128.0.0.1',
  '224.0.0.1',
  '224.0.0.1/3',
  '224.0.0.1/4',
  '239.255.255.255',
  '240.0.0.1',
  '0.0.0.0/0',
  '255.255.255.255',
  '::',
  '::/0',
  '::1',
  '::1/127',
  '::1/128',
  '0:0:0:0:0:0:0:1',
  'ff00::/7',
  'ff00::/8',
  'FF02::1',
  'fe80::1/10',
  '1:2:3:4:5:6:7:8',
  '1::8',
  '1:2:3:4:5:6:7::',
  '::2:3:4:5:6:7:8',
];
const validIp = fc.oneof(
  fc.constantFrom(...VALID_IPS),
  fc.ipV4(),
  fc.ipV4().chain((ip) => fc.integer({ min: 0, max: 32 }).map((p) => `${ip}/${p}`)),
  fc.ipV6().filter((ip) => !ip.includes('.')),
);
const anyIp = fc.oneof(
  validIp,
  fc.constantFrom(
    // invalid: embedded IPv4, leading zeros, prefixes, too long, too many groups
    '::ffff:1.2.3.4',
    '01.2.3.4',
    '1.2.3.4/08',
    '1.2.3.4/33',
    '1.2.3.4/+8',
    '::/129',
    '::/0128',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    '12345::',
    '1::2::3',
    ':1::',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.256',
    '',
    'localhost',
    '::1%eth0',
    '1.2.3.4/',
    '/8',
    'abcd:ef01:2345:6789:abcd:ef01:2345:6789/128',
    'abcd:ef01:2345:6789:abcd:ef01:2345:6789/1280',
  ),
  fc.ipV4(),
  fc.ipV4().chain((ip) => fc.integer({ min: 0, max: 33 }).map((p) => `${ip}/${p}`)),
  fc.ipV6(),
  fc.ipV6().chain((ip) => fc.integer({ min: 0, max: 129 }).map((p) => `${ip}/${p}`)),
  fc.string({ unit: fc.constantFrom('0', '1', 'f', ':', '.', '/', '8'), maxLength: 12 }),
);
const validDec = fc
  .tuple(fc.constantFrom('', '-'), fc.integer({ min: 0, max: 99 }).map(String), fc.stringMatching(/^[0-9]{1,4}$/))
  .map(([sign, i, f]) => `${sign}${i}.${f}`);
const anyDec = fc.oneof(
  validDec,
  fc
    .tuple(
      fc.constantFrom('', '-'),
      fc.oneof(
        fc.integer({ min: 0, max: 99 }).map(String),
        fc.constantFrom('0', '00', '922337203685477', '922337203685478'),
      ),
      fc.stringMatching(/^[0-9]{1,5}$/),
    )
    .map(([sign, i, f]) => `${sign}${i}.${f}`),
  fc.constantFrom(
    '-0.5',
    '0.5',
    '-0.0',
    '922337203685477.5807',
    '-922337203685477.5808',
    '922337203685477.5808',
    '1',
    '1.',
    '.5',
    '+1.0',
    '1e3',
    '١.٥',
    '',
  ),
);
const word = fc.oneof(
  fc.constantFrom(...PATTERNS),
  fc.string({ unit: fc.constantFrom('a', 'b', '*', '\\', '😀'), maxLength: 6 }),
);
const long = fc.oneof(
  fc.integer({ min: -10, max: 10 }),
  fc.constantFrom(
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    3037000499,
    3037000500,
    -3037000500,
    2 ** 31,
    2 ** 32,
  ),
  fc.maxSafeInteger(),
);
const extn = (fn: string) => (arg: string) => ({ __extn: { fn, arg } });

let d: Differential;
beforeAll(() => {
  const text = conditions.map((c, k) => `@id("c${k}")\npermit (principal, action, resource) when { ${c} };`).join('\n');
  d = differential(compilePolicySet({ files: [{ file: 'f.cedar', text }], schema: { format: 'cedar', text: SCHEMA } }));
});

describe('compiled path = cedar-wasm, operation by operation', () => {
  it('ip and decimal parsing and methods, like, and 64-bit arithmetic agree on random values', () => {
    const t = tally();
    fc.assert(
      fc.property(
        fc.record({
          i: fc.oneof(validIp, anyIp),
          j: validIp,
          d: fc.oneof(validDec, anyDec),
          e: validDec,
          s: word,
          n: long,
          m: long,
        }),
        (v) => {
          const r = {
            principal: { type: 'F::E', id: 'p' },
            action: { type: 'F::Action', id: 'a' },
            resource: { type: 'F::E', id: 'r' },
            context: {
              ...v,
              i: extn('ip')(v.i),
              j: extn('ip')(v.j),
              d: extn('decimal')(v.d),
              e: extn('decimal')(v.e),
            },
            entities: [],
          };
          const { compiled, wasm } = both(d, r, t);
          expect({ v, ...compiled }).toEqual({ v, ...wasm });
        },
      ),
      { numRuns: 4000 },
    );
    // Invalid ip and decimal strings fail the whole request; the rest decide.
    expect(t.declined).toBeLessThan(t.decided / 20);
    expect(t.decided - t.failures).toBeGreaterThan(1000);
    expect(t.errored).toBeGreaterThan(100); // overflows
  }, 120_000);
});
