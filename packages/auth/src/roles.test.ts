import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasPermission, PERMISSIONS, permissionsFor, ROLE_PERMISSIONS, ROLES } from './roles.js';

describe('roles', () => {
  it('has the five platform roles, and Admin holds every permission', () => {
    expect([...ROLES]).toEqual(['Admin', 'Developer', 'Operator', 'Viewer', 'Auditor']);
    expect([...ROLE_PERMISSIONS.Admin].sort()).toEqual([...PERMISSIONS].sort());
  });

  it('grants nothing for unknown roles (deny by default) and unions known ones', () => {
    expect(hasPermission(['root', 'admin'], 'system_admin')).toBe(false);
    expect(permissionsFor(['Viewer', 'Auditor']).has('audit_read')).toBe(true);
    expect(hasPermission(['Developer'], 'deploy_production')).toBe(false);
    expect(hasPermission(['Operator'], 'deploy_production')).toBe(true);
  });

  it('the Auditor role can change nothing', () => {
    for (const p of ROLE_PERMISSIONS.Auditor) expect(p).toMatch(/_read$|_export$/);
  });

  it('the README matrix matches the code', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const permission of PERMISSIONS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${permission}\` |`));
      expect(row, `README row for ${permission}`).toBeDefined();
      const cells = (row as string)
        .split('|')
        .slice(2, 7)
        .map((c) => c.trim() === '✓');
      expect(cells, permission).toEqual(ROLES.map((r) => ROLE_PERMISSIONS[r].includes(permission)));
    }
  });
});
