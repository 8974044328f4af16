import type { Kysely, RawBuilder } from 'kysely';
import { CompiledQuery, sql } from 'kysely';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { CoreError } from '../errors.js';
import type {
  CounterResult,
  GuardedClaimOptions,
  GuardedClaimResult,
  IncrementOptions,
  KeyValueStore,
  ListOptions,
  SetIfAbsentOptions,
  SetOptions,
  ValidGuardedClaim,
} from '../kv.js';
import {
  alsoDeleteKeys,
  assertValidKey,
  assertValidKeys,
  assertValidPrefix,
  assertValidValue,
  guardedClaimOptions,
  incrementAmount,
  listLimit,
  maxValueBytesOption,
  notACounterError,
  storeClosedError,
  ttlToMs,
} from '../kv.js';
import type { SqlDatabase } from './sql-database.js';
import { directExecution, migrate } from './sql-database.js';
import type { SqlStatement } from './sql-statement.js';
import { sqlStatement } from './sql-statement.js';

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

/**
 * A statement of another store, with its parameter values in placeholder
 * order (e.g. from {@link SqlStatement.sql} and {@link SqlStatement.values}),
 * for {@link guardedClaimWith} to run inside the claim's transaction.
 */
export interface SqlFollowUp {
  readonly sql: string;
  readonly values: readonly unknown[];
}

type JoinClaim = (
  database: SqlDatabase,
  options: GuardedClaimOptions,
  onClaimed: SqlFollowUp,
) => Promise<GuardedClaimResult> | undefined;

const JOIN_CLAIM: unique symbol = Symbol('provisioning.sql.guardedClaimWith');

/**
 * `kv.guardedClaim(options)` and, **only if the outcome is `claimed`**, the
 * write `onClaimed` of another store on `database`, committed as one
 * transaction: one commit instead of two, and never a claim without its
 * follow-up (if `onClaimed` fails, the claim rolls back and the call rejects).
 * A `locked`, `replayed` or `failed` outcome runs nothing but the claim's own
 * statements, exactly as `guardedClaim` would.
 *
 * An optional capability, for stores that share a database: resolves
 * `undefined` (synchronously, having done nothing) unless `kv` is a SQL
 * key/value store on the same connection as `database` (one SQLite file opened
 * through `sqliteDatabase()`, or one `postgresDatabase()` handle). Callers
 * then fall back to `guardedClaim` followed by their own write.
 *
 * `onClaimed` must be a single write statement on the caller's own table; it
 * runs on the connection inside the claim's transaction (SQLite's
 * `BEGIN IMMEDIATE`, or PostgreSQL's transaction holding the counter's row
 * lock), so it should be short and must not touch the key/value table.
 *
 * @example
 * ```ts
 * const joined = guardedClaimWith(kv, database, claim, { sql: touch.sql, values: touch.values({ id, at }) });
 * const result = await (joined ?? kv.guardedClaim(claim));
 * if (joined === undefined && result.outcome === 'claimed') await touch.execute({ id, at }); // the fallback
 * ```
 */
