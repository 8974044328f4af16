import type { Clock } from '@provisioning/core';

/** The outcome of a check: `manual` when it cannot be decided automatically (no evidence source wired, or a human must look). */
export type CheckStatus = 'pass' | 'fail' | 'manual';

/** What a check function returns. */
export interface CheckOutcome {
  readonly status: CheckStatus;
  /** Facts observed, one per line, secret-free (e.g. `access token TTL 900 s (limit 900 s)`). */
  readonly evidence: readonly string[];
  /** What to do to pass; required for `fail` and `manual`. */
  readonly remediation?: string;
}

/** Everything a check can read. Every reader is optional: a check whose reader is missing returns `manual`. */
export interface CheckContext {
  readonly readers: ComplianceReaders;
  readonly clock: Clock;
}

/**
 * An automated evidence check: a plain function over injected readers, mapped
 * to SOC 2 criteria and ISO/IEC 27001:2022 Annex A controls. A host
 * application registers its own in the same shape.
 */
export interface ComplianceCheck {
  /** Unique id, e.g. `auth.mfa-privileged`. */
  readonly id: string;
  readonly title: string;
  /** What the check verifies and why. */
  readonly description: string;
  /** SOC 2 criterion ids (`CC6`, `P4` …). */
  readonly soc2: readonly string[];
  /** ISO/IEC 27001:2022 Annex A control ids (`8.5` …). */
  readonly iso27001: readonly string[];
  run(context: CheckContext): CheckOutcome | Promise<CheckOutcome>;
}

/** Reads one set of configuration facts. */
export interface FactReader<T> {
  read(): Promise<T>;
}

/** Lists records (keys, leases, approvals …). */
export interface ListReader<T> {
  list(): Promise<readonly T[]>;
}

/** MFA enforcement as configured for one environment. */
export interface MfaPolicyFacts {
  /** The environment the facts describe (`production` …). */
  readonly environment: string;
  /** Roles that must present MFA to sign in. */
  readonly enforcedForRoles: readonly string[];
  /** How many holders of the checked roles were looked at (when read from the user and MFA stores). */
  readonly usersChecked?: number;
  /** Holders of the checked roles without a confirmed second factor, by user id. */
  readonly usersWithoutMfa?: readonly { readonly id: string; readonly roles: readonly string[] }[];
}

/** Password hashing parameters as configured. */
export interface PasswordHashingFacts {
  /** e.g. `argon2id`. */
  readonly algorithm: string;
  /** Memory cost in KiB (argon2 `m`). */
  readonly memoryKiB: number;
  /** Iterations (argon2 `t`). */
  readonly timeCost: number;
  /** Lanes (argon2 `p`). */
  readonly parallelism: number;
}

/** Token lifetimes as configured, in seconds. */
export interface TokenLifetimeFacts {
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
}

/** Whether audit logging is switched on. */
export interface AuditLogFacts {
  readonly enabled: boolean;
  /** Where events go (names only). */
  readonly sinks?: readonly string[];
}

/**
 * Verifies the tamper-evident audit chain (the audit package's verifier
 * satisfies it). Extra fields are shown as evidence.
 */
export interface AuditChainVerifier {
  verify(): Promise<{
    readonly ok: boolean;
    /** Events checked. */
    readonly checked?: number;
    /** Where the chain broke (sequence number or event id). */
    readonly brokenAt?: number | string;
    /** Events checked, as `@provisioning/audit`'s `verify()` reports them. */
    readonly count?: number;
    /** Signed checkpoints that matched the chain (`@provisioning/audit`). */
    readonly checkpointsVerified?: number;
    /** Events after the latest valid checkpoint (`@provisioning/audit`). */
    readonly unsignedTail?: number;
    /** What is wrong, by kind and sequence number (`@provisioning/audit`). */
    readonly problems?: readonly { readonly kind: string; readonly seq?: number }[];
  }>;
}

/** Break-glass limits as configured. */
export interface BreakGlassFacts {
  /** Approvers needed before emergency access is granted. */
  readonly requiredApprovers: number;
  /** Longest emergency session, in seconds. */
  readonly maxDurationSeconds: number;
  /** Distinct teams the approvers must come from. */
  readonly requiredTeams?: number;
  /** Idle time after which an emergency session is revoked, in seconds. */
  readonly inactivityTimeoutSeconds?: number;
}

/** A break-glass request and who approved it. */
export interface BreakGlassApproval {
  readonly requestId: string;
  readonly requesterId: string;
  readonly approverIds: readonly string[];
}

