// The access-control matrix computed from the live, shipped Cedar policies of
// @provisioning/authz (a dev dependency: compliance itself takes the
// authorizer through its CedarAuthorizer interface), compared with the
// platform's declared role matrix, with separation-of-duties rules.
import type { Authorizer, CedarEntity, PolicyFile } from '@provisioning/authz';
import {
  createAuthorizer,
  createContextBuilder,
  readPolicyDirectory,
  shippedPolicyDir,
  staticEntityProvider,
} from '@provisioning/authz';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeclaredMatrix, SodRule } from './access-matrix.js';
import { accessMatrixChecks, computeAccessMatrix } from './access-matrix.js';
import { createCheckRegistry, runAssessment } from './assessment.js';
import type { CedarEntityJson, CedarMatrixAction, CedarUid } from './cedar-matrix.js';
import { cedarDecide } from './cedar-matrix.js';

const NS = 'Provisioning';
const uid = (type: string, id: string): CedarUid => ({ type: `${NS}::${type}`, id });
const ref = (type: string, id: string) => ({ __entity: uid(type, id) });
const AT = Date.parse('2026-01-06T10:00:00Z'); // a Tuesday, inside production deployment hours

// Environments, one workspace each, and the resources the matrix asks about.
const TIERS = { dev: 'development', stg: 'staging', prod: 'production' } as const;
const ENTITIES: CedarEntityJson[] = [
  ...['Admin', 'Developer', 'Operator', 'Viewer', 'Auditor'].map((r) => ({
    uid: uid('Role', r),
    attrs: { name: r },
    parents: [],
  })),
  {
    uid: uid('User', 'owner'),
    attrs: { email: '', username: 'owner', mfa_enabled: true, created_at: '' },
    parents: [],
  },
  ...Object.entries(TIERS).flatMap(([env, tier]): CedarEntityJson[] => {
    const scoped = { workspace: ref('Workspace', `${env}-ws`), environment: ref('Environment', env) };
    const parents = [uid('Workspace', `${env}-ws`)];
    return [
      {
        uid: uid('Environment', env),
        attrs: { name: env, tier, requires_approval: tier === 'production', requires_mfa: tier === 'production' },
        parents: [],
      },
      {
        uid: uid('Workspace', `${env}-ws`),
        attrs: { name: `${env}-ws`, owner: ref('User', 'owner'), environment: ref('Environment', env) },
        parents: [uid('Environment', env)],
      },
      {
        uid: uid('Server', `${env}-web`),
        attrs: { hostname: `${env}-web`, provider: 'upcloud', status: 'running', ...scoped },
        parents,
      },
      {
        uid: uid('Workflow', `${env}-wf`),
        attrs: { workflow_id: `${env}-wf`, workflow_type: 'deploy', status: 'ready', ...scoped },
        parents,
      },
      { uid: uid('Cluster', `${env}-k8s`), attrs: { name: `${env}-k8s`, node_count: 3, ...scoped }, parents },
      { uid: uid('Secret', `${env}-db`), attrs: { name: `${env}-db`, secret_type: 'postgres', ...scoped }, parents },
      { uid: uid('Key', `${env}-kek`), attrs: { name: `${env}-kek`, key_type: 'age', ...scoped }, parents },
    ];
  }),
  { uid: uid('AuditLog', 'main'), attrs: { name: 'main' }, parents: [] },
  { uid: uid('Policy', 'prod-policies'), attrs: { name: 'prod-policies' }, parents: [] },
];

// A break-glass session requested by `requester`, for the two-person rule.
const session = (id: string, requester: CedarUid): CedarEntityJson => ({
  uid: uid('BreakGlassSession', id),
  attrs: { requester: { __entity: requester }, approved: false, reason: 'INC-7', expires_at: AT / 1000 + 3600 },
  parents: [],
});

