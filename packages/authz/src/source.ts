import { AuthzError } from './errors.js';

/** One policy statement cut out of a Cedar policy file, with where it starts. */
export interface PolicyChunk {
  /** The statement text, including its annotations and the final `;`. */
  readonly text: string;
  /** Offset of the first character of `text` in the file. */
  readonly offset: number;
  /** 1-based line of the first character of `text` in the file. */
  readonly line: number;
  /** 1-based column of the first character of `text`. */
  readonly column: number;
  /** Deepest nesting of `(`, `[` and `{` outside strings and comments. */
  readonly bracketDepth: number;
  /** Number of `if` keywords (each nests the expression one level deeper). */
  readonly ifCount: number;
  /** Longest chain of member accesses / method calls (`a.b.c(…).d`). */
  readonly memberChain: number;
  /**
   * Most binary operators (`||`, `&&`, `==`, `<`, `+`, `in`, `like` …) an
   * expression nests: those in one chain plus those of the enclosing
   * brackets' chains. Each makes the expression tree one level deeper.
   */
  readonly operatorChain: number;
}

/** The default {@link NestingLimit}: far below the ~125 levels at which cedar-wasm 4.13 overflows its stack. */
export const DEFAULT_MAX_NESTING = 32;
/** The largest nesting limit the package accepts as an option. */
export const MAX_ALLOWED_NESTING = 64;
/**
 * The most binary operators one expression may nest: 4 × the nesting limit,
 * at most 128. cedar-wasm 4.13 overflows its stack evaluating a chain of
 * ~380 (`a + a + …`, `x == 1 || x == 1 || …`), which parses and validates
 * fine, and 64 brackets around 255 already overflowed it inside a test
 * runner's deeper stack; 64 brackets around 128 evaluate safely (tested).
 */
export function operatorLimit(nestingLimit: number): number {
  return Math.min(4 * nestingLimit, 128);
}

const OPERATOR_WORDS = new Set(['in', 'has', 'like', 'is']);

const isIdentChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/**
 * Cuts Cedar policy text into statements at top-level `;` and measures how
 * deeply each one nests, outside string literals and `//` comments. This runs
 * in plain JavaScript BEFORE any text reaches the wasm engine: a policy with
 * ~125+ nested brackets (or a few hundred chained member accesses or nested
 * `if`s) overflows cedar-wasm's stack and leaves the instance unusable for the
 * whole process, so such text must never be handed to it.
 */
