import type { Kysely } from 'kysely';
import { CompiledQuery, sql } from 'kysely';
import { CoreError } from '../errors.js';
import { mapSqlError } from './sql-errors.js';

/** The SQL dialects the SDK's stores are written for. */
export type SqlDialectName = 'sqlite' | 'postgres';

/**
 * A SQL database handle shared by the SDK's richer stores (users, leases,
 * audit …): a Kysely instance plus its dialect. Made by `sqliteDatabase()`
 * (`@provisioning/core/sqlite`) or `postgresDatabase()` (`@provisioning/core/postgres`).
 *
 * @typeParam DB - the Kysely table map the caller queries through.
 */
export interface SqlDatabase<DB = unknown> {
  /** Which SQL dialect the database speaks. */
  readonly dialect: SqlDialectName;
  /** The Kysely query builder. */
  readonly db: Kysely<DB>;
  /**
   * Runs `fn` and maps any driver error it throws to a {@link CoreError}
   * (`ERR_STORE_UNAVAILABLE` when retryable, `ERR_STORE_FAILURE` otherwise).
   */
  run<T>(operation: string, fn: (db: Kysely<DB>) => Promise<T>): Promise<T>;
  /** Closes what this handle opened (a database file); a pool passed in is left open. */
  close(): Promise<void>;
}

/** A migration: an id unique within its namespace and the change it makes. */
export interface Migration {
  /** Sortable, never reused, e.g. `0001-create-users`. */
  readonly id: string;
  /**
   * Applies the change inside the migration transaction. Migrations see the
   * schema as it was when they were written, not today's table map, hence `any`
   * (Kysely's own advice for migrations).
   */
  // biome-ignore lint/suspicious/noExplicitAny: see above
  up(db: Kysely<any>, dialect: SqlDialectName): Promise<void>;
}

/**
 * @internal Direct execution on a synchronous driver's connection (SQLite),
 * bypassing Kysely's per-query machinery. Only while `available()`: no
 * transaction is open on the connection, so a statement run now, to its end,
 * cannot land inside someone else's transaction.
 */
export interface DirectExecution {
  available(): boolean;
  run(sql: string, params: readonly unknown[]): { rows: unknown[]; numAffectedRows: bigint | undefined };
  /**
   * Runs `fn` in one transaction, synchronously (BEGIN … COMMIT, ROLLBACK on
   * a throw). `immediate` takes the write lock at BEGIN, for a transaction
   * that reads before it writes (so another process's commit in between
   * cannot make its first write fail with SQLITE_BUSY_SNAPSHOT).
   */
  transaction<T>(fn: () => T, mode?: 'deferred' | 'immediate'): T;
}

/** @internal Where a {@link SqlDatabase} keeps its {@link DirectExecution}. */
export const DIRECT: unique symbol = Symbol('provisioning.sql.direct');

/** @internal The database's direct execution, if it has one and it is usable right now. */
export function directExecution(database: SqlDatabase): DirectExecution | undefined {
  const direct = (database as { [DIRECT]?: DirectExecution })[DIRECT];
  return direct?.available() ? direct : undefined;
}

/** @internal Runs compiled SQL directly when the driver allows it now, else through Kysely. */
export async function executeCompiled<R>(
  database: SqlDatabase,
  db: Kysely<unknown>,
  text: string,
  params: readonly unknown[],
): Promise<{ rows: R[]; numAffectedRows: bigint | undefined }> {
  const direct = directExecution(database);
  if (direct !== undefined) return direct.run(text, params) as { rows: R[]; numAffectedRows: bigint | undefined };
  const result = await db.executeQuery<R>(CompiledQuery.raw(text, [...params]));
  return { rows: result.rows, numAffectedRows: result.numAffectedRows };
}

/** @internal Builds a {@link SqlDatabase} around a Kysely instance. */
export function wrapDatabase<DB>(
  dialect: SqlDialectName,
  db: Kysely<DB>,
  closeOwned: () => Promise<void>,
  direct?: DirectExecution,
): SqlDatabase<DB> {
  let closed = false;
  const database: SqlDatabase<DB> = {
    dialect,
    db,
    async run<T>(operation: string, fn: (db: Kysely<DB>) => Promise<T>): Promise<T> {
      if (closed) {
        throw new CoreError(`${operation}: the database handle is closed`, {
          code: 'ERR_STORE_CLOSED',
          fault: 'client',
        });
      }
      try {
        return await fn(db);
      } catch (error) {
        throw mapSqlError(dialect, error, operation);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await closeOwned();
    },
  };
  if (direct !== undefined) Object.defineProperty(database, DIRECT, { value: direct });
  return database;
}

const NAMESPACE = /^[a-z][a-z0-9_-]{0,62}$/;

/**
 * Applies the `migrations` of one `namespace` (e.g. `auth`) that have not
 * been applied yet, in id order, each in its own transaction together with
 * its bookkeeping row, so a failure applies nothing of that migration.
 * Concurrent callers on PostgreSQL serialize on an advisory lock; on SQLite
 * on the database's write lock. Stores call it when they open.
 *
 * @throws CoreError `ERR_STORE_MIGRATION` when a migration fails; `ERR_INVALID_OPTIONS` for a bad namespace or duplicate ids.
 * @example
 * ```ts
 * await migrate(database, 'auth', [{ id: '0001-users', up: (db) => db.schema.createTable('users')…execute() }]);
 * ```
 */
export async function migrate<DB>(
  database: SqlDatabase<DB>,
  namespace: string,
  migrations: readonly Migration[],
): Promise<void> {
  if (!NAMESPACE.test(namespace)) {
    throw new CoreError('migration namespaces are lowercase identifiers', {
      code: 'ERR_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const ids = migrations.map((m) => m.id);
  if (new Set(ids).size !== ids.length) {
    throw new CoreError('migration ids must be unique', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  const ordered = [...migrations].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // biome-ignore lint/suspicious/noExplicitAny: the bookkeeping table is not in the caller's table map
  const db = database.db as Kysely<any>;
  await database.run('migrate', (k) =>
    sql`CREATE TABLE IF NOT EXISTS provisioning_migrations (namespace TEXT NOT NULL, id TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (namespace, id))`.execute(
      k,
    ),
  );
  for (const migration of ordered) {
    try {
      await db.transaction().execute(async (trx) => {
        if (database.dialect === 'postgres') {
          // One migrator at a time across every instance sharing the database.
          await sql`SELECT pg_advisory_xact_lock(hashtext('provisioning_migrations'))`.execute(trx);
        } else {
          // Take SQLite's write lock now, so two processes cannot both read "not applied".
          await sql`DELETE FROM provisioning_migrations WHERE 0`.execute(trx);
        }
        const done = await sql<{
          id: string;
        }>`SELECT id FROM provisioning_migrations WHERE namespace = ${namespace} AND id = ${migration.id}`.execute(trx);
        if (done.rows.length > 0) return;
        await migration.up(trx, database.dialect);
        await sql`INSERT INTO provisioning_migrations (namespace, id, applied_at) VALUES (${namespace}, ${migration.id}, ${new Date().toISOString()})`.execute(
          trx,
        );
      });
    } catch (error) {
      const mapped = mapSqlError(database.dialect, error, 'migrate');
      if (mapped.retryable) throw mapped;
      throw new CoreError(`migration ${namespace}/${migration.id} failed; nothing of it was applied`, {
        code: 'ERR_STORE_MIGRATION',
        fault: 'server',
        cause: error,
        details: { namespace, id: migration.id },
      });
    }
  }
}
