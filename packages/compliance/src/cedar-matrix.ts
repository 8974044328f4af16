import type { DecideFunction } from './access-matrix.js';
import { ComplianceError, invalidInput, invalidOptions } from './errors.js';

/** A Cedar entity uid. */
export interface CedarUid {
  readonly type: string;
  readonly id: string;
}

/** A Cedar entity in the JSON entity format (`{ "__entity": uid }` for entity-valued attributes). */
export interface CedarEntityJson {
  readonly uid: CedarUid;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly parents: readonly CedarUid[];
}

/** One authorization request, in the shape `@provisioning/authz`'s `authorize()` takes. */
export interface CedarAuthorizationRequest {
  readonly principal: CedarUid | string;
  /** A bare action name (in the authorizer's namespace) or a uid. */
  readonly action: CedarUid | string;
  readonly resource: CedarUid | string;
  readonly context?: Readonly<Record<string, unknown>>;
  /** Entities sent with the request. */
  readonly entities?: readonly CedarEntityJson[];
}

/**
 * What {@link cedarDecide} needs of a Cedar authorizer. `@provisioning/authz`'s
 * `Authorizer` has it; this package takes it through this interface and does
 * not import authz.
 */
export interface CedarAuthorizer {
  authorize(
    request: CedarAuthorizationRequest,
  ): Promise<{ readonly allowed: boolean; readonly errors?: readonly unknown[] }>;
}

/** What one action of an access-control matrix means to Cedar: an action on a resource, in a situation. */
export interface CedarMatrixAction {
  /** The Cedar action: a bare name in the authorizer's namespace (`deploy`) or a uid. */
  readonly action: string;
  /**
   * The resource asked about, or a function of the principal for resources
   * that name it (the requester of a break-glass session).
   */
  readonly resource: CedarUid | ((principal: CedarUid) => CedarUid);
  /** Entities this action's decision needs besides the common ones, or a function of the principal. */
  readonly entities?: readonly CedarEntityJson[] | ((principal: CedarUid) => readonly CedarEntityJson[]);
  /** Context attributes merged over the common context for this action. */
  readonly context?: Readonly<Record<string, unknown>>;
}

/** Options of {@link cedarDecide}. */
export interface CedarDecideOptions {
  /** The live authorizer (`createAuthorizer()` of `@provisioning/authz`, over the deployed policies). */
  readonly authorizer: CedarAuthorizer;
  /** The matrix's actions, by the names the declared matrix uses. */
  readonly actions: Readonly<Record<string, CedarMatrixAction>>;
  /**
   * The Cedar context of every decision: the situation the declared matrix
   * describes (for the platform: a fresh MFA, an address inside the network,
   * working hours), e.g. from authz's `createContextBuilder().build(…)`.
   */
  readonly context: Readonly<Record<string, unknown>>;
  /** Entities every decision needs: environments, workspaces, roles … */
  readonly entities?: readonly CedarEntityJson[];
  /**
   * The principal that stands for a role. Default: `<namespace>::User::"role:<role>"`,
   * a member of `<namespace>::Role::"<role>"` only, with the platform schema's
   * user attributes (`email`, `username`, `mfa_enabled`, `created_at`).
   */
  readonly principal?: (role: string) => CedarEntityJson;
  /** Namespace of the default principal. Default `Provisioning`. */
  readonly namespace?: string;
}

const NAMESPACE = /^(?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A {@link DecideFunction} over live Cedar policies, for
 * `computeAccessMatrix` and `accessMatrixChecks`: each matrix action is a
 * Cedar action on a resource in a given situation, each role a principal
 * that holds that role and nothing else.
 *
 * Fail closed, and loudly: only `allowed: true` allows, and a decision
 * that comes with evaluation errors (a missing entity, a policy that cannot
 * be evaluated) throws, so its cell is marked `errored` and the check fails
 * instead of quietly matching a declared deny. A matrix action without a
 * mapping throws too. The `resource` argument of the returned function is
 * not used: each action names its own resource.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` for a missing authorizer, actions or context (at construction).
 * @example
 * ```ts
 * import { createAuthorizer, createContextBuilder, shippedPolicyDir } from '@provisioning/authz';
 * const authz = await createAuthorizer({ policyDir: shippedPolicyDir });
 * const decide = cedarDecide({
 *   authorizer: authz,
 *   context: createContextBuilder().build({ clientIp: '10.0.0.5', mfaVerifiedAt: Date.now(), approvalId: 'CHG-1' }),
 *   entities: environmentsAndServers,
 *   actions: { 'deploy to production': { action: 'deploy', resource: { type: 'Provisioning::Server', id: 'prod-web' } } },
 * });
 * const checks = accessMatrixChecks({ declared: { Operator: ['deploy to production'], Viewer: [] } });
 * await runAssessment(createCheckRegistry(checks), { readers: { authorizer: { decide } } });
 * ```
 */
export function cedarDecide(options: CedarDecideOptions): DecideFunction {
  if (typeof options?.authorizer?.authorize !== 'function') throw invalidOptions('cedarDecide needs an authorizer');
  const actions = options.actions;
  if (typeof actions !== 'object' || actions === null || Object.keys(actions).length === 0) {
    throw invalidOptions('cedarDecide needs the Cedar meaning of at least one matrix action');
  }
  for (const [name, a] of Object.entries(actions)) {
    if (typeof a?.action !== 'string' || a.action === '' || (typeof a.resource !== 'function' && !isUid(a.resource))) {
      throw new ComplianceError('a matrix action needs a Cedar action and a resource', {
        code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
        fault: 'client',
        details: { action: name.slice(0, 100) },
      });
    }
  }
  if (typeof options.context !== 'object' || options.context === null) {
    throw invalidOptions('cedarDecide needs the Cedar context the matrix assumes');
  }
  const ns = options.namespace ?? 'Provisioning';
  if (!NAMESPACE.test(ns)) throw invalidOptions('invalid Cedar namespace');
  const principalFor =
    options.principal ??
    ((role: string): CedarEntityJson => ({
      uid: { type: `${ns}::User`, id: `role:${role}` },
      attrs: { email: '', username: `role:${role}`, mfa_enabled: true, created_at: '' },
      // The role and nothing else: the matrix is about what a role grants.
      parents: [{ type: `${ns}::Role`, id: role }],
    }));
  const common = options.entities ?? [];

  return async (role, action) => {
    const a = Object.hasOwn(actions, action) ? actions[action] : undefined;
    if (a === undefined) throw invalidInput('the matrix action has no Cedar mapping', { action: action.slice(0, 100) });
    const principal = principalFor(role);
    const resource = typeof a.resource === 'function' ? a.resource(principal.uid) : a.resource;
    const own = typeof a.entities === 'function' ? a.entities(principal.uid) : (a.entities ?? []);
    const decision = await options.authorizer.authorize({
      principal: principal.uid,
      action: a.action,
      resource,
      context: { ...options.context, ...a.context },
      entities: [principal, ...common, ...own],
    });
    if ((decision.errors?.length ?? 0) > 0) {
      // Not a deny to compare with the matrix: the question could not be evaluated.
      throw invalidInput('the Cedar decision had evaluation errors', {
        role: role.slice(0, 100),
        action: action.slice(0, 100),
        errors: decision.errors?.length,
      });
    }
    return decision.allowed === true;
  };
}

function isUid(value: unknown): value is CedarUid {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as CedarUid).type === 'string' &&
    typeof (value as CedarUid).id === 'string'
  );
}
