import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresAuditStore } from '@provisioning/audit/postgres';
import { sqliteAuditStore } from '@provisioning/audit/sqlite';
import { createManualClock } from '@provisioning/core';
import { postgresDatabase, postgresStore } from '@provisioning/core/postgres';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { usePostgresDatabase } from '@provisioning/testing';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDsrService } from '../../src/dsr.js';
import type { DsrStore } from '../../src/dsr-store.js';
import type { ExportBundle } from '../../src/export-bundle.js';
import { verifyExportBundle } from '../../src/export-bundle.js';
import { createProviderRegistry } from '../../src/providers.js';
import { sqlDsrStore } from '../../src/sql.js';
import { describeDsrStore } from '../dsr-store-conformance.js';
import { auditSubjects, usersTable } from '../fixtures.js';

const db = usePostgresDatabase();
const newPool = (max = 10): pg.Pool => db.pool(max);
const dir = mkdtempSync(join(tmpdir(), 'compliance-int-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const tables = new WeakMap<DsrStore, string>();
describeDsrStore({
  name: 'postgres',
  async open() {
    const tableName = `dsr_${n++}`;
    const store = await sqlDsrStore({ database: postgresDatabase({ pool: newPool() }), tableName });
    tables.set(store, tableName);
    return store;
  },
  // Another pool: another instance of the application on the same database.
  openPeer: async (first) =>
    sqlDsrStore({ database: postgresDatabase({ pool: newPool() }), tableName: tables.get(first) as string }),
});

describe('GDPR erasure across real stores', () => {
  it('erases the subject from SQLite and PostgreSQL tables; the real audit log on both still verifies', async () => {
    const clock = createManualClock(new Date('2026-05-31T12:00:00Z'));
    const sqlite = sqliteDatabase({ filename: join(dir, 'app.db') });
    const pool = newPool();
    const postgres = postgresDatabase({ pool });
    const liteUsers = await usersTable(sqlite);
    const pgUsers = await usersTable(postgres);
    await liteUsers.insert('user-1', 'alice@example.test', 'Alice');
    await liteUsers.insert('user-2', 'bob@example.test', 'Bob');
    await pgUsers.insert('user-1', 'alice@work.test', 'Alice A.');
    await pgUsers.insert('user-3', 'carol@example.test', 'Carol');

    // The real audit log, hash-chained into a SQLite and a PostgreSQL store, with the
    // per-subject pseudonym keys in PostgreSQL (shared by every instance).
    const liteAudit = await sqliteAuditStore({ filename: join(dir, 'audit.db') });
    const pgAudit = await postgresAuditStore({ pool: newPool(), tablePrefix: 'erasure_audit' });
    const audit = await auditSubjects({
      sinks: [liteAudit, pgAudit],
      keys: await postgresStore({ pool: newPool() }),
      clock,
    });
    await audit.record('user-1', 'auth.login.succeeded', 'alice@example.test');
    await audit.record('user-2', 'auth.login.succeeded');
    await audit.record('user-1', 'kms.decrypt');
    await audit.log.checkpoint();
    await audit.record('user-1', 'auth.logout');
    const rowsOf = async () =>
      (await pool.query('SELECT seq, hash, event FROM erasure_audit_events ORDER BY seq')).rows as {
        seq: string;
        hash: string;
        event: string;
      }[];
    const before = await rowsOf();
    expect(before).toHaveLength(4);
    // The subject's id and email never reached the audit stores: pseudonyms only.
    const liteRows = () => {
      const file = new Database(join(dir, 'audit.db'), { readonly: true });
      try {
        return file.prepare('SELECT seq, hash, event FROM audit_events ORDER BY seq').all();
      } finally {
        file.close();
      }
    };
    const liteBefore = liteRows();
    expect(liteBefore).toHaveLength(4);
    for (const needle of ['user-1', 'alice']) {
      expect(JSON.stringify(before)).not.toContain(needle);
      expect(JSON.stringify(liteBefore)).not.toContain(needle);
    }

    // The request store itself is on PostgreSQL too.
    const store = await sqlDsrStore({ database: postgres, tableName: 'dsr_erasure' });
    const dsr = createDsrService({
      store,
      clock,
      providers: createProviderRegistry([liteUsers.provider, pgUsers.provider, audit.provider]),
      verifier: { verify: async ({ evidence }) => ({ verified: evidence === 'step-up-ok', method: 'mfa' }) },
    });

    // Access first: the export holds both databases' rows and the subject's audit events.
    const access = await dsr.submit({ type: 'access', subjectId: 'user-1' });
    expect(access.dueAt).toBe('2026-06-30T23:59:59.999Z');
    await dsr.verifyIdentity(access.id, 'step-up-ok');
    const exported = (await dsr.process(access.id)).export as ExportBundle;
    expect(verifyExportBundle(exported)).toEqual([]);
    expect(exported.sections['sqlite-users']).toEqual([{ id: 'user-1', email: 'alice@example.test', name: 'Alice' }]);
    expect(exported.sections['postgres-users']).toEqual([{ id: 'user-1', email: 'alice@work.test', name: 'Alice A.' }]);
    expect((exported.sections.audit as { action: string }[]).map((e) => e.action)).toEqual([
      'auth.login.succeeded',
      'kms.decrypt',
      'auth.logout',
    ]);
    const pseudonym = await audit.subjects.lookup('user-1');

    const erasure = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
    await dsr.verifyIdentity(erasure.id, 'step-up-ok');
    const { record } = await dsr.process(erasure.id);
    expect(record.status).toBe('completed');
    expect(record.providers['sqlite-users']).toMatchObject({ status: 'succeeded', affected: 1, method: 'deleted' });
    expect(record.providers['postgres-users']).toMatchObject({ status: 'succeeded', affected: 1, method: 'deleted' });
    expect(record.providers.audit).toMatchObject({ status: 'succeeded', affected: 1, method: 'key_destroyed' });

    expect(await liteUsers.ids()).toEqual(['user-2']);
    expect(await pgUsers.ids()).toEqual(['user-3']);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM app_users WHERE id = 'user-1'");
    expect(rows[0]?.n).toBe(0);

    // The audit events are byte for byte what they were, and both chains verify, checkpoint included.
    expect(await rowsOf()).toEqual(before);
    expect(liteRows()).toEqual(liteBefore);
    for (const s of [liteAudit, pgAudit]) {
      expect(await audit.log.verify({ store: s })).toMatchObject({ ok: true, count: 4, checkpointsVerified: 1 });
    }
    // Nobody can link them to the subject any more: no key, no lookup, nothing to export …
    expect(await audit.subjects.lookup('user-1')).toBeUndefined();
    expect(await audit.provider.export?.({ subjectId: 'user-1', requestId: 'after' })).toMatchObject({
      subjectFound: false,
    });
    // … and the same person acting again gets a new, unrelated pseudonym.
    await audit.record('user-1', 'auth.login.succeeded');
    const latest = await audit.log.query({}, { order: 'desc', limit: 1 });
    expect(latest.records[0]?.event.actor.id).toMatch(/^psn:/);
    expect(latest.records[0]?.event.actor.id).not.toBe(pseudonym);
    expect(await audit.log.verify({ store: pgAudit })).toMatchObject({ ok: true, count: 5 });

    expect((await store.get(erasure.id))?.status).toBe('completed');
    await audit.log.close();
    await store.close();
    await sqlite.close();
  });

  it('reports the audit provider as failed (never success) when its key store is down; no event changes', async () => {
    const clock = createManualClock(new Date('2026-05-31T12:00:00Z'));
    // A pool of its own (not ended again after the file): it is ended below to take the key store down.
    const keysPool = new pg.Pool({ connectionString: db.url, max: 2 });
    keysPool.on('error', () => {});
    const pgAudit = await postgresAuditStore({ pool: newPool(), tablePrefix: 'down_audit' });
    const audit = await auditSubjects({ sinks: [pgAudit], keys: await postgresStore({ pool: keysPool }), clock });
    await audit.record('user-9', 'auth.login.succeeded');
    const store = await sqlDsrStore({ database: postgresDatabase({ pool: newPool() }), tableName: 'dsr_audit_down' });
    const dsr = createDsrService({
      store,
      clock,
      providers: createProviderRegistry([audit.provider]),
      verifier: { verify: async () => ({ verified: true }) },
    });
    const req = await dsr.submit({ type: 'erasure', subjectId: 'user-9' });
    await dsr.verifyIdentity(req.id, null);
    await keysPool.end(); // the key store's database connection is gone
    const { record } = await dsr.process(req.id);
    expect(record.status).toBe('failed');
    expect(record.providers.audit).toMatchObject({ status: 'failed' });
    expect(record.providers.audit?.error?.code).toMatch(/^ERR_/);
    expect(await audit.log.verify()).toMatchObject({ ok: true, count: 1 });
    await audit.log.close();
    await store.close();
  });

  it('reports the PostgreSQL provider as failed (never success) when its database is down, then retries it', async () => {
    const clock = createManualClock(new Date('2026-05-31T12:00:00Z'));
    const sqlite = sqliteDatabase({ filename: join(dir, 'app2.db') });
    const liveUsers = await usersTable(sqlite);
    await liveUsers.insert('user-1', 'a@x.test', 'A');
    const deadPool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/postgres',
      connectionTimeoutMillis: 1000,
    });
    deadPool.on('error', () => {});
    const dead = postgresDatabase({ pool: deadPool });
    const down = {
      id: 'postgres-users',
      erase: async ({ subjectId }: { subjectId: string }) => {
        await dead.run('erase', (db) =>
          db
            .deleteFrom('app_users' as never)
            .where('id' as never, '=', subjectId as never)
            .execute(),
        );
        return { subjectFound: true, affected: 1, method: 'deleted' as const };
      },
    };
    const store = await sqlDsrStore({ database: postgresDatabase({ pool: newPool() }), tableName: 'dsr_down' });
    const providers = createProviderRegistry([liveUsers.provider, down]);
    const dsr = createDsrService({ store, clock, providers, verifier: { verify: async () => ({ verified: true }) } });
    const req = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
    await dsr.verifyIdentity(req.id, null);
    const { record } = await dsr.process(req.id);
    expect(record.status).toBe('partially_completed');
    expect(record.providers['postgres-users']).toMatchObject({
      status: 'failed',
      error: { code: 'ERR_STORE_UNAVAILABLE' },
    });
    expect(await liveUsers.ids()).toEqual([]);

    // The database is back (another provider on a live pool); only that provider is called again.
    const live = postgresDatabase({ pool: newPool() });
    providers.unregister('postgres-users');
    providers.register({
      id: 'postgres-users',
      erase: async () => {
        await live.run('erase', (db) => db.selectNoFrom((eb) => eb.val(1).as('one')).execute());
        return { subjectFound: false, affected: 0, method: 'deleted' };
      },
    });
    const retried = await dsr.process(req.id);
    expect(retried.record.status).toBe('completed');
    expect(retried.record.providers['postgres-users']?.attempts).toBe(2);
    expect(retried.record.providers['sqlite-users']?.attempts).toBe(1);
    await store.close();
    await sqlite.close();
    await deadPool.end();
  });
});
