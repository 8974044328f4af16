import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AuthorizationDecision, Authorizer } from './authorizer.js';
import { type ContextBuilderOptions, type ContextInput, createContextBuilder } from './context.js';
import { AuthzError } from './errors.js';
import type { CedarEntity, CedarValue } from './uid.js';

/**
 * The facts a test case gives the context builder. Times are ISO strings;
 * `mfaAgeSeconds: null` (or absent) means no MFA in the session.
 */
export interface PolicyTestGiven {
  readonly clientIp?: string;
  readonly at?: string;
  readonly mfaAgeSeconds?: number | null;
  readonly mfaMethod?: string;
  readonly approvalId?: string;
  readonly breakGlassSession?: string;
  readonly force?: boolean;
  readonly request?: { readonly method?: string; readonly path?: string; readonly requestId?: string };
}

/** One policy test case. */
export interface PolicyTestCase {
  readonly name: string;
  /** `Namespace::Type::"id"` */
  readonly principal: string;
  /** A bare action name (`deploy`) or a uid. */
  readonly action: string;
  readonly resource: string;
  /** Facts for the context builder, merged over the suite's `given`. */
  readonly given?: PolicyTestGiven;
  /** Raw Cedar context attributes, merged over the built context (or the whole context with `rawContext`). */
  readonly context?: Readonly<Record<string, CedarValue>>;
  /** Use `context` as the whole context, skipping the builder. */
  readonly rawContext?: boolean;
  /** Entities added to the suite's. */
  readonly entities?: readonly CedarEntity[];
  readonly expect: 'allow' | 'deny';
  /** When given, the determining policy ids must be exactly these (any order). */
  readonly reasons?: readonly string[];
}

/** A file of policy tests (JSON or YAML). */
export interface PolicyTestSuite {
  /** Options of the context builder (time zone, trusted ranges, windows). */
  readonly contextBuilder?: Omit<ContextBuilderOptions, 'clock'>;
  /** Defaults for every case's `given`. */
  readonly given?: PolicyTestGiven;
  /** Entities every case sees. */
  readonly entities?: readonly CedarEntity[];
  /** A JSON file of entities (relative to the suite file), added to `entities` by {@link loadPolicyTestFile}. */
  readonly entitiesFile?: string;
  readonly tests: readonly PolicyTestCase[];
}

/** The outcome of one case. */
export interface PolicyTestResult {
  readonly name: string;
  readonly passed: boolean;
  readonly expected: 'allow' | 'deny';
  readonly decision: AuthorizationDecision;
  /** Why it failed, for humans. */
  readonly failure?: string;
}

/** The outcome of a suite. */
export interface PolicyTestReport {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly PolicyTestResult[];
}

function bad(message: string, details?: Record<string, unknown>): AuthzError {
  return new AuthzError(message, { code: 'ERR_AUTHZ_POLICY_TEST', fault: 'client', ...(details ? { details } : {}) });
}

/**
 * Checks the shape of a parsed policy test suite.
 *
 * @throws AuthzError `ERR_AUTHZ_POLICY_TEST` naming the first bad field.
 * @example
 * ```ts
 * const suite = parsePolicyTestSuite(JSON.parse(text));
 * ```
 */
export function parsePolicyTestSuite(value: unknown, source = 'policy tests'): PolicyTestSuite {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(`${source}: a suite is an object with "tests"`);
  const suite = value as Record<string, unknown>;
  if (!Array.isArray(suite.tests) || suite.tests.length === 0) throw bad(`${source}: "tests" must be a non-empty list`);
  if (suite.entities !== undefined && !Array.isArray(suite.entities)) throw bad(`${source}: "entities" must be a list`);
  suite.tests.forEach((t: unknown, i: number) => {
    const where = `${source}: tests[${i}]`;
    if (typeof t !== 'object' || t === null) throw bad(`${where} must be an object`);
    const c = t as Record<string, unknown>;
    for (const field of ['name', 'principal', 'action', 'resource'] as const) {
      if (typeof c[field] !== 'string' || c[field] === '') throw bad(`${where}.${field} must be a non-empty string`);
    }
    if (c.expect !== 'allow' && c.expect !== 'deny') throw bad(`${where}.expect must be "allow" or "deny"`);
    if (c.reasons !== undefined && !(Array.isArray(c.reasons) && c.reasons.every((r) => typeof r === 'string'))) {
      throw bad(`${where}.reasons must be a list of policy ids`);
    }
    if (c.entities !== undefined && !Array.isArray(c.entities)) throw bad(`${where}.entities must be a list`);
  });
  return value as PolicyTestSuite;
}

/**
 * Reads a policy test file: `*.yaml`/`*.yml` as YAML, anything else as JSON.
 *
 * @throws AuthzError `ERR_AUTHZ_POLICY_TEST` (unreadable, unparsable or malformed).
 * @example
 * ```ts
 * const suite = await loadPolicyTestFile('policies/tests.yaml');
 * ```
 */