export function splitPolicyText(text: string): PolicyChunk[] {
  const chunks: PolicyChunk[] = [];
  let start = -1;
  let depth = 0;
  let maxDepth = 0;
  let ifs = 0;
  // Member-chain length per bracket level: a `.` extends the chain at this
  // level; an operator or separator ends it; a bracket opens a fresh level.
  const chain: number[] = [0];
  let maxChain = 0;
  // Binary operators per bracket level, and their sum over the open levels.
  const ops: number[] = [0];
  let opTotal = 0;
  let maxOps = 0;
  const operator = (): void => {
    ops[ops.length - 1] = (ops[ops.length - 1] ?? 0) + 1;
    opTotal++;
    if (opTotal > maxOps) maxOps = opTotal;
  };
  let i = 0;
  const n = text.length;
  const begin = (at: number): void => {
    if (start < 0) start = at;
  };
  const finish = (end: number): void => {
    if (start < 0) return;
    const body = text.slice(start, end);
    const { line, column } = lineColumn(text, start);
    chunks.push({
      text: body,
      offset: start,
      line,
      column,
      bracketDepth: maxDepth,
      ifCount: ifs,
      memberChain: maxChain,
      operatorChain: maxOps,
    });
    start = -1;
    depth = 0;
    maxDepth = 0;
    ifs = 0;
    chain.length = 1;
    chain[0] = 0;
    maxChain = 0;
    ops.length = 1;
    ops[0] = 0;
    opTotal = 0;
    maxOps = 0;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    // whitespace
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    // line comment
    if (c === 47 && text.charCodeAt(i + 1) === 47) {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    begin(i);
    if (c === 34) {
      // string literal with backslash escapes
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === 34) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (isIdentChar(c)) {
      const s = i;
      while (i < n && isIdentChar(text.charCodeAt(i))) i++;
      if (i - s === 2 && text.startsWith('if', s)) ifs++;
      else if (i - s <= 4 && OPERATOR_WORDS.has(text.slice(s, i))) operator();
      continue;
    }
    if (c === 40 || c === 91 || c === 123) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
      chain.push(0);
      ops.push(0);
      i++;
      continue;
    }
    if (c === 41 || c === 93 || c === 125) {
      if (depth > 0) depth--;
      if (chain.length > 1) chain.pop();
      if (ops.length > 1) opTotal -= ops.pop() ?? 0;
      i++;
      continue;
    }
    if (c === 44) {
      // `,` separates set elements, arguments and record fields: separate subtrees.
      opTotal -= ops[ops.length - 1] ?? 0;
      ops[ops.length - 1] = 0;
      chain[chain.length - 1] = 0;
      i++;
      continue;
    }
    if (c === 46) {
      const top = chain.length - 1;
      const next = (chain[top] ?? 0) + 1;
      chain[top] = next;
      if (next > maxChain) maxChain = next;
      i++;
      continue;
    }
    if (c === 58 && text.charCodeAt(i + 1) === 58) {
      // `::` in a name continues the expression
      i += 2;
      continue;
    }
    if (c === 59 && depth === 0) {
      i++;
      finish(i);
      continue;
    }
    // any other operator or separator ends a member chain at this level
    chain[chain.length - 1] = 0;
    const d = text.charCodeAt(i + 1);
    if (
      (c === 124 && d === 124) || // ||
      (c === 38 && d === 38) || // &&
      ((c === 61 || c === 33 || c === 60 || c === 62) && d === 61) // == != <= >=
    ) {
      operator();
      i += 2;
      continue;
    }
    if (c === 60 || c === 62 || c === 43 || c === 45 || c === 42) operator(); // < > + - *
    i++;
  }
  finish(n);
  return chunks;
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lastBreak = -1;
  const end = Math.min(offset, text.length);
  for (let k = 0; k < end; k++) {
    if (text.charCodeAt(k) === 10) {
      line++;
      lastBreak = k;
    }
  }
  return { line, column: offset - lastBreak };
}

/** Which measure of a chunk exceeded the limit, or `undefined` when it is within it. */
export function nestingViolation(chunk: PolicyChunk, limit: number): string | undefined {
  if (chunk.bracketDepth > limit) return `brackets nested ${chunk.bracketDepth} deep`;
  if (chunk.ifCount > limit) return `${chunk.ifCount} if-expressions`;
  if (chunk.memberChain > limit) return `a chain of ${chunk.memberChain} member accesses`;
  if (chunk.operatorChain > operatorLimit(limit)) return `${chunk.operatorChain} operators in one expression`;
  return undefined;
}

/** Depth of a parsed JSON value (a scalar is 0). */
export function jsonDepth(value: unknown, limit: number, depth = 0): number {
  if (depth > limit) return depth;
  if (typeof value !== 'object' || value === null) return depth;
  let max = depth + 1;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    const d = jsonDepth(v, limit, depth + 1);
    if (d > max) max = d;
    if (max > limit) break;
  }
  return max;
}

/** Validates a nesting limit option. */
export function checkNestingOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_NESTING;
  if (!Number.isInteger(value) || value < 4 || value > MAX_ALLOWED_NESTING) {
    throw new AuthzError(`maxNesting must be an integer between 4 and ${MAX_ALLOWED_NESTING}`, {
      code: 'ERR_AUTHZ_INVALID_OPTIONS',
      fault: 'client',
      details: { maxNesting: value },
    });
  }
  return value;
}
