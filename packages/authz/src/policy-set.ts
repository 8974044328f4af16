import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { DetailedError } from './cedar.js';
import { type CedarSteps, cedarCall, runIsolated, runLocal } from './cedar-calls.js';
import { AuthzError } from './errors.js';
import { checkNestingOption, jsonDepth, lineColumn, nestingViolation, splitPolicyText } from './source.js';

/** A Cedar policy file: its name (used in issues and fallback ids) and its text. */
export interface PolicyFile {
  /** File name or path, shown in validation issues. */
  readonly file: string;
  /** Cedar policy text (one or more statements). */
  readonly text: string;
}

/**
 * A schema: Cedar schema text (`*.cedarschema`) or the Cedar JSON schema format
 * (`*.cedarschema.json`, given parsed or as JSON text).
 */
export type SchemaSource =
  | { readonly format: 'cedar'; readonly text: string; readonly file?: string }
  | { readonly format: 'json'; readonly json: unknown; readonly file?: string };

/** Why a policy set was rejected or what it should look at. */
export type ValidationIssueKind =
  /** Cedar could not parse a policy or the schema. */
  | 'parse'
  /** Strict validation against the schema failed. */
  | 'validation'
  /** A statement is nested deeper than the safe limit (never sent to Cedar). */
  | 'too-deep'
  /** Two policies share an id. */
  | 'duplicate-id'
  /** The schema is missing, duplicated or unreadable. */
  | 'schema'
  /** A validator warning (does not reject the set). */
  | 'warning';

/** One problem found in a policy set, located by file and line. */
export interface ValidationIssue {
  /** `error` rejects the set; `warning` does not. */
  readonly severity: 'error' | 'warning';
  readonly kind: ValidationIssueKind;
  /** The file the issue is in. */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** The policy the issue is about, when there is one. */
  readonly policyId?: string;
  /** Cedar's message (or ours). */
  readonly message: string;
}

/** The result of {@link validatePolicies}: `ok` when no issue has severity `error`. */
export interface ValidationReport {
  readonly ok: boolean;
  /** Every issue found, errors and warnings, in file order. */
  readonly issues: readonly ValidationIssue[];
}

/** A parsed, validated policy. */
export interface CompiledPolicy {
  readonly id: string;
  readonly text: string;
  readonly file: string;
  readonly line: number;
}

/** A validated policy set ready to be preparsed; immutable. */
export interface CompiledPolicySet {
  /** Policies by id (from `@id("…")`, or `<file>#<n>` when a statement has none). */
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
  /** The schema as cedar-wasm takes it (text or JSON object), if any. */
  readonly schema: string | Record<string, unknown> | undefined;
  /** `sha256:<hex>` over the schema and every policy (id and text, sorted by id). */
  readonly version: string;
  /** Validator warnings (the set is valid). */
  readonly warnings: readonly ValidationIssue[];
}

/** What {@link validatePolicies} and {@link compilePolicySet} take. */
export interface PolicySetInput {
  readonly files: readonly PolicyFile[];
  /** The schema to validate against (strict mode). Without one, only parsing is checked. */
  readonly schema?: SchemaSource;
  /** The nesting limit (default {@link DEFAULT_MAX_NESTING}, at most 64). */
  readonly maxNesting?: number;
}

/**
 * Parses every policy file, checks ids, and validates the set against the
 * schema in Cedar's strict mode, returning EVERY issue with its file and
 * line. Nothing reaches the Cedar engine before the nesting guard passed.
 *
 * @example
 * ```ts
 * const report = validatePolicies({ files: [{ file: 'p.cedar', text }], schema: { format: 'cedar', text: schemaText } });
 * for (const i of report.issues) console.log(`${i.file}:${i.line}:${i.column} ${i.message}`);
 * ```
 */
export function validatePolicies(input: PolicySetInput): ValidationReport {
  return toReport(runLocal(compile(input)));
}

/**
 * {@link validatePolicies} with cedar-wasm in a short-lived child process
 * (cedar-calls.ts), so this process's memory does not grow: what the
 * authorizer's `validate()` uses.
 */
export async function validatePoliciesIsolated(input: PolicySetInput): Promise<ValidationReport> {
  return toReport(await runIsolated(compile(input)));
}

