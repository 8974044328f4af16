import type { Clock } from '@provisioning/core';
import { isSdkError, systemClock } from '@provisioning/core';
import type { CheckContext, CheckOutcome, CheckStatus, ComplianceCheck, ComplianceReaders } from './checks.js';
import { ComplianceError } from './errors.js';
import type { Iso27001Theme } from './iso27001.js';
import { ISO27001_2013_FAMILIES, ISO27001_2022_CONTROLS } from './iso27001.js';
import { SOC2_CRITERIA } from './soc2.js';

/** The checks an assessment runs. */
export interface CheckRegistry {
  /**
   * Adds a check.
   *
   * @throws ComplianceError `ERR_COMPLIANCE_DUPLICATE_ID`; `ERR_COMPLIANCE_UNKNOWN_ID` when it maps to a control id
   * that is not a SOC 2 criterion or an ISO 27001:2022 control; `ERR_COMPLIANCE_INVALID_INPUT` for a malformed check.
   */
  register(check: ComplianceCheck): void;
  get(id: string): ComplianceCheck | undefined;
  /** Every check, in registration order. */
  list(): readonly ComplianceCheck[];
}

const CHECK_ID = /^[a-z0-9][a-z0-9._-]{0,79}$/;
const SOC2_IDS: ReadonlySet<string> = new Set(SOC2_CRITERIA.map((c) => c.id));
const ISO_IDS: ReadonlySet<string> = new Set(ISO27001_2022_CONTROLS.map((c) => c.id));

/**
 * Creates a {@link CheckRegistry}, usually with `builtinChecks()` plus the
 * classification, access-matrix and incident checks, to which a host
 * application adds its own.
 *
 * @example
 * ```ts
 * const registry = createCheckRegistry(builtinChecks());
 * registry.register({ id: 'app.backups', title: 'Backups tested', description: '…', soc2: ['A1'], iso27001: ['8.13'],
 *   run: async () => ({ status: 'manual', evidence: [], remediation: 'Attach the last restore test.' }) });
 * ```
 */
export function createCheckRegistry(initial: readonly ComplianceCheck[] = []): CheckRegistry {
  const checks = new Map<string, ComplianceCheck>();
  const registry: CheckRegistry = {
    register(check) {
      if (
        typeof check !== 'object' ||
        check === null ||
        typeof check.run !== 'function' ||
        typeof check.id !== 'string' ||
        !CHECK_ID.test(check.id) ||
        typeof check.title !== 'string' ||
        !Array.isArray(check.soc2) ||
        !Array.isArray(check.iso27001)
      ) {
        throw new ComplianceError(
          'a check needs an id (lowercase), a title, soc2 and iso27001 lists and a run function',
          {
            code: 'ERR_COMPLIANCE_INVALID_INPUT',
            fault: 'client',
          },
        );
      }
      if (checks.has(check.id)) {
        throw new ComplianceError(`check ${check.id} is already registered`, {
          code: 'ERR_COMPLIANCE_DUPLICATE_ID',
          fault: 'client',
          details: { id: check.id },
        });
      }
      const unknown = [
        ...check.soc2.filter((id) => !SOC2_IDS.has(id)),
        ...check.iso27001.filter((id) => !ISO_IDS.has(id)),
      ];
      if (unknown.length > 0) {
        throw new ComplianceError(`check ${check.id} maps to unknown controls`, {
          code: 'ERR_COMPLIANCE_UNKNOWN_ID',
          fault: 'client',
          details: { id: check.id, controls: unknown.slice(0, 10) },
        });
      }
      checks.set(check.id, check);
    },
    get: (id) => checks.get(id),
    list: () => [...checks.values()],
  };
  for (const check of initial) registry.register(check);
  return registry;
}

/** One check's result in an assessment. */
export interface CheckResult extends CheckOutcome {
  readonly checkId: string;
  readonly title: string;
  readonly description: string;
  readonly soc2: readonly string[];
  readonly iso27001: readonly string[];
  /** ISO 8601 time the check finished. */
  readonly checkedAt: string;
}

/** A control's status rolled up from the checks mapped to it. */
export interface ControlResult {
  readonly framework: 'soc2' | 'iso27001:2022' | 'iso27001:2013';
  readonly controlId: string;
  readonly title: string;
  /** For ISO 27001:2022: the theme. */
  readonly theme?: Iso27001Theme;
  /** For ISO 27001:2022: the 2013 family (`null` for controls new in 2022). */
  readonly legacy2013?: string | null;
  /**
   * `fail` if any mapped check failed; `pass` if every mapped check passed;
   * otherwise `manual` (no automated check, or one needs a human).
   */
  readonly status: CheckStatus;
  readonly checkIds: readonly string[];
}

/** The result of {@link runAssessment}. */
export interface AssessmentResult {
  readonly title: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly checks: readonly CheckResult[];
  readonly soc2: readonly ControlResult[];
  readonly iso27001: readonly ControlResult[];
  readonly iso27001Legacy: readonly ControlResult[];
  readonly summary: { readonly pass: number; readonly fail: number; readonly manual: number };
}

