import { createManualClock } from '@provisioning/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sampleInput } from '../test/helpers.js';
import { ed25519Signer, generateCheckpointKeyPair } from './chain.js';
import { createAuditLog } from './log.js';
import { DEFAULT_RETENTION_DAYS, startRetentionJob } from './retention.js';
import { memoryAuditStore } from './sinks/memory.js';

const signer = ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey });

afterEach(() => {
  vi.useRealTimers();
});

describe('retention', () => {
  it('keeps standard events 365 days and break-glass events 2,555 days', async () => {
    expect(DEFAULT_RETENTION_DAYS).toEqual({ standard: 365, break_glass: 2555 });
    const clock = createManualClock(new Date('2020-01-01T00:00:00Z'));
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store], clock, signer });
    await log.record(sampleInput(1));
    await log.record(sampleInput(2, { action: 'break_glass.used' }));
    await log.record(sampleInput(3, { retention: 'standard', action: 'break_glass.requested' }));
    await log.flush();
    expect(store.entries.map((e) => e.event.retention)).toEqual(['standard', 'break_glass', 'standard']);
    clock.advance(364 * 86_400_000);
    expect((await log.purge())[0]?.purged).toBe(0);
    clock.advance(2 * 86_400_000);
    expect((await log.purge())[0]?.purged).toBe(2);
    await log.flush();
    expect(store.entries.map((e) => e.event.action)).toEqual(['break_glass.used', 'audit.retention.purged']);
    clock.advance((2554 - 366) * 86_400_000);
    expect((await log.purge())[0]?.purged).toBe(1); // only the purge note; break-glass is kept for 7 years
    await log.flush();
    expect(store.entries.some((e) => e.event.action === 'break_glass.used')).toBe(true);
    clock.advance(2 * 86_400_000);
    expect((await log.purge())[0]?.purged).toBe(1);
    await log.flush();
    expect(store.entries.some((e) => e.event.action === 'break_glass.used')).toBe(false);
    expect(await log.verify()).toMatchObject({ ok: true });
    await log.close();
  });

  it('custom retention classes', async () => {
    const clock = createManualClock(new Date('2020-01-01T00:00:00Z'));
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store], clock, signer, retentionDays: { short: 30 } });
    await log.record(sampleInput(1, { retention: 'short' }));
    await log.record(sampleInput(2));
    clock.advance(31 * 86_400_000);
    expect((await log.purge())[0]?.purged).toBe(1);
    await log.close();
  });

  it('the job purges on its interval and reports failures without stopping', async () => {
    vi.useFakeTimers();
    const purge = vi
      .fn()
      .mockRejectedValueOnce(new Error('db down'))
      .mockResolvedValue([{ purged: 3 }]);
    const onError = vi.fn();
    const onPurged = vi.fn();
    const stop = startRetentionJob({ purge }, { everyMs: 1000, onError, onPurged });
    await vi.advanceTimersByTimeAsync(1000);
    expect(onError).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(onPurged).toHaveBeenCalledWith(3);
    stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(purge).toHaveBeenCalledTimes(2);
  });
});
