import {
  type AssessmentResult,
  builtinChecks,
  type ComplianceReaders,
  type ControlResult,
  createCheckRegistry,
  passwordHashingReader,
  runAssessment,
  tokenLifetimesReader,
} from '@provisioning/compliance';
import { security } from '@provisioning/middleware/hono';
import {
  CONTROL_CENTER_ROUTES,
  type ComplianceFrameworkCounts,
  type ComplianceSummary,
  ok,
  ROLES,
} from '@provisioning/platform-client/api';
import { Hono } from 'hono';
import type { SecuredEnv } from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { resource } from '../kit/resources.js';
import { listBreakGlassRequests } from './break-glass.js';

/** How long one assessment answers the summary, ms (it verifies the whole audit chain). */
const SUMMARY_TTL_MS = 60_000;
// The compliance posture is evidence of the audit trail: its readers read it
// (`audit-access`: the audit and security teams, Auditors; Admins). Failing
// checks tell an attacker where the platform is weak, so no other role does.
const COMPLIANCE_EVIDENCE = resource('AuditLog', 'compliance');

/**
 * The compliance readers that need nothing but the `Platform`: the MFA rule,
 * password hashing, token lifetimes, the audit log and its chain, break-glass
 * limits and approvals, the Cedar policies and their audited reloads. A
 * service adds the readers of its own state (the orchestrator's leases, GDPR
 * requests and incidents); a check whose reader is missing is `manual`.
 */
export function platformComplianceReaders(platform: Platform): ComplianceReaders {
  return {
    // MFA is not a sign-in requirement per role: Cedar requires it for every sensitive production action, whatever the role.
    mfaPolicy: { read: async () => ({ environment: 'production', enforcedForRoles: [...ROLES] }) },
    // Probes, not configuration: the hasher hashes a throw-away password and the
    // token service issues (and at once revokes) a probe session, so the checks
    // see what new hashes and tokens are really made with.
    passwordHashing: passwordHashingReader({ hasher: platform.hasher }),
    tokenLifetimes: tokenLifetimesReader({ tokens: platform.tokens }),
    auditLog: { read: async () => ({ enabled: true, sinks: [platform.storage] }) },
    auditChain: platform.auditLog,
    breakGlass: {
      read: async () => ({
        requiredApprovers: platform.breakGlass.limits.requiredApprovals,
        maxDurationSeconds: platform.breakGlass.limits.maxDurationSeconds,
      }),
    },
    breakGlassApprovals: {
      list: async () =>
        (await listBreakGlassRequests(platform)).map((r) => ({
          requestId: r.id,
          requesterId: r.requester.id,
          approverIds: r.approvals.map((a) => a.approver.id),
        })),
    },
    policies: {
      read: async () => ({
        validated: true, // the engine loads only strictly validated sets
        reloads: (await platform.auditLog.query({ action: 'policy.reload.succeeded' }, { limit: 1000 })).records.map(
          (r) => ({ at: r.event.time, auditEventId: r.event.id }),
        ),
      }),
    },
  };
}

const counts = (controls: readonly ControlResult[]): ComplianceFrameworkCounts => ({
  passing: controls.filter((c) => c.status === 'pass').length,
  failing: controls.filter((c) => c.status === 'fail').length,
  unknown: controls.filter((c) => c.status === 'manual').length,
});

/** The contract's summary of an assessment. */
export function toComplianceSummary(result: AssessmentResult): ComplianceSummary {
  return {
    last_run: result.finishedAt,
    soc2: counts(result.soc2),
    iso27001: counts(result.iso27001),
    failing_checks: result.checks
      .filter((c) => c.status === 'fail')
      .map((c) => ({
        id: c.checkId,
        title: c.title,
        soc2: [...c.soc2],
        iso27001: [...c.iso27001],
        remediation: c.remediation ?? null,
      })),
    checks: { total: result.checks.length, passing: result.checks.filter((c) => c.status === 'pass').length },
  };
}

/**
 * `GET /api/v1/compliance/summary` (`CONTROL_CENTER_ROUTES.complianceSummary`)
 * as a mountable sub-app: `@provisioning/compliance`'s built-in SOC 2 / ISO
 * 27001 checks over {@link platformComplianceReaders}, counted per framework
 * with the failing checks. One assessment answers for a minute (it verifies
 * the audit chain end to end). Cedar `read` on `Provisioning::AuditLog::"compliance"`.
 */
export function complianceSummaryRoutes(platform: Platform): Hono<SecuredEnv> {
  const app = new Hono<SecuredEnv>();
  const registry = createCheckRegistry(builtinChecks());
  const readers = platformComplianceReaders(platform);
  let last: { atMs: number; run: Promise<ComplianceSummary> } | undefined;
  const summary = (): Promise<ComplianceSummary> => {
    const now = platform.clock.now();
    if (last === undefined || now - last.atMs >= SUMMARY_TTL_MS) {
      const run = runAssessment(registry, { readers, clock: platform.clock, title: 'Control center' }).then(
        toComplianceSummary,
      );
      // A failed run is not kept: the next request tries again.
      run.catch(() => {
        if (last?.run === run) last = undefined;
      });
      last = { atMs: now, run };
    }
    return last.run;
  };
  app.get(
    CONTROL_CENTER_ROUTES.complianceSummary.path,
    security(platform.chain, { action: 'read', resource: () => COMPLIANCE_EVIDENCE }),
    async (c) => c.json(ok(await summary())),
  );
  return app;
}