/** The state of the authorization policies. */
export interface PolicyFacts {
  /** The active policy set validated against the schema. */
  readonly validated: boolean;
  /** Reloads of the policy set; each should have produced an audit event. */
  readonly reloads: readonly { readonly at: Date | string; readonly auditEventId?: string | null }[];
}

/** A key with a rotation period. */
export interface KeyFacts {
  readonly id: string;
  readonly purpose?: string;
  readonly lastRotatedAt: Date | string;
  /** Longest allowed age, in days. */
  readonly rotationPeriodDays: number;
  /** Retired keys (kept to verify or decrypt old data) are exempt. Default `true`. */
  readonly active?: boolean;
}

/** A dynamic-secret lease. */
export interface LeaseFacts {
  readonly id: string;
  readonly expiresAt: Date | string;
  readonly revokedAt?: Date | string | null;
}

/** A request that is past its deadline (the DSR service's `overdue()` satisfies it). */
export interface OverdueReader {
  overdue(): Promise<readonly { readonly id: string; readonly dueAt: string }[]>;
}

/**
 * The injected evidence sources. The reference servers wire them to the auth,
 * authz, mfa, kms, secrets and audit packages; tests pass fixtures.
 */
export interface ComplianceReaders {
  readonly mfaPolicy?: FactReader<MfaPolicyFacts>;
  readonly passwordHashing?: FactReader<PasswordHashingFacts>;
  readonly tokenLifetimes?: FactReader<TokenLifetimeFacts>;
  readonly auditLog?: FactReader<AuditLogFacts>;
  readonly auditChain?: AuditChainVerifier;
  readonly breakGlass?: FactReader<BreakGlassFacts>;
  readonly breakGlassApprovals?: ListReader<BreakGlassApproval>;
  readonly policies?: FactReader<PolicyFacts>;
  readonly keys?: ListReader<KeyFacts>;
  readonly leases?: ListReader<LeaseFacts>;
  readonly dataSubjectRequests?: OverdueReader;
  /** Host applications add their own readers here. */
  readonly [name: string]: unknown;
}

/** The limits the built-in checks enforce. */
export interface CheckLimits {
  /** Roles that must have MFA enforced in production. Default `['Admin', 'Operator']`. */
  readonly mfaRoles?: readonly string[];
  /** The environment MFA enforcement is checked for. Default `production`. */
  readonly mfaEnvironment?: string;
  /** Minimum argon2id memory in KiB. Default 19,456 (19 MiB, OWASP). */
  readonly argon2MinMemoryKiB?: number;
  /** Minimum argon2id iterations. Default 2 (OWASP). */
  readonly argon2MinTimeCost?: number;
  /** Minimum argon2id parallelism. Default 1 (OWASP). */
  readonly argon2MinParallelism?: number;
  /** Longest access-token lifetime in seconds. Default 900 (15 min). */
  readonly maxAccessTokenTtlSeconds?: number;
  /** Longest refresh-token lifetime in seconds. Default 604,800 (7 d). */
  readonly maxRefreshTokenTtlSeconds?: number;
  /** Fewest break-glass approvers. Default 2. */
  readonly minBreakGlassApprovers?: number;
  /** Longest break-glass session in seconds. Default 14,400 (4 h). */
  readonly maxBreakGlassSeconds?: number;
  /** Grace after a lease expires before it counts as left unrevoked, in seconds. Default 300. */
  readonly leaseRevocationGraceSeconds?: number;
}

/** @internal */
export const manual = (reader: string): CheckOutcome => ({
  status: 'manual',
  evidence: [`no ${reader} reader is wired, so this cannot be checked automatically`],
  remediation: `Wire the ${reader} reader to the platform, or collect the evidence by hand.`,
});

const toMs = (t: Date | string): number => (t instanceof Date ? t.getTime() : Date.parse(t));
const iso = (t: Date | string): string => {
  const ms = toMs(t);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'at an unknown or invalid time';
};
const finite = (...values: unknown[]): boolean => values.every((v) => typeof v === 'number' && Number.isFinite(v));

/**
 * The built-in checks, with the limits they enforce:
 * `auth.mfa-privileged`, `auth.password-hashing`, `auth.token-lifetimes`,
 * `audit.logging-enabled`, `audit.chain-verifies`, `auth.break-glass-limits`,
 * `auth.break-glass-no-self-approval`, `authz.policies-validated`,
 * `kms.key-rotation`, `secrets.expired-leases-revoked`, `gdpr.request-deadlines`.
 * Incident, classification and access-matrix checks come from their own modules.
 *
 * @example
 * ```ts
 * const checks = builtinChecks({ maxAccessTokenTtlSeconds: 600 });
 * ```
 */
