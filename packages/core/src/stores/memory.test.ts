import { describe, expect, it } from 'vitest';
import { describeKeyValueStore } from '../../test/kv-conformance.js';
import { createManualClock } from '../clock.js';
import { expirySweeper, memoryStore } from './memory.js';

describeKeyValueStore({
  name: 'memory',
  open: async (clock) => memoryStore({ clock }),
  openPeer: async (_clock, first) => ({ ...first, close: async () => {} }),
});

describe('memory store: the expiry sweep', () => {
  const entry = (expiresAt: number | undefined) => ({ expiresAt });

  it('examines perCall entries per call and drops only expired ones', () => {
    const clock = createManualClock(0);
    const entries = new Map<string, { expiresAt: number | undefined }>();
    for (let i = 0; i < 100; i++) entries.set(`old${i}`, entry(10));
    for (let i = 0; i < 100; i++) entries.set(`live${i}`, entry(i % 2 === 0 ? undefined : 1_000));
    const sweep = expirySweeper(entries, clock, 8); // eight per call here: the test counts them
    clock.advance(20);
    sweep();
    expect(entries.size).toBe(192); // bounded work: one call, eight entries
    for (let i = 1; i < 25; i++) sweep();
    expect(entries.size).toBe(100); // one pass of 200 entries: every expired one gone
    expect([...entries.keys()].every((k) => k.startsWith('live'))).toBe(true);
  });

  it('starts a new pass at the end, and reaches entries added during a pass', () => {
    const clock = createManualClock(0);
    const entries = new Map<string, { expiresAt: number | undefined }>([['a', entry(undefined)]]);
    const sweep = expirySweeper(entries, clock, 1);
    sweep(); // 'a'; the pass is over
    entries.set('b', entry(5));
    entries.set('c', entry(5));
    clock.advance(10);
    for (let i = 0; i < 4; i++) sweep();
    expect([...entries.keys()]).toEqual(['a']);
    entries.clear();
    expect(() => sweep()).not.toThrow(); // an empty map
  });
});
