import type { AuditLog } from '@provisioning/audit';
import { createAuditLog, ed25519Signer, generateCheckpointKeyPair, memoryAuditStore } from '@provisioning/audit';
import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { createCheckRegistry, runAssessment } from './assessment.js';
import type { CheckOutcome, ComplianceCheck, ComplianceReaders } from './checks.js';
import { builtinChecks } from './checks.js';
import { ComplianceError } from './errors.js';
import { ISO27001_2013_FAMILIES, ISO27001_2022_CONTROLS } from './iso27001.js';
import { SOC2_CRITERIA } from './soc2.js';

const clock = createManualClock(new Date('2026-06-01T12:00:00Z'));

// The real audit log (@provisioning/audit): one whose chain verifies, and one whose stored event was edited.
const signer = ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey });
async function auditLogWith(events: number, tamper: boolean): Promise<AuditLog> {
  const store = memoryAuditStore();
  const log = await createAuditLog({ sinks: [store], signer });
  const login = (i: number) =>
    log.record({ action: 'auth.login.succeeded', outcome: 'success', actor: { id: `u${i}`, type: 'user' } });
  for (let i = 0; i < events; i++) await login(i);
  await log.checkpoint();
  await login(events); // after the checkpoint: not yet signed
  await log.flush();
  const second = store.entries[1];
  if (tamper && second) store.entries[1] = { ...second, event: { ...second.event, outcome: 'failure' } };
  return log;
}
const intactAudit = await auditLogWith(5, false);
const tamperedAudit = await auditLogWith(5, true);
const fact = <T>(value: T) => ({ read: async () => value });
const list = <T>(items: T[]) => ({ list: async () => items });

/** For every built-in check: readers that make it pass, and readers that make it fail. */
const fixtures: Record<string, { pass: ComplianceReaders; fail: ComplianceReaders }> = {
  'auth.mfa-privileged': {
    pass: { mfaPolicy: fact({ environment: 'production', enforcedForRoles: ['Admin', 'Operator', 'Developer'] }) },
    fail: { mfaPolicy: fact({ environment: 'production', enforcedForRoles: ['Admin'] }) },
  },
  'auth.password-hashing': {
    pass: { passwordHashing: fact({ algorithm: 'argon2id', memoryKiB: 19_456, timeCost: 2, parallelism: 1 }) },
    fail: { passwordHashing: fact({ algorithm: 'argon2id', memoryKiB: 16_384, timeCost: 2, parallelism: 1 }) },
  },
  'auth.token-lifetimes': {
    pass: { tokenLifetimes: fact({ accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 604_800 }) },
    fail: { tokenLifetimes: fact({ accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 604_800 }) },
  },
  'audit.logging-enabled': {
    pass: { auditLog: fact({ enabled: true, sinks: ['sqlite'] }) },
    fail: { auditLog: fact({ enabled: false }) },
  },
  'audit.chain-verifies': {
    pass: { auditChain: intactAudit },
    fail: { auditChain: tamperedAudit },
  },
  'auth.break-glass-limits': {
    pass: { breakGlass: fact({ requiredApprovers: 2, maxDurationSeconds: 4 * 3600 }) },
    fail: { breakGlass: fact({ requiredApprovers: 1, maxDurationSeconds: 4 * 3600 }) },
  },
  'auth.break-glass-no-self-approval': {
    pass: { breakGlassApprovals: list([{ requestId: 'bg-1', requesterId: 'u1', approverIds: ['u2', 'u3'] }]) },
    fail: { breakGlassApprovals: list([{ requestId: 'bg-2', requesterId: 'u1', approverIds: ['u1', 'u3'] }]) },
  },
  'authz.policies-validated': {
    pass: { policies: fact({ validated: true, reloads: [{ at: '2026-05-01T00:00:00Z', auditEventId: 'evt-1' }] }) },
    fail: { policies: fact({ validated: true, reloads: [{ at: '2026-05-01T00:00:00Z', auditEventId: null }] }) },
  },
  'kms.key-rotation': {
    pass: { keys: list([{ id: 'k1', lastRotatedAt: '2026-05-01T00:00:00Z', rotationPeriodDays: 90 }]) },
    fail: {
      keys: list([
        { id: 'k1', lastRotatedAt: '2026-01-01T00:00:00Z', rotationPeriodDays: 90 },
        { id: 'old', lastRotatedAt: '2020-01-01T00:00:00Z', rotationPeriodDays: 90, active: false },
      ]),
    },
  },
  'secrets.expired-leases-revoked': {
    pass: {
      leases: list([
        { id: 'l1', expiresAt: '2026-06-01T11:00:00Z', revokedAt: '2026-06-01T11:00:01Z' },
        { id: 'l2', expiresAt: '2026-06-01T13:00:00Z' },
      ]),
    },
    fail: { leases: list([{ id: 'l3', expiresAt: new Date('2026-06-01T11:00:00Z'), revokedAt: null }]) },
  },
  'gdpr.request-deadlines': {
    pass: { dataSubjectRequests: { overdue: async () => [] } },
    fail: { dataSubjectRequests: { overdue: async () => [{ id: 'r1', dueAt: '2026-05-31T23:59:59.999Z' }] } },
  },
};

