import type { ComplianceCheck } from './checks.js';
import { manual } from './checks.js';
import { invalidInput } from './errors.js';

/** Data classification levels, from least to most sensitive. */
export type ClassificationLevel = 'public' | 'internal' | 'confidential' | 'restricted';

/** Every {@link ClassificationLevel}, least sensitive first. */
export const CLASSIFICATION_LEVELS: readonly ClassificationLevel[] = Object.freeze([
  'public',
  'internal',
  'confidential',
  'restricted',
]);

/** How data of one level must be handled. */
export interface HandlingRule {
  /** Stored encrypted. */
  readonly encryptionAtRest: boolean;
  /** Sent only over TLS or equivalent. */
  readonly encryptionInTransit: boolean;
  /** Longest retention in days; `null` for no limit. */
  readonly maxRetentionDays: number | null;
  /** Roles that may read it; `'*'` for everyone. */
  readonly allowedRoles: readonly string[] | '*';
  /** Every access leaves an audit event. */
  readonly accessAudited: boolean;
}

/**
 * Default handling rules. Restricted data (keys, credentials, special
 * categories of personal data) is encrypted, audited, kept at most a year and
 * readable by Admin and Operator only; adjust to your policy.
 */
export const DEFAULT_HANDLING_RULES: Readonly<Record<ClassificationLevel, HandlingRule>> = Object.freeze({
  public: {
    encryptionAtRest: false,
    encryptionInTransit: false,
    maxRetentionDays: null,
    allowedRoles: '*',
    accessAudited: false,
  },
  internal: {
    encryptionAtRest: false,
    encryptionInTransit: true,
    maxRetentionDays: null,
    allowedRoles: ['Admin', 'Operator', 'Developer', 'Viewer', 'Auditor'],
    accessAudited: false,
  },
  confidential: {
    encryptionAtRest: true,
    encryptionInTransit: true,
    maxRetentionDays: 730,
    allowedRoles: ['Admin', 'Operator', 'Developer', 'Auditor'],
    accessAudited: true,
  },
  restricted: {
    encryptionAtRest: true,
    encryptionInTransit: true,
    maxRetentionDays: 365,
    allowedRoles: ['Admin', 'Operator'],
    accessAudited: true,
  },
});

/** A data store or data set as it is actually configured. */
export interface DataAsset {
  readonly id: string;
  readonly classification: ClassificationLevel;
  readonly encryptedAtRest: boolean;
  readonly encryptedInTransit: boolean;
  /** Configured retention in days; `null` for keep forever. */
  readonly retentionDays: number | null;
  /** Roles that can read it. */
  readonly accessRoles: readonly string[];
  readonly accessAudited: boolean;
}

/**
 * The ways an asset breaks the handling rule of its level (empty when compliant).
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` for an unknown level.
 * @example
 * ```ts
 * handlingViolations({ id: 'users-db', classification: 'restricted', encryptedAtRest: false, … });
 * // ['users-db: restricted data must be encrypted at rest', …]
 * ```
 */
export function handlingViolations(
  asset: DataAsset,
  rules: Readonly<Record<ClassificationLevel, HandlingRule>> = DEFAULT_HANDLING_RULES,
): string[] {
  const rule = rules[asset?.classification];
  if (!rule) throw invalidInput('unknown classification level', { asset: String(asset?.id).slice(0, 100) });
  const out: string[] = [];
  const level = asset.classification;
  if (rule.encryptionAtRest && asset.encryptedAtRest !== true)
    out.push(`${asset.id}: ${level} data must be encrypted at rest`);
  if (rule.encryptionInTransit && asset.encryptedInTransit !== true)
    out.push(`${asset.id}: ${level} data must be encrypted in transit`);
  if (
    rule.maxRetentionDays !== null &&
    (asset.retentionDays === null || !(asset.retentionDays <= rule.maxRetentionDays))
  ) {
    out.push(
      `${asset.id}: ${level} data may be kept at most ${rule.maxRetentionDays} days (configured: ${asset.retentionDays ?? 'forever'})`,
    );
  }
  if (rule.allowedRoles !== '*') {
    const allowed = new Set(rule.allowedRoles);
    const extra = asset.accessRoles.filter((r) => !allowed.has(r));
    if (extra.length > 0) out.push(`${asset.id}: roles not allowed to read ${level} data: ${extra.join(', ')}`);
  }
  if (rule.accessAudited && asset.accessAudited !== true)
    out.push(`${asset.id}: access to ${level} data must be audited`);
  return out;
}

/** Readers of the classification check. */
export interface ClassificationReaders {
  readonly dataAssets?: { list(): Promise<readonly DataAsset[]> };
}

/**
 * The check `data.classification-handling`: every data asset meets the
 * handling rule of its classification level.
 *
 * @example
 * ```ts
 * registry.register(classificationCheck());
 * ```
 */
export function classificationCheck(
  rules: Readonly<Record<ClassificationLevel, HandlingRule>> = DEFAULT_HANDLING_RULES,
): ComplianceCheck {
  return {
    id: 'data.classification-handling',
    title: 'Data handled according to its classification',
    description:
      'Encryption, retention, readers and audit of every data asset match the rule of its level (Public, Internal, Confidential, Restricted).',
    soc2: ['C1', 'CC6', 'P4'],
    iso27001: ['5.12', '5.13', '8.10', '8.24'],
    async run({ readers }) {
      const reader = (readers as ClassificationReaders).dataAssets;
      if (!reader) return manual('dataAssets');
      const assets = await reader.list();
      const violations = assets.flatMap((a) => {
        try {
          return handlingViolations(a, rules);
        } catch {
          return [`${String(a?.id)}: unknown classification level`];
        }
      });
      const evidence = [`${assets.length} data asset(s) checked`, ...violations];
      return violations.length === 0
        ? { status: 'pass', evidence }
        : {
            status: 'fail',
            evidence,
            remediation:
              'Bring each listed asset in line with its handling rule, or reclassify it with a documented reason.',
          };
    },
  };
}
