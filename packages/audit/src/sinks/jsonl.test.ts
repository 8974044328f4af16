import { tempDir } from '@provisioning/testing';
import { afterAll } from 'vitest';
import { describeAuditStore } from '../../test/store-conformance.js';
import type { AuditStore } from '../store.js';
import { jsonlSink } from './jsonl.js';

const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});
const where = new WeakMap<AuditStore, string>();

describeAuditStore({
  name: 'jsonl',
  async open() {
    const dir = tempDir('audit-jsonl-');
    dirs.push(dir);
    const sink = jsonlSink({ directory: dir.path, maxBytes: 600 });
    where.set(sink, dir.path);
    return sink;
  },
  async reopen(first) {
    const directory = where.get(first) as string;
    const sink = jsonlSink({ directory, maxBytes: 600 });
    where.set(sink, directory);
    return sink;
  },
});
