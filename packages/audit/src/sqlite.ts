/**
 * The SQLite audit store (better-sqlite3 12, an optional peer dependency),
 * through `@provisioning/core/sqlite`.
 *
 * @module
 */
import type { SqlDatabase } from '@provisioning/core/sql';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { sql } from 'kysely';
import { AuditError } from './errors.js';
import type { SqlAuditStoreOptions } from './sinks/sql.js';
import { sqlAuditStore } from './sinks/sql.js';
import type { AuditStore } from './store.js';

/** Options of {@link sqliteAuditStore}: a file to open, or a database to share. */
export type SqliteAuditStoreOptions = SqlAuditStoreOptions &
  (
    | {
        readonly filename: string;
        /**
         * `auto` (default): `synchronous = FULL` for batches holding a durable
         * `record()` (fsync at every such commit: it survives power loss) and
         * NORMAL for the others (survives a process crash; fsync at WAL
         * checkpoints). `full`: FULL always. `normal`: NORMAL always.
         */
        readonly synchronous?: 'auto' | 'full' | 'normal';
        readonly database?: never;
      }
    | {
        /** A database to share. Open it with `synchronous: 'full'` if you use durable mode: this store leaves its settings alone. */
        readonly database: SqlDatabase;
        readonly filename?: never;
        readonly synchronous?: never;
      }
  );

/**
 * An {@link AuditStore} in a SQLite file (WAL; `synchronous = FULL` for
 * durable batches): indexed queries, append-only tables enforced by triggers
 * (`RAISE(ABORT)` on UPDATE and DELETE, except expired events deleted by the
 * signed retention purge). Creates its tables on open.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS`; `ERR_AUDIT_SINK_WRITE` when the database fails.
 * @example
 * ```ts
 * import { createAuditLog } from '@provisioning/audit';
 * import { sqliteAuditStore } from '@provisioning/audit/sqlite';
 * const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename: './data/audit.db' })], durable: true });
 * ```
 */
export async function sqliteAuditStore(options: SqliteAuditStoreOptions): Promise<AuditStore> {
  const owns = options.database === undefined;
  const mode = options.synchronous ?? 'auto';
  const database =
    options.database ??
    sqliteDatabase({ filename: options.filename as string, synchronous: mode === 'normal' ? 'normal' : 'full' });
  if (database.dialect !== 'sqlite') {
    throw new AuditError('sqliteAuditStore needs a SQLite database', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  try {
    if (owns) {
      // Seven indexes take random inserts: once they outgrow SQLite's 2 MiB page cache, appends
      // keep re-reading pages from the OS (measured at 100,000 events: the system CPU time of an
      // append roughly halved, a fifth of its total). 32 MiB, allocated only as pages are used.
      await sql`PRAGMA cache_size = -32768`.execute(database.db);
    }
    return await sqlAuditStore(database, { ...options, synchronousPerBatch: owns && mode === 'auto' }, owns);
  } catch (error) {
    if (owns) await database.close();
    throw error;
  }
}

export type { SqlAuditStoreOptions };
