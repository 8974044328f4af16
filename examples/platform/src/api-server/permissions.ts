import { hasPermission, type Permission } from '@provisioning/auth';
import type { Authorizer } from '@provisioning/middleware';
import type { ApiPermission } from '@provisioning/platform-client/api';

/**
 * The API server's route permissions (the contract's names) mapped onto the
 * platform's role matrix (`@provisioning/auth` ROLE_PERMISSIONS). Where the
 * names differ, the nearest permission of the matrix stands in:
 * installing a taskserv is `taskserv_manage`, creating a cluster
 * `cluster_manage`, reading operations `workflow_read`, cancelling them
 * `workflow_execute`, and the metrics are `workflow_read`.
 */
export const API_PERMISSIONS: Readonly<Record<ApiPermission, Permission>> = Object.freeze({
  server_read: 'server_read',
  server_create: 'server_create',
  server_delete: 'server_delete',
  taskserv_create: 'taskserv_manage',
  cluster_create: 'cluster_manage',
  operation_read: 'workflow_read',
  operation_cancel: 'workflow_execute',
  metrics_read: 'workflow_read',
});

/** The context key a route's permission travels under to {@link rbacThenCedar} (never reaches Cedar). */
export const PERMISSION_KEY = 'rbac_permission';

/** Whether `roles` grant the route permission `permission` (unknown roles grant nothing). */
export function rolesAllow(roles: readonly string[], permission: ApiPermission): boolean {
  return hasPermission(roles, API_PERMISSIONS[permission]);
}

/**
 * RBAC and Cedar, composed in the chain's one decision: the route's
 * permission must be granted by the caller's roles (the API server's
 * documented RBAC), **and** Cedar must allow the action on the resource
 * (environments, MFA, networks, hours). RBAC is checked first and denies
 * alone (policy id `rbac:<permission>`); a route without a permission is
 * denied (`rbac:none`). An allowed decision names both: `rbac:<permission>`
 * and Cedar's policies. One decision means one audit record saying why.
 */
export function rbacThenCedar(cedar: Authorizer): Authorizer {
  return {
    async authorize(request) {
      const { [PERMISSION_KEY]: permission, ...context } = request.context;
      if (typeof permission !== 'string' || !Object.hasOwn(API_PERMISSIONS, permission)) {
        return { allowed: false, policyIds: ['rbac:none'], version: 'rbac' };
      }
      if (!rolesAllow(request.principal.roles, permission as ApiPermission)) {
        return { allowed: false, policyIds: [`rbac:${permission}`], version: 'rbac' };
      }
      const decision = await cedar.authorize({ ...request, context });
      return decision.allowed
        ? { ...decision, policyIds: [`rbac:${permission}`, ...(decision.policyIds ?? [])] }
        : decision;
    },
  };
}