// What each row of the platform's access-control matrix means to Cedar.
const ACTIONS: Record<string, CedarMatrixAction> = {
  'read production servers': { action: 'read', resource: uid('Server', 'prod-web') },
  'deploy to development': { action: 'deploy', resource: uid('Server', 'dev-web') },
  'deploy to staging': { action: 'deploy', resource: uid('Server', 'stg-web') },
  'deploy to production': { action: 'deploy', resource: uid('Server', 'prod-web') },
  'execute production workflows': { action: 'execute', resource: uid('Workflow', 'prod-wf') },
  'ssh to production servers': { action: 'ssh', resource: uid('Server', 'prod-web') },
  'delete production clusters': { action: 'delete', resource: uid('Cluster', 'prod-k8s') },
  'read production secrets': { action: 'read', resource: uid('Secret', 'prod-db') },
  'encrypt with production keys': { action: 'encrypt', resource: uid('Key', 'prod-kek') },
  'decrypt with production keys': { action: 'decrypt', resource: uid('Key', 'prod-kek') },
  'read audit logs': { action: 'read', resource: uid('AuditLog', 'main') },
  'export audit logs': { action: 'export', resource: uid('AuditLog', 'main') },
  'delete audit logs': { action: 'delete', resource: uid('AuditLog', 'main') },
  'change policies': { action: 'update', resource: uid('Policy', 'prod-policies') },
  'request break-glass': {
    action: 'request_break_glass',
    resource: uid('BreakGlassSession', 'own'),
    entities: (principal) => [session('own', principal)],
  },
  'approve break-glass of others': {
    action: 'approve_break_glass',
    resource: uid('BreakGlassSession', 'other'),
    entities: [session('other', uid('User', 'owner'))],
  },
  'approve own break-glass': {
    action: 'approve_break_glass',
    resource: uid('BreakGlassSession', 'own'),
    entities: (principal) => [session('own', principal)],
  },
};

// The platform's declared matrix: the five roles of PLATFORM-API.md.
const DECLARED: DeclaredMatrix = {
  Admin: [
    'read production servers',
    'deploy to development',
    'deploy to staging',
    'deploy to production',
    'execute production workflows',
    'delete production clusters',
    'read production secrets',
    'encrypt with production keys',
    'decrypt with production keys',
    'read audit logs',
    'export audit logs',
    'change policies',
    'request break-glass',
    'approve break-glass of others',
  ],
  Operator: [
    'read production servers',
    'deploy to development',
    'deploy to staging',
    'deploy to production',
    'execute production workflows',
    'encrypt with production keys',
    'request break-glass',
  ],
  Developer: ['read production servers', 'deploy to development', 'deploy to staging', 'encrypt with production keys'],
  Viewer: ['read production servers'],
  Auditor: ['read production servers', 'read audit logs', 'export audit logs'],
};
// Asked too, although no role should have them (excess privilege shows up).
const EXTRA = ['ssh to production servers', 'delete audit logs', 'approve own break-glass'];

const SOD: SodRule[] = [
  {
    id: 'break-glass-two-person',
    description: 'nobody approves a break-glass session they requested',
    actions: ['request break-glass', 'approve own break-glass'],
  },
  {
    id: 'audit-evidence',
    description: 'who reads the audit evidence cannot destroy it',
    actions: ['export audit logs', 'delete audit logs'],
  },
];

// A compliant situation: a fresh MFA, an address inside the network, working hours, a change approval.
const CONTEXT = createContextBuilder({ clock: { now: () => AT } }).build({
  clientIp: '10.0.0.5',
  mfaVerifiedAt: AT - 60_000,
  approvalId: 'CHG-1042',
});

let shipped: { files: PolicyFile[]; schema: NonNullable<Awaited<ReturnType<typeof readPolicyDirectory>>['schema']> };
const authorizers: Authorizer[] = [];
async function authorizer(change: (files: PolicyFile[]) => PolicyFile[] = (f) => f): Promise<Authorizer> {
  // The entities come from a provider, as in a deployment: each decision loads only what it needs.
  const authz = await createAuthorizer({
    policies: change(shipped.files),
    schema: shipped.schema,
    entities: staticEntityProvider(ENTITIES as CedarEntity[]),
  });
  authorizers.push(authz);
  return authz;
}
const assess = async (authz: Authorizer, declared: DeclaredMatrix = DECLARED) => {
  const decide = cedarDecide({ authorizer: authz, actions: ACTIONS, context: CONTEXT });
  const registry = createCheckRegistry(accessMatrixChecks({ declared, extraActions: EXTRA, sod: SOD }));
  const result = await runAssessment(registry, { readers: { authorizer: { decide } } });
  const byId = Object.fromEntries(result.checks.map((c) => [c.checkId, c]));
  return { matrix: byId['authz.access-matrix'], sod: byId['authz.separation-of-duties'] };
};

let shippedAuthz: Authorizer;
// Loading the Cedar engine takes seconds on a busy machine: once, before the tests.
beforeAll(async () => {
  const dir = await readPolicyDirectory(shippedPolicyDir);
  if (dir.schema === undefined) throw new Error('the shipped policies have no schema');
  shipped = { files: dir.files, schema: dir.schema };
  shippedAuthz = await authorizer();
}, 30_000);
afterAll(async () => {
  for (const a of authorizers) await a.close();
});

