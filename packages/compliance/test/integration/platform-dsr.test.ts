import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { postgresDatabase } from '@provisioning/core/postgres';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { tempDir, usePostgresDatabase } from '@provisioning/testing';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createDsrService } from '../../src/dsr.js';
import type { ExportBundle } from '../../src/export-bundle.js';
import { verifyExportBundle } from '../../src/export-bundle.js';
import { createProviderRegistry } from '../../src/providers.js';
import { sqlDsrStore } from '../../src/sql.js';
import { platformUnderTest, secretsOf } from '../platform.js';

const pg = usePostgresDatabase();
const dir = tempDir('compliance-platform-dsr-');
afterAll(() => dir.remove());

const PROVIDERS = ['users', 'sessions', 'api-keys', 'mfa-devices', 'leases', 'audit'];

describe.each([
  ['SQLite', (): SqlDatabase => sqliteDatabase({ filename: join(dir.path, 'platform.db') })],
  ['PostgreSQL', (): SqlDatabase => postgresDatabase({ pool: pg.pool() })],
])('GDPR requests through the platform’s real providers on %s', (_name, open) => {
  it('exports everything a user has, then erases it across auth, mfa, secrets and audit; the chain verifies', async () => {
    const clock = createManualClock(new Date('2026-06-01T09:00:00Z'));
    const database = open();
    // One database for everything, as the reference servers run: users, tokens, API keys,
    // MFA devices, leases, audit events and pseudonym keys, and the request store itself.
    const p = await platformUnderTest({ clock, database });
    const ada = await p.seedUser('ada-lovelace', ['Admin']);
    const bob = await p.seedUser('bob-babbage');
    const dsr = createDsrService({
      store: await sqlDsrStore({ database }),
      providers: createProviderRegistry(p.providers),
      verifier: { verify: async ({ evidence }) => ({ verified: evidence === 'step-up-ok', method: 'mfa' }) },
      audit: p.log, // the request's own events go into the same chain
      clock,
    });
    const start = async (type: 'access' | 'erasure') => {
      const req = await dsr.submit({ type, subjectId: ada.id });
      await dsr.verifyIdentity(req.id, 'step-up-ok');
      return req.id;
    };
    const ordinaryEvents = async () =>
      JSON.stringify(
        (await p.log.query({}, { limit: 1000 })).records.filter((r) => !r.event.action.startsWith('compliance.')),
      );

    // Access: one section per provider, each recorded as succeeded, no secret anywhere.
    const access = await dsr.process(await start('access'));
    expect(access.record.status).toBe('completed');
    for (const id of PROVIDERS) {
      expect(access.record.providers[id], id).toMatchObject({ status: 'succeeded', subjectFound: true });
    }
    const bundle = access.export as ExportBundle;
    expect(verifyExportBundle(bundle)).toEqual([]);
    expect(bundle.manifest).toMatchObject({ complete: true, subjectId: ada.id });
    expect(bundle.sections.users).toMatchObject({ username: 'ada-lovelace', roles: ['Admin'], hasPassword: true });
    expect(bundle.sections.sessions).toHaveLength(2);
    expect(bundle.sections['api-keys']).toMatchObject([{ name: "ada-lovelace's laptop" }]);
    expect(bundle.sections['mfa-devices']).toMatchObject({ unusedBackupCodes: 10, devices: [{ type: 'totp' }] });
    expect(bundle.sections.leases).toMatchObject([{ id: ada.leaseId, provider: 'ssh-key' }]);
    expect((bundle.sections.audit as { action: string }[]).map((e) => e.action)).toEqual([
      'auth.login.succeeded',
      'mfa.verified',
      'secrets.lease.created',
    ]);
    const text = JSON.stringify(bundle);
    for (const secret of secretsOf(ada)) expect(text).not.toContain(secret);
    expect(text).not.toContain(bob.id);

    // Erasure while the SSH host that must revoke the lease is down: the leases provider is
    // recorded failed (never success), every other provider succeeded, the request stays open.
    const before = await ordinaryEvents();
    p.state.revocationFails = true;
    const erasure = await start('erasure');
    const partial = await dsr.process(erasure);
    expect(partial.record.status).toBe('partially_completed');
    expect(partial.record.providers.leases).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'ERR_COMPLIANCE_PROVIDER_FAILED' },
    });
    expect(partial.record.providers).toMatchObject({
      users: { status: 'succeeded', affected: 1, method: 'deleted' },
      sessions: { status: 'succeeded', affected: 2, method: 'deleted' },
      'api-keys': { status: 'succeeded', affected: 1, method: 'retained' },
      'mfa-devices': { status: 'succeeded', affected: 11, method: 'deleted' },
      audit: { status: 'succeeded', affected: 1, method: 'key_destroyed' },
    });
    expect(await p.leases.list({ owner: ada.id })).toMatchObject([{ state: 'revoking' }]);

    // The host is back: the retry calls only the failed provider.
    p.state.revocationFails = false;
    const done = await dsr.process(erasure);
    expect(done.record.status).toBe('completed');
    expect(done.record.providers.leases).toMatchObject({ status: 'succeeded', attempts: 2, affected: 1 });
    expect(done.record.providers.users?.attempts).toBe(1);

    // Gone from every component …
    expect(await p.users.findById(ada.id)).toBeUndefined();
    const { rows } = await sql<{
      n: number | string;
    }>`SELECT count(*) AS n FROM auth_users WHERE id = ${ada.id}`.execute(database.db);
    expect(Number(rows[0]?.n)).toBe(0);
    await expect(p.tokens.verify(ada.accessToken)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' });
    expect(await p.tokens.listSessions(ada.id)).toEqual([]);
    await expect(p.apiKeys.verify(ada.apiKey)).rejects.toMatchObject({ code: 'ERR_AUTH_API_KEY_REVOKED' });
    expect(await p.mfa.isEnrolled(ada.id)).toBe(false);
    expect(await p.mfa.remainingBackupCodes(ada.id)).toBe(0);
    expect(await p.leases.list({ owner: ada.id })).toEqual([]);
    expect(await p.subjects.lookup(ada.id)).toBeUndefined();
    // … and nobody else lost anything.
    expect(await p.tokens.verify(bob.accessToken)).toMatchObject({ sub: bob.id });
    expect(await p.mfa.isEnrolled(bob.id)).toBe(true);
    expect(await p.leases.list({ owner: bob.id })).toHaveLength(1);

    // The audit log: no ordinary event changed, the requests' own events were added, the chain
    // (with a signed checkpoint) verifies, and the subject's id appears only in those events.
    await p.log.flush();
    expect(await ordinaryEvents()).toBe(before);
    const dsrEvents = (await p.log.query({ category: 'compliance' }, { limit: 100 })).records.map((r) => r.event);
    expect(dsrEvents.map((e) => [e.action, e.outcome, e.metadata?.status])).toEqual([
      ['compliance.data.exported', 'success', 'completed'],
      ['compliance.data.erased', 'failure', 'partially_completed'],
      ['compliance.data.erased', 'success', 'completed'],
    ]);
    expect(dsrEvents.every((e) => e.resource?.id === ada.id)).toBe(true);
    await p.log.checkpoint();
    expect(await p.log.verify()).toMatchObject({ ok: true, count: 9, checkpointsVerified: 1, problems: [] });
    const stored = JSON.stringify((await p.log.query({}, { limit: 1000 })).records);
    expect(stored).not.toContain(ada.email);
    expect(stored.split(ada.id).length - 1).toBe(dsrEvents.length);

    await p.log.close();
    await database.close();
  });
});
