import type { ComplianceCheck } from './checks.js';
import { manual } from './checks.js';
import { invalidInput } from './errors.js';

/**
 * An authorization decision function: `true`/`{ allowed: true }` to allow.
 * The authz package supplies one from the live Cedar policies.
 */
export type DecideFunction = (
  role: string,
  action: string,
  resource: unknown,
) => boolean | { readonly allowed: boolean } | Promise<boolean | { readonly allowed: boolean }>;

/** A declared access-control matrix: for each role, the actions it may take. Anything unlisted is denied. */
export type DeclaredMatrix = Readonly<Record<string, readonly string[]>>;

/** One cell of a computed matrix. */
export interface MatrixCell {
  readonly role: string;
  readonly action: string;
  readonly allowed: boolean;
  /** The decision function threw; the cell counts as denied (fail closed) and the check fails. */
  readonly errored?: boolean;
}

/** An access-control matrix computed from live decisions. */
export interface ComputedMatrix {
  readonly roles: readonly string[];
  readonly actions: readonly string[];
  readonly cells: readonly MatrixCell[];
  /** The allowed actions of each role. */
  readonly allow: Readonly<Record<string, readonly string[]>>;
}

/** Options of {@link computeAccessMatrix}. */
export interface ComputeMatrixOptions {
  readonly roles: readonly string[];
  readonly actions: readonly string[];
  readonly decide: DecideFunction;
  /** The resource each action is asked about. Default: `{ type: 'Resource', id: '*' }`. */
  readonly resourceFor?: (action: string) => unknown;
}

const NAME = /^[\w:.\-/ ]{1,100}$/;
const names = (values: readonly string[], what: string): string[] => {
  if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'string' || !NAME.test(v))) {
    throw invalidInput(`${what} must be a non-empty list of names`);
  }
  return [...new Set(values)];
};

/**
 * Asks `decide` about every role × action and returns the matrix.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` for empty or malformed role or action lists.
 * @example
 * ```ts
 * const live = await computeAccessMatrix({ roles: ['Admin', 'Viewer'], actions: ['read', 'delete'], decide: authz.decideForRole });
 * ```
 */
export async function computeAccessMatrix(options: ComputeMatrixOptions): Promise<ComputedMatrix> {
  const roles = names(options?.roles, 'roles');
  const actions = names(options.actions, 'actions');
  if (typeof options.decide !== 'function') throw invalidInput('decide must be a function');
  const resourceFor = options.resourceFor ?? (() => ({ type: 'Resource', id: '*' }));
  const cells: MatrixCell[] = [];
  for (const role of roles) {
    for (const action of actions) {
      try {
        const d = await options.decide(role, action, resourceFor(action));
        // Only an explicit true is an allow: a malformed answer is a deny.
        const allowed = d === true || (typeof d === 'object' && d !== null && d.allowed === true);
        cells.push({ role, action, allowed });
      } catch {
        cells.push({ role, action, allowed: false, errored: true });
      }
    }
  }
  const allow: Record<string, string[]> = {};
  for (const role of roles) allow[role] = cells.filter((c) => c.role === role && c.allowed).map((c) => c.action);
  return { roles, actions, cells, allow };
}

/** The differences between a declared and a computed matrix. */
export interface MatrixComparison {
  /** Allowed live but not declared: excess privilege. */
  readonly unexpectedAllows: readonly { readonly role: string; readonly action: string }[];
  /** Declared but denied live: the policies do not grant what the organisation intends. */
  readonly unexpectedDenies: readonly { readonly role: string; readonly action: string }[];
  /** Cells whose decision errored. */
  readonly errors: readonly { readonly role: string; readonly action: string }[];
}

/**
 * Compares a declared matrix with a computed one, cell by cell.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` when the declared matrix names a role or action the computed one did not ask about.
 * @example
 * ```ts
 * const diff = compareAccessMatrix({ Admin: ['read', 'delete'], Viewer: ['read'] }, live);
 * ```
 */
export function compareAccessMatrix(declared: DeclaredMatrix, computed: ComputedMatrix): MatrixComparison {
  if (typeof declared !== 'object' || declared === null) throw invalidInput('the declared matrix must be an object');
  for (const [role, actions] of Object.entries(declared)) {
    if (!computed.roles.includes(role))
      throw invalidInput('the declared matrix names a role that was not computed', { role: role.slice(0, 100) });
    if (!Array.isArray(actions)) throw invalidInput('declared actions must be lists');
    const unknown = actions.filter((a) => !computed.actions.includes(a));
    if (unknown.length > 0)
      throw invalidInput('the declared matrix names actions that were not computed', { actions: unknown.slice(0, 10) });
  }
  const unexpectedAllows: { role: string; action: string }[] = [];
  const unexpectedDenies: { role: string; action: string }[] = [];
  const errors: { role: string; action: string }[] = [];
  for (const cell of computed.cells) {
    const want = declared[cell.role]?.includes(cell.action) ?? false;
    if (cell.errored) errors.push({ role: cell.role, action: cell.action });
    if (cell.allowed && !want) unexpectedAllows.push({ role: cell.role, action: cell.action });
    if (!cell.allowed && want) unexpectedDenies.push({ role: cell.role, action: cell.action });
  }
  return { unexpectedAllows, unexpectedDenies, errors };
}

/**
 * A separation-of-duties rule: no single role may hold all of `actions`
 * (e.g. requesting and approving break-glass access).
 */
