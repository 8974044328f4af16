import type { RandomSource } from '@provisioning/core';
import { systemRandom } from '@provisioning/core';
import type { ControlResult } from './assessment.js';
import type { ComplianceReport } from './report.js';

/** The OSCAL version the export follows. */
export const OSCAL_VERSION = '1.1.2';

/** Options of {@link toOscalAssessmentResults}. */
export interface OscalOptions {
  /** `import-ap.href`: the assessment plan the results belong to. Default `#assessment-plan` (none published). */
  readonly assessmentPlanHref?: string;
  /** `metadata.version` of this document. Default `1.0`. */
  readonly documentVersion?: string;
  /** Randomness for the UUIDs (v4). Default: the system CSPRNG. */
  readonly random?: RandomSource;
}

/** An OSCAL 1.1 assessment-results document (the subset this package writes). */
export interface OscalAssessmentResults {
  readonly 'assessment-results': {
    readonly uuid: string;
    readonly metadata: {
      readonly title: string;
      readonly 'last-modified': string;
      readonly version: string;
      readonly 'oscal-version': string;
      readonly remarks?: string;
    };
    readonly 'import-ap': { readonly href: string };
    readonly results: readonly OscalResult[];
  };
}

/** An OSCAL result. */
export interface OscalResult {
  readonly uuid: string;
  readonly title: string;
  readonly description: string;
  readonly start: string;
  readonly end: string;
  readonly 'reviewed-controls': {
    readonly 'control-selections': readonly {
      readonly 'include-controls': readonly { readonly 'control-id': string }[];
    }[];
  };
  readonly observations: readonly {
    readonly uuid: string;
    readonly title: string;
    readonly description: string;
    readonly methods: readonly ('TEST' | 'EXAMINE')[];
    readonly types?: readonly string[];
    readonly props: readonly { readonly name: string; readonly value: string; readonly ns?: string }[];
    readonly collected: string;
    readonly remarks?: string;
  }[];
  readonly findings: readonly {
    readonly uuid: string;
    readonly title: string;
    readonly description: string;
    readonly target: {
      readonly type: 'objective-id';
      readonly 'target-id': string;
      readonly status: { readonly state: 'satisfied' | 'not-satisfied' };
    };
    readonly 'related-observations'?: readonly { readonly 'observation-uuid': string }[];
  }[];
}

const NS = 'https://provisioning.dev/ns/oscal';

/**
 * A version 4 UUID: OSCAL 1.1 accepts only versions 4 and 5, so the SDK's
 * UUIDv7 ids cannot be used here.
 */
function uuidv4(random: RandomSource): string {
  const b = random.bytes(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The OSCAL token (`target-id`, `control-id`) of a control: starts with a letter, then letters, digits, `.`, `-`, `_`.
 *
 * @example
 * ```ts
 * oscalControlId({ framework: 'iso27001:2022', controlId: '8.5' }); // 'iso27001-2022_8.5'
 * ```
 */
export function oscalControlId(control: Pick<ControlResult, 'framework' | 'controlId'>): string {
  const prefix =
    control.framework === 'soc2' ? 'soc2' : control.framework === 'iso27001:2022' ? 'iso27001-2022' : 'iso27001-2013';
  return `${prefix}_${control.controlId.toLowerCase().replace(/[^a-z0-9.]/g, '-')}`;
}

/**
 * Exports a report as an OSCAL 1.1 assessment-results document: one result
 * for the assessment, one observation per check (method `TEST` for automated
 * outcomes, `EXAMINE` for checks needing manual evidence), and one finding per
 * SOC 2 criterion or ISO/IEC 27001:2022 control that automated checks decided
 * (`satisfied` / `not-satisfied`), linked to the observations behind it.
 * Controls with only manual evidence are listed as reviewed but get no finding.
 *
 * @example
 * ```ts
 * await writeFile('assessment-results.json', JSON.stringify(toOscalAssessmentResults(report), null, 2));
 * ```
 */
export function toOscalAssessmentResults(report: ComplianceReport, options: OscalOptions = {}): OscalAssessmentResults {
  const random = options.random ?? systemRandom;
  const a = report.assessment;
  const observationUuid = new Map<string, string>();
  const observations = a.checks.map((c) => {
    const uuid = uuidv4(random);
    observationUuid.set(c.checkId, uuid);
    return {
      uuid,
      title: c.title,
      description: [c.description, ...c.evidence].join('\n'),
      methods: [c.status === 'manual' ? 'EXAMINE' : 'TEST'] as ('TEST' | 'EXAMINE')[],
      types: ['control-objective'],
      props: [
        { name: 'check-id', ns: NS, value: c.checkId },
        { name: 'check-status', ns: NS, value: c.status },
      ],
      collected: c.checkedAt,
      ...(c.remediation ? { remarks: c.remediation } : {}),
    };
  });
  const decided = [...a.soc2, ...a.iso27001].filter((c) => c.status !== 'manual');
  const findings = decided.map((c) => ({
    uuid: uuidv4(random),
    title: `${c.controlId} ${c.title}`,
    description: `${c.status === 'pass' ? 'All' : 'Not all'} automated checks mapped to ${c.controlId} passed: ${c.checkIds.join(', ')}.`,
    target: {
      type: 'objective-id' as const,
      'target-id': oscalControlId(c),
      status: { state: c.status === 'pass' ? ('satisfied' as const) : ('not-satisfied' as const) },
    },
    'related-observations': c.checkIds.flatMap((id) => {
      const uuid = observationUuid.get(id);
      return uuid ? [{ 'observation-uuid': uuid }] : [];
    }),
  }));
  return {
    'assessment-results': {
      uuid: uuidv4(random),
      metadata: {
        title: report.title,
        'last-modified': report.generatedAt,
        version: options.documentVersion ?? '1.0',
        'oscal-version': OSCAL_VERSION,
        ...(report.organisation ? { remarks: `Organisation: ${report.organisation}` } : {}),
      },
      'import-ap': { href: options.assessmentPlanHref ?? '#assessment-plan' },
      results: [
        {
          uuid: uuidv4(random),
          title: report.title,
          description: `Automated compliance checks: ${a.summary.pass} passed, ${a.summary.fail} failed, ${a.summary.manual} need manual evidence.`,
          start: a.startedAt,
          end: a.finishedAt,
          'reviewed-controls': {
            'control-selections': [
              { 'include-controls': [...a.soc2, ...a.iso27001].map((c) => ({ 'control-id': oscalControlId(c) })) },
            ],
          },
          observations,
          findings,
        },
      ],
    },
  };
}
