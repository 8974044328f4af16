import type { CedarEntity, CedarValue } from '@provisioning/authz';
import type { ResourceRef } from '@provisioning/middleware';

/**
 * The platform's resources as the Cedar model sees them, and the entities a
 * decision needs. Every route names one {@link ResourceRef} of a type of the
 * shipped schema (`Provisioning::Server`, `Workflow`, `Secret`, `Key`,
 * `AuditLog`, `Policy`, `BreakGlassSession`, `Environment`, `Workspace` …);
 * its environment follows from its workspace's name.
 *
 * Environments:
 * - `development`, `staging`, `production`: a workspace belongs to the first
 *   tier whose patterns match its name, checked strictest first; a name that
 *   matches none is **production**, so a workspace nobody classified gets the
 *   strictest rules (deny by default), never developers' full access.
 * - `platform`: the platform's own administration (users, the extension
 *   catalog, metrics, compliance). No environment policy names this tier, so
 *   administrators (`admin-full-access`) may do anything there and every role
 *   reads, lists and monitors it (`read-only-baseline`); nobody else changes it.
 */
export type Tier = 'development' | 'staging' | 'production' | 'platform';

/** Workspace-name patterns per tier (`*` matches any run of characters). */
export interface EnvironmentPatterns {
  readonly development: readonly string[];
  readonly staging: readonly string[];
  readonly production: readonly string[];
}

/** Defaults of {@link EnvironmentPatterns}. */
export const DEFAULT_ENVIRONMENT_PATTERNS: EnvironmentPatterns = Object.freeze({
  development: ['dev', 'dev-*', 'dev_*', 'development*', 'test*', 'sandbox*', 'local*'],
  staging: ['staging*', 'stage*', 'stg*'],
  production: ['prod*', 'production*'],
});

/** The resource id that stands for "every item" (collection routes). */
export const ANY = '*';

const NS = 'Provisioning';

/** Classifies workspace names into tiers. */
export function createClassifier(patterns: EnvironmentPatterns = DEFAULT_ENVIRONMENT_PATTERNS): (name: string) => Tier {
  const compile = (list: readonly string[]): RegExp[] =>
    list.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i'));
  const order: Array<[Tier, RegExp[]]> = [
    ['production', compile(patterns.production)],
    ['staging', compile(patterns.staging)],
    ['development', compile(patterns.development)],
  ];
  return (name) => {
    // `*` (every workspace) may hold production items: it is production.
    if (name === ANY) return 'production';
    for (const [tier, regexps] of order) if (regexps.some((r) => r.test(name))) return tier;
    return 'production';
  };
}

/** Attributes a route may put on its resource; each type reads what it needs. */
export interface ResourceFacts {
  /** The workspace (infra) the item belongs to; unknown: every workspace (production). */
  readonly workspace?: string;
  /** Overrides the tier the workspace name gives (e.g. `platform`). */
  readonly environment?: Tier;
  readonly status?: string;
  readonly kind?: string;
  readonly provider?: string;
  /** Break-glass sessions: who asked, whether approved, until when (epoch seconds). */
  readonly requester?: string;
  readonly approved?: boolean;
  readonly expiresAt?: number;
  readonly reason?: string;
}

/** A resource reference of the shipped schema. */
export function resource(type: string, id: string, facts: ResourceFacts = {}): ResourceRef {
  return { type: `${NS}::${type}`, id, attributes: facts as Readonly<Record<string, unknown>> };
}

/** The platform's own administration (`Provisioning::Environment::"platform"`). */
export const PLATFORM_RESOURCE: ResourceRef = Object.freeze(resource('Environment', 'platform', {}));

const ref = (type: string, id: string): CedarValue => ({ __entity: { type: `${NS}::${type}`, id } });

/**
 * The entities Cedar needs to decide on `resource`: the resource itself with
 * the attributes the schema requires, its workspace and its environment.
 * Built from the route's facts, so a decision needs no database lookup.
 */
export function resourceEntities(target: ResourceRef, classify: (name: string) => Tier): CedarEntity[] {
  const type = target.type.startsWith(`${NS}::`) ? target.type.slice(NS.length + 2) : target.type;
  const facts = (target.attributes ?? {}) as ResourceFacts;
  const environmentEntity = (tier: Tier): CedarEntity => ({
    uid: { type: `${NS}::Environment`, id: tier },
    attrs: { name: tier, tier, requires_approval: tier === 'production', requires_mfa: tier === 'production' },
    parents: [],
  });
  if (type === 'Environment') return [environmentEntity(target.id as Tier)];
  if (type === 'AuditLog' || type === 'Policy') return [{ uid: target, attrs: { name: target.id }, parents: [] }];
  if (type === 'BreakGlassSession') {
    return [
      {
        uid: { type: target.type, id: target.id },
        attrs: {
          requester: ref('User', facts.requester ?? ''),
          approved: facts.approved === true,
          reason: facts.reason ?? '',
          expires_at: facts.expiresAt ?? 0,
        },
        parents: [],
      },
    ];
  }
  const workspaceName = type === 'Workspace' ? target.id : (facts.workspace ?? ANY);
  const tier = facts.environment ?? classify(workspaceName);
  const workspace: CedarEntity = {
    uid: { type: `${NS}::Workspace`, id: workspaceName },
    attrs: { name: workspaceName, owner: ref('User', 'platform'), environment: ref('Environment', tier) },
    parents: [{ type: `${NS}::Environment`, id: tier }],
  };
  const scoped = { workspace: ref('Workspace', workspaceName), environment: ref('Environment', tier) };
  const attrs: Record<string, Record<string, CedarValue>> = {
    Server: {
      hostname: target.id,
      provider: facts.provider ?? '',
      ...scoped,
      status: facts.status ?? 'unknown',
    },
    Taskserv: { name: target.id, ...scoped },
    Cluster: { name: target.id, node_count: 0, ...scoped },
    Workflow: { workflow_id: target.id, workflow_type: facts.kind ?? '', ...scoped, status: facts.status ?? 'unknown' },
    Secret: { name: target.id, secret_type: facts.kind ?? '', ...scoped },
    Key: { name: target.id, key_type: facts.kind ?? '', ...scoped },
  };
  const own = attrs[type];
  if (type === 'Workspace') return [workspace, environmentEntity(tier)];
  if (own === undefined) return [];
  return [
    {
      uid: { type: target.type, id: target.id },
      attrs: own,
      parents: [{ type: `${NS}::Workspace`, id: workspaceName }],
    },
    workspace,
    environmentEntity(tier),
  ];
}
