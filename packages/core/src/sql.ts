/**
 * The SQL layer (Kysely) the SDK's richer stores are written on, once for
 * SQLite and PostgreSQL. Open a database with `sqliteDatabase()` or
 * `postgresDatabase()`, then `migrate()` your tables.
 *
 * @module
 */
export type { Migration, SqlDatabase, SqlDialectName } from './stores/sql-database.js';
export { migrate } from './stores/sql-database.js';
export { mapSqlError } from './stores/sql-errors.js';
export type { SqlFollowUp, SqlKeyValueStore, SqlKeyValueStoreOptions } from './stores/sql-kv.js';
export { guardedClaimWith } from './stores/sql-kv.js';
export type { SqlStatement, SqlStatementResult } from './stores/sql-statement.js';
export { sqlStatement } from './stores/sql-statement.js';
