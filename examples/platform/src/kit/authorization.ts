import { existsSync } from 'node:fs';
import type { AuditLog } from '@provisioning/audit';
import type { UserStore } from '@provisioning/auth';
import {
  type Authorizer as CedarAuthorizer,
  type CedarEntity,
  type CedarValue,
  createAuthorizer,
  createContextBuilder,
  parseEntityRef,
  readPolicyDirectory,
  shippedPolicyDir,
  type ValidationIssue,
} from '@provisioning/authz';
import type { Clock } from '@provisioning/core';
import type { Authorizer } from '@provisioning/middleware';
import { authorizerFrom } from '@provisioning/middleware/provisioning';
import type { AuthorizeRequest, AuthorizeResponse, Policy, PolicyValidation } from '@provisioning/platform-client/api';
import type { Logger } from './logger.js';
import { createClassifier, type EnvironmentPatterns, resourceEntities, type Tier } from './resources.js';

/** What the policy routes of the control center need from the engine. */
export interface PolicyAdmin {
  list(): Promise<Policy[]>;
  get(id: string): Promise<Policy | undefined>;
  validate(source: string): Promise<PolicyValidation>;
  authorize(request: AuthorizeRequest): Promise<AuthorizeResponse>;
  /** Reloads the policy set from its directory; `actor` is who asked (audited). */
  reload(actor?: { id: string; ip?: string }): Promise<{ version: string; policies: number }>;
}

/** Options of {@link createPlatformAuthorization}. */
export interface AuthorizationOptions {
  /**
   * The policy directory (`*.cedar` + one schema). Default: `config/cedar-policies`
   * when it exists, else the shipped set of `@provisioning/authz`.
   */
  readonly policyDir?: string;
  /** Reload when the directory changes. Default false (`main.ts` turns it on). */
  readonly watch?: boolean;
  /** CIDR ranges Cedar counts as the trusted network (`prod-ip-restriction`). Default loopback. */
  readonly trustedNetworks?: readonly string[];
  readonly environments?: EnvironmentPatterns;
}

/** The Cedar engine of the platform, its chain adapter and its administration. */
export interface PlatformAuthorization {
  readonly engine: CedarAuthorizer;
  /** The chain's authorizer (`authorizerFrom` with the platform's resource entities). */
  readonly authorizer: Authorizer;
  readonly policies: PolicyAdmin;
  /** The directory the policies come from. */
  readonly policyDir: string;
  /** The tier of a workspace name. */
  readonly classify: (workspace: string) => Tier;
  close(): void;
}

/** The default policy directory: the example's own copy when it exists, else the package's shipped set. */
export function defaultPolicyDir(cwd = process.cwd()): string {
  const own = `${cwd}/config/cedar-policies`;
  return existsSync(own) ? own : shippedPolicyDir;
}

/** One validation issue as `file:line:column (policy): message`. */
export const issueText = (i: ValidationIssue): string =>
  `${i.file}:${i.line}:${i.column}${i.policyId === undefined ? '' : ` (${i.policyId})`}: ${i.message}`;

/**
 * Loads the Cedar policies (validated strictly; a bad set stops the start),
 * watches their directory when asked, writes every reload to the audit log
 * (`policy.reload.succeeded` / `policy.reload.failed`: the last good set stays
 * live), and adapts the engine to the chain: resources carry their facts
 * (workspace → environment) and become inline entities, so a decision reads
 * no database.
 */
