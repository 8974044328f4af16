import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { platformUnderTest, withOutage } from '../test/platform.js';
import { createDsrService } from './dsr.js';
import { memoryDsrStore } from './dsr-store.js';
import { auditPseudonymsProvider } from './platform-audit.js';
import { createProviderRegistry } from './providers.js';

const clock = createManualClock(new Date('2026-06-01T09:00:00Z'));
const subject = (subjectId: string) => ({ subjectId, requestId: 'req-1' });

describe('auditPseudonymsProvider over @provisioning/audit', () => {
  it('exports the subject’s events through its pseudonym; erasure destroys the key and changes no event', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    await p.seedUser('bob');
    const audit = auditPseudonymsProvider({ log: p.log, subjects: p.subjects });
    expect(audit.appendOnly).toBe(true);
    const out = await audit.export?.(subject(ada.id));
    expect(out).toMatchObject({ subjectFound: true, records: 3 });
    expect(out?.data).toEqual([
      expect.objectContaining({ action: 'auth.login.succeeded', outcome: 'success', ip: '203.0.113.0' }),
      expect.objectContaining({ action: 'mfa.verified' }),
      expect.objectContaining({ action: 'secrets.lease.created' }),
    ]);
    // The stored events never held the subject's id or email (pseudonymised, dropped by the PII policy).
    const before = JSON.stringify((await p.log.query({}, { limit: 1000 })).records);
    for (const needle of [ada.id, ada.email]) expect(before).not.toContain(needle);

    expect(await audit.erase?.(subject(ada.id))).toMatchObject({
      subjectFound: true,
      affected: 1,
      method: 'key_destroyed',
    });
    expect(JSON.stringify((await p.log.query({}, { limit: 1000 })).records)).toBe(before);
    expect(await p.log.verify()).toMatchObject({ ok: true, count: 6 });
    expect(await audit.export?.(subject(ada.id))).toEqual({ subjectFound: false, data: [], records: 0 });
    expect(await audit.erase?.(subject(ada.id))).toMatchObject({ subjectFound: false, affected: 0 });
  });

  it('is recorded failed when the key store is down, and the request stays open', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const subjects = withOutage(p.subjects);
    const dsr = createDsrService({
      store: memoryDsrStore(),
      providers: createProviderRegistry([auditPseudonymsProvider({ log: p.log, subjects: subjects.store })]),
      verifier: { verify: async () => ({ verified: true }) },
      clock,
    });
    const req = await dsr.submit({ type: 'erasure', subjectId: ada.id });
    await dsr.verifyIdentity(req.id, null);
    subjects.down = true;
    const { record } = await dsr.process(req.id);
    expect(record.status).toBe('failed');
    expect(record.providers.audit).toMatchObject({ status: 'failed', error: { code: 'ERR_STORE_UNAVAILABLE' } });
    expect(await p.subjects.lookup(ada.id)).toMatch(/^psn:/);
  });
});