// Each assessment asks Cedar a few hundred questions: generous on a shared machine.
describe('access-control matrix from the shipped Cedar policies', { timeout: 30_000 }, () => {
  it('the live decisions are exactly the declared matrix, with no separation-of-duties violation', async () => {
    const authz = shippedAuthz;
    const live = await computeAccessMatrix({
      roles: Object.keys(DECLARED),
      actions: [...Object.keys(ACTIONS)],
      decide: cedarDecide({ authorizer: authz, actions: ACTIONS, context: CONTEXT }),
    });
    expect(live.cells.filter((c) => c.errored)).toEqual([]);
    for (const role of Object.keys(DECLARED)) {
      expect([...(live.allow[role] ?? [])].sort(), role).toEqual([...(DECLARED[role] ?? [])].sort());
    }
    const { matrix, sod } = await assess(authz);
    expect(matrix).toMatchObject({ status: 'pass' });
    expect(sod).toMatchObject({ status: 'pass' });
  });

  it('fails on excess privilege: a policy that lets Viewers deploy', async () => {
    const authz = await authorizer((files) => [
      ...files,
      {
        file: 'rogue.cedar',
        text: '@id("viewer-deploys")\npermit (principal in Provisioning::Role::"Viewer", action == Provisioning::Action::"deploy", resource);',
      },
    ]);
    const { matrix } = await assess(authz);
    expect(matrix?.status).toBe('fail');
    expect(matrix?.evidence).toEqual(
      expect.arrayContaining([
        'Viewer may deploy to development but the matrix does not grant it',
        // The production guards (MFA, approval, hours, network) are met in the matrix's situation.
        'Viewer may deploy to production but the matrix does not grant it',
      ]),
    );
  });

  it('fails on a missing grant: the matrix declares what the policies do not allow', async () => {
    const authz = shippedAuthz;
    const { matrix } = await assess(authz, {
      ...DECLARED,
      Developer: [...(DECLARED.Developer ?? []), 'deploy to production'],
    });
    expect(matrix?.status).toBe('fail');
    expect(matrix?.evidence).toContain('Developer is denied deploy to production although the matrix grants it');
  });

  it('fails separation of duties when the two-person rule of break-glass is removed', async () => {
    const authz = await authorizer((files) =>
      files.map((f) => ({
        ...f,
        // Drop the forbid that stops anyone (admins included) approving their own session.
        text: f.text.replace(/@id\("break-glass-no-self-approval"\)[^;]*;/, ''),
      })),
    );
    expect(authz.policyIds).not.toContain('break-glass-no-self-approval');
    const { matrix, sod } = await assess(authz);
    expect(sod?.status).toBe('fail');
    expect(sod?.evidence).toContain(
      'role Admin holds request break-glass + approve own break-glass (break-glass-two-person)',
    );
    expect(matrix?.evidence).toContain('Admin may approve own break-glass but the matrix does not grant it');
  });

  it('an action whose decision cannot be evaluated is an error, not a quiet deny', async () => {
    const authz = shippedAuthz;
    const decide = cedarDecide({
      authorizer: authz,
      // The server's entity is not sent: `resource.environment` cannot be evaluated.
      actions: { ...ACTIONS, 'deploy to production': { action: 'deploy', resource: uid('Server', 'unknown-web') } },
      context: CONTEXT,
    });
    const registry = createCheckRegistry(accessMatrixChecks({ declared: DECLARED, extraActions: EXTRA, sod: SOD }));
    const result = await runAssessment(registry, { readers: { authorizer: { decide } } });
    const matrix = result.checks.find((c) => c.checkId === 'authz.access-matrix');
    expect(matrix?.status).toBe('fail');
    expect(matrix?.evidence).toContain('decision for Viewer / deploy to production errored (counted as deny)');
    await expect(decide('Viewer', 'no such action', undefined)).rejects.toMatchObject({
      code: 'ERR_COMPLIANCE_INVALID_INPUT',
    });
  });

  it('refuses options it cannot use', () => {
    expect(() => cedarDecide({ authorizer: {} as never, actions: ACTIONS, context: CONTEXT })).toThrow(
      expect.objectContaining({ code: 'ERR_COMPLIANCE_INVALID_OPTIONS' }),
    );
    expect(() =>
      cedarDecide({ authorizer: { authorize: async () => ({ allowed: true }) }, actions: {}, context: CONTEXT }),
    ).toThrow(expect.objectContaining({ code: 'ERR_COMPLIANCE_INVALID_OPTIONS' }));
    expect(() =>
      cedarDecide({
        authorizer: { authorize: async () => ({ allowed: true }) },
        actions: { x: { action: 'read' } as never },
        context: CONTEXT,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_COMPLIANCE_INVALID_OPTIONS', details: { action: 'x' } }));
  });
});
