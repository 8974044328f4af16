import { appendFileSync, existsSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createManualClock } from '@provisioning/core';
import { tempDir } from '@provisioning/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { sampleInput } from '../../test/helpers.js';
import { ed25519Signer, generateCheckpointKeyPair } from '../chain.js';
import { createAuditLog } from '../log.js';
import { jsonlSink } from './jsonl.js';

const signer = ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey });
const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});
const newDir = (): string => {
  const d = tempDir('audit-rot-');
  dirs.push(d);
  return d.path;
};

describe('JSONL rotation', () => {
  it('rotates by size, gzips rotated files, and the chain continues across files', async () => {
    const directory = newDir();
    const sink = jsonlSink({ directory, maxBytes: 4096 });
    const log = await createAuditLog({ sinks: [sink], signer, queue: { maxBatch: 3 } });
    for (let i = 0; i < 60; i++) await log.record(sampleInput(i));
    await log.flush();
    await sink.idle();
    const files = await sink.files();
    expect(files.length).toBeGreaterThan(3);
    const rotated = files.slice(0, -1);
    expect(rotated.every((f) => f.endsWith('.jsonl.gz'))).toBe(true);
    // Rotated files are named by their seq range and hold exactly it.
    const seqs = rotated.flatMap((f) =>
      gunzipSync(readFileSync(f))
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((o) => o.seq !== undefined)
        .map((o) => o.seq),
    );
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    // Each new file starts with a header naming the previous head.
    const header = JSON.parse(readFileSync(join(directory, 'audit.jsonl'), 'utf8').split('\n')[0] as string).header;
    expect(header.prev.seq).toBe(seqs.length);
    expect(await log.verify()).toMatchObject({ ok: true, count: 60 });
    await log.close();
    // And after a restart.
    const again = await createAuditLog({ sinks: [jsonlSink({ directory, maxBytes: 4096 })], signer });
    expect((await again.record(sampleInput(61), { durable: true })).seq).toBe(61);
    expect(await again.verify()).toMatchObject({ ok: true, count: 61 });
    await again.close();
  });

  it('rotates by age', async () => {
    const directory = newDir();
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const sink = jsonlSink({ directory, maxAgeMs: 3_600_000, clock, compress: false });
    const log = await createAuditLog({ sinks: [sink], clock });
    await log.record(sampleInput(1), { durable: true });
    await log.record(sampleInput(2), { durable: true });
    expect(await sink.files()).toHaveLength(1);
    clock.advance(3_600_000);
    await log.record(sampleInput(3), { durable: true });
    const files = await sink.files();
    expect(files.map((f) => f.split('/').pop())).toEqual(['audit.000000000001-000000000002.jsonl', 'audit.jsonl']);
    expect(await log.verify()).toMatchObject({ ok: true, count: 3 });
    await log.close();
  });

  it('detects an edited line in a file', async () => {
    const directory = newDir();
    const log = await createAuditLog({ sinks: [jsonlSink({ directory })], signer });
    for (let i = 0; i < 5; i++) await log.record(sampleInput(i));
    await log.close();
    const path = join(directory, 'audit.jsonl');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"outcome":"success"', '"outcome":"failure"'));
    const reader = await createAuditLog({ sinks: [jsonlSink({ directory })], signer });
    const result = await reader.verify();
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({ kind: 'modified', seq: 1, at: `${path}:2` });
    await reader.close();
  });

  it('detects deleted, duplicated and swapped lines and a cut tail in the files themselves', async () => {
    const directory = newDir();
    const log = await createAuditLog({ sinks: [jsonlSink({ directory })], signer, checkpoint: { everyEvents: 4 } });
    for (let i = 0; i < 10; i++) await log.record(sampleInput(i), { durable: true });
    await log.close();
    const path = join(directory, 'audit.jsonl');
    const original = readFileSync(path, 'utf8');
    const eventLines = (text: string) => text.split('\n').filter((l) => l.startsWith('{"seq"'));
    const verifyWith = async (edit: (lines: string[]) => string[]) => {
      const all = original.split('\n');
      const events = eventLines(original);
      const edited = edit(events);
      // Rebuild: non-event lines (header, checkpoints) where they were, events in the edited order.
      let k = 0;
      const out = all.flatMap((l) =>
        l.startsWith('{"seq"') ? (k < events.length ? [edited[k++]].filter((x) => x !== undefined) : []) : [l],
      );
      while (k < edited.length) out.splice(out.length - 1, 0, edited[k++] as string);
      writeFileSync(path, out.join('\n'));
      const reader = await createAuditLog({ sinks: [jsonlSink({ directory })], signer });
      const result = await reader.verify();
      await reader.close();
      writeFileSync(path, original);
      return result;
    };
    expect((await verifyWith((l) => l)).ok).toBe(true);
    expect((await verifyWith((l) => [...l.slice(0, 3), ...l.slice(4)])).problems).toContainEqual(
      expect.objectContaining({ kind: 'missing', seq: 4 }),
    );
    expect((await verifyWith((l) => [...l.slice(0, 6), l[2] as string, ...l.slice(6)])).problems).toContainEqual(
      expect.objectContaining({ kind: 'duplicate', seq: 3 }),
    );
    expect(
      (await verifyWith((l) => [l[0], l[2], l[1], ...l.slice(3)] as string[])).problems.map((p) => p.kind),
    ).toContain('reordered');
    // Cutting the file after event 6 also removes the later in-file checkpoints; the side file still has them.
    const cut = original.slice(0, original.indexOf('{"seq":7,'));
    writeFileSync(path, cut);
    const onError = vi.fn();
    const reader = await createAuditLog({ sinks: [jsonlSink({ directory })], signer, onError });
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ code: 'ERR_AUDIT_CORRUPT', details: expect.objectContaining({ lastSeq: 6 }) }),
    );
    const result = await reader.verify();
    await reader.close();
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', seq: 6, toSeq: 10 }));
  });

  it('reports a garbage line as malformed, and queries fail loudly with ERR_AUDIT_CORRUPT', async () => {
    const directory = newDir();
    const log = await createAuditLog({ sinks: [jsonlSink({ directory })] });
    await log.record(sampleInput(1), { durable: true });
    await log.close();
    appendFileSync(join(directory, 'audit.jsonl'), 'this is not json\n');
    const reader = await createAuditLog({ sinks: [jsonlSink({ directory })] });
    expect((await reader.verify()).problems).toContainEqual(expect.objectContaining({ kind: 'malformed' }));
    await expect(reader.query()).rejects.toMatchObject({ code: 'ERR_AUDIT_CORRUPT' });
    await reader.close();
  });

  it('recovers from a torn last line (a crash mid-batch): it is cut, nothing acknowledged is lost', async () => {
    const directory = newDir();
    const log = await createAuditLog({ sinks: [jsonlSink({ directory })], signer });
    for (let i = 0; i < 3; i++) await log.record(sampleInput(i), { durable: true });
    await log.close();
    appendFileSync(join(directory, 'audit.jsonl'), '{"seq":4,"hash":"abc","event":{"v":1,"id":"01');
    const again = await createAuditLog({ sinks: [jsonlSink({ directory })], signer });
    expect((await again.record(sampleInput(4), { durable: true })).seq).toBe(4);
    expect(await again.verify()).toMatchObject({ ok: true, count: 4 });
    await again.close();
  });
});

