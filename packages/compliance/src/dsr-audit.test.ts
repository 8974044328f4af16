import type { AuditLog } from '@provisioning/audit';
import { createAuditLog, memoryAuditStore } from '@provisioning/audit';
import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { platformUnderTest, secretsOf, withOutage } from '../test/platform.js';
import { createDsrService } from './dsr.js';
import type { DsrAuditEvent, DsrAuditSink } from './dsr-audit.js';
import { memoryDsrStore } from './dsr-store.js';
import type { ComplianceError } from './errors.js';
import { createProviderRegistry } from './providers.js';

const clock = createManualClock(new Date('2026-06-01T09:00:00Z'));

async function setup(audit: DsrAuditSink) {
  const p = await platformUnderTest({ clock });
  const ada = await p.seedUser('ada');
  const dsr = createDsrService({
    store: memoryDsrStore(),
    providers: createProviderRegistry(p.providers),
    verifier: { verify: async () => ({ verified: true }) },
    audit,
    clock,
  });
  const start = async (submission: Parameters<typeof dsr.submit>[0]) => {
    const req = await dsr.submit(submission);
    await dsr.verifyIdentity(req.id, null);
    return req.id;
  };
  return { p, ada, dsr, start };
}

const compliance = async (log: AuditLog) =>
  (await log.query({ category: 'compliance' }, { limit: 100 })).records.map((r) => r.event);

describe('DSR audit events', () => {
  it('records each processing attempt in the real audit log, naming the subject by id only', async () => {
    const log = await createAuditLog({ sinks: [memoryAuditStore()] });
    const { p, ada, dsr, start } = await setup(log);

    const access = await start({ type: 'access', subjectId: ada.id });
    const exported = await dsr.process(access);
    p.state.revocationFails = true; // the lease's SSH host is down: the first erasure attempt is partial
    const erasure = await start({ type: 'erasure', subjectId: ada.id });
    expect((await dsr.process(erasure)).record.status).toBe('partially_completed');
    p.state.revocationFails = false;
    expect((await dsr.process(erasure)).record.status).toBe('completed');
    const rect = await start({ type: 'rectification', subjectId: 'nobody', rectification: { email: 'a@b.test' } });
    await dsr.process(rect);
    await dsr.process(await start({ type: 'restriction', subjectId: ada.id })); // no audit action exists for it

    await log.flush();
    const events = await compliance(log);
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ['compliance.data.exported', 'success'],
      ['compliance.data.erased', 'failure'],
      ['compliance.data.erased', 'success'],
      ['compliance.data.rectified', 'success'],
    ]);
    expect(events[0]).toMatchObject({
      actor: { id: 'compliance.dsr', type: 'system' },
      resource: { type: 'data_subject', id: ada.id },
      metadata: {
        requestId: access,
        requestType: 'access',
        status: 'completed',
        attempt: 1,
        succeeded: ['api-keys', 'audit', 'leases', 'mfa-devices', 'sessions', 'users'],
        failed: [],
        exportSha256: exported.record.export?.sha256,
        encrypted: false,
      },
    });
    expect(events[1]).toMatchObject({
      reason: '1 provider(s) failed',
      metadata: { requestId: erasure, status: 'partially_completed', attempt: 1, failed: ['leases'] },
    });
    expect(events[2]?.metadata).toMatchObject({ attempt: 2, status: 'completed', failed: [] });
    // Nothing personal beyond the subject's id: no name, email, corrected value or secret.
    const text = JSON.stringify(events);
    for (const needle of ['ada@example.test', '"ada"', 'a@b.test', ...secretsOf(ada)])
      expect(text).not.toContain(needle);
    expect(await log.verify()).toMatchObject({ ok: true, count: 4 });
  });

  it('hands out no export whose event the sink refused; the request is failed and retryable', async () => {
    const events: DsrAuditEvent[] = [];
    let down = true;
    const { ada, dsr, start } = await setup({
      async record(event) {
        if (down) throw new Error('disk full');
        events.push(event);
      },
    });
    const id = await start({ type: 'access', subjectId: ada.id });
    const error = (await dsr.process(id).catch((e: unknown) => e)) as ComplianceError;
    expect(error).toMatchObject({
      code: 'ERR_COMPLIANCE_AUDIT_FAILED',
      retryable: true,
      details: { requestId: id, status: 'failed', sinkError: 'Error' },
    });
    expect((await dsr.get(id)).status).toBe('failed');
    down = false;
    const retried = await dsr.process(id);
    expect(retried.export).toBeDefined();
    expect(retried.record.status).toBe('completed');
    expect(events.map((e) => e.metadata.status)).toEqual(['completed']);
  });

  it('stores an erasure’s true outcome when the real audit log cannot store its event, and says so', async () => {
    const store = withOutage(memoryAuditStore());
    const log = await createAuditLog({ sinks: [store.store], retry: { attempts: 1 }, onError: () => {} });
    const { p, ada, dsr, start } = await setup(log);
    const id = await start({ type: 'erasure', subjectId: ada.id });
    store.down = true; // the event is recorded durably, so the log rejects instead of just queueing it
    await expect(dsr.process(id)).rejects.toMatchObject({
      code: 'ERR_COMPLIANCE_AUDIT_FAILED',
      retryable: false,
      details: { status: 'completed', sinkError: 'ERR_AUDIT_SINK_WRITE' },
    });
    expect((await dsr.get(id)).status).toBe('completed');
    expect(await p.users.findById(ada.id)).toBeUndefined();
  });

  it('refuses an audit option without record()', () => {
    expect(() =>
      createDsrService({
        store: memoryDsrStore(),
        providers: createProviderRegistry(),
        verifier: { verify: async () => ({ verified: true }) },
        audit: {} as never,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_COMPLIANCE_INVALID_OPTIONS' }));
  });
});
