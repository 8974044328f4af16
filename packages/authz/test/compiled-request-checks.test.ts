// Which schema checks cedar-wasm performs at request time (with a schema and
// `validateRequest: true`), case by case, and that the compiled path does
// exactly those: the same requests fail, the same succeed, and it decides
// each of them itself (none is handed to cedar-wasm).

import { describe, expect, it } from 'vitest';
import { compilePolicySet } from '../src/policy-set.js';
import { both, differential, type Request, tally } from './differential.js';

const SCHEMA = `namespace N {
  entity H;
  entity G in [G, H] = { k?: Long };
  entity U in [G] = {
    n: Long, s?: String, b?: Bool, e?: G, ip?: ipaddr, d?: decimal,
    st?: Set<Long>, r?: { a: Long, b?: String },
  };
  entity R;
  action grp;
  action a in [grp] appliesTo {
    principal: [U], resource: [R],
    context: { x?: Long, g?: G, i?: ipaddr, rec?: { a: Long } },
  };
  action b appliesTo { principal: [U], resource: [R] };
}`;

const U = { type: 'N::U', id: 'u' };
const R = { type: 'N::R', id: 'r' };
const user = (attrs: Record<string, unknown> = { n: 1 }, parents: unknown[] = []) => ({ uid: U, attrs, parents });
const group = (id: string, parents: unknown[] = []) => ({ uid: { type: 'N::G', id }, attrs: {}, parents });
const g = (id: string) => ({ type: 'N::G', id });

