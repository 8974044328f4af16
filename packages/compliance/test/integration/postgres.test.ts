import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { postgresDatabase } from '@provisioning/core/postgres';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { createTestDatabase, integrationServers } from '@provisioning/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDsrService } from '../../src/dsr.js';
import type { DsrStore } from '../../src/dsr-store.js';
import type { ExportBundle } from '../../src/export-bundle.js';
import { verifyExportBundle } from '../../src/export-bundle.js';
import { createProviderRegistry } from '../../src/providers.js';
import { sqlDsrStore } from '../../src/sql.js';
import { describeDsrStore } from '../dsr-store-conformance.js';
import { auditChainFixture, usersTable } from '../fixtures.js';

let url: string;
let drop: () => Promise<void>;
const pools: pg.Pool[] = [];
const newPool = (max = 10): pg.Pool => {
  const pool = new pg.Pool({ connectionString: url, max });
  // Idle connections killed by the server emit here; the owner of a pool must listen.
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
};
const dir = mkdtempSync(join(tmpdir(), 'compliance-int-'));

beforeAll(async () => {
  ({ url, drop } = await createTestDatabase(integrationServers().postgresUrl));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await drop();
  rmSync(dir, { recursive: true, force: true });
});

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
  it('erases the subject from a SQLite and a PostgreSQL users table and leaves the audit chain verifying', async () => {
    const clock = createManualClock(new Date('2026-05-31T12:00:00Z'));
    const sqlite = sqliteDatabase({ filename: join(dir, 'app.db') });
    const postgres = postgresDatabase({ pool: newPool() });
    const liteUsers = await usersTable(sqlite);
    const pgUsers = await usersTable(postgres);
    await liteUsers.insert('user-1', 'alice@example.test', 'Alice');
    await liteUsers.insert('user-2', 'bob@example.test', 'Bob');
    await pgUsers.insert('user-1', 'alice@work.test', 'Alice A.');
    await pgUsers.insert('user-3', 'carol@example.test', 'Carol');
    const audit = auditChainFixture();
    audit.append('user-1', 'login');
    audit.append('user-2', 'login');
    audit.append('user-1', 'secret.read');

    // The request store itself is on PostgreSQL too.
    const store = await sqlDsrStore({ database: postgres, tableName: 'dsr_erasure' });
    const dsr = createDsrService({
      store,
      clock,
      providers: createProviderRegistry([liteUsers.provider, pgUsers.provider, audit.provider]),
      verifier: { verify: async ({ evidence }) => ({ verified: evidence === 'step-up-ok', method: 'mfa' }) },
    });

    // Access first: the export holds both databases' rows.
    const access = await dsr.submit({ type: 'access', subjectId: 'user-1' });
    expect(access.dueAt).toBe('2026-06-30T23:59:59.999Z');
    await dsr.verifyIdentity(access.id, 'step-up-ok');
    const exported = (await dsr.process(access.id)).export as ExportBundle;
    expect(verifyExportBundle(exported)).toEqual([]);
    expect(exported.sections['sqlite-users']).toEqual([{ id: 'user-1', email: 'alice@example.test', name: 'Alice' }]);
    expect(exported.sections['postgres-users']).toEqual([{ id: 'user-1', email: 'alice@work.test', name: 'Alice A.' }]);

    const erasure = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
    await dsr.verifyIdentity(erasure.id, 'step-up-ok');
    const { record } = await dsr.process(erasure.id);
    expect(record.status).toBe('completed');
    expect(record.providers['sqlite-users']).toMatchObject({ status: 'succeeded', affected: 1, method: 'deleted' });
    expect(record.providers['postgres-users']).toMatchObject({ status: 'succeeded', affected: 1, method: 'deleted' });
    expect(record.providers.audit).toMatchObject({ status: 'succeeded', method: 'key_destroyed' });

    expect(await liteUsers.ids()).toEqual(['user-2']);
    expect(await pgUsers.ids()).toEqual(['user-3']);
    const { rows } = await newPool(1).query("SELECT count(*)::int AS n FROM app_users WHERE id = 'user-1'");
    expect(rows[0]?.n).toBe(0);
    expect(await audit.verifier.verify()).toMatchObject({ ok: true, checked: 3 });
    expect((await store.get(erasure.id))?.status).toBe('completed');
    await store.close();
    await sqlite.close();
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
    pools.push(deadPool);
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
  });
});
