/** A role name. */
export type Role = 'Admin' | 'Developer' | 'Operator' | 'Viewer' | 'Auditor';

/** The five roles of the platform. */
export const ROLES: readonly Role[] = Object.freeze<Role[]>(['Admin', 'Developer', 'Operator', 'Viewer', 'Auditor']);

/** A permission name. */
export type Permission =
  | 'server_read'
  | 'server_create'
  | 'server_update'
  | 'server_delete'
  | 'taskserv_read'
  | 'taskserv_manage'
  | 'cluster_read'
  | 'cluster_manage'
  | 'workflow_read'
  | 'workflow_execute'
  | 'deploy_nonprod'
  | 'deploy_production'
  | 'secret_read'
  | 'secret_generate'
  | 'kms_use'
  | 'kms_admin'
  | 'user_read'
  | 'user_manage'
  | 'apikey_manage_own'
  | 'apikey_manage_all'
  | 'audit_read'
  | 'audit_export'
  | 'policy_read'
  | 'policy_manage'
  | 'breakglass_request'
  | 'breakglass_approve'
  | 'system_admin';

/** Every permission, named like the platform's API server routes (`server_read`, `server_create` …). */
export const PERMISSIONS: readonly Permission[] = Object.freeze<Permission[]>([
  'server_read',
  'server_create',
  'server_update',
  'server_delete',
  'taskserv_read',
  'taskserv_manage',
  'cluster_read',
  'cluster_manage',
  'workflow_read',
  'workflow_execute',
  'deploy_nonprod',
  'deploy_production',
  'secret_read',
  'secret_generate',
  'kms_use',
  'kms_admin',
  'user_read',
  'user_manage',
  'apikey_manage_own',
  'apikey_manage_all',
  'audit_read',
  'audit_export',
  'policy_read',
  'policy_manage',
  'breakglass_request',
  'breakglass_approve',
  'system_admin',
]);

const READ: Permission[] = ['server_read', 'taskserv_read', 'cluster_read', 'workflow_read'];

/**
 * The permission matrix (documented in the README; a test keeps the two equal).
 * Admin holds everything; Developer builds and deploys outside production;
 * Operator runs infrastructure including production; Viewer reads; Auditor
 * reads infrastructure, users, policies and the audit trail, and changes nothing.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = Object.freeze({
  Admin: Object.freeze([...PERMISSIONS]),
  Developer: Object.freeze<Permission[]>([
    ...READ,
    'server_create',
    'server_update',
    'taskserv_manage',
    'workflow_execute',
    'deploy_nonprod',
    'secret_read',
    'secret_generate',
    'kms_use',
    'apikey_manage_own',
    'breakglass_request',
  ]),
  Operator: Object.freeze<Permission[]>([
    ...READ,
    'server_create',
    'server_update',
    'server_delete',
    'taskserv_manage',
    'cluster_manage',
    'workflow_execute',
    'deploy_nonprod',
    'deploy_production',
    'secret_read',
    'secret_generate',
    'kms_use',
    'apikey_manage_own',
    'policy_read',
    'breakglass_request',
    'breakglass_approve',
  ]),
  Viewer: Object.freeze<Permission[]>([...READ, 'apikey_manage_own']),
  Auditor: Object.freeze<Permission[]>([...READ, 'user_read', 'audit_read', 'audit_export', 'policy_read']),
});

/** Whether `name` is one of {@link ROLES}. */
export function isRole(name: unknown): name is Role {
  return typeof name === 'string' && (ROLES as readonly string[]).includes(name);
}

/**
 * The union of the permissions of `roles`. Unknown role names grant nothing (deny by default).
 *
 * @example
 * ```ts
 * permissionsFor(['Viewer', 'Auditor']).has('audit_read'); // true
 * ```
 */
export function permissionsFor(roles: readonly string[]): Set<Permission> {
  const out = new Set<Permission>();
  for (const role of roles) if (isRole(role)) for (const p of ROLE_PERMISSIONS[role]) out.add(p);
  return out;
}

/**
 * Whether any of `roles` grants `permission`.
 *
 * @example
 * ```ts
 * hasPermission(claims.roles, 'deploy_production');
 * ```
 */
export function hasPermission(roles: readonly string[], permission: Permission): boolean {
  for (const role of roles) if (isRole(role) && ROLE_PERMISSIONS[role].includes(permission)) return true;
  return false;
}
