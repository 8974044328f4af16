import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDsrStore, sampleRecord } from '../../test/dsr-store-conformance.js';
import { createDsrService } from '../dsr.js';
import type { DsrStore } from '../dsr-store.js';
import { createProviderRegistry } from '../providers.js';
import { sqlDsrStore } from '../sql.js';

const dir = mkdtempSync(join(tmpdir(), 'dsr-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const files = new WeakMap<DsrStore, string>();

describeDsrStore({
  name: 'sqlite',
  async open() {
    const filename = join(dir, `dsr-${n++}.db`);
    const store = await sqlDsrStore({ database: sqliteDatabase({ filename }), ownsDatabase: true });
    files.set(store, filename);
    return store;
  },
  // A second connection to the same file, as a second process would have.
  openPeer: async (first) =>
    sqlDsrStore({ database: sqliteDatabase({ filename: files.get(first) as string }), ownsDatabase: true }),
});

describe('sqlite request store durability', () => {
  it('keeps requests across close and reopen', async () => {
    const filename = join(dir, 'durable.db');
    const first = await sqlDsrStore({ database: sqliteDatabase({ filename }), ownsDatabase: true });
    const record = sampleRecord();
    await first.create(record);
    await first.close();
    const second = await sqlDsrStore({ database: sqliteDatabase({ filename }), ownsDatabase: true });
    expect(await second.get(record.id)).toEqual(record);
    await second.close();
  });

  it('carries a request through its whole life on SQLite, across a reopen', async () => {
    const filename = join(dir, 'lifecycle.db');
    let fail = true;
    const providers = createProviderRegistry([
      { id: 'users', erase: async () => ({ subjectFound: true, affected: 1, method: 'deleted' }) },
      {
        id: 'sessions',
        erase: async () => {
          if (fail) throw new Error('down');
          return { subjectFound: true, affected: 2, method: 'deleted' };
        },
      },
    ]);
    const verifier = { verify: async () => ({ verified: true }) };
    const first = await sqlDsrStore({ database: sqliteDatabase({ filename }), ownsDatabase: true });
    const a = createDsrService({ store: first, providers, verifier });
    const req = await a.submit({ type: 'erasure', subjectId: 'user-7' });
    await a.verifyIdentity(req.id, null);
    expect((await a.process(req.id)).record.status).toBe('partially_completed');
    await first.close();

    fail = false;
    const second = await sqlDsrStore({ database: sqliteDatabase({ filename }), ownsDatabase: true });
    const b = createDsrService({ store: second, providers, verifier });
    const { record } = await b.process(req.id);
    expect(record.status).toBe('completed');
    expect(record.providers.sessions).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect((await second.get(req.id))?.history.map((h) => h.to)).toEqual([
      'received',
      'verified',
      'in_progress',
      'partially_completed',
      'in_progress',
      'completed',
    ]);
    await second.close();
  });

  it('refuses a table name that is not an identifier', async () => {
    const database = sqliteDatabase({ filename: ':memory:' });
    await expect(sqlDsrStore({ database, tableName: 'x; drop' })).rejects.toMatchObject({
      code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
    });
    await database.close();
  });
});
