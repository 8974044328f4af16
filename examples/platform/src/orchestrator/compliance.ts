import {
  type AssessmentResult,
  builtinChecks,
  type ComplianceReaders,
  type ControlResult,
  createCheckRegistry,
  createDsrService,
  createProviderRegistry,
  type DsrRecord,
  type DsrService,
  incidentChecks,
  runAssessment,
} from '@provisioning/compliance';
import { sqlDsrStore } from '@provisioning/compliance/sql';
import { security } from '@provisioning/middleware/hono';
import {
  type ComplianceControl,
  type ComplianceFramework,
  DataSubjectExtensionInputSchema,
  type DataSubjectRequest,
  DataSubjectRequestInputSchema,
  DataSubjectVerificationInputSchema,
  ok,
  ORCHESTRATOR_ROUTES as R,
  routePattern,
} from '@provisioning/platform-client/api';
import { type Context, Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import { param, principalOf, type SecuredEnv } from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { enumParam } from '../kit/query.js';
import { PLATFORM_RESOURCE } from '../kit/resources.js';
import { platformComplianceReaders } from '../security/compliance-summary.js';
import { incidentRoutes } from './incidents.js';
import type { Leases } from './leases.js';

const FRAMEWORKS: readonly ComplianceFramework[] = ['soc2', 'iso27001', 'gdpr'];
/** Fresh-MFA window within which a subject's own request counts as identity-verified, seconds. */
const SELF_VERIFY_MFA_SECONDS = 900;

const DSR_STATUS: Readonly<Record<DsrRecord['status'], DataSubjectRequest['status']>> = {
  received: 'received',
  verified: 'in_progress',
  in_progress: 'in_progress',
  partially_completed: 'in_progress',
  failed: 'in_progress',
  completed: 'completed',
  rejected: 'rejected',
  cancelled: 'rejected',
};
const toRequest = (r: DsrRecord): DataSubjectRequest => ({
  id: r.id,
  type: r.type as DataSubjectRequest['type'],
  subject: r.subjectId,
  status: DSR_STATUS[r.status],
  created_at: r.receivedAt,
  due_at: r.dueAt,
  ...(r.extension === undefined ? {} : { extension: { at: r.extension.at, reason: r.extension.reason } }),
});

const CONTROL_STATUS = { pass: 'passing', fail: 'failing', manual: 'unknown' } as const;

/** The platform's compliance services: GDPR requests, incidents and the assessment over real readers. */
export interface Compliance {
  readonly dsr: DsrService;
  assess(): Promise<AssessmentResult>;
}

/**
 * The compliance routes of `ORCHESTRATOR_ROUTES` over `@provisioning/compliance`,
 * wired to the real stores: GDPR data-subject requests in the platform
 * database (providers: the user directory, MFA devices, the audit trail —
 * append-only, so its erasure is `retained` under its legal retention), the
 * incident state machine (records in the platform database), and SOC 2 / ISO
 * 27001 / GDPR control checks whose readers are the platform itself (password
 * hashing, token lifetimes, the audit chain, break-glass limits and approvals,
 * the Cedar policies and their audited reloads, leases, DSR deadlines,
 * incidents). Cedar: all of it is platform administration
 * (`Environment::"platform"`): reading for every role, changes for Admins —
 * except a subject's own GDPR request, which any user files for themselves
 * (the route's authorizer is the self-service rule: see below).
 */
export async function complianceRoutes(
  platform: Platform,
  leases: Leases,
): Promise<{ app: Hono<SecuredEnv>; compliance: Compliance }> {
  const app = new Hono<SecuredEnv>();
  const chain = platform.chain;
  const { app: incidentApp, incidents } = await incidentRoutes(platform);

  const providers = createProviderRegistry([
    {
      id: 'users',
      description: 'the user directory',
      async export({ subjectId }) {
        const user = await platform.users.findById(subjectId);
        if (user === undefined) return { subjectFound: false, data: null };
        const { passwordHash: _secret, ...rest } = user;
        return {
          subjectFound: true,
          records: 1,
          data: { ...rest, createdAt: user.createdAt.toISOString(), updatedAt: user.updatedAt.toISOString() },
        };
      },
      async erase({ subjectId }) {
        if ((await platform.users.findById(subjectId)) === undefined) return { subjectFound: false };
        await platform.tokens.revokeUser(subjectId);
        const removed = await platform.users.delete(subjectId);
        return { subjectFound: true, affected: removed ? 1 : 0, method: 'deleted' };
      },
      async rectify({ subjectId }, changes) {
        if ((await platform.users.findById(subjectId)) === undefined) return { subjectFound: false };
        const email = changes.email;
        if (typeof email !== 'string')
          return { subjectFound: true, affected: 0, note: 'only email is rectifiable here' };
        await platform.users.update(subjectId, { email });
        return { subjectFound: true, affected: 1 };
      },
    },
    {
      id: 'mfa-devices',
      description: 'MFA devices (names and kinds; secrets are never exported)',
      async export({ subjectId }) {
        const devices = await platform.mfa.listDevices(subjectId);
        return {
          subjectFound: devices.length > 0,
          records: devices.length,
          data: devices.map((d) => ({ ...d })) as never,
        };
      },
    },
    {
      id: 'audit',
      description: 'the tamper-evident audit trail',
      appendOnly: true,
      async export({ subjectId }) {
        const page = await platform.auditLog.query({ actorId: subjectId }, { limit: 1000 });
        return {
          subjectFound: page.records.length > 0,
          records: page.records.length,
          data: page.records.map((r) => r.event) as never,
        };
      },
      async erase({ subjectId }) {
        const page = await platform.auditLog.query({ actorId: subjectId }, { limit: 1 });
        // Deleting events would break the hash chain; security logs are kept for their retention period.
        return {
          subjectFound: page.records.length > 0,
          method: 'retained',
          note: 'security audit trail kept for its retention period (GDPR Art. 17(3)(b), (e))',
        };
      },
    },
  ]);
  const dsr = createDsrService({
    store: await sqlDsrStore({ database: platform.database }),
    providers,
    clock: platform.clock,
    subjects: { exists: async (id) => (await platform.users.findById(id)) !== undefined },
    // Identity: the subject themselves, signed in with an MFA of the last 15
    // minutes (the evidence is the verified session, never a document); or,
    // for a request filed for someone, an administrator — not the subject,
    // with their own fresh MFA — who records where the out-of-band check is
    // documented. Anything else is not verified.
    verifier: {
      async verify({ subjectId, evidence }) {
        const e = evidence as
          | { principalId?: unknown; mfaAgeSeconds?: unknown; verifiedBy?: unknown; reference?: unknown }
          | undefined;
        const freshMfa = typeof e?.mfaAgeSeconds === 'number' && e.mfaAgeSeconds <= SELF_VERIFY_MFA_SECONDS;
        if (e?.verifiedBy !== undefined) {
          const verified =
            freshMfa &&
            typeof e.verifiedBy === 'string' &&
            e.verifiedBy !== subjectId &&
            typeof e.reference === 'string' &&
            e.reference.trim().length >= 3;
          return { verified, method: 'out-of-band' };
        }
        return { verified: e?.principalId === subjectId && freshMfa, method: 'session-mfa' };
      },
    },
  });

  const readers: ComplianceReaders = {
    ...platformComplianceReaders(platform),
    leases: {
      list: async () =>
        (await leases.manager.list({ limit: 10_000 })).map((l) => ({
          id: l.id,
          expiresAt: l.expiresAt,
          revokedAt: null,
        })),
    },
    dataSubjectRequests: dsr,
    incidents: { list: () => incidents.list() },
  };
  const registry = createCheckRegistry([...builtinChecks(), ...incidentChecks()]);
  const assess = () => runAssessment(registry, { readers, clock: platform.clock, title: 'Provisioning platform' });

  const controls = (result: AssessmentResult, framework: ComplianceFramework): ComplianceControl[] => {
    const evidenceOf = (ids: readonly string[]): string | undefined => {
      const text = result.checks
        .filter((c) => ids.includes(c.checkId))
        .flatMap((c) => c.evidence)
        .join('; ');
      return text === '' ? undefined : text.slice(0, 2000);
    };
    const fromControl = (c: ControlResult): ComplianceControl => ({
      id: c.controlId,
      framework,
      title: c.title,
      status: CONTROL_STATUS[c.status],
      checked_at: c.checkIds.length === 0 ? null : result.finishedAt,
      ...(evidenceOf(c.checkIds) === undefined ? {} : { evidence: evidenceOf(c.checkIds) as string }),
    });
    if (framework === 'soc2') return result.soc2.map(fromControl);
    if (framework === 'iso27001') return result.iso27001.map(fromControl);
    // GDPR: the checks that test GDPR obligations (request deadlines, breach notification).
    return result.checks
      .filter((c) => c.checkId.startsWith('gdpr.') || c.checkId === 'incident.breach-notification')
      .map((c) => ({
        id: c.checkId,
        framework,
        title: c.title,
        status: CONTROL_STATUS[c.status],
        checked_at: c.checkedAt,
        ...(c.evidence.length === 0 ? {} : { evidence: c.evidence.join('; ').slice(0, 2000) }),
      }));
  };

  const read = security(chain, { action: 'read', resource: () => PLATFORM_RESOURCE });
  const list = security(chain, { action: 'list', resource: () => PLATFORM_RESOURCE });

  // Processes a verified request and audits the outcome as the compliance action it is.
  const processRequest = async (verified: DsrRecord, actorId: string) => {
    const processed = await dsr.process(verified.id);
    const record = processed.record;
    await platform.auditLog.record({
      action:
        record.type === 'erasure'
          ? 'compliance.data.erased'
          : record.type === 'rectification'
            ? 'compliance.data.rectified'
            : 'compliance.data.exported',
      outcome: record.status === 'completed' ? 'success' : 'failure',
      actor: { id: actorId, type: 'user' },
      resource: { type: 'dsr_request', id: record.id },
      metadata: { type: record.type, stage: record.status },
    });
    return { record, bundle: processed.export as unknown };
  };
  // The subject's data is handed over in this answer only: never stored, logged or cached.
  const answerRequest = (c: Context, record: DsrRecord, bundle: unknown, status: 200 | 201) => {
    if (bundle !== undefined) c.header('cache-control', 'no-store');
    return c.json(ok({ ...toRequest(record), ...(bundle === undefined ? {} : { export: bundle }) }), status);
  };

  app.get(R.listControls.path, list, async (c) => {
    const framework = enumParam(c, 'framework', FRAMEWORKS);
    const result = await assess();
    return c.json(ok((framework === undefined ? FRAMEWORKS : [framework]).flatMap((f) => controls(result, f))));
  });

  app.get(routePattern(R.complianceReport), read, async (c) => {
    const framework = c.req.param('framework') as ComplianceFramework;
    if (!FRAMEWORKS.includes(framework))
      throw new RequestError(400, 'INVALID_FRAMEWORK', `framework is one of ${FRAMEWORKS.join(', ')}`);
    const result = await assess();
    const list = controls(result, framework);
    return c.json(
      ok({
        framework,
        generated_at: result.finishedAt,
        passing: list.filter((x) => x.status === 'passing').length,
        failing: list.filter((x) => x.status === 'failing').length,
        controls: list,
      }),
    );
  });

  // A GDPR request: the subject files their own (any signed-in user; identity
  // verified by their fresh MFA, then processed at once), or an administrator
  // files one for someone (it waits, `received`, for out-of-band verification).
  app.post(
    R.createDataSubjectRequest.path,
    security(
      platform.createChain({
        authorizer: {
          authorize: async ({ principal }) => ({
            allowed: principal.type === 'user' && principal.emergency === undefined,
            policyIds: ['gdpr-self-service'],
          }),
        },
      }),
      {
        action: 'create',
        resource: () => PLATFORM_RESOURCE,
      },
    ),
    async (c) => {
      const body = await readBody(c, DataSubjectRequestInputSchema);
      const principal = principalOf(c);
      const self = body.subject === principal.id;
      if (!self && !principal.roles.includes('Admin')) {
        throw new RequestError(403, 'NOT_YOUR_DATA', 'Only the data subject or an administrator files a request.');
      }
      if ((body.changes !== undefined) !== (body.type === 'rectification')) {
        throw new RequestError(400, 'INVALID_REQUEST', '$.changes: required for rectification, refused otherwise');
      }
      let bundle: unknown;
      let record = await dsr.submit({
        type: body.type,
        subjectId: body.subject,
        ...(body.changes === undefined ? {} : { rectification: body.changes }),
      });
      const mfaAgeSeconds = c.get('security').mfaAgeSeconds;
      if (self && mfaAgeSeconds !== undefined) {
        record = await dsr.verifyIdentity(record.id, { principalId: principal.id, mfaAgeSeconds });
        if (record.status === 'verified') ({ record, bundle } = await processRequest(record, principal.id));
      }
      return answerRequest(c, record, bundle, 201);
    },
  );

  // A request an administrator filed for someone waits, `received`, until an
  // administrator (not the subject) records the out-of-band identity check;
  // then it is processed at once. Exports come in this answer.
  app.post(
    routePattern(R.verifyDataSubjectRequest),
    security(
      platform.createChain({
        authorizer: {
          authorize: async ({ principal }) => ({
            allowed:
              principal.type === 'user' && principal.emergency === undefined && principal.roles.includes('Admin'),
            policyIds: ['gdpr-admin-verification'],
          }),
        },
      }),
      {
        action: 'update',
        resource: () => PLATFORM_RESOURCE,
        sensitive: true,
        mfaMaxAgeSeconds: SELF_VERIFY_MFA_SECONDS,
      },
    ),
    async (c) => {
      const body = await readBody(c, DataSubjectVerificationInputSchema);
      const id = param(c, 'id');
      const found = await dsr.get(id).catch(() => undefined);
      if (found === undefined) throw new RequestError(404, 'REQUEST_NOT_FOUND', 'No such request.');
      const principal = principalOf(c);
      if (found.subjectId === principal.id) {
        throw new RequestError(
          403,
          'NOT_OUT_OF_BAND',
          'A subject verifies their own request by filing it signed in with MFA.',
        );
      }
      if (found.status !== 'received') {
        throw new RequestError(409, 'REQUEST_NOT_PENDING', `The request is ${DSR_STATUS[found.status]}.`);
      }
      let record = await dsr.verifyIdentity(id, {
        verifiedBy: principal.id,
        reference: body.reference,
        mfaAgeSeconds: c.get('security').mfaAgeSeconds,
      });
      let bundle: unknown;
      if (record.status === 'verified') ({ record, bundle } = await processRequest(record, principal.id));
      return answerRequest(c, record, bundle, 200);
    },
  );

  // GDPR Art. 12(3): an administrator may extend an open request's one-month
  // deadline by two months, once, before it passes, telling the subject why.
  // The service refuses anything else (ERR_COMPLIANCE_EXTENSION_REFUSED, 409;
  // an unknown id is ERR_COMPLIANCE_REQUEST_NOT_FOUND, 404);
  // the extension is audited, because it postpones a subject's right.
  app.post(
    routePattern(R.extendDataSubjectRequest),
    security(
      platform.createChain({
        authorizer: {
          authorize: async ({ principal }) => ({
            allowed:
              principal.type === 'user' && principal.emergency === undefined && principal.roles.includes('Admin'),
            policyIds: ['gdpr-admin-extension'],
          }),
        },
      }),
      {
        action: 'update',
        resource: () => PLATFORM_RESOURCE,
        sensitive: true,
        mfaMaxAgeSeconds: SELF_VERIFY_MFA_SECONDS,
      },
    ),
    async (c) => {
      const body = await readBody(c, DataSubjectExtensionInputSchema);
      const record = await dsr.extend(param(c, 'id'), body.reason);
      await platform.auditLog.record({
        action: 'compliance.request.extended',
        outcome: 'success',
        actor: { id: principalOf(c).id, type: 'user' },
        resource: { type: 'dsr_request', id: record.id },
        metadata: { type: record.type, dueAt: record.dueAt },
      });
      return c.json(ok(toRequest(record)));
    },
  );

  app.get(routePattern(R.getDataSubjectRequest), read, async (c) => {
    const record = await dsr.get(param(c, 'id')).catch(() => undefined);
    const principal = principalOf(c);
    // The subject and administrators see a request; to everyone else it does not exist.
    if (record === undefined || (record.subjectId !== principal.id && !principal.roles.includes('Admin'))) {
      throw new RequestError(404, 'REQUEST_NOT_FOUND', 'No such request.');
    }
    return c.json(ok(toRequest(record)));
  });

  app.route('/', incidentApp);

  return { app, compliance: { dsr, assess } };
}