export async function createPlatformAuthorization(
  options: AuthorizationOptions & {
    readonly clock: Clock;
    readonly auditLog: AuditLog;
    readonly logger: Logger;
    readonly users: UserStore;
  },
): Promise<PlatformAuthorization> {
  const policyDir = options.policyDir ?? defaultPolicyDir();
  const classify = createClassifier(options.environments);
  const trustedRanges = [...(options.trustedNetworks ?? ['127.0.0.0/8', '::1/128'])];
  const engine = await createAuthorizer({ policyDir, clock: options.clock });
  const authorizer = authorizerFrom(engine, {
    context: { clock: options.clock, trustedRanges },
    entities: (request) => resourceEntities(request.resource, classify),
    // Every entity of a decision is sent inline (no provider), so the cache key
    // — policy version, principal with roles and teams, resource facts, action,
    // the whole context with its second and MFA age — determines the decision:
    // a hit is what Cedar would answer, a reload takes effect at once. It turns
    // repeated requests within a second (a client polling, a UI page's burst)
    // from one Cedar evaluation each (~0.5 ms quiet, far more under load) into a lookup.
    decisionCache: true,
  });

  let reloadActor: { id: string; ip?: string } | undefined;
  const recordReload = (ok: boolean, metadata: Record<string, string | number>): void => {
    const actor = reloadActor;
    void options.auditLog
      .record({
        action: ok ? 'policy.reload.succeeded' : 'policy.reload.failed',
        outcome: ok ? 'success' : 'failure',
        actor:
          actor === undefined
            ? { id: 'system', type: 'system' }
            : { id: actor.id, type: 'user', ...(actor.ip === undefined ? {} : { ip: actor.ip }) },
        resource: { type: 'policy_set', id: String(metadata.version) },
        metadata,
      })
      .catch((error: unknown) =>
        options.logger.error({ err: { code: (error as { code?: unknown })?.code } }, 'audit record failed'),
      );
  };
  engine.on('reloaded', (event) => {
    options.logger.info({ version: event.version, policies: event.policyCount }, 'policies reloaded');
    recordReload(true, { version: event.version, previousVersion: event.previousVersion, policies: event.policyCount });
  });
  engine.on('reload-failed', (event) => {
    // The engine kept the last good set; say where the new one is broken (file and line, no request data).
    options.logger.error(
      { code: event.error.code, issues: event.issues.slice(0, 5).map(issueText) },
      'policy reload failed; the last good set stays',
    );
    recordReload(false, {
      version: event.version,
      code: event.error.code,
      issues: event.issues.length,
      ...(event.issues[0] === undefined ? {} : { first: issueText(event.issues[0]).slice(0, 500) }),
    });
  });
  const stopWatching = options.watch === true ? engine.watch() : undefined;

  const toPolicy = (p: { id: string; text: string; file: string }): Policy => ({
    id: p.id,
    source: p.text,
    description: p.file.split('/').pop() ?? p.file,
  });
  const contexts = createContextBuilder({ clock: options.clock, trustedRanges });

  const policies: PolicyAdmin = {
    async list() {
      // The live set, not the directory (which may already hold a newer or broken one).
      return [...engine.policySet.policies.values()].map(toPolicy);
    },
    async get(id) {
      const p = engine.policySet.policies.get(id);
      return p === undefined ? undefined : toPolicy(p);
    },
    async validate(source) {
      const directory = await readPolicyDirectory(policyDir);
      // The engine's validate runs cedar-wasm in a short-lived child process: a
      // validation request does not grow this process's memory.
      const report = await engine.validate({
        files: [{ file: 'input.cedar', text: source }],
        ...(directory.schema ? { schema: directory.schema } : {}),
      });
      return {
        valid: report.ok,
        errors: report.issues.filter((i) => i.severity === 'error').map(issueText),
        warnings: report.issues.filter((i) => i.severity === 'warning').map(issueText),
      };
    },
    async authorize(request) {
      // A what-if question: the principal's roles and teams from the user
      // store, the resource's environment from its id (as a workspace name), a context built as the
      // chain builds it (no MFA, loopback, now) with the given keys over it.
      const principal = parseEntityRef(request.principal);
      const target = parseEntityRef(request.resource);
      // The resource's own id stands for its workspace: `Server::"prod-web"` is production.
      const entities: CedarEntity[] = [
        ...resourceEntities({ type: target.type, id: target.id, attributes: { workspace: target.id } }, classify),
      ];
      if (principal.type === 'Provisioning::User') {
        const user = await options.users.findById(principal.id);
        if (user !== undefined) {
          entities.push({
            uid: principal,
            attrs: {
              email: user.email ?? '',
              username: user.username,
              mfa_enabled: user.mfaEnabled,
              created_at: user.createdAt.toISOString(),
            },
            parents: [
              ...user.roles.map((id) => ({ type: 'Provisioning::Role', id })),
              ...user.teams.map((id) => ({ type: 'Provisioning::Team', id })),
            ],
          });
        }
      }
      const context = {
        ...contexts.build({ clientIp: '127.0.0.1' }),
        ...((request.context ?? {}) as Record<string, CedarValue>),
      };
      const decision = await engine.authorize({
        principal,
        action: request.action,
        resource: target,
        context,
        entities,
      });
      return {
        decision: decision.decision,
        policies: [...decision.policyIds],
        errors: decision.errors.map((e) => (e.policyId === undefined ? e.message : `${e.policyId}: ${e.message}`)),
      };
    },
    async reload(actor) {
      reloadActor = actor;
      try {
        const event = await engine.reload();
        // An unchanged set emits no `reloaded` event: record the request anyway.
        if (!event.changed)
          recordReload(true, {
            version: event.version,
            previousVersion: event.previousVersion,
            policies: event.policyCount,
          });
        return { version: event.version, policies: event.policyCount };
      } finally {
        reloadActor = undefined;
      }
    },
  };

  return {
    engine,
    authorizer,
    policies,
    policyDir,
    classify,
    close() {
      stopWatching?.();
      engine.close();
    },
  };
}