describe('JSONL bad storage', () => {
  it('a full disk at open (/dev/full): typed ERR_AUDIT_SINK_WRITE (ENOSPC), and the files written before are intact', async () => {
    if (!existsSync('/dev/full')) throw new Error('/dev/full is needed for this test (Linux)');
    const directory = newDir();
    const first = await createAuditLog({ sinks: [jsonlSink({ directory, maxBytes: 2048 })], signer });
    for (let i = 0; i < 8; i++) await first.record(sampleInput(i), { durable: true });
    await first.close();
    const snapshot = () =>
      readdirSync(directory)
        .sort()
        .filter((f) => f !== 'audit.jsonl')
        .map((f) => `${f}:${readFileSync(join(directory, f)).toString('base64')}`);
    const before = snapshot();
    expect(before.length).toBeGreaterThan(1);
    // The active file now points at a device whose writes fail with ENOSPC.
    unlinkSync(join(directory, 'audit.jsonl'));
    symlinkSync('/dev/full', join(directory, 'audit.jsonl'));
    const failure = await createAuditLog({ sinks: [jsonlSink({ directory, maxBytes: 2048 })], signer }).catch(
      (e: unknown) => e,
    );
    expect(failure).toMatchObject({ name: 'AuditError', code: 'ERR_AUDIT_SINK_WRITE', details: { errno: 'ENOSPC' } });
    expect(snapshot()).toEqual(before);
    // Runtime ENOSPC/EFBIG mid-batch is covered by test/crash.test.ts (a child process under a file-size limit).
  });

  it('an unwritable location fails at open with ERR_AUDIT_SINK_WRITE', async () => {
    const directory = newDir();
    writeFileSync(join(directory, 'file'), 'x');
    await expect(
      createAuditLog({ sinks: [jsonlSink({ directory: join(directory, 'file', 'sub') })] }),
    ).rejects.toMatchObject({
      code: 'ERR_AUDIT_SINK_WRITE',
    });
  });
});
