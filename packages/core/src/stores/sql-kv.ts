import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { CoreError } from '../errors.js';
import type {
  CounterResult,
  IncrementOptions,
  KeyValueStore,
  ListOptions,
  SetIfAbsentOptions,
  SetOptions,
} from '../kv.js';
import {
  alsoDeleteKeys,
  assertValidKey,
  assertValidKeys,
  assertValidPrefix,
  assertValidValue,
  incrementAmount,
  listLimit,
  maxValueBytesOption,
  notACounterError,
  storeClosedError,
  ttlToMs,
} from '../kv.js';
import type { SqlDatabase } from './sql-database.js';
import { migrate } from './sql-database.js';

/** Options shared by the SQLite and PostgreSQL key/value drivers. */
export interface SqlKeyValueStoreOptions {
  /** Time source for expiry. Default: the system clock. Instances sharing a database should have synchronised clocks. */
  readonly clock?: Clock;
  /** Largest value in UTF-8 bytes. Default 64 KiB. */
  readonly maxValueBytes?: number;
  /** Table name, a lowercase identifier. Default `provisioning_kv`. */
  readonly tableName?: string;
}

/** A {@link KeyValueStore} on SQL, with a way to drop expired rows. */
export interface SqlKeyValueStore extends KeyValueStore {
  /** Deletes expired rows now and resolves how many were removed. Also runs by itself every 4,096 writes. */
  purgeExpired(): Promise<number>;
}

const TABLE = /^[a-z_][a-z0-9_]{0,62}$/;
const PURGE_EVERY_WRITES = 4096;

interface Row {
  value: string | null;
  counter: number | string | bigint | null;
  expires_at: number | string | bigint | null;
}

const num = (v: number | string | bigint | null): number | undefined => (v === null ? undefined : Number(v));

/**
 * The one implementation of {@link KeyValueStore} for SQLite and PostgreSQL.
 * Every method is a single SQL statement (`DELETE … RETURNING`,
 * `INSERT … ON CONFLICT … RETURNING`), so each is atomic under concurrency on
 * both databases without explicit transactions or locks. The one exception is
 * `setIfAbsent` with `alsoDelete` on SQLite, which has no data-modifying CTEs:
 * there it is one short transaction.
 *
 * @internal Use `sqliteStore()` or `postgresStore()`.
 */
