import { createManualClock } from '@provisioning/core';
import { describe, expect, it, vi } from 'vitest';
import { sampleInput } from '../test/helpers.js';
import { ed25519Signer, generateCheckpointKeyPair } from './chain.js';
import { AuditError } from './errors.js';
import type { AuditEventInput } from './events.js';
import { AUDIT_ACTION_NAMES, AUDIT_CATEGORIES, actionsOf } from './events.js';
import { createAuditLog } from './log.js';
import { memoryAuditStore } from './sinks/memory.js';
import type { EventSink } from './store.js';

const signer = ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey });
const clock = () => createManualClock(new Date('2026-01-01T00:00:00Z'));

describe('event schema', () => {
  it('has at least 40 actions covering every family of the issue', () => {
    expect(AUDIT_ACTION_NAMES.length).toBeGreaterThanOrEqual(40);
    for (const c of AUDIT_CATEGORIES) expect(actionsOf(c).length, c).toBeGreaterThan(0);
    expect(actionsOf('break_glass')).toHaveLength(7);
  });
});

describe('audit log writer', () => {
  it('records, batches and chains events; durable receipts carry seq and hash', async () => {
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store], clock: clock(), signer });
    const receipts = await Promise.all(Array.from({ length: 50 }, (_, i) => log.record(sampleInput(i))));
    expect(receipts.every((r) => r.dropped === false && /^[0-9a-f-]{36}$/.test(r.id))).toBe(true);
    const durable = await log.record(sampleInput(99), { durable: true });
    expect(durable.seq).toBe(51);
    expect(durable.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(store.entries).toHaveLength(51);
    expect(store.entries.map((e) => e.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    expect(log.stats().batches).toBeLessThan(51); // group commit
    const ids = store.entries.map((e) => e.event.id);
    expect([...ids].sort()).toEqual(ids); // UUIDv7 sorts by creation
    expect(await log.verify()).toMatchObject({ ok: true, count: 51 });
    await log.close();
  });

  it('group commit: a sink that asks for it gets batches that grow while events keep arriving; a durable record is not held back', async () => {
    const batchSizes = async (gatherBatches: boolean) => {
      const sizes: number[] = [];
      const store = memoryAuditStore();
      const sink: EventSink = {
        ...store,
        gatherBatches,
        write: (records, options) => {
          sizes.push(records.length);
          return store.write(records, options);
        },
      };
      const log = await createAuditLog({ sinks: [sink], clock: clock() });
      // 40 events a turn of the event loop, as requests arriving at a server.
      for (let turn = 0; turn < 10; turn++) {
        for (let i = 0; i < 40; i++) void log.record(sampleInput(turn * 40 + i));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await log.flush();
      const before = sizes.length;
      // A durable caller while the stream goes on: its batch is written without gathering.
      let stored = false;
      const durable = log.record(sampleInput(400), { durable: true }).then((r) => {
        stored = true;
        return r;
      });
      let turns = 0;
      for (; !stored && turns < 20; turns++) {
        for (let i = 0; i < 40; i++) void log.record(sampleInput(401 + turns * 40 + i));
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(turns).toBeLessThanOrEqual(2);
      expect((await durable).seq).toBe(401);
      await log.flush();
      expect(await log.verify()).toMatchObject({ ok: true, count: 401 + turns * 40 });
      await log.close();
      return sizes.slice(0, before);
    };
    // Without gathering, batches stop at the coalescing size (128) instead of growing to maxBatch.
    const plain = await batchSizes(false);
    expect(plain.length).toBeGreaterThanOrEqual(3);
    const gathered = await batchSizes(true);
    expect(gathered.reduce((a, b) => a + b, 0)).toBe(400);
    expect(gathered.length).toBeLessThanOrEqual(2);
  });

  it('resumes the chain of an existing store', async () => {
    const store = memoryAuditStore();
    const first = await createAuditLog({ sinks: [store], clock: clock(), signer });
    await first.record(sampleInput(1));
    await first.close();
    const second = await createAuditLog({ sinks: [store], clock: clock(), signer });
    expect((await second.record(sampleInput(2), { durable: true })).seq).toBe(2);
    expect(await second.verify()).toMatchObject({ ok: true, count: 2, checkpointsVerified: 1 });
    await second.close();
  });

  it('signs a checkpoint every N events and on close', async () => {
    const store = memoryAuditStore();
    const onCheckpoint = vi.fn();
    const log = await createAuditLog({
      sinks: [store],
      clock: clock(),
      signer,
      checkpoint: { everyEvents: 10 },
      queue: { maxBatch: 5 },
      onCheckpoint,
    });
    for (let i = 0; i < 23; i++) void log.record(sampleInput(i));
    await log.close();
    expect(store.checkpointList.map((c) => c.seq)).toEqual([10, 20, 23]);
    expect(onCheckpoint).toHaveBeenCalledTimes(3);
    expect(store.checkpointList[0]?.keyId).toBe(signer.keyId);
  });

  it('rejects record() after close with ERR_AUDIT_CLOSED', async () => {
    const log = await createAuditLog({ sinks: [memoryAuditStore()] });
    await log.close();
    await expect(log.record(sampleInput())).rejects.toMatchObject({ code: 'ERR_AUDIT_CLOSED' });
  });
});

describe('audit log bad input', () => {
  it('throws ERR_AUDIT_INVALID_EVENT synchronously, signals it, and never echoes the value', async () => {
    const onError = vi.fn();
    const log = await createAuditLog({ sinks: [memoryAuditStore()], onError });
    const cases: [unknown, string][] = [
      [{ ...sampleInput(), action: 'auth.nope' }, 'action'],
      [{ ...sampleInput(), outcome: 'meh' }, 'outcome'],
      [{ ...sampleInput(), actor: { id: '', type: 'user' } }, 'actor.id'],
      [{ ...sampleInput(), actor: { id: 'a', type: 'robot' } }, 'actor.type'],
      [{ ...sampleInput(), actor: { id: 'a', type: 'user', ip: 'hunter2-not-an-ip' } }, 'actor.ip'],
      [{ ...sampleInput(), metadata: { when: new Date() } }, 'metadata.when'],
      [{ ...sampleInput(), metadata: { f: () => 1 } }, 'metadata.f'],
      [{ ...sampleInput(), metadata: { n: Number.NaN } }, 'metadata.n'],
      [{ ...sampleInput(), reason: 'a\u0000b' }, 'reason'],
      [{ ...sampleInput(), actor: { id: 'a\ud800', type: 'user' } }, 'actor.id'],
      [{ ...sampleInput(), actor: { id: 'a', type: 'user', roles: ['ok', 'r\udc00'] } }, 'actor.roles[1]'],
      [{ ...sampleInput(), resource: { type: 'key', id: '\udbff!' } }, 'resource.id'],
      [{ ...sampleInput(), metadata: { deep: { list: ['ok', 'x\udc00y'] } } }, 'metadata.deep.list[1]'],
      [{ ...sampleInput(), metadata: { deep: { 'k\u0000': 1 } } }, 'metadata.deep key'],
      [{ ...sampleInput(), metadata: { deep: { list: [{ big: 'x'.repeat(10_000) }] } } }, 'metadata.deep.list[0].big'],
      [{ ...sampleInput(), retention: 'forever' }, 'retention'],
      [null, 'event'],
    ];
    for (const [input, field] of cases) {
      let thrown: unknown;
      try {
        void log.record(input as AuditEventInput);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, field).toBeInstanceOf(AuditError);
      expect(thrown).toMatchObject({ code: 'ERR_AUDIT_INVALID_EVENT', details: { field } });
      expect(JSON.stringify((thrown as AuditError).toJSON())).not.toContain('hunter2');
    }
    expect(onError).toHaveBeenCalledTimes(cases.length);
    await log.close();
  });

  it('accepts what only looks like U+0000 or a surrogate: pairs, escapes written out, control characters', async () => {
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store] });
    const reason = 'emoji \u{1f600}, a written-out \\u0000 and \\ud800, a bell \u0007, a tab\t';
    await log.record(sampleInput(0, { reason, metadata: { '\u{1f511}': 'x\u{10ffff}' } }), { durable: true });
    await log.close();
    expect(store.entries[0]?.event).toMatchObject({ reason, metadata: { '\u{1f511}': 'x\u{10ffff}' } });
  });

  it('rejects oversized events with ERR_AUDIT_EVENT_TOO_LARGE', async () => {
    const log = await createAuditLog({
      sinks: [memoryAuditStore()],
      limits: { maxEventBytes: 4096 },
      onError: () => {},
    });
    expect(() => log.record(sampleInput(0, { metadata: { blob: 'x'.repeat(5000) } }))).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_EVENT_TOO_LARGE', details: expect.objectContaining({ limit: 4096 }) }),
    );
    await log.close();
  });

  it('redacts secrets a caller puts into metadata or reason', async () => {
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store] });
    await log.record(
      sampleInput(0, {
        reason: 'Authorization: Bearer abcdefghijklmnop',
        metadata: { password: 'hunter2', nested: { apiKey: 'k-123' } },
      }),
    );
    await log.close();
    const json = JSON.stringify(store.entries[0]);
    expect(json).not.toContain('hunter2');
    expect(json).not.toContain('k-123');
    expect(json).not.toContain('abcdefghijklmnop');
  });
});

