/**
 * SQLite drivers (better-sqlite3 12, an optional peer dependency): the
 * embedded default. One file, WAL mode.
 *
 * @module
 */
import Database from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';
import { Kysely, SqliteDialect } from 'kysely';
import { CoreError } from './errors.js';
import type { SqlDatabase } from './stores/sql-database.js';
import { wrapDatabase } from './stores/sql-database.js';
import type { SqlKeyValueStore, SqlKeyValueStoreOptions } from './stores/sql-kv.js';
import { sqlKeyValueStore } from './stores/sql-kv.js';

/** Options of {@link sqliteDatabase}. */
export interface SqliteDatabaseOptions {
  /** Path of the database file (created if missing), or `:memory:`. */
  readonly filename: string;
  /**
   * `normal` (default) survives a crash of the process but may lose the last
   * commits on power loss; `full` fsyncs every commit (slower, for audit logs).
   */
  readonly synchronous?: 'normal' | 'full';
  /** How long a writer waits for another process's lock, in ms. Default 5000. */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (or creates) a SQLite database file in WAL mode for the SDK's stores.
 *
 * @throws CoreError `ERR_STORE_FAILURE` if the file cannot be opened.
 * @example
 * ```ts
 * import { sqliteDatabase } from '@provisioning/core/sqlite';
 * const database = sqliteDatabase({ filename: './data/platform.db' });
 * ```
 */
export function sqliteDatabase<DB = unknown>(options: SqliteDatabaseOptions): SqlDatabase<DB> {
  if (typeof options?.filename !== 'string' || options.filename === '') {
    throw new CoreError('sqliteDatabase needs a filename', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  let native: Database.Database;
  try {
    native = new Database(options.filename);
    native.pragma('journal_mode = WAL');
    native.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    native.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    native.pragma('foreign_keys = ON');
  } catch (error) {
    throw new CoreError('cannot open the SQLite database', {
      code: 'ERR_STORE_FAILURE',
      fault: 'server',
      cause: error,
      details: { code: (error as { code?: string }).code },
    });
  }
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: reusingStatements(native) }) });
  // Kysely's destroy() closes the better-sqlite3 handle it was given.
  return wrapDatabase('sqlite', db, () => db.destroy());
}

// Kysely's driver prepares every query's statement again: ~50 µs for a short one, ~1.4 ms for
// the audit store's 500-row INSERT (SQLite parsing the text). Statements are reused by their
// text (the least recently used one goes when STATEMENTS are kept); one that is still iterating
// (a streamed query) is busy and cannot run another query, so a fresh one is prepared then.
// SQLite re-prepares a kept statement by itself when the schema changes.
const STATEMENTS = 128;
function reusingStatements(native: Database.Database): SqliteDatabase {
  const kept = new Map<string, Database.Statement>();
  return {
    close: () => native.close(),
    prepare(text: string) {
      const hit = kept.get(text);
      if (hit !== undefined) {
        if (hit.busy) return native.prepare(text);
        kept.delete(text);
        kept.set(text, hit);
        return hit;
      }
      const statement = native.prepare(text);
      if (kept.size >= STATEMENTS) kept.delete(kept.keys().next().value as string);
      kept.set(text, statement);
      return statement;
    },
  };
}

/** Options of {@link sqliteStore}: a file to open, or a database to share. */
export type SqliteStoreOptions = SqlKeyValueStoreOptions &
  (
    | { readonly filename: string; readonly database?: never }
    | { readonly database: SqlDatabase; readonly filename?: never }
  );

/**
 * A {@link KeyValueStore} in a SQLite file: durable across restarts, atomic
 * across processes sharing the file (each method is one SQL statement).
 * Creates its table on open.
 *
 * @example
 * ```ts
 * import { sqliteStore } from '@provisioning/core/sqlite';
 * const store = await sqliteStore({ filename: './data/kv.db' });
 * await store.setIfAbsent(`jti:${jti}`, '1', { ttlSeconds: 900 });
 * ```
 */
export async function sqliteStore(options: SqliteStoreOptions): Promise<SqlKeyValueStore> {
  const owns = options.database === undefined;
  const database = options.database ?? sqliteDatabase({ filename: options.filename as string });
  if (database.dialect !== 'sqlite') {
    throw new CoreError('sqliteStore needs a SQLite database', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  try {
    return await sqlKeyValueStore(database, options, owns);
  } catch (error) {
    if (owns) await database.close();
    throw error;
  }
}

export type { SqlDatabase, SqlKeyValueStore, SqlKeyValueStoreOptions };