export async function sqlKeyValueStore(
  database: SqlDatabase,
  options: SqlKeyValueStoreOptions,
  ownsDatabase: boolean,
): Promise<SqlKeyValueStore> {
  const clock = options.clock ?? systemClock;
  const maxValueBytes = maxValueBytesOption(options.maxValueBytes);
  const tableName = options.tableName ?? 'provisioning_kv';
  if (!TABLE.test(tableName)) {
    throw new CoreError('tableName must be a lowercase SQL identifier', {
      code: 'ERR_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const pg = database.dialect === 'postgres';
  await migrate(database, `kv_${tableName}`.replace(/_/g, '-').slice(0, 63), [
    {
      id: '0001-create',
      async up(db) {
        // COLLATE "C": byte order, so prefix ranges and list order are the same on every locale.
        const keyType = pg ? sql.raw('TEXT COLLATE "C"') : sql.raw('TEXT');
        const intType = pg ? sql.raw('BIGINT') : sql.raw('INTEGER');
        const suffix = pg ? sql.raw('') : sql.raw(' WITHOUT ROWID');
        await sql`CREATE TABLE ${sql.table(tableName)} (key ${keyType} PRIMARY KEY, value TEXT, counter ${intType}, expires_at ${intType})${suffix}`.execute(
          db,
        );
        await sql`CREATE INDEX ${sql.id(`${tableName}_expires_at`)} ON ${sql.table(tableName)} (expires_at) WHERE expires_at IS NOT NULL`.execute(
          db,
        );
      },
    },
  ]);

  const db = database.db as Kysely<unknown>;
  const t = sql.table(tableName);
  let closed = false;
  let writes = 0;

  const run = <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(storeClosedError(database.dialect));
    return database.run(operation, fn);
  };

  const purgeExpired = (): Promise<number> =>
    run('purgeExpired', async () => {
      const result = await sql`DELETE FROM ${t} WHERE expires_at IS NOT NULL AND expires_at <= ${clock.now()}`.execute(
        db,
      );
      return Number(result.numAffectedRows ?? 0n);
    });

  const wrote = (): void => {
    writes += 1;
    if (writes % PURGE_EVERY_WRITES === 0) {
      // Housekeeping only: expired rows are already invisible to every read.
      purgeExpired().catch(() => {});
    }
  };

  const readValue = (row: Row): string => row.value ?? String(num(row.counter));
  const expiresAt = (ttl: number | undefined, now: number): number | null => (ttl === undefined ? null : now + ttl);

  return {
    id: database.dialect,
    purgeExpired,
    async get(key: string) {
      assertValidKey(key);
      return run('get', async () => {
        const { rows } =
          await sql<Row>`SELECT value, counter, expires_at FROM ${t} WHERE key = ${key} AND (expires_at IS NULL OR expires_at > ${clock.now()})`.execute(
            db,
          );
        const row = rows[0];
        return row === undefined ? undefined : readValue(row);
      });
    },
    async getMany(keys: readonly string[]) {
      assertValidKeys(keys);
      return run('getMany', async () => {
        if (keys.length === 0) return [];
        // One statement: one snapshot of every key, on both databases.
        const { rows } = await sql<Row & { key: string }>`SELECT key, value, counter, expires_at FROM ${t}
          WHERE key IN (${sql.join([...new Set(keys)])}) AND (expires_at IS NULL OR expires_at > ${clock.now()})`.execute(
          db,
        );
        const found = new Map(rows.map((row) => [row.key, readValue(row)]));
        return keys.map((key) => found.get(key));
      });
    },
    async set(key: string, value: string, opts?: SetOptions) {
      assertValidKey(key);
      assertValidValue(value, maxValueBytes);
      const ttl = ttlToMs(opts?.ttlSeconds);
      return run('set', async () => {
        await sql`INSERT INTO ${t} (key, value, counter, expires_at) VALUES (${key}, ${value}, NULL, ${expiresAt(ttl, clock.now())})
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = NULL, expires_at = excluded.expires_at`.execute(
          db,
        );
        wrote();
      });
    },
    async delete(key: string) {
      assertValidKey(key);
      return run('delete', async () => {
        const now = clock.now();
        const { rows } =
          await sql<Row>`DELETE FROM ${t} WHERE key = ${key} RETURNING value, counter, expires_at`.execute(db);
        const row = rows[0];
        if (row === undefined) return false;
        const exp = num(row.expires_at);
        return exp === undefined || exp > now;
      });
    },
    async consume(key: string) {
      assertValidKey(key);
      return run('consume', async () => {
        // A single DELETE … RETURNING: the row lock (PostgreSQL) or the write
        // lock (SQLite) lets exactly one concurrent statement see the row.
        const { rows } =
          await sql<Row>`DELETE FROM ${t} WHERE key = ${key} AND (expires_at IS NULL OR expires_at > ${clock.now()}) RETURNING value, counter, expires_at`.execute(
            db,
          );
        const row = rows[0];
        return row === undefined ? undefined : readValue(row);
      });
    },
    async setIfAbsent(key: string, value: string, opts?: SetIfAbsentOptions) {
      assertValidKey(key);
      assertValidValue(value, maxValueBytes);
      const ttl = ttlToMs(opts?.ttlSeconds);
      const alsoDelete = alsoDeleteKeys(key, opts);
      return run('setIfAbsent', async () => {
        const now = clock.now();
        // Inserts, or takes over an expired row; a live row makes the
        // conditional update match nothing, so no row comes back.
        const claim = sql<{
          key: string;
        }>`INSERT INTO ${t} (key, value, counter, expires_at) VALUES (${key}, ${value}, NULL, ${expiresAt(ttl, now)})
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = NULL, expires_at = excluded.expires_at
          WHERE ${t}.expires_at IS NOT NULL AND ${t}.expires_at <= ${now}
          RETURNING key`;
        let won: boolean;
        if (alsoDelete.length === 0) {
          won = (await claim.execute(db)).rows.length > 0;
        } else if (pg) {
          // One statement: the DELETE runs only if the INSERT returned a row.
          const { rows } = await sql<{ key: string }>`WITH won AS (${claim}),
            gone AS (DELETE FROM ${t} WHERE key IN (${sql.join(alsoDelete)}) AND EXISTS (SELECT 1 FROM won))
            SELECT key FROM won`.execute(db);
          won = rows.length > 0;
        } else {
          // One transaction on SQLite's single writer: atomic for every process sharing the file.
          won = await db.transaction().execute(async (trx) => {
            if ((await claim.execute(trx)).rows.length === 0) return false;
            await sql`DELETE FROM ${t} WHERE key IN (${sql.join(alsoDelete)})`.execute(trx);
            return true;
          });
        }
        if (won) wrote();
        return won;
      });
    },
    async increment(key: string, opts?: IncrementOptions): Promise<CounterResult> {
      assertValidKey(key);
      const by = incrementAmount(opts?.by);
      const ttl = ttlToMs(opts?.ttlSeconds);
      return run('increment', async () => {
        const now = clock.now();
        // One statement: create, restart an expired counter (new TTL), or add.
        // A live plain value keeps its value and a NULL counter, which is
        // reported as ERR_STORE_NOT_A_COUNTER with nothing changed.
        const { rows } =
          await sql<Row>`INSERT INTO ${t} (key, value, counter, expires_at) VALUES (${key}, NULL, ${by}, ${expiresAt(ttl, now)})
          ON CONFLICT (key) DO UPDATE SET
            counter = CASE WHEN ${t}.expires_at IS NOT NULL AND ${t}.expires_at <= ${now} THEN excluded.counter ELSE ${t}.counter + excluded.counter END,
            value = CASE WHEN ${t}.expires_at IS NOT NULL AND ${t}.expires_at <= ${now} THEN NULL ELSE ${t}.value END,
            expires_at = CASE WHEN ${t}.expires_at IS NOT NULL AND ${t}.expires_at <= ${now} THEN excluded.expires_at ELSE ${t}.expires_at END
          RETURNING value, counter, expires_at`.execute(db);
        const row = rows[0];
        const value = row === undefined ? undefined : num(row.counter);
        if (row === undefined || value === undefined || row.value !== null) throw notACounterError();
        wrote();
        const exp = num(row.expires_at);
        return { value, expiresAt: exp === undefined ? undefined : new Date(exp) };
      });
    },
    async list(prefix: string, opts?: ListOptions) {
      assertValidPrefix(prefix);
      const limit = listLimit(opts);
      return run('list', async () => {
        const now = clock.now();
        // Keys are printable ASCII (0x21-0x7E), so every key starting with
        // `prefix` sorts in [prefix, prefix + DEL): an index range, no LIKE escaping.
        const upper = prefix === '' ? sql`` : sql`AND key < ${`${prefix}\x7f`}`;
        const after = opts?.after === undefined ? sql`` : sql`AND key > ${opts.after}`;
        const { rows } = await sql<{ key: string }>`SELECT key FROM ${t} WHERE key >= ${prefix} ${upper} ${after}
          AND (expires_at IS NULL OR expires_at > ${now}) ORDER BY key LIMIT ${limit}`.execute(db);
        return rows.map((r) => r.key);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) await database.close();
    },
  };
}
