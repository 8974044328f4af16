import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { CoreError } from '../src/errors.js';
import type { KeyValueStore } from '../src/kv.js';

/** A driver under test. */
export interface KvDriver {
  readonly name: string;
  /**
   * Opens an empty store. `clock` is honoured by drivers that compute expiry
   * themselves; set `realTime` for drivers that expire on their own clock.
   */
  open(clock: ManualClock): Promise<KeyValueStore>;
  /** Opens a second store on the same backend (another connection or instance). */
  openPeer(clock: ManualClock, first: KeyValueStore): Promise<KeyValueStore>;
  /** Expiry follows the server's real clock (Redis): the suite waits instead of advancing. */
  readonly realTime?: boolean;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<CoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(CoreError);
  expect((error as CoreError).code).toBe(code);
  return error as CoreError;
}

/**
 * The conformance suite of the {@link KeyValueStore} contract. Every driver
 * runs it; a driver passes only if it meets every guarantee in the TSDoc.
 */
export function describeKeyValueStore(driver: KvDriver): void {
  describe(`KeyValueStore conformance: ${driver.name}`, () => {
    let clock: ManualClock;
    let store: KeyValueStore;
    const extra: KeyValueStore[] = [];

    // Moves time past a TTL: the manual clock, or real waiting for Redis.
    const pass = async (ms: number): Promise<void> => {
      if (driver.realTime) await new Promise((r) => setTimeout(r, ms));
      else clock.advance(ms);
    };

    beforeEach(async () => {
      clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
      store = await driver.open(clock);
    });
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await store.close();
    });

    const peer = async (): Promise<KeyValueStore> => {
      const s = await driver.openPeer(clock, store);
      extra.push(s);
      return s;
    };

    describe('values', () => {
      it('sets, gets, overwrites and deletes', async () => {
        expect(await store.get('a')).toBeUndefined();
        await store.set('a', 'one');
        expect(await store.get('a')).toBe('one');
        await store.set('a', 'two');
        expect(await store.get('a')).toBe('two');
        expect(await store.delete('a')).toBe(true);
        expect(await store.delete('a')).toBe(false);
        expect(await store.get('a')).toBeUndefined();
      });

      it('round-trips empty, unicode and maximum-size values', async () => {
        await store.set('empty', '');
        expect(await store.get('empty')).toBe('');
        const text = 'zürich ✓ 𝄞 "quotes" \n newline \t tab';
        await store.set('unicode', text);
        expect(await store.get('unicode')).toBe(text);
        const big = 'x'.repeat(64 * 1024);
        await store.set('big', big);
        expect(await store.get('big')).toBe(big);
      });

      it('is shared between instances on the same backend', async () => {
        const other = await peer();
        await store.set('shared', 'v');
        expect(await other.get('shared')).toBe('v');
        expect(await other.consume('shared')).toBe('v');
        expect(await store.get('shared')).toBeUndefined();
      });
    });

    describe('getMany', () => {
      it('reads values and counters in the order asked, undefined where absent or expired', async () => {
        await store.set('m:a', 'alpha');
        await store.increment('m:count', { by: 7 });
        await store.set('m:short', 'soon gone', { ttlSeconds: 0.2 });
        await store.set('m:empty', '');
        expect(await store.getMany(['m:short', 'm:a', 'm:missing', 'm:count', 'm:empty', 'm:a'])).toEqual([
          'soon gone',
          'alpha',
          undefined,
          '7',
          '',
          'alpha',
        ]);
        await pass(400);
        expect(await store.getMany(['m:a', 'm:short'])).toEqual(['alpha', undefined]);
        expect(await store.getMany([])).toEqual([]);
      });

      it("reads 1,000 keys at once and sees another instance's writes", async () => {
        const other = await peer();
        const keys = Array.from({ length: 1000 }, (_, i) => `bulk:${i}`);
        await Promise.all(keys.filter((_, i) => i % 3 === 0).map((key) => other.set(key, key)));
        const values = await store.getMany(keys);
        expect(values).toHaveLength(1000);
        expect(values).toEqual(keys.map((key, i) => (i % 3 === 0 ? key : undefined)));
      });

      it('rejects a bad key or more than 1,000 keys, reading nothing', async () => {
        await expectCode(store.getMany(['ok', 'has space']), 'ERR_STORE_INVALID_KEY');
        await expectCode(store.getMany(Array.from({ length: 1001 }, (_, i) => `k${i}`)), 'ERR_INVALID_OPTIONS');
        await expectCode(store.getMany('k' as unknown as string[]), 'ERR_INVALID_OPTIONS');
      });
    });

    describe('consume', () => {
      it('returns the value once, then undefined', async () => {
        await store.set('c', 'secret-challenge');
        expect(await store.consume('c')).toBe('secret-challenge');
        expect(await store.consume('c')).toBeUndefined();
        expect(await store.get('c')).toBeUndefined();
      });

      it('gives the value to exactly one of 100 concurrent callers on two instances', async () => {
        const other = await peer();
        for (let round = 0; round < 3; round++) {
          await store.set('race', `winner-${round}`);
          const results = await Promise.all(
            Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? store : other).consume('race')),
          );
          const winners = results.filter((r) => r !== undefined);
          expect(winners).toEqual([`winner-${round}`]);
        }
      });
    });

    describe('setIfAbsent', () => {
      it('writes only when absent', async () => {
        expect(await store.setIfAbsent('n', 'first')).toBe(true);
        expect(await store.setIfAbsent('n', 'second')).toBe(false);
        expect(await store.get('n')).toBe('first');
      });

      it('lets exactly one of 100 concurrent writers on two instances win', async () => {
        const other = await peer();
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            (i % 2 === 0 ? store : other).setIfAbsent('jti:1', `w${i}`, { ttlSeconds: 60 }),
          ),
        );
        const wins = results.flatMap((won, i) => (won ? [i] : []));
        expect(wins).toHaveLength(1);
        expect(await store.get('jti:1')).toBe(`w${wins[0]}`);
      });

      it('deletes alsoDelete keys when, and only when, it wins', async () => {
        await store.increment('attempts:u', { by: 3 });
        await store.set('other', 'kept');
        expect(
          await store.setIfAbsent('used:1', '1', { ttlSeconds: 60, alsoDelete: ['attempts:u', 'gone:never'] }),
        ).toBe(true);
        expect(await store.getMany(['used:1', 'attempts:u', 'other'])).toEqual(['1', undefined, 'kept']);
        await store.increment('attempts:u', { by: 2 });
        // A losing write (a replay) deletes nothing.
        expect(await store.setIfAbsent('used:1', 'again', { alsoDelete: ['attempts:u'] })).toBe(false);
        expect(await store.getMany(['used:1', 'attempts:u'])).toEqual(['1', '2']);
      });

      it('lets exactly one of 100 concurrent writers with alsoDelete win on two instances', async () => {
        const other = await peer();
        await store.increment('attempts:v', { by: 1 });
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            (i % 2 === 0 ? store : other).setIfAbsent('step:9', `w${i}`, {
              ttlSeconds: 60,
              alsoDelete: ['attempts:v'],
            }),
          ),
        );
        const wins = results.flatMap((won, i) => (won ? [i] : []));
        expect(wins).toHaveLength(1);
        expect(await other.getMany(['step:9', 'attempts:v'])).toEqual([`w${wins[0]}`, undefined]);
      });

      it('rejects a bad alsoDelete and changes nothing', async () => {
        await store.set('keep', 'v');
        await expectCode(store.setIfAbsent('x', 'v', { alsoDelete: ['keep', 'bad key'] }), 'ERR_STORE_INVALID_KEY');
        await expectCode(store.setIfAbsent('x', 'v', { alsoDelete: ['x'] }), 'ERR_INVALID_OPTIONS');
        await expectCode(
          store.setIfAbsent('x', 'v', { alsoDelete: Array.from({ length: 17 }, (_, i) => `d${i}`) }),
          'ERR_INVALID_OPTIONS',
        );
        expect(await store.getMany(['x', 'keep'])).toEqual([undefined, 'v']);
      });

      it('takes over an expired entry', async () => {
        expect(await store.setIfAbsent('exp', 'old', { ttlSeconds: 0.2 })).toBe(true);
        await pass(400);
        expect(await store.setIfAbsent('exp', 'new', { ttlSeconds: 60 })).toBe(true);
        expect(await store.get('exp')).toBe('new');
      });
    });

    describe('increment', () => {
      it('creates, adds, subtracts and reads as a decimal string', async () => {
        expect((await store.increment('ctr')).value).toBe(1);
        expect((await store.increment('ctr', { by: 4 })).value).toBe(5);
        expect((await store.increment('ctr', { by: -2 })).value).toBe(3);
        expect(await store.get('ctr')).toBe('3');
      });

      it('counts 1,000 concurrent increments on two instances exactly', async () => {
        const other = await peer();
        await Promise.all(
          Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? store : other).increment('hits', { ttlSeconds: 60 })),
        );
        expect(await store.get('hits')).toBe('1000');
        expect((await other.increment('hits', { by: 0 })).value).toBe(1000);
      });

      it('sets the TTL on creation only, then restarts after expiry', async () => {
        const first = await store.increment('win', { ttlSeconds: 0.5 });
        expect(first.expiresAt).toBeInstanceOf(Date);
        await pass(250);
        const second = await store.increment('win', { ttlSeconds: 60 });
        expect(second.value).toBe(2);
        // The later TTL did not extend the window.
        expect(Math.abs((second.expiresAt?.getTime() ?? 0) - (first.expiresAt?.getTime() ?? 0))).toBeLessThan(100);
        await pass(400);
        expect(await store.get('win')).toBeUndefined();
        expect((await store.increment('win', { ttlSeconds: 60 })).value).toBe(1);
      });

      it('refuses a plain value and leaves it unchanged', async () => {
        await store.set('plain', 'hello');
        await expectCode(store.increment('plain'), 'ERR_STORE_NOT_A_COUNTER');
        expect(await store.get('plain')).toBe('hello');
      });

      it('refuses amounts that are not safe integers', async () => {
        await expectCode(store.increment('bad', { by: 1.5 }), 'ERR_STORE_NOT_A_COUNTER');
        await expectCode(store.increment('bad', { by: Number.NaN }), 'ERR_STORE_NOT_A_COUNTER');
        expect(await store.get('bad')).toBeUndefined();
      });

      it('is replaced by set', async () => {
        await store.increment('ctr2', { by: 7 });
        await store.set('ctr2', 'now a value');
        expect(await store.get('ctr2')).toBe('now a value');
      });
    });

    describe('guardedClaim', () => {
      const limit = { counterKey: 'attempts:u', maxFailures: 3, windowSeconds: 60 };
      const marker = (key = 'used:d:1') => ({ key, value: '1', ttlSeconds: 60 });

      it('counts failures up to maxFailures, then refuses with locked and changes nothing, even with a claim', async () => {
        const first = await store.guardedClaim(limit);
        expect(first).toMatchObject({ outcome: 'failed', failures: 1 });
        expect(first.expiresAt).toBeInstanceOf(Date);
        expect((await store.guardedClaim(limit)).failures).toBe(2);
        expect(await store.guardedClaim({ ...limit, claim: marker('used:d:0') })).toMatchObject({ outcome: 'claimed' });
        for (let i = 1; i <= 3; i++)
          expect(await store.guardedClaim(limit)).toMatchObject({ outcome: 'failed', failures: i });
        const locked = await store.guardedClaim({ ...limit, claim: marker() });
        expect(locked).toMatchObject({ outcome: 'locked', failures: 3 });
        expect(Math.abs((locked.expiresAt?.getTime() ?? 0) - (first.expiresAt?.getTime() ?? 0))).toBeLessThan(60_100);
        expect(await store.guardedClaim(limit)).toMatchObject({ outcome: 'locked', failures: 3 });
        // Nothing changed: the counter still holds 3, the right attempt claimed nothing.
        expect(await store.getMany(['attempts:u', 'used:d:1', 'used:d:0'])).toEqual(['3', undefined, '1']);
      });

      it('claims an absent marker and deletes the counter; a replay is refused and counted', async () => {
        await store.increment('attempts:u', { by: 2, ttlSeconds: 60 });
        await store.set('other', 'kept');
        expect(
          await store.guardedClaim({ ...limit, claim: { key: 'used:d:1', value: 'first', ttlSeconds: 60 } }),
        ).toEqual({
          outcome: 'claimed',
          failures: 0,
          expiresAt: undefined,
        });
        expect(await store.getMany(['used:d:1', 'attempts:u', 'other'])).toEqual(['first', undefined, 'kept']);
        const replay = await store.guardedClaim({
          ...limit,
          claim: { key: 'used:d:1', value: 'again', ttlSeconds: 60 },
        });
        expect(replay).toMatchObject({ outcome: 'replayed', failures: 1 });
        expect(await store.getMany(['used:d:1', 'attempts:u'])).toEqual(['first', '1']);
      });

      it('keeps the window fixed from the first failure, then forgets the failures', async () => {
        const w = { ...limit, windowSeconds: 0.5 };
        const first = await store.guardedClaim(w);
        await pass(250);
        const second = await store.guardedClaim(w);
        expect(second.failures).toBe(2);
        expect(Math.abs((second.expiresAt?.getTime() ?? 0) - (first.expiresAt?.getTime() ?? 0))).toBeLessThan(100);
        await store.guardedClaim(w);
        expect((await store.guardedClaim(w)).outcome).toBe('locked');
        await pass(400);
        expect(await store.guardedClaim(w)).toMatchObject({ outcome: 'failed', failures: 1 });
      });

      it('takes over an expired marker', async () => {
        expect((await store.guardedClaim({ ...limit, claim: { key: 'm', value: 'a', ttlSeconds: 0.2 } })).outcome).toBe(
          'claimed',
        );
        await pass(400);
        expect((await store.guardedClaim({ ...limit, claim: { key: 'm', value: 'b' } })).outcome).toBe('claimed');
        expect(await store.get('m')).toBe('b');
      });

      it('answers at most maxFailures of 40 concurrent failing attempts on two instances, each count once', async () => {
        const other = await peer();
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? store : other).guardedClaim(limit)),
        );
        const failed = results.filter((r) => r.outcome === 'failed');
        expect(failed.map((r) => r.failures).sort()).toEqual([1, 2, 3]);
        expect(results.filter((r) => r.outcome === 'locked')).toHaveLength(37);
        expect(await store.get('attempts:u')).toBe('3');
      });

      it('lets exactly one of 10 concurrent attempts on one marker claim it; the replays count until locked', async () => {
        const other = await peer();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? store : other).guardedClaim({ ...limit, claim: marker() }),
          ),
        );
        const outcomes = results.map((r) => r.outcome).sort();
        expect(outcomes).toEqual([
          'claimed',
          'locked',
          'locked',
          'locked',
          'locked',
          'locked',
          'locked',
          'replayed',
          'replayed',
          'replayed',
        ]);
        expect(await store.get('attempts:u')).toBe('3');
      });

      it('keeps the cap between resets when wrong attempts race a right one on two instances', async () => {
        const other = await peer();
        const results = await Promise.all(
          Array.from({ length: 21 }, (_, i) =>
            (i % 2 === 0 ? store : other).guardedClaim(i === 10 ? { ...limit, claim: marker() } : limit),
          ),
        );
        const claimed = results.filter((r) => r.outcome === 'claimed').length;
        const failed = results.filter((r) => r.outcome === 'failed');
        expect(claimed).toBeLessThanOrEqual(1);
        // Without the claim exactly maxFailures are answered; a claim resets the count once.
        expect(failed.length).toBe(claimed === 1 ? failed.length : 3);
        expect(failed.length).toBeLessThanOrEqual(claimed === 1 ? 6 : 3);
        expect(failed.every((r) => r.failures >= 1 && r.failures <= 3)).toBe(true);
        if (claimed === 0) expect(results[10]?.outcome).toBe('locked');
        expect(Number(await store.get('attempts:u'))).toBeLessThanOrEqual(3);
      });

      it('refuses a counter key holding a plain value, changing nothing', async () => {
        await store.set('attempts:u', 'plain');
        await expectCode(store.guardedClaim({ ...limit, claim: marker() }), 'ERR_STORE_NOT_A_COUNTER');
        await expectCode(store.guardedClaim(limit), 'ERR_STORE_NOT_A_COUNTER');
        expect(await store.getMany(['attempts:u', 'used:d:1'])).toEqual(['plain', undefined]);
      });

      it('rejects bad options and writes nothing', async () => {
        const bad: [unknown, string][] = [
          [{ ...limit, counterKey: 'bad key' }, 'ERR_STORE_INVALID_KEY'],
          [{ ...limit, maxFailures: 0 }, 'ERR_INVALID_OPTIONS'],
          [{ ...limit, maxFailures: 1.5 }, 'ERR_INVALID_OPTIONS'],
          [{ ...limit, windowSeconds: 0 }, 'ERR_STORE_INVALID_TTL'],
          [{ ...limit, windowSeconds: undefined }, 'ERR_STORE_INVALID_TTL'],
          [{ ...limit, claim: { key: 'attempts:u', value: '1' } }, 'ERR_INVALID_OPTIONS'],
          [{ ...limit, claim: { key: 'has space', value: '1' } }, 'ERR_STORE_INVALID_KEY'],
          [{ ...limit, claim: { key: 'm', value: 'x'.repeat(70_000) } }, 'ERR_STORE_VALUE_TOO_LARGE'],
          [{ ...limit, claim: { key: 'm', value: '1', ttlSeconds: -1 } }, 'ERR_STORE_INVALID_TTL'],
        ];
        for (const [options, code] of bad) {
          await expectCode(store.guardedClaim(options as Parameters<KeyValueStore['guardedClaim']>[0]), code);
        }
        expect(await store.list('')).toEqual([]);
      });
    });

    describe('TTL', () => {
      it('hides expired entries from get, consume, delete and list', async () => {
        await store.set('t:1', 'v', { ttlSeconds: 0.2 });
        await store.set('t:2', 'v');
        expect(await store.get('t:1')).toBe('v');
        await pass(400);
        expect(await store.get('t:1')).toBeUndefined();
        expect(await store.consume('t:1')).toBeUndefined();
        expect(await store.list('t:')).toEqual(['t:2']);
      });

      it('drops the TTL when a value is set again without one', async () => {
        await store.set('keep', 'v', { ttlSeconds: 0.2 });
        await store.set('keep', 'v2');
        await pass(400);
        expect(await store.get('keep')).toBe('v2');
      });

      it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40])(
        'rejects ttlSeconds %s and changes nothing',
        async (ttl) => {
          await store.set('ttl', 'original');
          await expectCode(store.set('ttl', 'changed', { ttlSeconds: ttl }), 'ERR_STORE_INVALID_TTL');
          await expectCode(store.setIfAbsent('ttl-new', 'x', { ttlSeconds: ttl }), 'ERR_STORE_INVALID_TTL');
          await expectCode(store.increment('ttl-ctr', { ttlSeconds: ttl }), 'ERR_STORE_INVALID_TTL');
          expect(await store.get('ttl')).toBe('original');
          expect(await store.get('ttl-new')).toBeUndefined();
        },
      );
    });

    describe('list', () => {
      it('returns keys under a prefix in byte order, with limit and after', async () => {
        for (const key of ['u:b', 'u:a', 'u:c', 'u;x', 'v:a', 'u:a:1']) await store.set(key, '1');
        expect(await store.list('u:')).toEqual(['u:a', 'u:a:1', 'u:b', 'u:c']);
        expect(await store.list('u:', { limit: 2 })).toEqual(['u:a', 'u:a:1']);
        expect(await store.list('u:', { after: 'u:a:1' })).toEqual(['u:b', 'u:c']);
        expect((await store.list('')).length).toBe(6);
      });

      it('treats glob and LIKE characters in prefixes literally', async () => {
        for (const key of ['a*b', 'a*c', 'axb', 'a%1', 'a_1', 'a[1]', 'a\\1']) await store.set(key, '1');
        expect(await store.list('a*')).toEqual(['a*b', 'a*c']);
        expect(await store.list('a%')).toEqual(['a%1']);
        expect(await store.list('a_')).toEqual(['a_1']);
        expect(await store.list('a[')).toEqual(['a[1]']);
        expect(await store.list('a\\')).toEqual(['a\\1']);
      });

      it('rejects a bad limit', async () => {
        await expectCode(store.list('', { limit: 0 }), 'ERR_INVALID_OPTIONS');
        await expectCode(store.list('', { limit: 1e9 }), 'ERR_INVALID_OPTIONS');
      });
    });

    describe('bad input', () => {
      const badKeys: unknown[] = ['', 'has space', 'tab\tkey', 'ünïcode', 'k'.repeat(513), 42, null, undefined];
      it.each(badKeys.map((k) => [k]))('rejects key %j with a client error, no write', async (key) => {
        const error = await expectCode(store.set(key as string, 'v'), 'ERR_STORE_INVALID_KEY');
        expect(error.fault).toBe('client');
        expect(error.retryable).toBe(false);
        await expectCode(store.get(key as string), 'ERR_STORE_INVALID_KEY');
        await expectCode(store.getMany([key as string]), 'ERR_STORE_INVALID_KEY');
        await expectCode(store.consume(key as string), 'ERR_STORE_INVALID_KEY');
        await expectCode(store.setIfAbsent(key as string, 'v'), 'ERR_STORE_INVALID_KEY');
        await expectCode(store.increment(key as string), 'ERR_STORE_INVALID_KEY');
        await expectCode(store.delete(key as string), 'ERR_STORE_INVALID_KEY');
        expect(await store.list('')).toEqual([]);
      });

      it('rejects oversize, non-string and unstorable values, keeping the stored value', async () => {
        await store.set('v', 'kept');
        const error = await expectCode(store.set('v', 'x'.repeat(64 * 1024 + 1)), 'ERR_STORE_VALUE_TOO_LARGE');
        expect(error.details).toMatchObject({ maxBytes: 64 * 1024 });
        await expectCode(store.set('v', '€'.repeat(30_000)), 'ERR_STORE_VALUE_TOO_LARGE');
        await expectCode(store.set('v', 42 as unknown as string), 'ERR_STORE_INVALID_VALUE');
        await expectCode(store.set('v', 'nul \u0000 inside'), 'ERR_STORE_INVALID_VALUE');
        await expectCode(store.set('v', 'lone \uD800 surrogate'), 'ERR_STORE_INVALID_VALUE');
        await expectCode(store.set('v', 'lone \uDC00 low'), 'ERR_STORE_INVALID_VALUE');
        await expectCode(store.setIfAbsent('w', 'x'.repeat(70_000)), 'ERR_STORE_VALUE_TOO_LARGE');
        expect(await store.get('v')).toBe('kept');
        expect(await store.get('w')).toBeUndefined();
      });

      it('never puts the value in an error message', async () => {
        const secret = `s3cr3t-${'x'.repeat(70_000)}`;
        const error = await expectCode(store.set('k', secret), 'ERR_STORE_VALUE_TOO_LARGE');
        expect(error.message).not.toContain('s3cr3t');
        expect(JSON.stringify(error)).not.toContain('s3cr3t');
      });
    });

    it('rejects every call after close with ERR_STORE_CLOSED', async () => {
      const s = await driver.open(clock);
      await s.close();
      await expectCode(s.get('a'), 'ERR_STORE_CLOSED');
      await expectCode(s.getMany(['a']), 'ERR_STORE_CLOSED');
      await expectCode(s.getMany([]), 'ERR_STORE_CLOSED');
      await expectCode(s.set('a', 'b'), 'ERR_STORE_CLOSED');
      await expectCode(s.consume('a'), 'ERR_STORE_CLOSED');
      await expectCode(s.increment('a'), 'ERR_STORE_CLOSED');
      await expectCode(s.guardedClaim({ counterKey: 'a', maxFailures: 1, windowSeconds: 1 }), 'ERR_STORE_CLOSED');
    });
  });
}