export function guardedClaimWith(
  kv: KeyValueStore,
  database: SqlDatabase,
  options: GuardedClaimOptions,
  onClaimed: SqlFollowUp,
): Promise<GuardedClaimResult> | undefined {
  const join = (kv as { [JOIN_CLAIM]?: JoinClaim } | undefined)?.[JOIN_CLAIM];
  return typeof join === 'function' ? join(database, options, onClaimed) : undefined;
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
 * there it is one short transaction. Statements are compiled once
 * ({@link sqlStatement}): Kysely's per-call compilation cost more than a
 * SQLite statement.
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

  const statement = <P extends object, R = Row>(
    operation: string,
    build: (p: P) => RawBuilder<unknown>,
  ): SqlStatement<P, R> => sqlStatement<P, R>(database, operation, (p) => build(p).compile(db));
  const live = (now: unknown) => sql`(expires_at IS NULL OR expires_at > ${now})`;
  const insertIfAbsent = (p: { key: unknown; value: unknown; exp: unknown; now: unknown }) =>
    // Inserts, or takes over an expired row; a live row makes the
    // conditional update match nothing, so no row comes back.
    sql`INSERT INTO ${t} (key, value, counter, expires_at) VALUES (${p.key}, ${p.value}, NULL, ${p.exp})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = NULL, expires_at = excluded.expires_at
      WHERE ${t}.expires_at IS NOT NULL AND ${t}.expires_at <= ${p.now}
      RETURNING key`;
  const keyList = (p: Record<string, unknown>, n: number) => sql.join(Array.from({ length: n }, (_, i) => p[`k${i}`]));
  const keyParams = (keys: readonly string[]): Record<string, string> =>
    Object.fromEntries(keys.map((key, i) => [`k${i}`, key]));

  const GET = statement(
    'get',
    (p: { key: unknown; now: unknown }) =>
      sql`SELECT value, counter, expires_at FROM ${t} WHERE key = ${p.key} AND ${live(p.now)}`,
  );
  const SET = statement(
    'set',
    (p: { key: unknown; value: unknown; exp: unknown }) =>
      sql`INSERT INTO ${t} (key, value, counter, expires_at) VALUES (${p.key}, ${p.value}, NULL, ${p.exp})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = NULL, expires_at = excluded.expires_at`,
  );
  const DELETE = statement(
    'delete',
    (p: { key: unknown }) => sql`DELETE FROM ${t} WHERE key = ${p.key} RETURNING value, counter, expires_at`,
  );
  // A single DELETE … RETURNING: the row lock (PostgreSQL) or the write
  // lock (SQLite) lets exactly one concurrent statement see the row.
  const CONSUME = statement(
    'consume',
    (p: { key: unknown; now: unknown }) =>
      sql`DELETE FROM ${t} WHERE key = ${p.key} AND ${live(p.now)} RETURNING value, counter, expires_at`,
  );
  const SET_IF_ABSENT = statement('setIfAbsent', insertIfAbsent);
  // One statement: create, restart an expired counter (new TTL), or add.
  // A live plain value keeps its value and a NULL counter, which is
  // reported as ERR_STORE_NOT_A_COUNTER with nothing changed.
  const INCREMENT = statement('increment', (p: { key: unknown; by: unknown; exp: unknown; now: unknown }) => {
    const expired = sql`${t}.expires_at IS NOT NULL AND ${t}.expires_at <= ${p.now}`;
    return sql`INSERT INTO ${t} (key, value, counter, expires_at) VALUES (${p.key}, NULL, ${p.by}, ${p.exp})
      ON CONFLICT (key) DO UPDATE SET
        counter = CASE WHEN ${expired} THEN excluded.counter ELSE ${t}.counter + excluded.counter END,
        value = CASE WHEN ${expired} THEN NULL ELSE ${t}.value END,
        expires_at = CASE WHEN ${expired} THEN excluded.expires_at ELSE ${t}.expires_at END
      RETURNING value, counter, expires_at`;
  });
  // guardedClaim's first statement, in its transaction: takes the counter's
  // row (creating it at 0 with the window's TTL, or restarting an expired
  // one) and returns it. Being a write, it takes the row lock (PostgreSQL) or
  // the write lock (SQLite) before anything is read, so every operation on
  // the counter (guardedClaim, increment, delete …) waits until this
  // transaction ends, and the statements after it, each with a fresh
  // snapshot (READ COMMITTED), decide on the latest state. A live counter is
  // left as it is; a plain value too (reported as ERR_STORE_NOT_A_COUNTER,
  // rolled back).
  const TAKE_COUNTER = statement('guardedClaim', (p: { key: unknown; exp: unknown; now: unknown }) => {
    const expired = sql`${t}.expires_at IS NOT NULL AND ${t}.expires_at <= ${p.now}`;
    return sql`INSERT INTO ${t} (key, value, counter, expires_at) VALUES (${p.key}, NULL, 0, ${p.exp})
      ON CONFLICT (key) DO UPDATE SET
        counter = CASE WHEN ${expired} THEN 0 ELSE ${t}.counter END,
        value = CASE WHEN ${expired} THEN NULL ELSE ${t}.value END,
        expires_at = CASE WHEN ${expired} THEN excluded.expires_at ELSE ${t}.expires_at END
      RETURNING value, counter, expires_at`;
  });
  // guardedClaim's first statement on SQLite's own connection, where the
  // transaction is BEGIN IMMEDIATE (the write lock is held from the start):
  // a plain read of the counter's row, expired or not, so a success with no
  // failures counted writes only its marker.
  const READ_COUNTER = statement(
    'guardedClaim',
    (p: { key: unknown }) => sql`SELECT value, counter, expires_at FROM ${t} WHERE key = ${p.key}`,
  );
  const PURGE = statement(
    'purgeExpired',
    (p: { now: unknown }) => sql`DELETE FROM ${t} WHERE expires_at IS NOT NULL AND expires_at <= ${p.now}`,
  );
  // Statements over n keys, compiled on first use for each n.
  const byCount = <R>(build: (n: number) => SqlStatement<Record<string, unknown>, R>) => {
    const made = new Map<number, SqlStatement<Record<string, unknown>, R>>();
    return (n: number): SqlStatement<Record<string, unknown>, R> => {
      let s = made.get(n);
      if (s === undefined) {
        s = build(n);
        made.set(n, s);
      }
      return s;
    };
  };
  // One statement: one snapshot of every key, on both databases.
  const GET_MANY = byCount((n) =>
    statement<Record<string, unknown>, Row & { key: string }>(
      'getMany',
      (p) => sql`SELECT key, value, counter, expires_at FROM ${t} WHERE key IN (${keyList(p, n)}) AND ${live(p.now)}`,
    ),
  );
  const DELETE_KEYS = byCount((n) =>
    statement<Record<string, unknown>, Row>(
      'setIfAbsent',
      (p) => sql`DELETE FROM ${t} WHERE key IN (${keyList(p, n)})`,
    ),
  );
  // PostgreSQL, one statement: the DELETE runs only if the INSERT returned a row.
  const SET_IF_ABSENT_ALSO_DELETE = byCount((n) =>
    statement<Record<string, unknown>, { key: string }>(
      'setIfAbsent',
      (p) => sql`WITH won AS (${insertIfAbsent(p as { key: unknown; value: unknown; exp: unknown; now: unknown })}),
        gone AS (DELETE FROM ${t} WHERE key IN (${keyList(p, n)}) AND EXISTS (SELECT 1 FROM won))
        SELECT key FROM won`,
    ),
  );

  const open = (): void => {
    if (closed) throw storeClosedError(database.dialect);
  };
  const run = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    open();
    return database.run(operation, fn);
  };

  const purgeExpired = async (): Promise<number> => {
    open();
    const { numAffectedRows } = await PURGE.execute({ now: clock.now() });
    return Number(numAffectedRows ?? 0n);
  };

  const wrote = (): void => {
    writes += 1;
    if (writes % PURGE_EVERY_WRITES === 0) {
      // Housekeeping only: expired rows are already invisible to every read.
      purgeExpired().catch(() => {});
    }
  };

  const readValue = (row: Row): string => row.value ?? String(num(row.counter));
  const expiresAt = (ttl: number | undefined, now: number): number | null => (ttl === undefined ? null : now + ttl);

  const store: SqlKeyValueStore & { [JOIN_CLAIM]: JoinClaim } = {
    id: database.dialect,
    purgeExpired,
    async get(key: string) {
      assertValidKey(key);
      open();
      const row = (await GET.execute({ key, now: clock.now() })).rows[0];
      return row === undefined ? undefined : readValue(row);
    },
    async getMany(keys: readonly string[]) {
      assertValidKeys(keys);
      open();
      if (keys.length === 0) return [];
      const distinct = [...new Set(keys)];
      const { rows } = await GET_MANY(distinct.length).execute({ ...keyParams(distinct), now: clock.now() });
      const found = new Map(rows.map((row) => [row.key, readValue(row)]));
      return keys.map((key) => found.get(key));
    },
    async set(key: string, value: string, opts?: SetOptions) {
      assertValidKey(key);
      assertValidValue(value, maxValueBytes);
      const ttl = ttlToMs(opts?.ttlSeconds);
      open();
      await SET.execute({ key, value, exp: expiresAt(ttl, clock.now()) });
      wrote();
    },
    async delete(key: string) {
      assertValidKey(key);
      open();
      const now = clock.now();
      const row = (await DELETE.execute({ key })).rows[0];
      if (row === undefined) return false;
      const exp = num(row.expires_at);
      return exp === undefined || exp > now;
    },
    async consume(key: string) {
      assertValidKey(key);
      open();
      const row = (await CONSUME.execute({ key, now: clock.now() })).rows[0];
      return row === undefined ? undefined : readValue(row);
    },
    async setIfAbsent(key: string, value: string, opts?: SetIfAbsentOptions) {
      assertValidKey(key);
      assertValidValue(value, maxValueBytes);
      const ttl = ttlToMs(opts?.ttlSeconds);
      const alsoDelete = alsoDeleteKeys(key, opts);
      open();
      const now = clock.now();
      const claim = { key, value, exp: expiresAt(ttl, now), now };
      let won: boolean;
      if (alsoDelete.length === 0) {
        won = (await SET_IF_ABSENT.execute(claim)).rows.length > 0;
      } else if (pg) {
        const statement = SET_IF_ABSENT_ALSO_DELETE(alsoDelete.length);
        won = (await statement.execute({ ...claim, ...keyParams(alsoDelete) })).rows.length > 0;
      } else {
        // One transaction on SQLite's single writer: atomic for every process sharing the file.
        won = await sqliteClaim(claim, alsoDelete);
      }
      if (won) wrote();
      return won;
    },
    async increment(key: string, opts?: IncrementOptions): Promise<CounterResult> {
      assertValidKey(key);
      const by = incrementAmount(opts?.by);
      const ttl = ttlToMs(opts?.ttlSeconds);
      open();
      const now = clock.now();
      const row = (await INCREMENT.execute({ key, by, exp: expiresAt(ttl, now), now })).rows[0];
      const value = row === undefined ? undefined : num(row.counter);
      if (row === undefined || value === undefined || row.value !== null) throw notACounterError();
      wrote();
      const exp = num(row.expires_at);
      return { value, expiresAt: exp === undefined ? undefined : new Date(exp) };
    },
    guardedClaim: (opts: GuardedClaimOptions): Promise<GuardedClaimResult> => guardedClaim(opts, undefined),
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
          AND ${live(now)} ORDER BY key LIMIT ${limit}`.execute(db);
        return rows.map((r) => r.key);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) await database.close();
    },
    // guardedClaimWith(): only for a database on this store's connection
    // (the same Kysely instance: one SQLite connection, or one pool).
    [JOIN_CLAIM]: (other, opts, onClaimed) =>
      other.db === database.db && other.dialect === database.dialect
        ? // The other store's handle must be open too, as if it ran its statement itself.
          other.run('guardedClaim', () => guardedClaim(opts, onClaimed))
        : undefined,
  };
  return store;

  async function guardedClaim(
    opts: GuardedClaimOptions,
    onClaimed: SqlFollowUp | undefined,
  ): Promise<GuardedClaimResult> {
    const g = guardedClaimOptions(opts, maxValueBytes);
    open();
    const now = clock.now();
    const result = await database.run('guardedClaim', async () => {
      const direct = directExecution(database);
      if (direct !== undefined) {
        // SQLite: the whole decision in one synchronous BEGIN … COMMIT.
        return direct.transaction(() => {
          const steps = guardedClaimSteps(g, now, 'read', onClaimed);
          let step = steps.next();
          while (!step.done) step = steps.next(direct.run(step.value.sql, step.value.values).rows as Row[]);
          return step.value;
        }, 'immediate');
      }
      return db.transaction().execute(async (trx) => {
        const steps = guardedClaimSteps(g, now, 'take', onClaimed);
        let step = steps.next();
        while (!step.done) {
          const { rows } = await trx.executeQuery<Row>(CompiledQuery.raw(step.value.sql, [...step.value.values]));
          step = steps.next(rows);
        }
        return step.value;
      });
    });
    if (result.outcome !== 'locked') wrote();
    return result;
  }

  /**
   * The decision of guardedClaim as the statements it runs, in one
   * transaction (the caller runs each yielded statement and passes its rows
   * back): synchronously on SQLite's connection, or awaited in a Kysely
   * transaction. Throwing rolls the transaction back.
   */
  function* guardedClaimSteps(
    g: ValidGuardedClaim,
    now: number,
    first: 'take' | 'read',
    onClaimed: SqlFollowUp | undefined,
  ): Generator<{ sql: string; values: readonly unknown[] }, GuardedClaimResult, Row[]> {
    // 'take' (PostgreSQL, or SQLite inside Kysely's deferred transaction):
    // the row is locked and exists, live, from here on. 'read' (SQLite's
    // BEGIN IMMEDIATE: the whole database is locked already): the row may be
    // absent or expired, which counts as no failures.
    const row =
      first === 'take'
        ? (yield {
            sql: TAKE_COUNTER.sql,
            values: TAKE_COUNTER.values({ key: g.counterKey, exp: now + g.windowMs, now }),
          })[0]
        : (yield { sql: READ_COUNTER.sql, values: READ_COUNTER.values({ key: g.counterKey }) })[0];
    const rowExp = row === undefined ? undefined : num(row.expires_at);
    const counter = row === undefined || (rowExp !== undefined && rowExp <= now) ? undefined : row;
    if (first === 'take' && counter === undefined) throw notACounterError();
    const failures = counter === undefined ? 0 : num(counter.counter);
    if (counter?.value != null || failures === undefined) throw notACounterError();
    const exp = counter === undefined ? undefined : num(counter.expires_at);
    if (failures >= g.maxFailures) {
      return { outcome: 'locked', failures, expiresAt: exp === undefined ? undefined : new Date(exp) };
    }
    if (g.claim !== undefined) {
      const claim = { key: g.claim.key, value: g.claim.value, exp: expiresAt(g.claim.ttlMs, now), now };
      const won = (yield { sql: SET_IF_ABSENT.sql, values: SET_IF_ABSENT.values(claim) }).length > 0;
      if (won) {
        if (row !== undefined) yield { sql: DELETE.sql, values: DELETE.values({ key: g.counterKey }) };
        // Only a win runs the follow-up; if it throws, the claim rolls back with it.
        if (onClaimed !== undefined) yield onClaimed;
        return { outcome: 'claimed', failures: 0, expiresAt: undefined };
      }
    }
    // Add one: to the live counter (keeping its window), or a new one.
    const added = (yield {
      sql: INCREMENT.sql,
      values: INCREMENT.values({ key: g.counterKey, by: 1, exp: now + g.windowMs, now }),
    })[0];
    const value = added === undefined ? undefined : num(added.counter);
    if (added === undefined || value === undefined) throw notACounterError();
    const addedExp = num(added.expires_at);
    return {
      outcome: g.claim === undefined ? 'failed' : 'replayed',
      failures: value,
      expiresAt: addedExp === undefined ? undefined : new Date(addedExp),
    };
  }

  async function sqliteClaim(
    claim: { key: unknown; value: unknown; exp: unknown; now: unknown },
    alsoDelete: string[],
  ): Promise<boolean> {
    const deleteKeys = DELETE_KEYS(alsoDelete.length);
    const keys = deleteKeys.values(keyParams(alsoDelete));
    const values = SET_IF_ABSENT.values(claim);
    return database.run('setIfAbsent', async () => {
      const direct = directExecution(database);
      if (direct !== undefined) {
        // Synchronous BEGIN … COMMIT: nothing else runs on the connection meanwhile.
        return direct.transaction(() => {
          if (direct.run(SET_IF_ABSENT.sql, values).rows.length === 0) return false;
          direct.run(deleteKeys.sql, keys);
          return true;
        });
      }
      return db.transaction().execute(async (trx) => {
        const inserted = await trx.executeQuery(CompiledQuery.raw(SET_IF_ABSENT.sql, values));
        if (inserted.rows.length === 0) return false;
        await trx.executeQuery(CompiledQuery.raw(deleteKeys.sql, keys));
        return true;
      });
    });
  }
}