async function runCheck(check: ComplianceCheck, readers: ComplianceReaders): Promise<CheckOutcome> {
  return check.run({ readers, clock });
}

describe('built-in checks', () => {
  const checks = builtinChecks();

  it('has a passing and a failing fixture for every built-in check', () => {
    expect(Object.keys(fixtures).sort()).toEqual(checks.map((c) => c.id).sort());
  });

  for (const check of builtinChecks()) {
    it(`${check.id}: passes on its passing fixture`, async () => {
      const outcome = await runCheck(check, fixtures[check.id]?.pass ?? {});
      expect(outcome.status).toBe('pass');
      expect(outcome.evidence.length).toBeGreaterThan(0);
    });
    it(`${check.id}: fails on its failing fixture, with remediation`, async () => {
      const outcome = await runCheck(check, fixtures[check.id]?.fail ?? {});
      expect(outcome.status).toBe('fail');
      expect(outcome.remediation).toMatch(/\w/);
    });
    it(`${check.id}: is manual when its reader is not wired`, async () => {
      const outcome = await runCheck(check, {});
      expect(outcome.status).toBe('manual');
      expect(outcome.remediation).toBeTruthy();
    });
  }

  it('audit.chain-verifies reads the real audit log: counts, checkpoints, and where it broke', async () => {
    const check = checks.find((c) => c.id === 'audit.chain-verifies') as ComplianceCheck;
    const pass = await runCheck(check, { auditChain: intactAudit });
    expect(pass.evidence).toEqual([
      'chain verified over 6 events',
      '1 signed checkpoint(s) matched; 1 event(s) after the latest one are not yet signed',
    ]);
    const fail = await runCheck(check, { auditChain: tamperedAudit });
    expect(fail.status).toBe('fail');
    expect(fail.evidence[0]).toBe('chain BROKEN over 6 events; first bad event 2 (modified)');
  });

  it('holds each limit at its boundary', async () => {
    const byId = new Map(checks.map((c) => [c.id, c]));
    const run = (id: string, readers: ComplianceReaders) => runCheck(byId.get(id) as ComplianceCheck, readers);
    const hashing = (memoryKiB: number, timeCost: number, parallelism: number, algorithm = 'argon2id') =>
      run('auth.password-hashing', { passwordHashing: fact({ algorithm, memoryKiB, timeCost, parallelism }) });
    expect((await hashing(19_455, 2, 1)).status).toBe('fail');
    expect((await hashing(19_456, 1, 1)).status).toBe('fail');
    expect((await hashing(65_536, 3, 4)).status).toBe('pass');
    expect((await hashing(65_536, 3, 4, 'bcrypt')).status).toBe('fail');
    expect((await hashing(Number.NaN, 3, 4)).status).toBe('fail');
    const tokens = (a: number, r: number) =>
      run('auth.token-lifetimes', { tokenLifetimes: fact({ accessTokenTtlSeconds: a, refreshTokenTtlSeconds: r }) });
    expect((await tokens(901, 600)).status).toBe('fail');
    expect((await tokens(900, 604_801)).status).toBe('fail');
    expect((await tokens(0, 600)).status).toBe('fail');
    const bg = (n: number, s: number) =>
      run('auth.break-glass-limits', { breakGlass: fact({ requiredApprovers: n, maxDurationSeconds: s }) });
    expect((await bg(2, 14_401)).status).toBe('fail');
    expect((await bg(3, 3600)).status).toBe('pass');
    // MFA facts from another environment cannot prove production.
    expect(
      (
        await run('auth.mfa-privileged', {
          mfaPolicy: fact({ environment: 'staging', enforcedForRoles: ['Admin', 'Operator'] }),
        })
      ).status,
    ).toBe('manual');
    // Policies not validated fail even with audited reloads.
    expect((await run('authz.policies-validated', { policies: fact({ validated: false, reloads: [] }) })).status).toBe(
      'fail',
    );
    // A key with an unreadable rotation time fails rather than passes.
    expect(
      (await run('kms.key-rotation', { keys: list([{ id: 'k', lastRotatedAt: 'garbage', rotationPeriodDays: 30 }]) }))
        .status,
    ).toBe('fail');
    // A lease within the revocation grace is not yet a failure.
    expect(
      (await run('secrets.expired-leases-revoked', { leases: list([{ id: 'l', expiresAt: '2026-06-01T11:58:00Z' }]) }))
        .status,
    ).toBe('pass');
  });

  it('takes custom limits', async () => {
    const [mfa] = builtinChecks({ mfaRoles: ['Admin', 'Operator', 'Auditor'] });
    const outcome = await runCheck(mfa as ComplianceCheck, fixtures['auth.mfa-privileged']?.pass ?? {});
    expect(outcome).toMatchObject({ status: 'fail', remediation: expect.stringContaining('Auditor') });
  });
});

