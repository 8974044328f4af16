import { createManualClock } from '@provisioning/core';
import { accessMatrixChecks } from '../src/access-matrix.js';
import { createCheckRegistry, runAssessment } from '../src/assessment.js';
import type { ComplianceReaders } from '../src/checks.js';
import { builtinChecks } from '../src/checks.js';
import { classificationCheck } from '../src/classification.js';
import type { DsrRecord } from '../src/dsr-model.js';
import { incidentChecks, markPersonalDataBreach, openIncident } from '../src/incident.js';
import type { ComplianceReport } from '../src/report.js';
import { buildReport } from '../src/report.js';

/** Text an attacker could get into a report (a check title, an incident title). */
export const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)> & 'q' | *b* [l](http://evil.test)`;

/** A realistic report: most checks pass, some fail, some are manual, with a hostile custom check and incident. */
export async function sampleReport(): Promise<ComplianceReport> {
  const clock = createManualClock(new Date('2026-06-01T12:00:00Z'));
  const fact = <T>(value: T) => ({ read: async () => value });
  const declared = {
    Admin: ['read', 'deploy', 'breakglass:approve'],
    Operator: ['read', 'deploy', 'breakglass:request'],
    Viewer: ['read'],
  };
  const registry = createCheckRegistry([
    ...builtinChecks(),
    ...incidentChecks(),
    classificationCheck(),
    ...accessMatrixChecks({
      declared,
      sod: [
        {
          id: 'sod.break-glass',
          description: 'request vs approve',
          actions: ['breakglass:request', 'breakglass:approve'],
        },
      ],
    }),
  ]);
  registry.register({
    id: 'app.hostile',
    title: HOSTILE,
    description: 'A host check whose text must be escaped.',
    soc2: ['CC2'],
    iso27001: ['5.37'],
    run: () => ({ status: 'fail', evidence: [HOSTILE, 'line one\nline two'], remediation: HOSTILE }),
  });
  const breach = markPersonalDataBreach(
    openIncident({ title: HOSTILE, severity: 'high', owner: 'alice', by: 'bob', id: 'inc-1' }, { clock }),
    { by: 'dpo' },
    { clock },
  );
  clock.advance(80 * 3_600_000);
  const readers: ComplianceReaders = {
    mfaPolicy: fact({ environment: 'production', enforcedForRoles: ['Admin', 'Operator'] }),
    passwordHashing: fact({ algorithm: 'argon2id', memoryKiB: 19_456, timeCost: 2, parallelism: 1 }),
    tokenLifetimes: fact({ accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 30 * 86_400 }),
    auditLog: fact({ enabled: true, sinks: ['postgres'] }),
    auditChain: { verify: async () => ({ ok: true, checked: 1204 }) },
    breakGlass: fact({ requiredApprovers: 2, maxDurationSeconds: 3600 }),
    breakGlassApprovals: { list: async () => [{ requestId: 'bg-7', requesterId: 'u1', approverIds: ['u2', 'u3'] }] },
    policies: fact({ validated: true, reloads: [{ at: '2026-05-30T10:00:00Z', auditEventId: 'evt-9' }] }),
    keys: {
      list: async () => [{ id: 'jwt-signing-2026-05', lastRotatedAt: '2026-05-01T00:00:00Z', rotationPeriodDays: 90 }],
    },
    leases: { list: async () => [{ id: 'lease-aws-17', expiresAt: '2026-06-01T00:00:00Z', revokedAt: null }] },
    dataSubjectRequests: { overdue: async () => [] },
    incidents: { list: async () => [breach] },
    authorizer: {
      decide: (role: string, action: string) => (declared as Record<string, string[]>)[role]?.includes(action) ?? false,
    },
  };
  const assessment = await runAssessment(registry, {
    readers,
    clock,
    title: 'Provisioning platform — SOC 2 / ISO 27001 readiness',
  });
  const dsr: DsrRecord = {
    id: 'req-0001',
    version: 4,
    type: 'erasure',
    subjectId: 'user-42',
    status: 'partially_completed',
    receivedAt: '2026-05-02T09:00:00.000Z',
    dueAt: '2026-06-02T23:59:59.999Z',
    identity: { attempts: 1, verifiedAt: '2026-05-02T09:05:00.000Z', method: 'mfa' },
    providers: {
      users: { status: 'succeeded', at: '2026-05-02T09:06:00.000Z', attempts: 1, affected: 1, method: 'deleted' },
      leases: {
        status: 'failed',
        at: '2026-05-02T09:06:00.000Z',
        attempts: 1,
        error: { code: 'ERR_STORE_UNAVAILABLE', message: 'x' },
      },
    },
    history: [],
  };
  return buildReport({
    assessment,
    organisation: 'Acme <Ops> & Co',
    dataSubjectRequests: [dsr],
    incidents: [breach],
    clock,
  });
}
