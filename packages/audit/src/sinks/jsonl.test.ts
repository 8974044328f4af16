import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '@provisioning/core';
import { tempDir } from '@provisioning/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleInput } from '../../test/helpers.js';
import { describeAuditStore } from '../../test/store-conformance.js';
import type { ChainedRecord } from '../chain.js';
import { chainHash, GENESIS_HASH } from '../chain.js';
import { prepareEvent } from '../events.js';
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

  it('each line is byte for byte {"seq","hash","event"} with the exact canonical text the hash covers', async () => {
    const dir = tempDir('audit-jsonl-bytes-');
    dirs.push(dir);
    const sink = jsonlSink({ directory: dir.path });
    await sink.open();
    // ASCII, Latin-1, CJK, an emoji (surrogate pair), U+2028 (raw in JSON), quotes and backslashes.
    const texts = ['plain', 'é ß', '中文', '😀', 'a\u2028b', 'q"\\', 'x'.repeat(2000), '中'.repeat(2000)];
    const records: ChainedRecord[] = [];
    let prev = GENESIS_HASH;
    for (let i = 0; i < 64; i++) {
      const { event, json } = prepareEvent(sampleInput(i, { reason: texts[i % texts.length] as string }), {
        clock: systemClock,
      });
      prev = chainHash(prev, i + 1, json);
      records.push({ seq: i + 1, hash: prev, event, json });
    }
    // Two batches: the second reuses (and must grow) the first one's buffer.
    await sink.write(records.slice(0, 8), { durable: false });
    await sink.write(records.slice(8), { durable: true });
    await sink.close();
    const file = await readFile(join(dir.path, 'audit.jsonl'));
    const expected = records.map((r) => `{"seq":${r.seq},"hash":"${r.hash}","event":${r.json}}\n`).join('');
    const lines = file.toString('utf8').split('\n').slice(1).join('\n'); // after the header line
    expect(Buffer.from(lines).equals(Buffer.from(expected))).toBe(true);
  });
});