function toReport(result: CompileResult): ValidationReport {
  const issues = result.set ? result.set.warnings : result.issues;
  return { ok: result.set !== undefined, issues };
}

/**
 * Like {@link validatePolicies} but returns the compiled set, or throws.
 *
 * @throws AuthzError `ERR_AUTHZ_VALIDATION` (details.issues lists every issue),
 *   `ERR_AUTHZ_TOO_DEEP` when the only errors are nesting violations,
 *   `ERR_AUTHZ_DUPLICATE_POLICY_ID` when the only errors are duplicate ids,
 *   `ERR_AUTHZ_INVALID_OPTIONS` for a bad `maxNesting`.
 * @example
 * ```ts
 * const set = compilePolicySet(await readPolicyDirectory('./policies'));
 * console.log(set.version, [...set.policies.keys()]);
 * ```
 */
export function compilePolicySet(input: PolicySetInput): CompiledPolicySet {
  return runLocal(compilePolicySetSteps(input));
}

/** {@link compilePolicySet} as cedar-wasm calls, for {@link runLocal} or `runIsolated`. */
export function* compilePolicySetSteps(input: PolicySetInput): CedarSteps<CompiledPolicySet> {
  const result = yield* compile(input);
  if (result.set) return result.set;
  const errors = result.issues.filter((i) => i.severity === 'error');
  const only = (kind: ValidationIssueKind) => errors.length > 0 && errors.every((i) => i.kind === kind);
  const first = errors[0];
  throw new AuthzError(
    `policy set rejected: ${errors.length} error(s)${first ? `, first at ${first.file}:${first.line}: ${first.message}` : ''}`,
    {
      code: only('too-deep')
        ? 'ERR_AUTHZ_TOO_DEEP'
        : only('duplicate-id')
          ? 'ERR_AUTHZ_DUPLICATE_POLICY_ID'
          : 'ERR_AUTHZ_VALIDATION',
      fault: 'client',
      details: { issues: result.issues },
    },
  );
}

const SCHEMA_JSON_DEPTH = 64;

// Bounded memo tables (insertion-ordered maps, oldest dropped first).
const CACHE_LIMIT = 4096;
const goodSchemas = new Map<string, string | Record<string, unknown>>();
const validationCache = new Map<string, { errors: DetailedError[]; warnings: DetailedError[] }>();
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > CACHE_LIMIT) map.delete(map.keys().next().value as string);
}

interface CompileResult {
  readonly set?: CompiledPolicySet;
  readonly issues: ValidationIssue[];
}

