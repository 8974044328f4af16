import { describe, expect, it } from 'vitest';
import { createManualClock, systemClock } from './clock.js';
import { CoreError } from './errors.js';
import { pooledRandom, randomToken, uuidv7 } from './random.js';

describe('clock', () => {
  it('the manual clock moves only when told', () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const start = clock.now();
    expect(clock.now()).toBe(start);
    clock.advance(1500);
    expect(clock.now()).toBe(start + 1500);
    clock.set(new Date('2027-01-01T00:00:00Z'));
    expect(new Date(clock.now()).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(() => clock.advance(-1)).toThrow(CoreError);
    expect(() => clock.advance(Number.NaN)).toThrow(CoreError);
  });

  it('the system clock follows Date.now()', () => {
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(50);
  });
});

describe('random', () => {
  it('uuidv7 is a version-7 RFC 9562 UUID that sorts by time, even within one millisecond', () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const ids = Array.from({ length: 5000 }, () => uuidv7(clock));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    clock.advance(1);
    const later = uuidv7(clock);
    expect(later > (ids.at(-1) ?? '')).toBe(true);
    // The first 48 bits are the millisecond timestamp.
    expect(
      Number.parseInt(uuidv7(createManualClock(0x0123_4567_89ab)).replace(/-/g, '').slice(0, 12), 16),
    ).toBeGreaterThanOrEqual(0x0123_4567_89ab);
  });

  it('uuidv7 lays out time, version, counter, variant and the injected random bytes as RFC 9562 says', () => {
    // Expected value computed by the previous (Buffer-based) encoder: the faster one must not change ids.
    const random = { bytes: (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff) };
    const id = uuidv7(createManualClock(Date.UTC(2030, 0, 1, 0, 0, 0, 123)), random);
    // 2030-01-01T00:00:00.123Z = 0x01b8dac5b47b ms; counter 0; variant 0b10 over 0x58 & 0x3f.
    expect(id).toBe('01b8dac5-b47b-7000-b358-7da2c7ec1136');
  });

  it('pooledRandom hands out fresh bytes of the requested length, also beyond its pool', () => {
    const random = pooledRandom(64);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const bytes = random.bytes(16);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(bytes.length).toBe(16);
      seen.add(Buffer.from(bytes).toString('hex'));
    }
    expect(seen.size).toBe(100);
    expect(random.bytes(100).length).toBe(100);
    expect(Buffer.from(random.bytes(100)).equals(Buffer.alloc(100))).toBe(false);
  });

  it('randomToken uses the injected source and base64url', () => {
    const fixed = { bytes: (n: number) => new Uint8Array(n).fill(0xff) };
    expect(randomToken(3, fixed)).toBe('____');
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken()).not.toBe(randomToken());
  });
});