function failingSink(
  fail: () => boolean,
  durability: EventSink['durability'] = 'fsync',
): EventSink & { stored: number[] } {
  const stored: number[] = [];
  return {
    id: 'flaky',
    durability,
    stored,
    open: async () => ({}),
    async write(records) {
      if (fail()) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      stored.push(...records.map((r) => r.seq));
    },
    writeCheckpoint: async () => {},
    close: async () => {},
  };
}

describe('audit log queue and failures', () => {
  it('security events are never dropped: the drop policy sheds only routine events, counts them and records the loss', async () => {
    const store = memoryAuditStore();
    const onError = vi.fn();
    const log = await createAuditLog({ sinks: [store], queue: { maxEvents: 5, overflow: 'drop' }, onError });
    const results = [];
    for (let i = 0; i < 20; i++)
      results.push(log.record(sampleInput(i, { action: i % 2 ? 'authz.allowed' : 'authz.denied' })));
    const receipts = await Promise.all(results);
    await log.flush();
    const droppedReceipts = receipts.filter((r) => r.dropped);
    expect(droppedReceipts.length).toBeGreaterThan(0);
    const stats = log.stats();
    expect(stats.dropped).toBe(droppedReceipts.length);
    expect(stats.droppedByAction).toEqual({ 'authz.allowed': droppedReceipts.length });
    const actions = store.entries.map((e) => e.event.action);
    expect(actions.filter((a) => a === 'authz.denied')).toHaveLength(10);
    const note = store.entries.find((e) => e.event.action === 'audit.events.dropped');
    expect(note?.event.metadata).toEqual({
      count: droppedReceipts.length,
      byAction: { 'authz.allowed': droppedReceipts.length },
    });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'ERR_AUDIT_DROPPED' }));
    await log.close();
  });

  it('applies backpressure: under block, record() waits for room and nothing is lost', async () => {
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store], queue: { maxEvents: 3, maxBatch: 2 } });
    const all = Array.from({ length: 40 }, (_, i) => log.record(sampleInput(i)));
    expect(log.stats().queued).toBe(40);
    await Promise.all(all);
    await log.flush();
    expect(store.entries).toHaveLength(40);
    await log.close();
  });

  it('rejects with ERR_AUDIT_QUEUE_FULL under the reject policy, and signals it', async () => {
    const onError = vi.fn();
    const log = await createAuditLog({
      sinks: [memoryAuditStore()],
      queue: { maxEvents: 2, overflow: 'reject' },
      onError,
    });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => log.record(sampleInput(i))));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(3);
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'ERR_AUDIT_QUEUE_FULL' }));
    await log.close();
  });

  it('a failing sink: retried, then signalled; durable callers are rejected; the chain has no gap', async () => {
    let failing = true;
    const sink = failingSink(() => failing);
    const onError = vi.fn();
    const log = await createAuditLog({ sinks: [sink], retry: { attempts: 2, baseDelayMs: 1 }, onError });
    await expect(log.record(sampleInput(1), { durable: true })).rejects.toMatchObject({ code: 'ERR_AUDIT_SINK_WRITE' });
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ code: 'ERR_AUDIT_SINK_WRITE', details: expect.objectContaining({ sink: 'flaky' }) }),
    );
    expect(log.stats().lost).toBe(1);
    failing = false;
    expect((await log.record(sampleInput(2), { durable: true })).seq).toBe(1);
    expect(sink.stored).toEqual([1]);
    await log.close();
  });

  it('with several sinks, one failing sink does not stop the others; durable callers still learn of it', async () => {
    const store = memoryAuditStore();
    const broken = failingSink(() => true);
    const onError = vi.fn();
    const log = await createAuditLog({ sinks: [store, broken], retry: { attempts: 1 }, onError });
    await expect(log.record(sampleInput(1), { durable: true })).rejects.toMatchObject({ code: 'ERR_AUDIT_SINK_WRITE' });
    await log.record(sampleInput(2));
    await log.flush();
    expect(store.entries.map((e) => e.seq)).toEqual([1, 2]);
    // A best-effort forwarder (durability none) failing does not fail durable records.
    const forwarder = failingSink(() => true, 'none');
    const log2 = await createAuditLog({ sinks: [memoryAuditStore(), forwarder], retry: { attempts: 1 }, onError });
    expect((await log2.record(sampleInput(3), { durable: true })).seq).toBe(1);
    await log.close();
    await log2.close();
  });
});

