import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { platformUnderTest, runCheck, secretsOf } from '../test/platform.js';
import { createDsrService } from './dsr.js';
import { memoryDsrStore } from './dsr-store.js';
import { leasesProvider, leasesReader } from './platform-secrets.js';
import { createProviderRegistry } from './providers.js';

const newClock = () => createManualClock(new Date('2026-06-01T09:00:00Z'));
const subject = (subjectId: string) => ({ subjectId, requestId: 'req-1' });

describe('leasesProvider over @provisioning/secrets', () => {
  it('exports the subject’s leases without the credential', async () => {
    const p = await platformUnderTest({ clock: newClock() });
    const ada = await p.seedUser('ada');
    await p.seedUser('bob');
    const leases = leasesProvider({ leases: p.leases });
    const out = await leases.export?.(subject(ada.id));
    expect(out).toMatchObject({
      subjectFound: true,
      records: 1,
      data: [
        {
          id: ada.leaseId,
          provider: 'ssh-key',
          state: 'active',
          ttlSeconds: 900,
          metadata: { fingerprint: expect.stringMatching(/^SHA256:/) },
        },
      ],
    });
    const text = JSON.stringify(out);
    for (const secret of secretsOf(ada)) expect(text).not.toContain(secret);
    expect(text).not.toContain('PRIVATE KEY');
  });

  it('erasure revokes every lease; a revocation that fails is reported failed and retried, never success', async () => {
    const clock = newClock();
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const bob = await p.seedUser('bob');
    const dsr = createDsrService({
      store: memoryDsrStore(),
      providers: createProviderRegistry([leasesProvider({ leases: p.leases })]),
      verifier: { verify: async () => ({ verified: true }) },
      clock,
    });
    const req = await dsr.submit({ type: 'erasure', subjectId: ada.id });
    await dsr.verifyIdentity(req.id, null);
    p.state.revocationFails = true;
    const first = await dsr.process(req.id);
    expect(first.record.status).toBe('failed');
    expect(first.record.providers.leases).toMatchObject({
      status: 'failed',
      error: { code: 'ERR_COMPLIANCE_PROVIDER_FAILED' },
    });
    expect(await p.leases.list({ owner: ada.id })).toMatchObject([{ id: ada.leaseId, state: 'revoking' }]);

    p.state.revocationFails = false;
    const retried = await dsr.process(req.id);
    expect(retried.record.status).toBe('completed');
    expect(retried.record.providers.leases).toMatchObject({ status: 'succeeded', affected: 1, attempts: 2 });
    expect(await p.leases.list({ owner: ada.id })).toEqual([]);
    expect(await p.leases.list({ owner: bob.id })).toHaveLength(1);
  });
});

describe('leasesReader over @provisioning/secrets', () => {
  it('passes while leases are live or reaped; fails for an expired lease nobody revoked', async () => {
    const clock = newClock();
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada'); // a 900 s lease
    const readers = { leases: leasesReader({ leases: p.leases }) };
    expect(await runCheck('secrets.expired-leases-revoked', readers, { clock })).toMatchObject({
      status: 'pass',
      evidence: ['1 lease(s) checked'],
    });
    clock.advance((900 + 301) * 1000); // expired beyond the 300 s grace, and no sweep ran
    const late = await runCheck('secrets.expired-leases-revoked', readers, { clock });
    expect(late.status).toBe('fail');
    expect(late.evidence).toContain(`lease ${ada.leaseId} expired 2026-06-01T09:15:00.000Z and is not revoked`);

    // The provider is down: the sweep keeps the lease (revoking, retried later), and the check still fails.
    p.state.revocationFails = true;
    expect(await p.leases.sweep()).toMatchObject({ revoked: [], pending: [ada.leaseId] });
    expect((await runCheck('secrets.expired-leases-revoked', readers, { clock })).status).toBe('fail');
    p.state.revocationFails = false;
    clock.advance(60_000); // past the retry back-off
    expect(await p.leases.sweep()).toMatchObject({ revoked: [ada.leaseId] });
    expect(await runCheck('secrets.expired-leases-revoked', readers, { clock })).toMatchObject({
      status: 'pass',
      evidence: ['0 lease(s) checked'],
    });
  });
});
