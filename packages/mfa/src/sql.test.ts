import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sqliteDatabase, sqliteStore } from '@provisioning/core/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { describeMfaStore } from '../test/mfa-store-conformance.js';
import { describeMfaServiceOn } from '../test/service-conformance.js';
import { sqlMfaStore } from './sql.js';

const dir = mkdtempSync(join(tmpdir(), 'mfa-sqlite-'));
const databases: SqlDatabase[] = [];
afterAll(async () => {
  for (const d of databases) await d.close();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const files = new WeakMap<object, string>();
const open = (filename: string): SqlDatabase => {
  const d = sqliteDatabase({ filename });
  databases.push(d);
  return d;
};

describeMfaStore({
  name: 'sqlite',
  async open() {
    const filename = join(dir, `store-${n++}.db`);
    const store = await sqlMfaStore({ database: open(filename) });
    files.set(store, filename);
    return store;
  },
  // A second connection to the same file: another process sharing the database.
  openPeer: async (first) => sqlMfaStore({ database: open(files.get(first) as string) }),
});

describeMfaServiceOn({
  name: 'sqlite',
  async open(clock) {
    const filename = join(dir, `service-${n++}.db`);
    const database = open(filename);
    const result = { store: await sqlMfaStore({ database }), kv: await sqliteStore({ database, clock }) };
    files.set(result.store, filename);
    return result;
  },
  async openPeer(clock, first) {
    const database = open(files.get(first.store) as string);
    return { store: await sqlMfaStore({ database }), kv: await sqliteStore({ database, clock }) };
  },
});

describe('sqlMfaStore', () => {
  it('refuses a missing database at construction', async () => {
    await expect(sqlMfaStore({} as never)).rejects.toMatchObject({ code: 'ERR_MFA_INVALID_OPTIONS' });
  });

  it('migrates once when several handles open the same file', async () => {
    const filename = join(dir, 'twice.db');
    // Sequential: two synchronous handles in one process cannot interleave transactions.
    await sqlMfaStore({ database: open(filename) });
    await sqlMfaStore({ database: open(filename) });
    const again = await sqlMfaStore({ database: open(filename) });
    expect(await again.listDevices('u1')).toEqual([]);
  });
});
