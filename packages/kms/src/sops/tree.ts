import { parse as parseToml, stringify as stringifyToml, TomlDate } from 'smol-toml';
import type { Node as YamlNode } from 'yaml';
import { Document, isAlias, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { clientError } from '../errors.js';

/** A value of a config document, with key order kept and numbers kept as exact text. */
export type SopsNode =
  | { readonly kind: 'map'; readonly entries: [string, SopsNode][] }
  | { readonly kind: 'list'; readonly items: SopsNode[] }
  | { readonly kind: 'str'; readonly value: string }
  /** An integer as exact decimal text (no precision lost above 2^53). */
  | { readonly kind: 'int'; readonly value: string }
  /** A float as decimal text. */
  | { readonly kind: 'float'; readonly value: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'null' };

export type SopsMap = Extract<SopsNode, { kind: 'map' }>;

/** The file formats the SOPS functions read and write. TOML is our extension (sops has no TOML store). */
export type SopsFormat = 'json' | 'yaml' | 'dotenv' | 'toml';

const MAX_DEPTH = 256;

function malformed(message: string, details?: Record<string, unknown>): never {
  throw clientError('ERR_KMS_SOPS_MALFORMED', message, details);
}

// ---------------------------------------------------------------- JSON (lossless)

/** @internal Parses JSON keeping key order, rejecting duplicate keys, and numbers as exact text. */
export function parseJsonTree(text: string): SopsNode {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  // Positions only, never content: the document may be plaintext secrets.
  const fail = (what: string): never => malformed(`invalid JSON: ${what}`, { offset: i });
  const value = (depth: number): SopsNode => {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, SopsNode][] = [];
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return { kind: 'map', entries };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        if (seen.has(key)) fail('duplicate key');
        seen.add(key);
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        entries.push([key, value(depth + 1)]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { kind: 'map', entries };
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const items: SopsNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { kind: 'list', items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { kind: 'list', items };
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return { kind: 'str', value: string() };
    if (text.startsWith('true', i)) {
      i += 4;
      return { kind: 'bool', value: true };
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return { kind: 'bool', value: false };
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return { kind: 'null' };
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('unexpected character');
    i += m[0].length;
    return m[1] === undefined && m[2] === undefined ? { kind: 'int', value: m[0] } : { kind: 'float', value: m[0] };
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if ((text.charCodeAt(i) as number) < 0x20) fail('control character in string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('bad escape in string');
    }
  };
  const root = value(0);
  ws();
  if (i !== text.length) fail('trailing data');
  return root;
}

/** @internal Serializes a tree as JSON with 4-space indentation (as sops does), numbers verbatim. */
export function stringifyJsonTree(node: SopsNode): string {
  const out = (n: SopsNode, indent: string): string => {
    switch (n.kind) {
      case 'map': {
        if (n.entries.length === 0) return '{}';
        const inner = `${indent}    `;
        return `{\n${n.entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${out(v, inner)}`).join(',\n')}\n${indent}}`;
      }
      case 'list': {
        if (n.items.length === 0) return '[]';
        const inner = `${indent}    `;
        return `[\n${n.items.map((v) => `${inner}${out(v, inner)}`).join(',\n')}\n${indent}]`;
      }
      case 'str':
        return JSON.stringify(n.value);
      case 'int':
        return n.value;
      case 'float':
        return jsonFloat(n.value);
      case 'bool':
        return n.value ? 'true' : 'false';
      case 'null':
        return 'null';
    }
  };
  return `${out(node, '')}\n`;
}

function jsonFloat(text: string): string {
  // JSON has no Inf/NaN; Go's encoder refuses them too.
  if (!/^-?\d/.test(text)) malformed('a float that JSON cannot hold');
  return text;
}

// ---------------------------------------------------------------- YAML

/** @internal Parses a single YAML document (comments are not kept; anchors/aliases are refused). */
export function parseYamlTree(text: string): SopsNode {
  const doc = parseDocument(text, { intAsBigInt: true, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    // The yaml library quotes source lines in its messages: report only the position.
    malformed('invalid YAML', { line: doc.errors[0]?.linePos?.[0]?.line });
  }
  const walk = (node: unknown, depth: number): SopsNode => {
    if (depth > MAX_DEPTH) malformed('YAML nested too deeply');
    if (node === null || node === undefined) return { kind: 'null' };
    if (isAlias(node)) malformed('YAML aliases are not supported');
    if (isMap(node)) {
      const entries: [string, SopsNode][] = [];
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'bigint' && typeof k !== 'boolean') {
          malformed('YAML keys must be scalars');
        }
        entries.push([String(k), walk(pair.value, depth + 1)]);
      }
      return { kind: 'map', entries };
    }
    if (isSeq(node)) return { kind: 'list', items: node.items.map((n) => walk(n, depth + 1)) };
    if (isScalar(node)) return scalar(node.value);
    return malformed('unsupported YAML node');
  };
  return walk(doc.contents as YamlNode | null, 0);
}

/** @internal Serializes a tree as YAML. */
export function stringifyYamlTree(node: SopsNode): string {
  const doc = new Document(toYamlValue(node));
  // Quote strings a YAML 1.1 reader (Go's yaml packages in part) would take for a
  // timestamp, a bool or a number, so `lastmodified` stays a string for sops.
  visit(doc, {
    Scalar(_key, scalar) {
      if (typeof scalar.value === 'string' && YAML11_AMBIGUOUS.test(scalar.value)) scalar.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0 });
}

const YAML11_AMBIGUOUS =
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE|null|Null|NULL|~|\d{4}-\d\d?-\d\d?(?:[Tt ].*)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0b[01_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

function toYamlValue(n: SopsNode): unknown {
  switch (n.kind) {
    case 'map':
      return new Map(n.entries.map(([k, v]) => [k, toYamlValue(v)]));
    case 'list':
      return n.items.map(toYamlValue);
    case 'str':
      return n.value;
    case 'int':
      return BigInt(n.value);
    case 'float':
      return floatNumber(n.value);
    case 'bool':
      return n.value;
    case 'null':
      return null;
  }
}

// ---------------------------------------------------------------- TOML (our extension)

/** @internal Parses TOML (integers exact; dates become strings in RFC 3339 form). */
export function parseTomlTree(text: string): SopsNode {
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(text, { integersAsBigInt: true }) as Record<string, unknown>;
  } catch (err) {
    // smol-toml's messages include a code frame of the source: keep only the position.
    const e = err as { line?: number };
    return malformed('invalid TOML', { line: e.line });
  }
  return fromJs(parsed, 0);
}

/** @internal Serializes a tree as TOML. */
export function stringifyTomlTree(node: SopsNode): string {
  if (node.kind !== 'map') malformed('a TOML document must be a table');
  return `${stringifyToml(toTomlValue(node) as Record<string, unknown>).trimEnd()}\n`;
}

function toTomlValue(n: SopsNode): unknown {
  switch (n.kind) {
    case 'map':
      return Object.fromEntries(n.entries.filter(([, v]) => v.kind !== 'null').map(([k, v]) => [k, toTomlValue(v)]));
    case 'list':
      return n.items.filter((v) => v.kind !== 'null').map(toTomlValue);
    case 'str':
      return n.value;
    case 'int':
      return BigInt(n.value);
    case 'float':
      return floatNumber(n.value);
    case 'bool':
      return n.value;
    case 'null':
      return malformed('TOML cannot hold null');
  }
}

function fromJs(v: unknown, depth: number): SopsNode {
  if (depth > MAX_DEPTH) malformed('nested too deeply');
  if (v === null || v === undefined) return { kind: 'null' };
  if (typeof v === 'string') return { kind: 'str', value: v };
  if (typeof v === 'bigint') return { kind: 'int', value: v.toString() };
  if (typeof v === 'number') return { kind: 'float', value: goFormatFloat(v) };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (v instanceof TomlDate || v instanceof Date) return { kind: 'str', value: String((v as TomlDate).toISOString()) };
  if (Array.isArray(v)) return { kind: 'list', items: v.map((x) => fromJs(x, depth + 1)) };
  if (typeof v === 'object') {
    return {
      kind: 'map',
      entries: Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromJs(x, depth + 1)]),
    };
  }
  return malformed('unsupported value');
}

function scalar(v: unknown): SopsNode {
  if (v === null || v === undefined) return { kind: 'null' };
  if (typeof v === 'string') return { kind: 'str', value: v };
  if (typeof v === 'bigint') return { kind: 'int', value: v.toString() };
  // With intAsBigInt, YAML integers arrive as bigint: any number here is a float.
  if (typeof v === 'number') return { kind: 'float', value: goFormatFloat(v) };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  return { kind: 'str', value: String(v) };
}

// ---------------------------------------------------------------- dotenv

/** @internal Parses `KEY=VALUE` lines as sops does: no quoting, `\n` escapes, `#` comments and blank lines dropped. */
export function parseDotenvTree(text: string): SopsNode {
  const entries: [string, SopsNode][] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, n) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const at = line.indexOf('=');
    if (at <= 0) malformed('invalid dotenv line', { line: n + 1 });
    const key = line.slice(0, at);
    if (seen.has(key)) malformed('duplicate dotenv key', { line: n + 1 });
    seen.add(key);
    entries.push([key, { kind: 'str', value: line.slice(at + 1).replace(/\\n/g, '\n') }]);
  });
  return { kind: 'map', entries };
}

/** @internal Serializes a flat map as dotenv lines. */
export function stringifyDotenvTree(node: SopsNode): string {
  if (node.kind !== 'map') malformed('a dotenv document is a flat map');
  const lines: string[] = [];
  for (const [k, v] of node.entries) {
    if (v.kind === 'map' || v.kind === 'list') malformed('dotenv values must be scalars');
    const text = v.kind === 'null' ? '' : v.kind === 'bool' ? String(v.value) : v.kind === 'str' ? v.value : v.value;
    lines.push(`${k}=${text.replace(/\n/g, '\\n')}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- common

/** @internal Parses `text` in `format`. */
export function parseTree(text: string, format: SopsFormat): SopsNode {
  switch (format) {
    case 'json':
      return parseJsonTree(text);
    case 'yaml':
      return parseYamlTree(text);
    case 'toml':
      return parseTomlTree(text);
    case 'dotenv':
      return parseDotenvTree(text);
  }
}

/** @internal Serializes `node` in `format`. */
export function stringifyTree(node: SopsNode, format: SopsFormat): string {
  switch (format) {
    case 'json':
      return stringifyJsonTree(node);
    case 'yaml':
      return stringifyYamlTree(node);
    case 'toml':
      return stringifyTomlTree(node);
    case 'dotenv':
      return stringifyDotenvTree(node);
  }
}

/**
 * Formats a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` does: the
 * shortest digits that round-trip, never in exponent form. sops hashes values
 * in this form for its MAC.
 *
 * @example
 * ```ts
 * goFormatFloat(1e21); // "1000000000000000000000"
 * ```
 */
export function goFormatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Number.POSITIVE_INFINITY) return '+Inf';
  if (f === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Object.is(f, -0)) return '-0';
  let s = String(f);
  if (!s.includes('e')) return s;
  const negative = s.startsWith('-');
  if (negative) s = s.slice(1);
  const [mantissa = '', expText = '0'] = s.split('e');
  const [intPart = '', fracPart = ''] = mantissa.split('.');
  const digits = intPart + fracPart;
  const point = intPart.length + Number(expText);
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (negative ? '-' : '') + out;
}

/** @internal The number a float text stands for (Go's `+Inf`/`-Inf`/`NaN` included). */
export function floatNumber(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const n = Number(text);
  if (text.trim() === '' || Number.isNaN(n)) malformed('invalid float value');
  return n;
}

/** @internal Converts a tree to plain JavaScript values (integers beyond 2^53 become `bigint`). */
export function toJs(n: SopsNode): unknown {
  switch (n.kind) {
    case 'map': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of n.entries)
        Object.defineProperty(o, k, { value: toJs(v), enumerable: true, writable: true, configurable: true });
      return o;
    }
    case 'list':
      return n.items.map(toJs);
    case 'str':
      return n.value;
    case 'int': {
      const b = BigInt(n.value);
      return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(b) : b;
    }
    case 'float':
      return floatNumber(n.value);
    case 'bool':
      return n.value;
    case 'null':
      return null;
  }
}

/** @internal Converts plain JavaScript values (as from {@link toJs}) back into a tree. */
export function fromJsValue(v: unknown): SopsNode {
  if (typeof v === 'number' && Number.isInteger(v)) return { kind: 'int', value: String(v) };
  return fromJs(v, 0);
}