describe('audit log misuse', () => {
  it('rejects bad options at construction with ERR_AUDIT_INVALID_OPTIONS', async () => {
    await expect(createAuditLog({ sinks: [] })).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_OPTIONS' });
    await expect(createAuditLog({ sinks: [memoryAuditStore()], queue: { maxEvents: 0 } })).rejects.toMatchObject({
      code: 'ERR_AUDIT_INVALID_OPTIONS',
    });
    await expect(
      createAuditLog({ sinks: [memoryAuditStore()], queue: { overflow: 'explode' as never } }),
    ).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_OPTIONS' });
  });

  it('a purge needs a signer (its record must be signed): ERR_AUDIT_NO_SIGNER', async () => {
    const log = await createAuditLog({ sinks: [memoryAuditStore()] });
    await expect(log.purge()).rejects.toMatchObject({ code: 'ERR_AUDIT_NO_SIGNER' });
    await log.close();
  });

  it('query, export and verify need a readable sink: ERR_AUDIT_NOT_QUERYABLE', async () => {
    const log = await createAuditLog({ sinks: [failingSink(() => false)] });
    expect(() => log.query()).toThrow(expect.objectContaining({ code: 'ERR_AUDIT_NOT_QUERYABLE' }));
    await expect(log.verify()).rejects.toMatchObject({ code: 'ERR_AUDIT_NOT_QUERYABLE' });
    await log.close();
  });

  it('rejects malformed query filters with ERR_AUDIT_INVALID_QUERY', async () => {
    const log = await createAuditLog({ sinks: [memoryAuditStore()] });
    await expect(log.query({ from: 'not a date' })).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_QUERY' });
    await expect(log.query({ action: 42 as never })).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_QUERY' });
    await expect(log.count({}, 'week' as never)).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_QUERY' });
    await log.close();
  });
});