function* compile(input: PolicySetInput): CedarSteps<CompileResult> {
  const maxNesting = checkNestingOption(input.maxNesting);
  const issues: ValidationIssue[] = [];
  const error = (
    kind: ValidationIssueKind,
    file: string,
    line: number,
    column: number,
    message: string,
    policyId?: string,
  ) =>
    issues.push({
      severity: 'error',
      kind,
      file,
      line,
      column,
      message,
      ...(policyId === undefined ? {} : { policyId }),
    });

  // 1. The schema: guard, then parse.
  let schema: string | Record<string, unknown> | undefined;
  let schemaText = '';
  let schemaHash = '';
  let resolvedSchema = false;
  const schemaSource = input.schema;
  if (schemaSource) {
    const file =
      schemaSource.file ?? (schemaSource.format === 'cedar' ? 'schema.cedarschema' : 'schema.cedarschema.json');
    if (schemaSource.format === 'cedar') {
      const deep = splitPolicyText(schemaSource.text).find((c) => nestingViolation(c, maxNesting) !== undefined);
      if (deep) {
        error(
          'too-deep',
          file,
          deep.line,
          deep.column,
          `schema nested too deep (${nestingViolation(deep, maxNesting)}, limit ${maxNesting})`,
        );
      } else {
        schema = schemaSource.text;
        schemaText = schemaSource.text;
      }
    } else {
      let json = schemaSource.json;
      if (typeof json === 'string') {
        try {
          json = JSON.parse(json) as unknown;
        } catch (cause) {
          error('parse', file, 1, 1, `schema is not valid JSON: ${(cause as Error).message}`);
          json = undefined;
        }
      }
      if (json !== undefined) {
        if (typeof json !== 'object' || json === null || Array.isArray(json)) {
          error('schema', file, 1, 1, 'a JSON schema must be an object of namespaces');
        } else if (jsonDepth(json, SCHEMA_JSON_DEPTH) > SCHEMA_JSON_DEPTH) {
          error('too-deep', file, 1, 1, `JSON schema nested deeper than ${SCHEMA_JSON_DEPTH} levels`);
        } else {
          schema = json as Record<string, unknown>;
          schemaText = JSON.stringify(json);
        }
      }
    }
    if (schema !== undefined) {
      schemaHash = createHash('sha256').update(schemaText).digest('hex');
    }
    const known = goodSchemas.get(schemaHash);
    if (schema !== undefined && known !== undefined) {
      schema = known;
      resolvedSchema = true;
    }
    if (schema !== undefined && !resolvedSchema) {
      const answer = yield* safe(cedarCall('checkParseSchema', schema as never));
      if (answer.type === 'success') {
        // Cedar parses its JSON schema form faster than the text form (~35 vs
        // ~60 ms per call here): keep the JSON form for validation and preparsing.
        const json = typeof schema === 'string' ? yield* safe(cedarCall('schemaToJson', schema)) : undefined;
        remember(
          goodSchemas,
          schemaHash,
          json && json.type === 'success' ? (json.json as Record<string, unknown>) : schema,
        );
      }
      if (answer.type === 'failure') {
        for (const e of answer.errors) {
          const at = locate(schemaText, 0, e, schemaSource.format === 'cedar');
          error('parse', file, at.line, at.column, describe(e));
        }
        schema = undefined;
      } else schema = goodSchemas.get(schemaHash) ?? schema;
    }
  }

  // 2. Policies: split and guard in JavaScript, ids from `@id` annotations.
  const policies = new Map<string, CompiledPolicy & { fileText: string; offset: number }>();
  for (const f of input.files) {
    const chunks = splitPolicyText(f.text);
    for (const [index, chunk] of chunks.entries()) {
      const violation = nestingViolation(chunk, maxNesting);
      if (violation) {
        // Security: this text is never handed to cedar-wasm (see splitPolicyText).
        error(
          'too-deep',
          f.file,
          chunk.line,
          chunk.column,
          `policy nested too deep (${violation}, limit ${maxNesting})`,
        );
        continue;
      }
      let annotated = annotationId(chunk.text);
      if (annotated === null) {
        // An annotation our reader does not handle: ask Cedar (parse errors are reported below).
        const parsed = yield* safe(cedarCall('policyToJson', chunk.text));
        annotated =
          parsed.type === 'success' && typeof parsed.json.annotations?.id === 'string'
            ? parsed.json.annotations.id
            : undefined;
      }
      const id = annotated !== undefined && annotated.length > 0 ? annotated : `${basename(f.file)}#${index + 1}`;
      const existing = policies.get(id);
      if (existing) {
        error(
          'duplicate-id',
          f.file,
          chunk.line,
          chunk.column,
          `policy id "${id}" is already used at ${existing.file}:${existing.line}`,
          id,
        );
        continue;
      }
      policies.set(id, {
        id,
        text: chunk.text,
        file: f.file,
        line: chunk.line,
        fileText: f.text,
        offset: chunk.offset,
      });
    }
  }

  // 3. One Cedar call on the happy path: strict validation of the whole set
  // (which parses it). Only when that fails to parse do we parse policy by
  // policy, to locate every error by file and line.
  const warnings: ValidationIssue[] = [];
  const staticPolicies: Record<string, string> = {};
  for (const [id, p] of policies) staticPolicies[id] = p.text;
  // Returns the ids of policies that do not parse, after reporting each error.
  function* locateParseErrors(): CedarSteps<Set<string>> {
    const failed = new Set<string>();
    for (const p of policies.values()) {
      const parsed = yield* safe(cedarCall('policyToJson', p.text));
      if (parsed.type === 'failure') {
        failed.add(p.id);
        for (const e of parsed.errors) {
          const at = locate(p.fileText, p.offset, e, true);
          error('parse', p.file, at.line, at.column, describe(e), p.id);
        }
      }
    }
    return failed;
  }
  const report = (list: readonly { policyId: string; error: DetailedError }[], severity: 'error' | 'warning') => {
    for (const v of list) {
      const p = policies.get(v.policyId);
      const at = p ? locate(p.fileText, p.offset, v.error, true) : { line: 1, column: 1 };
      const issue: ValidationIssue = {
        severity,
        kind: severity === 'error' ? 'validation' : 'warning',
        file: p?.file ?? '(policy set)',
        line: at.line,
        column: at.column,
        policyId: v.policyId,
        message: describe(v.error),
      };
      if (severity === 'error') issues.push(issue);
      else warnings.push(issue);
    }
  };
  const strict = (set: Record<string, string>) =>
    safe(
      cedarCall('validate', {
        schema: schema as never,
        policies: { staticPolicies: set },
        validationSettings: { mode: 'strict' },
      }),
    );
  if (!issues.some((i) => i.kind === 'too-deep')) {
    if (schema !== undefined) {
      // Strict validation checks each policy on its own against the schema, so
      // results are cached per (schema, policy text): a reload that changes one
      // policy validates one policy (~4 ms each with the shipped schema).
      const cacheKey = (text: string) => `${schemaHash}\u0000${text}`;
      const pending: Record<string, string> = {};
      for (const [id, p] of policies) if (!validationCache.has(cacheKey(p.text))) pending[id] = p.text;
      if (Object.keys(pending).length > 0) {
        let answer = yield* strict(pending);
        if (answer.type === 'failure') {
          const failed = yield* locateParseErrors();
          if (failed.size === 0) {
            for (const e of answer.errors) error('validation', '(policy set)', 1, 1, describe(e));
          } else {
            // Validate the policies that do parse too, so every error is reported at once.
            const rest: Record<string, string> = {};
            for (const [id, text] of Object.entries(pending)) if (!failed.has(id)) rest[id] = text;
            answer =
              Object.keys(rest).length > 0
                ? yield* strict(rest)
                : { type: 'success', validationErrors: [], validationWarnings: [], otherWarnings: [] };
          }
        }
        if (answer.type === 'success') {
          const byId = new Map<string, { errors: DetailedError[]; warnings: DetailedError[] }>();
          const slot = (id: string) => {
            let entry = byId.get(id);
            if (!entry) {
              entry = { errors: [], warnings: [] };
              byId.set(id, entry);
            }
            return entry;
          };
          for (const v of answer.validationErrors) slot(v.policyId).errors.push(v.error);
          for (const v of answer.validationWarnings) slot(v.policyId).warnings.push(v.error);
          for (const [id, text] of Object.entries(pending)) {
            if (issues.some((i) => i.kind === 'parse' && i.policyId === id)) continue;
            remember(validationCache, cacheKey(text), byId.get(id) ?? { errors: [], warnings: [] });
          }
        }
      }
      for (const [id, p] of policies) {
        const cached = validationCache.get(cacheKey(p.text));
        if (!cached) continue;
        report(
          cached.errors.map((error) => ({ policyId: id, error })),
          'error',
        );
        report(
          cached.warnings.map((error) => ({ policyId: id, error })),
          'warning',
        );
      }
    } else if (policies.size > 0) {
      const answer = yield* safe(cedarCall('checkParsePolicySet', { staticPolicies }));
      if (answer.type === 'failure') {
        const before = issues.length;
        yield* locateParseErrors();
        if (issues.length === before) for (const e of answer.errors) error('parse', '(policy set)', 1, 1, describe(e));
      }
    }
  }
  if (issues.some((i) => i.severity === 'error')) {
    issues.push(...warnings);
    return { issues: sortIssues(issues) };
  }

  const hash = createHash('sha256');
  hash.update(`schema\0${schemaText}\0`);
  const ids = [...policies.keys()].sort();
  for (const id of ids) hash.update(`${id}\0${policies.get(id)?.text ?? ''}\0`);
  const compiled = new Map<string, CompiledPolicy>();
  for (const id of ids) {
    const p = policies.get(id) as CompiledPolicy;
    compiled.set(id, Object.freeze({ id, text: p.text, file: p.file, line: p.line }));
  }
  return {
    set: Object.freeze({
      policies: compiled,
      schema,
      version: `sha256:${hash.digest('hex')}`,
      warnings: sortIssues(warnings),
    }),
    issues: [],
  };
}

