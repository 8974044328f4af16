import { describe, expect, it } from 'vitest';
import { checkNestingOption, jsonDepth, lineColumn, nestingViolation, splitPolicyText } from './source.js';

describe('splitPolicyText', () => {
  it('cuts statements at top-level semicolons and reports where each starts', () => {
    const text =
      '// header\n@id("a")\npermit(principal, action, resource);\n\n  forbid(principal, action, resource) when { context.x == ";" };\n';
    const chunks = splitPolicyText(text);
    expect(chunks.map((c) => [c.line, c.column])).toEqual([
      [2, 1],
      [5, 3],
    ]);
    expect(chunks[0]?.text).toBe('@id("a")\npermit(principal, action, resource);');
    expect(chunks[1]?.text.endsWith('};')).toBe(true);
  });

  it('ignores brackets and semicolons inside strings and comments', () => {
    const [chunk] = splitPolicyText('permit(principal, action, resource) when { "((((;\\"((" == "x" // ((((;\n };');
    expect(chunk?.bracketDepth).toBe(1); // only the `when { … }` braces count
    expect(splitPolicyText(`permit(principal, action, resource) when { "((((;\\"((" };`)).toHaveLength(1);
  });

  it('keeps trailing text without a semicolon as its own chunk (Cedar reports it)', () => {
    const chunks = splitPolicyText('permit(principal, action, resource);\npermit(');
    expect(chunks).toHaveLength(2);
    expect(chunks[1]?.line).toBe(2);
  });

  it('measures bracket depth, if-expressions and member chains', () => {
    const [c] = splitPolicyText(
      'permit(principal, action, resource) when { if ((true)) then context.a.b.c.contains([[1]]) else false };',
    );
    expect(c?.bracketDepth).toBe(4); // { ( [ [
    expect(c?.ifCount).toBe(1);
    expect(c?.memberChain).toBe(4); // .a .b .c .contains
  });

  it('measures the operators an expression nests: a chain, plus the chains around its brackets', () => {
    const [c] = splitPolicyText(
      'permit(principal, action, resource) when { a == 1 || (b <= 2 && c has d) || e like "x*" };',
    );
    expect(c?.operatorChain).toBe(5); // == || before the brackets, <= && has inside them
    const [set] = splitPolicyText('permit(principal, action, resource) when { [a + 1, b + 2, c + 3].contains(x) };');
    expect(set?.operatorChain).toBe(1); // elements are separate subtrees
    const long = `permit(principal, action, resource) when { ${Array(130).fill('context.a').join(' && ')} };`;
    expect(nestingViolation(splitPolicyText(long)[0] as never, 32)).toBe('129 operators in one expression');
    expect(nestingViolation(splitPolicyText(long)[0] as never, 16)).toMatch(/operators/); // 4 × 16 = 64
  });

  it('does not count member accesses separated by operators as one chain', () => {
    const [c] = splitPolicyText(
      'permit(principal, action, resource) when { context.a.b && context.c.d || resource.e.f };',
    );
    expect(c?.memberChain).toBe(2);
  });

  it('flags each measure above the limit', () => {
    const deep = (s: string) => nestingViolation(splitPolicyText(s)[0] as never, 8);
    expect(deep(`permit(principal, action, resource) when { ${'('.repeat(9)}true${')'.repeat(9)} };`)).toMatch(
      /brackets/,
    );
    expect(
      deep(`permit(principal, action, resource) when { ${'if true then '.repeat(9)}true${' else false'.repeat(9)} };`),
    ).toMatch(/if/);
    expect(deep(`permit(principal, action, resource) when { context${'.a'.repeat(9)} };`)).toMatch(/member/);
    expect(deep('permit(principal, action, resource) when { context.a.b };')).toBeUndefined();
  });
});

describe('helpers', () => {
  it('lineColumn is 1-based', () => {
    expect(lineColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
  it('jsonDepth counts containers', () => {
    expect(jsonDepth(1, 10)).toBe(0);
    expect(jsonDepth({ a: [{ b: 1 }] }, 10)).toBe(3);
  });
  it('checkNestingOption accepts 4..64 only', () => {
    expect(checkNestingOption(undefined)).toBe(32);
    expect(checkNestingOption(64)).toBe(64);
    expect(() => checkNestingOption(65)).toThrow(expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }));
    expect(() => checkNestingOption(2.5)).toThrow(expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }));
  });
});
