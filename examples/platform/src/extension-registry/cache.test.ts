import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { LruTtlCache } from './cache.js';

describe('LruTtlCache', () => {
  it('expires entries after the TTL by the injected clock', () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const cache = new LruTtlCache<string>({ maxEntries: 10, ttlMs: 1000, clock });
    cache.set('a', 'A');
    clock.advance(999);
    expect(cache.get('a')).toBe('A');
    clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most maxEntries, evicting the least recently used', () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const cache = new LruTtlCache<number>({ maxEntries: 2, ttlMs: 60_000, clock });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recently used
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('shares one load among concurrent callers and does not cache failures', async () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const cache = new LruTtlCache<number>({ maxEntries: 2, ttlMs: 1000, clock });
    let loads = 0;
    const load = async () => ++loads;
    expect(await Promise.all([cache.getOrLoad('k', load), cache.getOrLoad('k', load)])).toEqual([1, 1]);
    expect(await cache.getOrLoad('k', load)).toBe(1);
    clock.advance(1000);
    expect(await cache.getOrLoad('k', load)).toBe(2);
    await expect(cache.getOrLoad('bad', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.getOrLoad('bad', load)).toBe(3);
  });

  it('refuses a useless configuration', () => {
    const clock = createManualClock(new Date(0));
    expect(() => new LruTtlCache({ maxEntries: 0, ttlMs: 1, clock })).toThrow();
    expect(() => new LruTtlCache({ maxEntries: 1, ttlMs: 0, clock })).toThrow();
  });
});