export async function loadPolicyTestFile(path: string): Promise<PolicyTestSuite> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AuthzError('cannot read the policy test file', {
      code: 'ERR_AUTHZ_POLICY_TEST',
      fault: 'client',
      cause,
      details: { path },
    });
  }
  let value: unknown;
  try {
    if (/\.ya?ml$/i.test(path)) {
      const { parse } = await import('yaml');
      // Security: the default YAML 1.2 core schema builds plain data only (no custom tags, no code).
      value = parse(text, { maxAliasCount: 100 });
    } else value = JSON.parse(text);
  } catch (cause) {
    throw new AuthzError('the policy test file does not parse', {
      code: 'ERR_AUTHZ_POLICY_TEST',
      fault: 'client',
      cause,
      details: { path },
    });
  }
  const suite = parsePolicyTestSuite(value, path);
  if (suite.entitiesFile === undefined) return suite;
  const file = resolve(dirname(path), suite.entitiesFile);
  let entities: unknown;
  try {
    entities = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new AuthzError('cannot read the entities file of a policy test suite', {
      code: 'ERR_AUTHZ_POLICY_TEST',
      fault: 'client',
      cause,
      details: { path: file },
    });
  }
  if (!Array.isArray(entities)) throw bad(`${file}: an entities file holds a JSON list`);
  return { ...suite, entities: [...(suite.entities ?? []), ...(entities as CedarEntity[])] };
}

/**
 * Runs a policy test suite against an authorizer: each case's context is
 * built with {@link createContextBuilder} from `given` (suite defaults, then
 * the case), raw `context` attributes are merged on top, and the decision is
 * compared with `expect` (and `reasons` when given).
 *
 * @throws AuthzError `ERR_AUTHZ_POLICY_TEST` for a malformed suite.
 * @example
 * ```ts
 * const report = runPolicyTests(authz, await loadPolicyTestFile('tests.yaml'));
 * for (const r of report.results) if (!r.passed) console.error(r.name, r.failure);
 * ```
 */
export function runPolicyTests(authorizer: Authorizer, suite: PolicyTestSuite): PolicyTestReport {
  parsePolicyTestSuite(suite);
  const builder = createContextBuilder({ ...(suite.contextBuilder ?? {}) });
  const results: PolicyTestResult[] = [];
  for (const c of suite.tests) {
    const given = { ...(suite.given ?? {}), ...(c.given ?? {}) };
    let decision: AuthorizationDecision;
    try {
      let context: Record<string, CedarValue>;
      if (c.rawContext) context = { ...(c.context ?? {}) };
      else {
        const at = given.at === undefined ? Date.now() : Date.parse(given.at);
        if (!Number.isFinite(at)) throw bad(`${c.name}: "at" is not an ISO time`);
        const input: ContextInput = {
          clientIp: given.clientIp ?? '10.0.0.1',
          at,
          mfaVerifiedAt:
            given.mfaAgeSeconds === undefined || given.mfaAgeSeconds === null ? null : at - given.mfaAgeSeconds * 1000,
          ...(given.mfaMethod === undefined ? {} : { mfaMethod: given.mfaMethod }),
          ...(given.approvalId === undefined ? {} : { approvalId: given.approvalId }),
          ...(given.breakGlassSession === undefined ? {} : { breakGlassSession: given.breakGlassSession }),
          ...(given.force === undefined ? {} : { force: given.force }),
          ...(given.request === undefined ? {} : { request: given.request }),
        };
        context = { ...builder.build(input), ...(c.context ?? {}) };
      }
      decision = authorizer.authorizeSync({
        principal: c.principal,
        action: c.action,
        resource: c.resource,
        context,
        entities: [...(suite.entities ?? []), ...(c.entities ?? [])],
      });
    } catch (error) {
      if (error instanceof AuthzError && error.code === 'ERR_AUTHZ_POLICY_TEST') throw error;
      throw bad(`${c.name}: the request could not be evaluated`, {
        cause: error instanceof AuthzError ? error.code : 'unknown',
      });
    }
    let failure: string | undefined;
    if (decision.decision !== c.expect) failure = `expected ${c.expect}, got ${decision.decision}`;
    else if (c.reasons) {
      const want = [...c.reasons].sort();
      const got = [...decision.policyIds].sort();
      if (want.join('\n') !== got.join('\n'))
        failure = `expected reasons [${want.join(', ')}], got [${got.join(', ')}]`;
    }
    if (failure && decision.errors.length > 0)
      failure += `; errors: ${decision.errors.map((e) => `${e.policyId ?? 'request'}: ${e.message}`).join('; ')}`;
    results.push({
      name: c.name,
      passed: failure === undefined,
      expected: c.expect,
      decision,
      ...(failure ? { failure } : {}),
    });
  }
  const passed = results.filter((r) => r.passed).length;
  return { total: results.length, passed, failed: results.length - passed, results };
}