type Case = [name: string, request: Partial<Request>, expected: 'failure' | 'success'];
const cases: Case[] = [
  ['a request that conforms', {}, 'success'],
  // principal, action, resource
  ['an action the schema does not declare', { action: { type: 'N::Action', id: 'zz' } }, 'failure'],
  ['an action group as the action', { action: { type: 'N::Action', id: 'grp' } }, 'failure'],
  ['a principal type the action does not apply to', { principal: { type: 'N::R', id: 'x' } }, 'failure'],
  ['a resource type the action does not apply to', { resource: { type: 'N::U', id: 'u' } }, 'failure'],
  ['a principal type the schema does not declare', { principal: { type: 'N::Z', id: 'x' } }, 'failure'],
  [
    'an action without a context given a context',
    { action: { type: 'N::Action', id: 'b' }, context: { x: 1 } },
    'failure',
  ],
  ['the principal entity missing from the entities', { entities: [] }, 'success'],
  // context
  ['a context attribute the schema does not declare', { context: { zz: 1 } }, 'failure'],
  ['a context attribute of the wrong type', { context: { x: 'a' } }, 'failure'],
  ['a nested record lacking a required attribute', { context: { rec: {} } }, 'failure'],
  ['a nested record with an undeclared attribute', { context: { rec: { a: 1, b: 2 } } }, 'failure'],
  [
    'an entity of the wrong type in the context',
    { context: { g: { __entity: { type: 'N::R', id: 'g' } } } },
    'failure',
  ],
  ['an entity reference without __entity', { context: { g: { type: 'N::G', id: 'g' } } }, 'success'],
  ['an ip as { __extn }', { context: { i: { __extn: { fn: 'ip', arg: '1.2.3.4' } } } }, 'success'],
  ['an ip as { fn, arg }', { context: { i: { fn: 'ip', arg: '1.2.3.4' } } }, 'success'],
  ['an ip as its string', { context: { i: '1.2.3.4' } }, 'success'],
  ['a decimal where an ip belongs', { context: { i: { __extn: { fn: 'decimal', arg: '1.0' } } } }, 'failure'],
  ['an unknown extension function', { context: { i: { __extn: { fn: 'nope', arg: 'x' } } } }, 'failure'],
  ['an invalid ip', { context: { i: { __extn: { fn: 'ip', arg: '01.2.3.4' } } } }, 'failure'],
  ['IPv4 embedded in IPv6', { context: { i: '::ffff:1.2.3.4' } }, 'failure'],
  ['a number where an ip belongs', { context: { i: 5 } }, 'failure'],
  // entities
  [
    'an entity of a type the schema does not declare',
    { entities: [user(), { uid: { type: 'N::Z', id: 'z' }, attrs: {}, parents: [] }] },
    'failure',
  ],
  ['an entity lacking a required attribute', { entities: [user({})] }, 'failure'],
  ['an entity with an undeclared attribute', { entities: [user({ n: 1, zz: 1 })] }, 'failure'],
  ['an attribute of the wrong type', { entities: [user({ n: 'x' })] }, 'failure'],
  ['a record where a Long belongs', { entities: [user({ n: { a: 1 } })] }, 'failure'],
  ['an escape where a Long belongs', { entities: [user({ n: { __expr: '1' } })] }, 'failure'],
  ['an array where a String belongs', { entities: [user({ n: 1, s: ['x'] })] }, 'failure'],
  ['a string where a Set belongs', { entities: [user({ n: 1, st: 'x' })] }, 'failure'],
  ['a string where an entity belongs', { entities: [user({ n: 1, e: 'N::G::"x"' })] }, 'failure'],
  [
    'an entity of the wrong type in an attribute',
    { entities: [user({ n: 1, e: { __entity: { type: 'N::R', id: 'g' } } })] },
    'failure',
  ],
  ['an entity reference attribute without __entity', { entities: [user({ n: 1, e: g('x') })] }, 'success'],
  [
    'a decimal with five digits',
    { entities: [user({ n: 1, d: { __extn: { fn: 'decimal', arg: '1.23456' } } })] },
    'failure',
  ],
  ['a decimal without a point', { entities: [user({ n: 1, d: '1' })] }, 'failure'],
  ['a decimal with a leading zero', { entities: [user({ n: 1, d: '01.5' })] }, 'success'],
  [
    'a parent of a type the entity may not have',
    { entities: [user({ n: 1 }, [{ type: 'N::R', id: 'r' }])] },
    'failure',
  ],
  ['a parent as { __entity }', { entities: [user({ n: 1 }, [{ __entity: g('g') }])] }, 'success'],
  [
    'a grandparent of a type the entity may not have directly',
    { entities: [user({ n: 1 }, [g('g')]), group('g', [{ type: 'N::H', id: 'h' }])] },
    'success',
  ],
  [
    'a cycle in the hierarchy',
    { entities: [user({ n: 1 }, [g('g1')]), group('g1', [g('g2')]), group('g2', [g('g1')])] },
    'failure',
  ],
  ['an entity that is its own parent', { entities: [group('g1', [g('g1')])] }, 'failure'],
  ['two equal entities with the same uid', { entities: [user(), user()] }, 'success'],
  ['two different entities with the same uid', { entities: [user({ n: 1 }), user({ n: 2 })] }, 'failure'],
  [
    'equal duplicates whose sets list members in another order',
    { entities: [user({ n: 1, st: [1, 2] }), user({ n: 1, st: [2, 1, 1] })] },
    'success',
  ],
  ['an empty tags object', { entities: [{ ...user(), tags: {} }] }, 'success'],
  ['a tag the schema does not declare', { entities: [{ ...user(), tags: { a: 1 } }] }, 'failure'],
  ['an entity without attrs', { entities: [{ uid: U, parents: [] }] }, 'failure'],
  ['an entity without parents', { entities: [{ uid: U, attrs: { n: 1 } }] }, 'failure'],
  ['an entity with a field the format does not know', { entities: [{ ...user(), extra: 1 }] }, 'success'],
];

describe('request-time schema checks: the compiled path does exactly what cedar-wasm does', () => {
  const d = differential(
    compilePolicySet({
      files: [{ file: 'p.cedar', text: '@id("all") permit (principal, action, resource);' }],
      schema: { format: 'cedar', text: SCHEMA },
    }),
  );
  for (const [name, over, expected] of cases) {
    it(`${name}: ${expected}`, () => {
      const t = tally();
      const r: Request = {
        principal: U,
        action: { type: 'N::Action', id: 'a' },
        resource: R,
        context: {},
        entities: [user()],
        ...over,
      };
      const { compiled, wasm } = both(d, r, t);
      expect(wasm.type).toBe(expected);
      expect(compiled).toEqual(wasm);
      expect(t.declined).toBe(0);
    });
  }
});
