/**
 * SQLite drivers (better-sqlite3 12, an optional peer dependency): the
 * embedded default. One file, WAL mode.
 *
 * @module
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { CoreError } from './errors.js';
import type { DirectExecution, SqlDatabase } from './stores/sql-database.js';
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

interface OpenFile {
  readonly db: Kysely<unknown>;
  readonly direct: DirectExecution;
  readonly synchronous: 'normal' | 'full';
  readonly busyTimeoutMs: number;
  refs: number;
}

// Every file this process has open, by device and inode (so a relative path,
// an absolute path and a symlink to one file are one entry).
const openFiles = new Map<string, OpenFile>();
const STATEMENT_CACHE_SIZE = 512;

const fileId = (filename: string): string | undefined => {
  if (filename === ':memory:' || filename === '') return undefined;
  try {
    const st = statSync(filename);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined; // not created yet
  }
};

/**
 * better-sqlite3 compiles a statement on every `prepare()`, and Kysely calls
 * it for every query: about half the cost of a small statement. Statements
 * are cached by their SQL text (placeholders only: parameters are bound per
 * call); a statement still being iterated (a streamed query) is not reused.
 */
function cachingStatements(native: Database.Database): { prepare(sql: string): Database.Statement; close(): void } {
  let cache = new Map<string, Database.Statement>();
  return {
    prepare(sql) {
      const cached = cache.get(sql);
      if (cached !== undefined && !cached.busy) return cached;
      const statement = native.prepare(sql);
      if (cached === undefined) {
        // Generational, not LRU: the SDK's stores use a small fixed set of texts.
        if (cache.size >= STATEMENT_CACHE_SIZE) cache = new Map();
        cache.set(sql, statement);
      }
      return statement;
    },
    close() {
      cache = new Map();
      native.close();
    },
  };
}

/**
 * Opens (or creates) a SQLite database file in WAL mode for the SDK's stores.
 *
 * One process holds **one** connection per file: opening a file this process
 * already has open returns another handle on the same connection (closed when
 * its last handle closes). better-sqlite3 is synchronous, so a second
 * connection in the same thread would block the whole thread for
 * `busyTimeoutMs` whenever the first one holds a write transaction (a
 * migration, a multi-statement store operation), and then fail with
 * `SQLITE_BUSY`; on one connection, Kysely queues the statements instead.
 * Separate processes get their own connections and wait for each other's
 * locks up to `busyTimeoutMs`.
 *
 * @throws CoreError `ERR_STORE_FAILURE` if the file cannot be opened;
 * `ERR_INVALID_OPTIONS` if the file is already open in this process with other
 * `synchronous` or `busyTimeoutMs` settings.
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
  const synchronous = options.synchronous === 'full' ? 'full' : 'normal';
  const busyTimeoutMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000));
  const existingId = fileId(options.filename);
  const existing = existingId === undefined ? undefined : openFiles.get(existingId);
  if (existing !== undefined) {
    if (existing.synchronous !== synchronous || existing.busyTimeoutMs !== busyTimeoutMs) {
      throw new CoreError(
        'this SQLite file is already open in this process with other settings; open it once and share the database',
        {
          code: 'ERR_INVALID_OPTIONS',
          fault: 'client',
          details: { synchronous: existing.synchronous, busyTimeoutMs: existing.busyTimeoutMs },
        },
      );
    }
    return share(existingId as string, existing) as SqlDatabase<DB>;
  }
  let native: Database.Database;
  try {
    native = new Database(options.filename);
    native.pragma('journal_mode = WAL');
    native.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    native.pragma(`busy_timeout = ${busyTimeoutMs}`);
    native.pragma('foreign_keys = ON');
  } catch (error) {
    throw new CoreError('cannot open the SQLite database', {
      code: 'ERR_STORE_FAILURE',
      fault: 'server',
      cause: error,
      details: { code: (error as { code?: string }).code },
    });
  }
  const statements = cachingStatements(native);
  // One transaction wrapper for the connection's lifetime: better-sqlite3's
  // transaction() builds four wrapped functions and their properties on every
  // call, which cost more than the short transactions the stores run.
  const inTransaction = native.transaction((fn: () => unknown) => fn());
  // Kysely's destroy() closes the handle it was given.
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: statements }) });
  const direct: DirectExecution = {
    // Kysely holds the connection across awaits only inside a transaction;
    // outside one, a synchronous statement cannot interleave with anything.
    available: () => native.open && !native.inTransaction,
    run(sql, params) {
      const statement = statements.prepare(sql);
      if (statement.reader) return { rows: statement.all(params), numAffectedRows: undefined };
      return { rows: [], numAffectedRows: BigInt(statement.run(params).changes) };
    },
    transaction: <T>(fn: () => T, mode?: 'deferred' | 'immediate'): T =>
      (mode === 'immediate' ? inTransaction.immediate(fn) : inTransaction(fn)) as T,
  };
  const file: OpenFile = { db, direct, synchronous, busyTimeoutMs, refs: 0 };
  const id = native.memory ? undefined : fileId(options.filename);
  if (id === undefined) {
    file.refs = 1;
    return wrapDatabase('sqlite', db as Kysely<DB>, () => db.destroy(), direct);
  }
  openFiles.set(id, file);
  return share(id, file) as SqlDatabase<DB>;
}

function share(id: string, file: OpenFile): SqlDatabase {
  file.refs += 1;
  return wrapDatabase(
    'sqlite',
    file.db,
    async () => {
      file.refs -= 1;
      if (file.refs > 0) return;
      openFiles.delete(id);
      await file.db.destroy();
    },
    file.direct,
  );
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
