import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { afterAll } from 'vitest';
import { describeLeaseStore } from '../../test/lease-store-conformance.js';
import { memoryLeaseStore } from './memory.js';
import { sqlLeaseStore } from './sql.js';

const dir = mkdtempSync(join(tmpdir(), 'leases-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const files = new WeakMap<object, string>();

describeLeaseStore({ name: 'memory', open: async () => memoryLeaseStore() });

describeLeaseStore({
  name: 'sqlite',
  async open() {
    const filename = join(dir, `leases-${n++}.db`);
    const store = await sqlLeaseStore({ database: sqliteDatabase({ filename }), closeDatabase: true });
    files.set(store, filename);
    return store;
  },
  // A second connection to the same file, as a second process would have.
  openPeer: async (first) =>
    sqlLeaseStore({ database: sqliteDatabase({ filename: files.get(first) as string }), closeDatabase: true }),
});
