import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeKeyValueStore } from '../../test/kv-conformance.js';
import { createManualClock } from '../clock.js';
import { CoreError } from '../errors.js';
import { sqliteDatabase, sqliteStore } from '../sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const files = new WeakMap<object, string>();

describeKeyValueStore({
  name: 'sqlite',
  async open(clock) {
    const filename = join(dir, `kv-${n++}.db`);
    const store = await sqliteStore({ filename, clock });
    files.set(store, filename);
    return store;
  },
  // A second connection to the same file, as a second process would have.
  openPeer: async (clock, first) => sqliteStore({ filename: files.get(first) as string, clock }),
});

describe('sqlite durability', () => {
  it('keeps values, counters and TTLs across close and reopen', async () => {
    const filename = join(dir, 'durable.db');
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const first = await sqliteStore({ filename, clock });
    await first.set('token:1', 'revoked', { ttlSeconds: 3600 });
    await first.set('forever', 'yes');
    await first.increment('count', { by: 41 });
    await first.close();

    const second = await sqliteStore({ filename, clock });
    expect(await second.get('token:1')).toBe('revoked');
    expect(await second.get('forever')).toBe('yes');
    expect((await second.increment('count')).value).toBe(42);
    clock.advance(3_600_001);
    expect(await second.get('token:1')).toBeUndefined();
    expect(await second.purgeExpired()).toBe(1);
    await second.close();
  });

  it('shares a database handle with other stores and leaves it open', async () => {
    const database = sqliteDatabase({ filename: join(dir, 'shared.db') });
    const a = await sqliteStore({ database, tableName: 'kv_a' });
    const b = await sqliteStore({ database, tableName: 'kv_b' });
    await a.set('k', 'a');
    await b.set('k', 'b');
    await a.close();
    expect(await b.get('k')).toBe('b');
    await b.close();
    await database.close();
  });

  it('rejects a bad table name and an unopenable file at construction', async () => {
    await expect(sqliteStore({ filename: join(dir, 'x.db'), tableName: 'kv; DROP TABLE x' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTIONS',
    });
    expect(() => sqliteDatabase({ filename: join(dir, 'missing-dir', 'sub', 'x.db') })).toThrow(CoreError);
  });
});