function sortIssues(issues: ValidationIssue[]): ValidationIssue[] {
  return issues.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
}

function describe(e: DetailedError): string {
  return e.help ? `${e.message} (${e.help})` : e.message;
}

function locate(text: string, base: number, e: DetailedError, hasOffsets: boolean): { line: number; column: number } {
  const start = e.sourceLocations?.[0]?.start;
  if (!hasOffsets || start === undefined) return lineColumn(text, base);
  return lineColumn(text, base + start);
}

/** cedar-wasm throws (instead of answering `failure`) on some malformed inputs. */
function* safe<T>(call: CedarSteps<T>): CedarSteps<T | { type: 'failure'; errors: DetailedError[] }> {
  try {
    return yield* call;
  } catch (cause) {
    return {
      type: 'failure',
      errors: [
        {
          message: cause instanceof Error ? cause.message : String(cause),
          help: null,
          code: null,
          url: null,
          severity: null,
        },
      ],
    };
  }
}

/** The file name suffixes a policy directory may hold. */
export const POLICY_FILE_SUFFIX = '.cedar';
/** Cedar schema text. */
export const SCHEMA_TEXT_SUFFIX = '.cedarschema';
/** Cedar JSON schema. */
export const SCHEMA_JSON_SUFFIX = '.cedarschema.json';