export interface SodRule {
  readonly id: string;
  readonly description: string;
  /** At least two actions that must not be combined in one role. */
  readonly actions: readonly string[];
}

/** A role that breaks a {@link SodRule}. */
export interface SodViolation {
  readonly ruleId: string;
  readonly role: string;
  readonly actions: readonly string[];
}

/**
 * The roles that hold every action of a separation-of-duties rule.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` for a rule with fewer than two actions.
 * @example
 * ```ts
 * sodViolations(live.allow, [{ id: 'bg', description: 'request vs approve', actions: ['breakglass:request', 'breakglass:approve'] }]);
 * ```
 */
export function sodViolations(
  allow: Readonly<Record<string, readonly string[]>>,
  rules: readonly SodRule[],
): SodViolation[] {
  const out: SodViolation[] = [];
  for (const rule of rules) {
    if (!Array.isArray(rule?.actions) || new Set(rule.actions).size < 2)
      throw invalidInput('a separation-of-duties rule needs two or more actions');
    for (const [role, actions] of Object.entries(allow)) {
      if (rule.actions.every((a) => actions.includes(a))) out.push({ ruleId: rule.id, role, actions: rule.actions });
    }
  }
  return out;
}

/** Readers of the access-matrix checks. */
export interface AccessMatrixReaders {
  /** The live decision function (authz, from the active Cedar policies). */
  readonly authorizer?: { decide: DecideFunction };
}

/** Options of {@link accessMatrixChecks}. */
export interface AccessMatrixCheckOptions {
  /** The organisation's intended matrix. Its roles and actions are the ones computed. */
  readonly declared: DeclaredMatrix;
  /** Extra actions to compute that no role should have. */
  readonly extraActions?: readonly string[];
  readonly sod?: readonly SodRule[];
  readonly resourceFor?: (action: string) => unknown;
}

/**
 * The checks `authz.access-matrix` (live decisions equal the declared matrix)
 * and `authz.separation-of-duties` (no role holds conflicting actions live),
 * over the injected `authorizer` reader.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` for an empty declared matrix or a bad rule (at construction).
 * @example
 * ```ts
 * registry.register(...accessMatrixChecks({ declared: { Admin: ['read', 'deploy'], Viewer: ['read'] }, sod: [rule] }));
 * ```
 */
export function accessMatrixChecks(options: AccessMatrixCheckOptions): ComplianceCheck[] {
  const roles = names(Object.keys(options?.declared ?? {}), 'declared roles');
  const actions = names(
    [...new Set([...Object.values(options.declared).flat(), ...(options.extraActions ?? [])])],
    'declared actions',
  );
  const sod = options.sod ?? [];
  sodViolations({}, sod); // validate rules now: misconfiguration throws at construction
  const compute = (decide: DecideFunction) =>
    computeAccessMatrix({
      roles,
      actions: [...new Set([...actions, ...sod.flatMap((r) => r.actions)])],
      decide,
      ...(options.resourceFor ? { resourceFor: options.resourceFor } : {}),
    });
  return [
    {
      id: 'authz.access-matrix',
      title: 'Live access matches the declared access-control matrix',
      description:
        'Every role × action decision of the live policies equals the declared matrix: no excess privilege, no missing grant.',
      soc2: ['CC5', 'CC6'],
      iso27001: ['5.15', '5.18', '8.2', '8.3'],
      async run({ readers }) {
        const authorizer = (readers as AccessMatrixReaders).authorizer;
        if (!authorizer) return manual('authorizer');
        const live = await compute(authorizer.decide);
        const diff = compareAccessMatrix(options.declared, live);
        const evidence = [
          `${live.cells.length} decisions computed for ${live.roles.length} roles`,
          ...diff.unexpectedAllows.map((c) => `${c.role} may ${c.action} but the matrix does not grant it`),
          ...diff.unexpectedDenies.map((c) => `${c.role} is denied ${c.action} although the matrix grants it`),
          ...diff.errors.map((c) => `decision for ${c.role} / ${c.action} errored (counted as deny)`),
        ];
        const ok = diff.unexpectedAllows.length + diff.unexpectedDenies.length + diff.errors.length === 0;
        return ok
          ? { status: 'pass', evidence }
          : {
              status: 'fail',
              evidence,
              remediation:
                'Change the policies (or the declared matrix, with approval) until they agree; remove excess privilege first.',
            };
      },
    },
    {
      id: 'authz.separation-of-duties',
      title: 'Separation of duties in the live policies',
      description:
        'No role holds actions that must be split between people (e.g. requesting and approving emergency access).',
      soc2: ['CC5', 'CC6'],
      iso27001: ['5.3'],
      async run({ readers }) {
        const authorizer = (readers as AccessMatrixReaders).authorizer;
        if (!authorizer) return manual('authorizer');
        if (sod.length === 0) {
          return {
            status: 'manual',
            evidence: ['no separation-of-duties rules declared'],
            remediation: 'Declare the conflicting action pairs.',
          };
        }
        const live = await compute(authorizer.decide);
        const violations = sodViolations(live.allow, sod);
        const evidence = [
          `${sod.length} rule(s) over ${live.roles.length} roles`,
          ...violations.map((v) => `role ${v.role} holds ${v.actions.join(' + ')} (${v.ruleId})`),
        ];
        return violations.length === 0
          ? { status: 'pass', evidence }
          : { status: 'fail', evidence, remediation: 'Split the listed actions between different roles.' };
      },
    },
  ];
}
