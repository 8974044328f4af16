/**
 * PostgreSQL drivers (pg 8, an optional peer dependency): for several
 * instances sharing state.
 *
 * @module
 */
import { Kysely, PostgresDialect } from 'kysely';
import type { Pool, PoolClient } from 'pg';
import { CoreError } from './errors.js';
import type { SqlDatabase } from './stores/sql-database.js';
import { wrapDatabase } from './stores/sql-database.js';
import { mapSqlError } from './stores/sql-errors.js';
import type { SqlKeyValueStore, SqlKeyValueStoreOptions } from './stores/sql-kv.js';
import { sqlKeyValueStore } from './stores/sql-kv.js';

/** Options of {@link postgresDatabase}. */
export interface PostgresDatabaseOptions {
  /** A ready `pg.Pool`. It stays open when the database handle is closed: its owner ends it. */
  readonly pool: Pool;
}

/**
 * Wraps a `pg.Pool` as a {@link SqlDatabase} for the SDK's stores.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresDatabase } from '@provisioning/core/postgres';
 * const database = postgresDatabase({ pool: new pg.Pool({ connectionString }) });
 * ```
 */
export function postgresDatabase<DB = unknown>(options: PostgresDatabaseOptions): SqlDatabase<DB> {
  if (typeof options?.pool?.connect !== 'function') {
    throw new CoreError('postgresDatabase needs a pg.Pool', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  // Kysely's destroy() would end the pool; the pool belongs to the caller, so
  // hand Kysely a view of it whose end() is a no-op. The view also fixes
  // connection reuse after a lost connection: Kysely releases a client without
  // its error, so pg would put a dead connection back into the pool and the
  // next calls would fail too. A client whose query failed with a connection
  // error is released as broken, and the pool replaces it.
  const borrowed = new Proxy(options.pool, {
    get(target, prop, receiver) {
      if (prop === 'end') return async () => {};
      if (prop === 'connect') return () => target.connect().then(trackBroken);
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: borrowed }) });
  return wrapDatabase('postgres', db, () => db.destroy());
}

/** Options of {@link postgresStore}: a pool, or a database handle to share. */
export type PostgresStoreOptions = SqlKeyValueStoreOptions &
  ({ readonly pool: Pool; readonly database?: never } | { readonly database: SqlDatabase; readonly pool?: never });

/**
 * A {@link KeyValueStore} on PostgreSQL: every instance sharing the database
 * sees one store; each method is one statement, atomic under concurrency.
 * Creates its table on open (migrations serialize on an advisory lock).
 *
 * @example
 * ```ts
 * import { postgresStore } from '@provisioning/core/postgres';
 * const store = await postgresStore({ pool });
 * const { value } = await store.increment(`login:${ip}`, { ttlSeconds: 60 });
 * ```
 */
export async function postgresStore(options: PostgresStoreOptions): Promise<SqlKeyValueStore> {
  const database = options.database ?? postgresDatabase({ pool: options.pool as Pool });
  if (database.dialect !== 'postgres') {
    throw new CoreError('postgresStore needs a PostgreSQL database', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  return sqlKeyValueStore(database, options, options.database === undefined);
}

export type { SqlDatabase, SqlKeyValueStore, SqlKeyValueStoreOptions };

function trackBroken(client: PoolClient): PoolClient {
  let broken = false;
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const release = client.release.bind(client);
  return Object.assign(Object.create(client) as PoolClient, {
    query: (...args: unknown[]) =>
      query(...args).catch((error: unknown) => {
        if (mapSqlError('postgres', error, 'query').retryable) broken = true;
        throw error;
      }),
    release: (err?: Error | boolean) => release(err ?? broken),
  });
}
