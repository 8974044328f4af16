import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import type { DecideFunction, SodRule } from './access-matrix.js';
import { accessMatrixChecks, compareAccessMatrix, computeAccessMatrix, sodViolations } from './access-matrix.js';
import { ComplianceError } from './errors.js';

const clock = createManualClock(new Date('2026-06-01T00:00:00Z'));
const declared = {
  Admin: ['read', 'deploy', 'delete', 'breakglass:approve'],
  Operator: ['read', 'deploy', 'breakglass:request'],
  Viewer: ['read'],
};
const sod: SodRule[] = [
  {
    id: 'sod.break-glass',
    description: 'requester and approver are different roles',
    actions: ['breakglass:request', 'breakglass:approve'],
  },
];

/** A stand-in for Cedar: a table of grants. */
const fromTable =
  (table: Record<string, string[]>): DecideFunction =>
  (role, action) =>
    table[role]?.includes(action) ?? false;

describe('access-control matrix', () => {
  it('computes role × action from the decision function and matches the declared matrix', async () => {
    const live = await computeAccessMatrix({
      roles: Object.keys(declared),
      actions: ['read', 'deploy', 'delete', 'breakglass:approve', 'breakglass:request'],
      decide: fromTable(declared),
    });
    expect(live.cells).toHaveLength(15);
    expect(live.allow.Viewer).toEqual(['read']);
    expect(compareAccessMatrix(declared, live)).toEqual({ unexpectedAllows: [], unexpectedDenies: [], errors: [] });
  });

  it('passes the resource and accepts { allowed } answers; anything else is a deny', async () => {
    const seen: unknown[] = [];
    const live = await computeAccessMatrix({
      roles: ['Admin'],
      actions: ['read', 'write', 'odd'],
      resourceFor: (action) => ({ type: 'Server', id: action }),
      decide: async (_role, action, resource) => {
        seen.push(resource);
        return action === 'read' ? { allowed: true } : action === 'odd' ? ('yes' as never) : false;
      },
    });
    expect(live.allow.Admin).toEqual(['read']);
    expect(seen).toEqual([
      { type: 'Server', id: 'read' },
      { type: 'Server', id: 'write' },
      { type: 'Server', id: 'odd' },
    ]);
  });

  it('finds excess privilege and missing grants', async () => {
    const live = await computeAccessMatrix({
      roles: Object.keys(declared),
      actions: ['read', 'deploy', 'delete', 'breakglass:approve', 'breakglass:request'],
      decide: fromTable({ ...declared, Viewer: ['read', 'delete'], Operator: ['read', 'breakglass:request'] }),
    });
    expect(compareAccessMatrix(declared, live)).toEqual({
      unexpectedAllows: [{ role: 'Viewer', action: 'delete' }],
      unexpectedDenies: [{ role: 'Operator', action: 'deploy' }],
      errors: [],
    });
  });

  it('counts a throwing decision as a deny and reports it', async () => {
    const live = await computeAccessMatrix({
      roles: ['Admin'],
      actions: ['read'],
      decide: () => {
        throw new Error('wasm trap');
      },
    });
    expect(live.cells[0]).toEqual({ role: 'Admin', action: 'read', allowed: false, errored: true });
    expect(compareAccessMatrix({ Admin: ['read'] }, live).errors).toEqual([{ role: 'Admin', action: 'read' }]);
  });

  it('rejects malformed inputs with ERR_COMPLIANCE_INVALID_INPUT', async () => {
    await expect(computeAccessMatrix({ roles: [], actions: ['read'], decide: () => true })).rejects.toBeInstanceOf(
      ComplianceError,
    );
    await expect(
      computeAccessMatrix({ roles: ['Admin'], actions: ['read'], decide: 'yes' as never }),
    ).rejects.toMatchObject({ code: 'ERR_COMPLIANCE_INVALID_INPUT' });
    const live = await computeAccessMatrix({ roles: ['Admin'], actions: ['read'], decide: () => true });
    expect(() => compareAccessMatrix({ Ghost: ['read'] }, live)).toThrow(ComplianceError);
    expect(() => compareAccessMatrix({ Admin: ['fly'] }, live)).toThrow(ComplianceError);
    expect(() => sodViolations({}, [{ id: 'x', description: 'd', actions: ['a'] }])).toThrow(ComplianceError);
    expect(() => accessMatrixChecks({ declared: {} })).toThrow(ComplianceError);
  });

  it('finds roles that hold both sides of a separation-of-duties rule', () => {
    expect(
      sodViolations({ Admin: ['breakglass:request', 'breakglass:approve'], Operator: ['breakglass:request'] }, sod),
    ).toEqual([{ ruleId: 'sod.break-glass', role: 'Admin', actions: ['breakglass:request', 'breakglass:approve'] }]);
  });

  describe('checks', () => {
    const [matrix, separation] = accessMatrixChecks({ declared, sod });
    const readers = (table: Record<string, string[]>) => ({ authorizer: { decide: fromTable(table) } });
    it('authz.access-matrix passes when live equals declared', async () => {
      expect((await matrix?.run({ readers: readers(declared), clock }))?.status).toBe('pass');
    });
    it('authz.access-matrix fails on excess privilege', async () => {
      const outcome = await matrix?.run({ readers: readers({ ...declared, Viewer: ['read', 'deploy'] }), clock });
      expect(outcome).toMatchObject({
        status: 'fail',
        evidence: expect.arrayContaining(['Viewer may deploy but the matrix does not grant it']),
      });
    });
    it('authz.separation-of-duties passes when request and approve are split', async () => {
      expect((await separation?.run({ readers: readers(declared), clock }))?.status).toBe('pass');
    });
    it('authz.separation-of-duties fails when one role can request and approve', async () => {
      const outcome = await separation?.run({
        readers: readers({ ...declared, Operator: [...(declared.Operator ?? []), 'breakglass:approve'] }),
        clock,
      });
      expect(outcome?.status).toBe('fail');
      expect(outcome?.evidence.join('\n')).toContain('role Operator holds breakglass:request + breakglass:approve');
    });
    it('both are manual without an authorizer', async () => {
      expect((await matrix?.run({ readers: {}, clock }))?.status).toBe('manual');
      expect((await separation?.run({ readers: {}, clock }))?.status).toBe('manual');
    });
  });
});
