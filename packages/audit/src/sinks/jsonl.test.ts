import { tempDir } from '@provisioning/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleInput } from '../../test/helpers.js';
import { describeAuditStore } from '../../test/store-conformance.js';
import { createAuditLog } from '../log.js';
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

describe('jsonl batch encoding', () => {
  it('stores multi-byte text exactly, in batches larger than the first guess of their size', async () => {
    const dir = tempDir('audit-jsonl-utf8-');
    dirs.push(dir);
    const log = await createAuditLog({ sinks: [jsonlSink({ directory: dir.path })] });
    // 3 bytes of UTF-8 per character: a batch of these outgrows a buffer sized by string length.
    const reasons = Array.from({ length: 40 }, (_, i) => `${'中'.repeat(1500 + i)}😀é${i}`);
    await Promise.all(reasons.map((reason, i) => log.record(sampleInput(i, { reason }))));
    await log.flush();
    // A second, smaller batch reuses the buffer: the first batch's lines must be unchanged.
    await log.record(sampleInput(99, { reason: 'short' }));
    await log.flush();
    const page = await log.query({}, { limit: 100 });
    expect(page.records.map((r) => r.event.reason)).toEqual([...reasons, 'short']);
    const result = await log.verify();
    expect(result.problems).toEqual([]);
    expect(result.count).toBe(41);
    await log.close();
  });
});
