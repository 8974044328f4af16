import { createManualClock } from '@provisioning/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sampleInput } from '../test/helpers.js';
import type { ChainedRecord } from './chain.js';
import { createAuditLog } from './log.js';
import { memoryAuditStore } from './sinks/memory.js';
import type { EventSink } from './store.js';

// A memory store that counts its group commits and their sizes.
function countingStore() {
  const store = memoryAuditStore();
  const sizes: number[] = [];
  const sink: EventSink = {
    ...store,
    write: (records: readonly ChainedRecord[], options) => {
      sizes.push(records.length);
      return store.write(records, options);
    },
  };
  return { store, sink, sizes };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await turn();
};
const clock = () => createManualClock(new Date('2026-01-01T00:00:00Z'));

describe('audit log coalescing of small non-durable batches', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a server's trickle (two events a turn of the event loop) is written in a few batches, not one per turn", async () => {
    const { store, sink, sizes } = countingStore();
    const log = await createAuditLog({ sinks: [sink], clock: clock() });
    for (let i = 0; i < 400; i += 2) {
      void log.record(sampleInput(i));
      void log.record(sampleInput(i + 1));
      await turn();
    }
    await log.flush();
    // One batch per turn (or two) was ~70–170 batches; coalesced, batches of up to 128.
    expect(sizes.length).toBeLessThanOrEqual(20);
    expect(store.entries.map((e) => e.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(await log.verify()).toMatchObject({ ok: true, count: 400 });
    await log.close();
  });

  it('a small batch waits for the short timer only: written when it fires', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { store, sink } = countingStore();
    const log = await createAuditLog({ sinks: [sink], clock: clock() });
    void log.record(sampleInput(1));
    void log.record(sampleInput(2));
    await turns(5);
    expect(log.stats()).toMatchObject({ queued: 2, batches: 0 });
    expect(store.entries).toHaveLength(0);
    vi.advanceTimersByTime(2);
    await turns(3);
    expect(log.stats()).toMatchObject({ queued: 0, batches: 1, written: 2 });
    expect(store.entries).toHaveLength(2);
    await log.close();
  });

  it('flush() does not wait for the timer, and close() stores everything', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { store, sink } = countingStore();
    const log = await createAuditLog({ sinks: [sink], clock: clock() });
    void log.record(sampleInput(1));
    await turns(2);
    // No timer advanced: only flush() can end the wait.
    await log.flush();
    expect(store.entries).toHaveLength(1);
    void log.record(sampleInput(2));
    void log.record(sampleInput(3));
    await turns(2);
    expect(store.entries).toHaveLength(1);
    await log.close();
    expect(store.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('a durable record() is never held back, nor are the events queued before it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { store, sink, sizes } = countingStore();
    const log = await createAuditLog({ sinks: [sink], clock: clock() });
    void log.record(sampleInput(1));
    await turns(2);
    const receipt = await log.record(sampleInput(2), { durable: true });
    expect(receipt.seq).toBe(2);
    expect(store.entries).toHaveLength(2);
    expect(sizes).toEqual([2]);
    // A durable record queued first: its batch does not wait at all.
    const durable = log.record(sampleInput(3), { durable: true });
    void log.record(sampleInput(4));
    expect((await durable).seq).toBe(3);
    await log.close();
  });

  it('a batch that reaches 128 events goes at once; callers waiting for room are not held back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { store, sink } = countingStore();
    const log = await createAuditLog({ sinks: [sink], clock: clock() });
    void log.record(sampleInput(0));
    await turns(2);
    for (let i = 1; i < 128; i++) void log.record(sampleInput(i));
    await turns(3);
    expect(store.entries).toHaveLength(128);
    await log.close();

    // A queue smaller than 128: a full queue ends the wait (backpressure, nothing lost).
    const small = countingStore();
    const tight = await createAuditLog({ sinks: [small.sink], clock: clock(), queue: { maxEvents: 4 } });
    const all = Array.from({ length: 20 }, (_, i) => tight.record(sampleInput(i)));
    await Promise.all(all);
    await turns(3);
    expect(small.store.entries).toHaveLength(20);
    await tight.close();
  });
});