describe('control catalogs', () => {
  it('lists the SOC 2 series CC1–CC9, A1, C1, PI1 and P1–P8', () => {
    expect(SOC2_CRITERIA.map((c) => c.id)).toEqual([
      ...Array.from({ length: 9 }, (_, i) => `CC${i + 1}`),
      'A1',
      'C1',
      'PI1',
      ...Array.from({ length: 8 }, (_, i) => `P${i + 1}`),
    ]);
  });

  it('lists the 93 ISO/IEC 27001:2022 Annex A controls in 4 themes (37/8/14/34), numbered without gaps', () => {
    expect(ISO27001_2022_CONTROLS).toHaveLength(93);
    const counts = { organizational: 37, people: 8, physical: 14, technological: 34 };
    const clause = { organizational: 5, people: 6, physical: 7, technological: 8 };
    for (const [theme, n] of Object.entries(counts)) {
      const ids = ISO27001_2022_CONTROLS.filter((c) => c.theme === theme).map((c) => c.id);
      expect(ids).toEqual(Array.from({ length: n }, (_, i) => `${clause[theme as keyof typeof clause]}.${i + 1}`));
    }
    expect(new Set(ISO27001_2022_CONTROLS.map((c) => c.title)).size).toBe(93);
  });

  it('maps every 2022 control to a 2013 family A.5–A.18 or marks it new', () => {
    const families = new Set(ISO27001_2013_FAMILIES.map((f) => f.id));
    expect([...families]).toEqual(Array.from({ length: 14 }, (_, i) => `A.${i + 5}`));
    for (const c of ISO27001_2022_CONTROLS) {
      if (c.legacy2013 !== null) expect(families.has(c.legacy2013), c.id).toBe(true);
    }
    // The eleven controls introduced in 2022.
    expect(ISO27001_2022_CONTROLS.filter((c) => c.legacy2013 === null).map((c) => c.id)).toEqual([
      '5.7',
      '5.23',
      '5.30',
      '7.4',
      '8.9',
      '8.10',
      '8.11',
      '8.12',
      '8.16',
      '8.23',
      '8.28',
    ]);
  });
});

