import { createAuditLog, memoryAuditStore } from '@provisioning/audit';
import { callbackNotifier, createBreakGlass, createKeySet, createTokenService } from '@provisioning/auth';
import { createManualClock, memoryStore } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { breakGlassAuditFrom } from './provisioning.js';

async function setup(record?: () => Promise<never>) {
  const clock = createManualClock(new Date('2026-03-02T10:00:00Z'));
  const store = memoryStore({ clock });
  const tokens = createTokenService({
    keys: await createKeySet({ clock }),
    issuer: 'https://auth.test',
    audience: 'provisioning',
    store,
    clock,
  });
  const auditStore = memoryAuditStore();
  const log = await createAuditLog({ sinks: [auditStore], clock });
  const sink = record === undefined ? log : { record };
  const bg = createBreakGlass({
    tokens,
    store,
    clock,
    audit: breakGlassAuditFrom(sink),
    notifier: callbackNotifier(() => {}),
    inactivityTimeoutSeconds: 600,
  });
  return { clock, bg, log };
}

const rita = { id: 'rita', team: 'sre' };
const request = {
  requester: rita,
  reason: 'INC-42',
  justification: 'primary database down, on-call needs production access',
  scope: ['Provisioning::Server::prod-*'],
  durationSeconds: 900,
};

describe('breakGlassAuditFrom: break-glass steps in the tamper-evident log', () => {
  it('records every step durably in the break_glass retention class, without the emergency token', async () => {
    const { clock, bg, log } = await setup();
    const r = await bg.request(request);
    await bg.approve(r.id, { id: 'alice', team: 'platform-admin' });
    await bg.approve(r.id, { id: 'bob', team: 'security' });
    const { token } = await bg.activate(r.id, rita);
    clock.advance(601_000);
    await expect(bg.verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_BREAK_GLASS_INACTIVE' });
    // Durable writes: nothing to flush, the records are already stored.
    const { records } = await log.query({ resourceId: r.id });
    expect(records.map((x) => [x.event.action, x.event.actor.id, x.event.retention, x.event.metadata?.event])).toEqual([
      ['break_glass.requested', 'rita', 'break_glass', 'breakglass.requested'],
      ['break_glass.approved', 'alice', 'break_glass', 'breakglass.approved'],
      ['break_glass.approved', 'bob', 'break_glass', 'breakglass.approved'],
      ['break_glass.activated', 'rita', 'break_glass', 'breakglass.activated'],
      ['break_glass.expired', 'system', 'break_glass', 'breakglass.inactive'],
    ]);
    const activated = records[3]?.event;
    expect(activated?.sessionId).toMatch(/^bg-/);
    expect(activated?.metadata).toMatchObject({ approvers: ['alice', 'bob'], durationSeconds: 900 });
    expect(JSON.stringify(records)).not.toContain(token);
    expect((await log.verify()).ok).toBe(true);
  });

  it('a refused audit record stops the step (fail closed)', async () => {
    const { bg } = await setup(async () => {
      throw new Error('disk full');
    });
    await expect(bg.request(request)).rejects.toMatchObject({ code: 'ERR_AUTH_AUDIT_FAILED' });
  });

  it('refuses something that is not a log', () => {
    expect(() => breakGlassAuditFrom({} as never)).toThrow(/audit log/);
  });
});
