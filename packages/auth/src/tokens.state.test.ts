import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryStore } from '@provisioning/core';
import { sqliteStore } from '@provisioning/core/sqlite';
import { describeTokenState } from '../test/token-state-conformance.js';

describeTokenState({
  name: 'memory',
  open: async (clock) => memoryStore({ clock }),
  // One process: the second instance shares the same memory store.
  openPeer: async (_clock, first) => first,
});

const files = new WeakMap<object, string>();
describeTokenState({
  name: 'sqlite',
  async open(clock) {
    const filename = join(mkdtempSync(join(tmpdir(), 'auth-state-')), 'kv.db');
    const store = await sqliteStore({ filename, clock });
    files.set(store, filename);
    return store;
  },
  // A second connection to the same file: another process on the same host.
  openPeer: async (clock, first) => sqliteStore({ filename: files.get(first) as string, clock }),
});
