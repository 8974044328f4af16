import { hasPermission, type Permission } from '@provisioning/auth';
import type { SecurityVariables } from '@provisioning/middleware/hono';
import type { ApiPermission } from '@provisioning/platform-client/api';
import type { Context } from 'hono';
import { RequestError } from '../kit/body.js';

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

/** Whether `roles` grant the route permission `permission` (unknown roles grant nothing). */
export function rolesAllow(roles: readonly string[], permission: ApiPermission): boolean {
  return hasPermission(roles, API_PERMISSIONS[permission]);
}

/**
 * RBAC in the handler, after the security chain authenticated the caller:
 * throws a 403 in the API error shape unless the caller's roles grant `permission`.
 */
export function requirePermission(c: Context<{ Variables: SecurityVariables }>, permission: ApiPermission): string {
  const principal = c.get('security')?.principal;
  if (principal === undefined || !rolesAllow(principal.roles, permission)) {
    throw new RequestError(403, 'PERMISSION_DENIED', `This needs the ${permission} permission.`);
  }
  return principal.id;
}