/** Options of {@link runAssessment}. */
export interface AssessmentOptions {
  readonly readers: ComplianceReaders;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Report title. Default `Compliance assessment`. */
  readonly title?: string;
  /** Run only these check ids. */
  readonly only?: readonly string[];
}

const rollUp = (statuses: readonly CheckStatus[]): CheckStatus =>
  statuses.includes('fail') ? 'fail' : statuses.length > 0 && statuses.every((s) => s === 'pass') ? 'pass' : 'manual';

/**
 * Runs every check and rolls results up to SOC 2 criteria and ISO/IEC
 * 27001:2022 controls (plus the 2013 families). A check that throws or returns
 * a malformed outcome is a `fail` (fail closed), with the error's code as
 * evidence.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_UNKNOWN_ID` when `only` names an unregistered check.
 * @example
 * ```ts
 * const result = await runAssessment(registry, { readers, title: 'Q3 SOC 2 readiness' });
 * console.log(result.summary); // { pass: 9, fail: 1, manual: 2 }
 * ```
 */
export async function runAssessment(registry: CheckRegistry, options: AssessmentOptions): Promise<AssessmentResult> {
  const clock = options.clock ?? systemClock;
  const startedAt = new Date(clock.now()).toISOString();
  let checks = registry.list();
  if (options.only) {
    const missing = options.only.filter((id) => !registry.get(id));
    if (missing.length > 0) {
      throw new ComplianceError('unknown check ids', {
        code: 'ERR_COMPLIANCE_UNKNOWN_ID',
        fault: 'client',
        details: { ids: missing.slice(0, 10) },
      });
    }
    checks = checks.filter((c) => options.only?.includes(c.id));
  }
  const context: CheckContext = { readers: options.readers ?? {}, clock };
  const results: CheckResult[] = [];
  for (const check of checks) {
    const outcome = await runOne(check, context);
    results.push({
      checkId: check.id,
      title: check.title,
      description: check.description,
      soc2: check.soc2,
      iso27001: check.iso27001,
      checkedAt: new Date(clock.now()).toISOString(),
      ...outcome,
    });
  }
  const byControl = (pick: (r: CheckResult) => readonly string[], id: string) =>
    results.filter((r) => pick(r).includes(id));
  const soc2 = SOC2_CRITERIA.map((c): ControlResult => {
    const mapped = byControl((r) => r.soc2, c.id);
    return {
      framework: 'soc2',
      controlId: c.id,
      title: c.title,
      status: rollUp(mapped.map((r) => r.status)),
      checkIds: mapped.map((r) => r.checkId),
    };
  });
  const iso27001 = ISO27001_2022_CONTROLS.map((c): ControlResult => {
    const mapped = byControl((r) => r.iso27001, c.id);
    return {
      framework: 'iso27001:2022',
      controlId: c.id,
      title: c.title,
      theme: c.theme,
      legacy2013: c.legacy2013,
      status: rollUp(mapped.map((r) => r.status)),
      checkIds: mapped.map((r) => r.checkId),
    };
  });
  const iso27001Legacy = ISO27001_2013_FAMILIES.map((f): ControlResult => {
    const ids = new Set(iso27001.filter((c) => c.legacy2013 === f.id).flatMap((c) => c.checkIds));
    const mapped = results.filter((r) => ids.has(r.checkId));
    return {
      framework: 'iso27001:2013',
      controlId: f.id,
      title: f.title,
      status: rollUp(mapped.map((r) => r.status)),
      checkIds: [...ids],
    };
  });
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return {
    title: options.title ?? 'Compliance assessment',
    startedAt,
    finishedAt: new Date(clock.now()).toISOString(),
    checks: results,
    soc2,
    iso27001,
    iso27001Legacy,
    summary: { pass: count('pass'), fail: count('fail'), manual: count('manual') },
  };
}

async function runOne(check: ComplianceCheck, context: CheckContext): Promise<CheckOutcome> {
  try {
    const outcome = await check.run(context);
    if (
      typeof outcome !== 'object' ||
      outcome === null ||
      !['pass', 'fail', 'manual'].includes(outcome.status) ||
      !Array.isArray(outcome.evidence)
    ) {
      return {
        status: 'fail',
        evidence: ['the check returned a malformed outcome'],
        remediation: 'Fix the check implementation.',
      };
    }
    const evidence = outcome.evidence.map((e) => String(e));
    if (outcome.status !== 'pass' && !outcome.remediation) {
      return {
        status: outcome.status,
        evidence,
        remediation: 'No remediation given by the check; investigate the evidence.',
      };
    }
    return { status: outcome.status, evidence, ...(outcome.remediation ? { remediation: outcome.remediation } : {}) };
  } catch (error) {
    // Fail closed: an error while collecting evidence is not a pass. Only the code is reported;
    // an evidence source's message could carry configuration values.
    const code = isSdkError(error) ? error.code : error instanceof Error ? error.name : 'unknown error';
    return {
      status: 'fail',
      evidence: [`the check could not run (${code})`],
      remediation: 'Fix the evidence source and run the assessment again.',
    };
  }
}