export function builtinChecks(limits: CheckLimits = {}): ComplianceCheck[] {
  const mfaRoles = limits.mfaRoles ?? ['Admin', 'Operator'];
  const mfaEnv = limits.mfaEnvironment ?? 'production';
  const minM = limits.argon2MinMemoryKiB ?? 19_456;
  const minT = limits.argon2MinTimeCost ?? 2;
  const minP = limits.argon2MinParallelism ?? 1;
  const maxAccess = limits.maxAccessTokenTtlSeconds ?? 900;
  const maxRefresh = limits.maxRefreshTokenTtlSeconds ?? 604_800;
  const minApprovers = limits.minBreakGlassApprovers ?? 2;
  const maxBreakGlass = limits.maxBreakGlassSeconds ?? 14_400;
  const leaseGraceMs = (limits.leaseRevocationGraceSeconds ?? 300) * 1000;

  return [
    {
      id: 'auth.mfa-privileged',
      title: `MFA enforced for ${mfaRoles.join(' and ')} in ${mfaEnv}`,
      description:
        'Privileged roles must present a second factor: a stolen password alone must not grant admin or operator access.',
      soc2: ['CC6'],
      iso27001: ['5.17', '8.2', '8.5'],
      async run({ readers }) {
        if (!readers.mfaPolicy) return manual('mfaPolicy');
        const facts = await readers.mfaPolicy.read();
        if (facts.environment !== mfaEnv) {
          return {
            status: 'manual',
            evidence: [`the MFA facts describe "${facts.environment}", not ${mfaEnv}`],
            remediation: `Point the mfaPolicy reader at the ${mfaEnv} configuration.`,
          };
        }
        const enforced = new Set(facts.enforcedForRoles);
        const missing = mfaRoles.filter((r) => !enforced.has(r));
        const without = facts.usersWithoutMfa ?? [];
        const evidence = [
          `MFA enforced in ${facts.environment} for: ${[...enforced].sort().join(', ') || 'no role'}`,
          ...(facts.usersChecked === undefined ? [] : [`${facts.usersChecked} privileged user(s) checked`]),
          ...without
            .slice(0, 20)
            .map((u) => `user ${u.id} (${[...u.roles].sort().join(', ')}) has no confirmed second factor`),
          ...(without.length > 20 ? [`… and ${without.length - 20} more without a second factor`] : []),
        ];
        return missing.length === 0
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation:
                without.length > 0
                  ? `Have the listed users enrol a second factor (or remove their ${missing.join(', ')} role); MFA is then required at their sign-in.`
                  : `Enforce MFA for ${missing.join(', ')} in ${mfaEnv}.`,
            };
      },
    },
    {
      id: 'auth.password-hashing',
      title: 'Password hashing at or above the OWASP minimum',
      description: `Passwords are hashed with argon2id at m >= ${minM} KiB, t >= ${minT}, p >= ${minP} (OWASP Password Storage Cheat Sheet).`,
      soc2: ['CC6'],
      iso27001: ['5.17', '8.5', '8.24'],
      async run({ readers }) {
        if (!readers.passwordHashing) return manual('passwordHashing');
        const f = await readers.passwordHashing.read();
        const evidence = [`${f.algorithm} m=${f.memoryKiB} KiB t=${f.timeCost} p=${f.parallelism}`];
        const problems: string[] = [];
        if (f.algorithm !== 'argon2id') problems.push(`use argon2id (found ${f.algorithm})`);
        if (!finite(f.memoryKiB, f.timeCost, f.parallelism)) problems.push('parameters must be numbers');
        else {
          if (f.memoryKiB < minM) problems.push(`raise memory to at least ${minM} KiB`);
          if (f.timeCost < minT) problems.push(`raise iterations to at least ${minT}`);
          if (f.parallelism < minP) problems.push(`raise parallelism to at least ${minP}`);
        }
        return problems.length === 0
          ? { status: 'pass', evidence }
          : { status: 'fail', evidence, remediation: `${problems.join('; ')}; rehash on next login.` };
      },
    },
    {
      id: 'auth.token-lifetimes',
      title: 'Token lifetimes within limits',
      description: `Access tokens live at most ${maxAccess} s and refresh tokens at most ${maxRefresh} s, bounding the use of a stolen token.`,
      soc2: ['CC6'],
      iso27001: ['5.17', '8.5'],
      async run({ readers }) {
        if (!readers.tokenLifetimes) return manual('tokenLifetimes');
        const f = await readers.tokenLifetimes.read();
        const evidence = [
          `access token TTL ${f.accessTokenTtlSeconds} s (limit ${maxAccess} s)`,
          `refresh token TTL ${f.refreshTokenTtlSeconds} s (limit ${maxRefresh} s)`,
        ];
        const problems: string[] = [];
        if (!finite(f.accessTokenTtlSeconds) || f.accessTokenTtlSeconds <= 0 || f.accessTokenTtlSeconds > maxAccess)
          problems.push(`set the access-token TTL to at most ${maxAccess} s`);
        if (!finite(f.refreshTokenTtlSeconds) || f.refreshTokenTtlSeconds <= 0 || f.refreshTokenTtlSeconds > maxRefresh)
          problems.push(`set the refresh-token TTL to at most ${maxRefresh} s`);
        return problems.length === 0
          ? { status: 'pass', evidence }
          : { status: 'fail', evidence, remediation: `${problems.join('; ')}.` };
      },
    },
    {
      id: 'audit.logging-enabled',
      title: 'Audit logging enabled',
      description: 'Security-relevant events are recorded to at least one sink.',
      soc2: ['CC4', 'CC7'],
      iso27001: ['8.15', '8.16'],
      async run({ readers }) {
        if (!readers.auditLog) return manual('auditLog');
        const f = await readers.auditLog.read();
        const sinks = f.sinks ?? [];
        const evidence = [
          `audit logging ${f.enabled ? 'enabled' : 'disabled'}; sinks: ${sinks.join(', ') || 'none listed'}`,
        ];
        return f.enabled === true && (f.sinks === undefined || sinks.length > 0)
          ? { status: 'pass', evidence }
          : { status: 'fail', evidence, remediation: 'Enable audit logging with at least one durable sink.' };
      },
    },
    {
      id: 'audit.chain-verifies',
      title: 'Audit chain verifies',
      description: 'The tamper-evident audit chain verifies end to end: no event was altered, removed or inserted.',
      soc2: ['CC4', 'CC7', 'PI1'],
      iso27001: ['5.28', '5.33', '8.15'],
      async run({ readers }) {
        if (!readers.auditChain) return manual('auditChain');
        const r = await readers.auditChain.verify();
        const checked = r.checked ?? r.count;
        const first = r.problems?.[0];
        const brokenAt =
          r.brokenAt ??
          (first === undefined
            ? undefined
            : // Only the kind's word characters: a verifier's text is not copied into reports.
              `${first.seq ?? '?'} (${String(first.kind)
                .replace(/[^a-z_]/g, '')
                .slice(0, 40)})`);
        const evidence = [
          `chain ${r.ok ? 'verified' : 'BROKEN'}${checked !== undefined ? ` over ${checked} events` : ''}${brokenAt !== undefined ? `; first bad event ${brokenAt}` : ''}`,
          ...(r.problems !== undefined && r.problems.length > 1 ? [`${r.problems.length} problems found`] : []),
          ...(r.checkpointsVerified !== undefined
            ? [
                `${r.checkpointsVerified} signed checkpoint(s) matched${r.unsignedTail ? `; ${r.unsignedTail} event(s) after the latest one are not yet signed` : ''}`,
              ]
            : []),
        ];
        return r.ok === true
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation:
                'Treat as a security incident: preserve the log, find the altered events, restore from a verified copy.',
            };
      },
    },
    {
      id: 'auth.break-glass-limits',
      title: `Break-glass needs >= ${minApprovers} approvers and lasts <= ${maxBreakGlass / 3600} h`,
      description: 'Emergency access is approved by several people and expires quickly.',
      soc2: ['CC6'],
      iso27001: ['5.3', '8.2', '8.18'],
      async run({ readers }) {
        if (!readers.breakGlass) return manual('breakGlass');
        const f = await readers.breakGlass.read();
        const evidence = [
          `approvers required: ${f.requiredApprovers}${f.requiredTeams === undefined ? '' : ` from ${f.requiredTeams} team(s)`}; max duration ${f.maxDurationSeconds} s${f.inactivityTimeoutSeconds === undefined ? '' : `; revoked after ${f.inactivityTimeoutSeconds} s idle`}`,
        ];
        const problems: string[] = [];
        if (!finite(f.requiredApprovers) || f.requiredApprovers < minApprovers)
          problems.push(`require at least ${minApprovers} approvers`);
        if (!finite(f.maxDurationSeconds) || f.maxDurationSeconds <= 0 || f.maxDurationSeconds > maxBreakGlass)
          problems.push(`limit sessions to ${maxBreakGlass} s`);
        return problems.length === 0
          ? { status: 'pass', evidence }
          : { status: 'fail', evidence, remediation: `${problems.join('; ')}.` };
      },
    },
    {
      id: 'auth.break-glass-no-self-approval',
      title: 'No one approved their own break-glass request',
      description: 'Separation of duties: the requester of emergency access is never among its approvers.',
      soc2: ['CC5', 'CC6'],
      iso27001: ['5.3'],
      async run({ readers }) {
        if (!readers.breakGlassApprovals) return manual('breakGlassApprovals');
        const list = await readers.breakGlassApprovals.list();
        const self = list.filter((a) => a.approverIds.includes(a.requesterId));
        const evidence = [
          `${list.length} break-glass request(s) reviewed`,
          ...self.map((a) => `request ${a.requestId} approved by its requester`),
        ];
        return self.length === 0
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation: 'Refuse self-approval in the break-glass service and review the listed sessions.',
            };
      },
    },
    {
      id: 'authz.policies-validated',
      title: 'Policies validated and reloads audited',
      description:
        'The active authorization policies validate against the schema and every reload left an audit event.',
      soc2: ['CC5', 'CC6', 'CC8'],
      iso27001: ['5.15', '8.3', '8.32'],
      async run({ readers }) {
        if (!readers.policies) return manual('policies');
        const f = await readers.policies.read();
        const unaudited = f.reloads.filter((r) => !r.auditEventId);
        const evidence = [
          `policy set ${f.validated ? 'validated' : 'NOT validated'} against the schema`,
          `${f.reloads.length} reload(s), ${unaudited.length} without an audit event`,
        ];
        const problems: string[] = [];
        if (f.validated !== true) problems.push('validate the policy set against the schema before activating it');
        if (unaudited.length > 0) problems.push('emit an audit event on every policy reload');
        return problems.length === 0
          ? { status: 'pass', evidence }
          : { status: 'fail', evidence, remediation: `${problems.join('; ')}.` };
      },
    },
    {
      id: 'kms.key-rotation',
      title: 'Keys rotated within their period',
      description: 'Every active key is younger than its rotation period.',
      soc2: ['CC6'],
      iso27001: ['8.24'],
      async run({ readers, clock }) {
        if (!readers.keys) return manual('keys');
        const keys = (await readers.keys.list()).filter((k) => k.active !== false);
        const now = clock.now();
        const stale = keys.filter((k) => {
          const at = toMs(k.lastRotatedAt);
          return !Number.isFinite(at) || !finite(k.rotationPeriodDays) || now - at > k.rotationPeriodDays * 86_400_000;
        });
        const evidence = [
          `${keys.length} active key(s) checked`,
          ...stale.map((k) => `key ${k.id} last rotated ${iso(k.lastRotatedAt)} (period ${k.rotationPeriodDays} d)`),
        ];
        return stale.length === 0
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation: `Rotate ${stale.map((k) => k.id).join(', ')} and re-wrap their data keys.`,
            };
      },
    },
    {
      id: 'secrets.expired-leases-revoked',
      title: 'No expired lease left unrevoked',
      description: 'Dynamic credentials are revoked when their lease expires.',
      soc2: ['CC6'],
      iso27001: ['5.18', '8.2'],
      async run({ readers, clock }) {
        if (!readers.leases) return manual('leases');
        const now = clock.now();
        const leases = await readers.leases.list();
        const open = leases.filter((l) => !l.revokedAt && toMs(l.expiresAt) + leaseGraceMs < now);
        const evidence = [
          `${leases.length} lease(s) checked`,
          ...open.map((l) => `lease ${l.id} expired ${iso(l.expiresAt)} and is not revoked`),
        ];
        return open.length === 0
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation: 'Run the lease reaper and revoke the listed credentials at their provider.',
            };
      },
    },
    {
      id: 'gdpr.request-deadlines',
      title: 'Data-subject requests answered in time',
      description: 'No GDPR data-subject request is open past its (possibly extended) deadline.',
      soc2: ['P5', 'P7'],
      iso27001: ['5.34'],
      async run({ readers }) {
        if (!readers.dataSubjectRequests) return manual('dataSubjectRequests');
        const late = await readers.dataSubjectRequests.overdue();
        const evidence =
          late.length === 0 ? ['no request past its deadline'] : late.map((r) => `request ${r.id} was due ${r.dueAt}`);
        return late.length === 0
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation: 'Complete or answer the listed requests now and record why they were late.',
            };
      },
    },
  ];
}
