import type { CompiledQuery, Kysely } from 'kysely';
import type { SqlDatabase } from './sql-database.js';
import { executeCompiled } from './sql-database.js';

/** What running a {@link SqlStatement} returns: the rows (`RETURNING` too), and the rows a write changed. */
export interface SqlStatementResult<R> {
  readonly rows: R[];
  /** Rows inserted, updated or deleted (writes only). */
  readonly numAffectedRows: bigint | undefined;
}

/**
 * A query compiled once, run many times with new parameters. See {@link sqlStatement}.
 *
 * @typeParam P - the named parameters.
 * @typeParam R - a row of the result.
 */
export interface SqlStatement<P, R> {
  /** The SQL text, with the dialect's placeholders. */
  readonly sql: string;
  /**
   * Runs the statement with `params` (mapped to the placeholders in the order
   * the query uses them). Driver errors reject as `CoreError`, like `database.run()`.
   */
  execute(params: P): Promise<SqlStatementResult<R>>;
  /** The parameter values in placeholder order, to run {@link SqlStatement.sql} some other way (inside a transaction). */
  values(params: P): unknown[];
}

/**
 * Compiles a Kysely query once, for a store's hot path: Kysely builds and
 * compiles its operation tree on every call, which costs more than a small
 * SQLite statement itself. `build` receives stand-ins for the named
 * parameters and returns the compiled query; every stand-in must become a
 * bound parameter (values the builder would inline, such as identifiers or
 * `sql.raw`, cannot be parameters).
 *
 * On SQLite, a statement run outside any open transaction executes directly
 * on the connection's cached prepared statement (the driver is synchronous,
 * so nothing can interleave); inside another caller's transaction it waits
 * its turn through Kysely instead of joining that transaction.
 *
 * @example
 * ```ts
 * const byUser = sqlStatement(database, 'listDevices', (p: { userId: string }) =>
 *   db.selectFrom('devices').selectAll().where('user_id', '=', p.userId).compile(),
 * );
 * const { rows } = await byUser.execute({ userId });
 * ```
 */
export function sqlStatement<P extends object, R = Record<string, unknown>>(
  database: SqlDatabase,
  operation: string,
  build: (params: P, db: Kysely<unknown>) => CompiledQuery,
): SqlStatement<P, R> {
  const names = new Map<object, keyof P>();
  const standIns = new Proxy({} as P, {
    get(_, name) {
      const marker = Object.freeze({ name });
      names.set(marker, name as keyof P);
      return marker;
    },
  });
  const compiled = build(standIns, database.db as Kysely<unknown>);
  const order = compiled.parameters.map((value) => {
    const name = typeof value === 'object' && value !== null ? names.get(value) : undefined;
    if (name === undefined) throw new TypeError(`sqlStatement ${operation}: every parameter must be a named stand-in`);
    return name;
  });
  const values = (params: P): unknown[] => order.map((name) => params[name]);
  return {
    sql: compiled.sql,
    values,
    execute: (params) =>
      database.run(operation, (db) =>
        executeCompiled<R>(database, db as Kysely<unknown>, compiled.sql, values(params)),
      ),
  };
}
