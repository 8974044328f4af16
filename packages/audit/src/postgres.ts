/**
 * The PostgreSQL audit store (pg 8, an optional peer dependency), through
 * `@provisioning/core/postgres`.
 *
 * @module
 */
import { postgresDatabase } from '@provisioning/core/postgres';
import type { SqlDatabase } from '@provisioning/core/sql';
import type { Pool } from 'pg';
import { AuditError } from './errors.js';
import type { SqlAuditStoreOptions } from './sinks/sql.js';
import { sqlAuditStore } from './sinks/sql.js';
import type { AuditStore } from './store.js';

/** Options of {@link postgresAuditStore}: a pool, or a database handle to share. */
export type PostgresAuditStoreOptions = SqlAuditStoreOptions &
  ({ readonly pool: Pool; readonly database?: never } | { readonly database: SqlDatabase; readonly pool?: never });

/**
 * An {@link AuditStore} on PostgreSQL: indexed queries; tables append-only by
 * triggers (UPDATE, DELETE and TRUNCATE raise, except expired events deleted
 * by the signed retention purge). A commit is durable as far as the server's
 * `synchronous_commit` and `fsync` settings make it. One writer per chain
 * (`tablePrefix`); several readers.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS`; `ERR_AUDIT_SINK_WRITE` when the database fails.
 * @example
 * ```ts
 * import { postgresAuditStore } from '@provisioning/audit/postgres';
 * const store = await postgresAuditStore({ pool });
 * const log = await createAuditLog({ sinks: [store] });
 * ```
 */
export async function postgresAuditStore(options: PostgresAuditStoreOptions): Promise<AuditStore> {
  const database = options.database ?? postgresDatabase({ pool: options.pool as Pool });
  if (database.dialect !== 'postgres') {
    throw new AuditError('postgresAuditStore needs a PostgreSQL database', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  return sqlAuditStore(database, options, options.database === undefined);
}

export type { SqlAuditStoreOptions };