/** The contents of a policy directory, ready for {@link compilePolicySet}. */
export interface PolicyDirectory {
  readonly files: PolicyFile[];
  readonly schema?: SchemaSource;
}

/**
 * Reads a policy directory (not recursive): every `*.cedar` file in name
 * order, and at most one schema, `*.cedarschema` (Cedar text) or
 * `*.cedarschema.json` (Cedar JSON). Other files are ignored.
 *
 * @throws AuthzError `ERR_AUTHZ_LOAD` when the directory or a file cannot be
 *   read, or when it holds more than one schema.
 * @example
 * ```ts
 * const dir = await readPolicyDirectory('./config/cedar-policies');
 * const report = validatePolicies(dir);
 * ```
 */
export async function readPolicyDirectory(dir: string): Promise<PolicyDirectory> {
  let names: string[];
  try {
    // Symbolic links count: Kubernetes mounts ConfigMap files as links into `..data/`.
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isFile() || d.isSymbolicLink())
      .map((d) => d.name);
  } catch (cause) {
    throw new AuthzError('cannot read the policy directory', {
      code: 'ERR_AUTHZ_LOAD',
      fault: 'server',
      cause,
      details: { dir },
    });
  }
  names.sort();
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (cause) {
      throw new AuthzError('cannot read a policy file', {
        code: 'ERR_AUTHZ_LOAD',
        fault: 'server',
        cause,
        details: { file: join(dir, name) },
      });
    }
  };
  const schemas = names.filter((n) => n.endsWith(SCHEMA_TEXT_SUFFIX) || n.endsWith(SCHEMA_JSON_SUFFIX));
  if (schemas.length > 1) {
    throw new AuthzError('a policy directory holds at most one schema file', {
      code: 'ERR_AUTHZ_LOAD',
      fault: 'client',
      details: { dir, schemas },
    });
  }
  const files: PolicyFile[] = [];
  for (const name of names.filter((n) => n.endsWith(POLICY_FILE_SUFFIX))) {
    files.push({ file: join(dir, name), text: await read(name) });
  }
  const schemaName = schemas[0];
  if (schemaName === undefined) return { files };
  const text = await read(schemaName);
  const file = join(dir, schemaName);
  return {
    files,
    schema: schemaName.endsWith(SCHEMA_JSON_SUFFIX)
      ? { format: 'json', json: text, file }
      : { format: 'cedar', text, file },
  };
}

/**
 * The value of a leading `@id("…")` annotation, `undefined` when there is
 * none, or `null` when the annotations are in a form this reader does not
 * handle (then Cedar is asked).
 */
export function annotationId(text: string): string | undefined | null {
  const re = /^\s*(?:\/\/[^\n]*\n\s*)*@([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*"((?:[^"\\]|\\.)*)"\s*\))?/y;
  let rest = text;
  let id: string | undefined;
  for (;;) {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) break;
    if (m[1] === 'id') {
      if (m[2] === undefined) return null;
      if (m[2].includes('\\')) return null;
      id = m[2];
    }
    rest = rest.slice(m[0].length);
  }
  return id;
}
