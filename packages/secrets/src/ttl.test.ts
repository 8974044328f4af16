import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { fakeProvider } from '../test/fake-provider.js';
import { createLeaseManager } from './manager.js';
import { memoryLeaseStore } from './stores/memory.js';
import { sqlLeaseStore } from './stores/sql.js';
import { createTtlManager } from './ttl.js';

const dir = mkdtempSync(join(tmpdir(), 'ttl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.useRealTimers();
});

describe('TTL manager', () => {
  it('sweeps every 5 minutes by default and revokes what expired', async () => {
    vi.useFakeTimers();
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const provider = fakeProvider();
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], clock });
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 120 });
    const sweeps: number[] = [];
    const ttl = createTtlManager({ leases, onSweep: (s) => sweeps.push(s.revoked.length) });
    ttl.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sweeps).toEqual([0]);
    clock.advance(120_000);
    await vi.advanceTimersByTimeAsync(299_999);
    expect(sweeps).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sweeps).toEqual([0, 1]);
    expect(provider.live.has(lease.id)).toBe(false);
    await ttl.stop();
  });

  it('start and stop leave no timers behind', async () => {
    vi.useFakeTimers();
    const provider = fakeProvider();
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const ttl = createTtlManager({ leases, intervalMs: 1000 });
    expect(vi.getTimerCount()).toBe(0);
    ttl.start();
    ttl.start();
    await vi.advanceTimersByTimeAsync(3500);
    expect(ttl.running).toBe(true);
    expect(vi.getTimerCount()).toBe(1);
    await ttl.stop();
    expect(ttl.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop waits for a sweep in progress and schedules nothing after it', async () => {
    vi.useFakeTimers();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [] });
    const slow = {
      ...leases,
      sweep: async () => {
        await gate;
        return { revoked: [], pending: [] };
      },
    };
    const ttl = createTtlManager({ leases: slow, intervalMs: 1000 });
    ttl.start();
    let stopped = false;
    const stopping = ttl.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps sweeping after a failing sweep and reports it', async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [] });
    let n = 0;
    const flaky = {
      ...leases,
      sweep: async () => {
        n += 1;
        if (n === 1) throw new Error('store down');
        return { revoked: [], pending: [] };
      },
    };
    const ttl = createTtlManager({ leases: flaky, intervalMs: 1000, onError: (e) => errors.push(e) });
    ttl.start();
    await vi.advanceTimersByTimeAsync(2500);
    expect(errors).toHaveLength(1);
    expect(n).toBe(3);
    await ttl.stop();
  });

  it('after a restart, leases that expired while the process was down are revoked at start-up (SQLite)', async () => {
    const filename = join(dir, 'restart.db');
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const provider = fakeProvider();
    const first = await sqlLeaseStore({ database: sqliteDatabase({ filename }), closeDatabase: true });
    const before = createLeaseManager({ store: first, providers: [provider], clock });
    const { lease } = await before.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
    await first.close();
    // The process is down for an hour.
    clock.advance(3_600_000);
    const second = await sqlLeaseStore({ database: sqliteDatabase({ filename }), closeDatabase: true });
    const after = createLeaseManager({ store: second, providers: [provider], clock });
    const revoked: string[] = [];
    const ttl = createTtlManager({ leases: after, onSweep: (s) => revoked.push(...s.revoked) });
    ttl.start();
    await vi.waitFor(() => expect(revoked).toEqual([lease.id]));
    await ttl.stop();
    expect(provider.live.size).toBe(0);
    expect(await second.list()).toEqual([]);
    await second.close();
  });

  it('refuses bad options', () => {
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [] });
    expect(() => createTtlManager({ leases, intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => createTtlManager({ leases, batchSize: 0 })).toThrow(/batchSize/);
  });
});

describe('TTL manager with a failing provider', () => {
  it('retries a failed revocation with backoff until it succeeds, reporting each failure', async () => {
    vi.useFakeTimers();
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const provider = fakeProvider();
    const failures: number[] = [];
    const leases = createLeaseManager({
      store: memoryLeaseStore(),
      providers: [provider],
      clock,
      retry: { initialDelayMs: 60_000, maxDelayMs: 600_000 },
      onEvent: (e) => {
        if (e.type === 'lease.revoke_failed') failures.push(e.attempts);
      },
    });
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
    provider.state.failRevoke = 2;
    const ttl = createTtlManager({ leases, intervalMs: 60_000 });
    ttl.start();
    // Each tick: one minute of lease-clock time and one timer interval.
    for (let i = 0; i < 6 && provider.live.has(lease.id); i++) {
      clock.advance(60_000);
      await vi.advanceTimersByTimeAsync(60_000);
    }
    await ttl.stop();
    expect(failures).toEqual([1, 2]);
    expect(provider.live.has(lease.id)).toBe(false);
    await expect(leases.get(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_FOUND' });
    expect(vi.getTimerCount()).toBe(0);
  });
});