describe('assessments', () => {
  const allPass: ComplianceReaders = Object.assign({}, ...Object.values(fixtures).map((f) => f.pass));

  it('rolls check results up to SOC 2 criteria and ISO 27001 controls', async () => {
    const registry = createCheckRegistry(builtinChecks());
    const readers = { ...allPass, ...fixtures['auth.token-lifetimes']?.fail };
    const result = await runAssessment(registry, { readers, clock, title: 'Test run' });
    expect(result.summary).toEqual({ pass: 10, fail: 1, manual: 0 });
    const soc = new Map(result.soc2.map((c) => [c.controlId, c]));
    expect(soc.get('CC6')?.status).toBe('fail');
    expect(soc.get('CC6')?.checkIds).toContain('auth.token-lifetimes');
    expect(soc.get('CC8')?.status).toBe('pass');
    expect(soc.get('P1')).toMatchObject({ status: 'manual', checkIds: [] });
    const iso = new Map(result.iso27001.map((c) => [c.controlId, c]));
    expect(iso.get('8.5')?.status).toBe('fail');
    expect(iso.get('8.24')?.status).toBe('pass');
    expect(iso.get('7.1')).toMatchObject({ status: 'manual', theme: 'physical' });
    const legacy = new Map(result.iso27001Legacy.map((c) => [c.controlId, c]));
    expect(legacy.get('A.9')?.status).toBe('fail');
    expect(legacy.get('A.10')?.status).toBe('pass');
    expect(legacy.get('A.11')?.status).toBe('manual');
  });

  it('fails closed on a check that throws or answers nonsense, without its message', async () => {
    const registry = createCheckRegistry([
      {
        id: 'app.throws',
        title: 'Throws',
        description: 'd',
        soc2: ['CC7'],
        iso27001: [],
        run: () => {
          throw new Error('password=hunter2 leaked in message');
        },
      },
      {
        id: 'app.nonsense',
        title: 'Nonsense',
        description: 'd',
        soc2: [],
        iso27001: ['8.13'],
        run: () => ({ status: 'ok' }) as never,
      },
    ]);
    const result = await runAssessment(registry, { readers: {}, clock });
    expect(result.checks.map((c) => c.status)).toEqual(['fail', 'fail']);
    expect(JSON.stringify(result)).not.toContain('hunter2');
  });

  it('lets a host application register its own check and run a subset', async () => {
    const registry = createCheckRegistry(builtinChecks());
    registry.register({
      id: 'app.backup-restore-tested',
      title: 'Backup restore tested this quarter',
      description: 'A restore from backup was rehearsed.',
      soc2: ['A1'],
      iso27001: ['8.13'],
      run: async ({ readers }) => {
        const reader = readers.backups as { read(): Promise<{ lastRestoreTest: string }> } | undefined;
        if (!reader) return { status: 'manual', evidence: ['no backups reader'], remediation: 'wire it' };
        const { lastRestoreTest } = await reader.read();
        return {
          status: lastRestoreTest >= '2026-04-01' ? 'pass' : 'fail',
          evidence: [`last restore test ${lastRestoreTest}`],
          remediation: 'Rehearse a restore.',
        };
      },
    });
    const result = await runAssessment(registry, {
      readers: { backups: fact({ lastRestoreTest: '2026-05-10' }) },
      clock,
      only: ['app.backup-restore-tested'],
    });
    expect(result.checks).toHaveLength(1);
    expect(result.soc2.find((c) => c.controlId === 'A1')?.status).toBe('pass');
    await expect(runAssessment(registry, { readers: {}, only: ['nope'] })).rejects.toMatchObject({
      code: 'ERR_COMPLIANCE_UNKNOWN_ID',
    });
  });

  it('refuses duplicate checks, unknown control ids and malformed checks', () => {
    const registry = createCheckRegistry(builtinChecks());
    const base = { title: 't', description: 'd', run: () => ({ status: 'pass' as const, evidence: [] }) };
    expect(() => registry.register({ ...base, id: 'auth.token-lifetimes', soc2: [], iso27001: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_COMPLIANCE_DUPLICATE_ID' }),
    );
    expect(() => registry.register({ ...base, id: 'x.y', soc2: ['CC10'], iso27001: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_COMPLIANCE_UNKNOWN_ID' }),
    );
    expect(() => registry.register({ ...base, id: 'x.z', soc2: [], iso27001: ['9.1'] })).toThrow(
      expect.objectContaining({ code: 'ERR_COMPLIANCE_UNKNOWN_ID' }),
    );
    expect(() => registry.register({ id: 'Bad' } as never)).toThrow(ComplianceError);
  });
});
