/**
 * SQL stores of `@provisioning/compliance` for SQLite and PostgreSQL, written
 * once on the Kysely layer of `@provisioning/core/sql`. Open the database with
 * `sqliteDatabase()` (`@provisioning/core/sqlite`) or `postgresDatabase()`
 * (`@provisioning/core/postgres`).
 *
 * @module
 */
import type { SqlDatabase } from '@provisioning/core/sql';
import { migrate } from '@provisioning/core/sql';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DsrRecord } from './dsr-model.js';
import type { DsrListFilter, DsrStore } from './dsr-store.js';
import { closedError, conflictError, listLimit, notFoundError } from './dsr-store.js';
import { ComplianceError } from './errors.js';

/** Options of {@link sqlDsrStore}. */
export interface SqlDsrStoreOptions {
  /** A database from `sqliteDatabase()` or `postgresDatabase()`. It stays open on `close()` unless `ownsDatabase`. */
  readonly database: SqlDatabase;
  /** Table name, a lowercase identifier. Default `compliance_dsr_requests`. */
  readonly tableName?: string;
  /** Close the database with the store. Default `false`. */
  readonly ownsDatabase?: boolean;
}

const TABLE = /^[a-z_][a-z0-9_]{0,50}$/;

interface Row {
  id: string;
  version: number | string;
  record: string;
}

/**
 * A {@link DsrStore} on SQLite or PostgreSQL. Creates its table on open
 * (migration namespace `compliance-<table>`). `update` is one
 * `UPDATE … WHERE id = ? AND version = ?` statement, so the compare-and-set
 * holds across processes and instances.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS`; CoreError `ERR_STORE_*` from the database.
 * @example
 * ```ts
 * import { sqliteDatabase } from '@provisioning/core/sqlite';
 * import { sqlDsrStore } from '@provisioning/compliance/sql';
 * const store = await sqlDsrStore({ database: sqliteDatabase({ filename: './data/compliance.db' }), ownsDatabase: true });
 * ```
 */
export async function sqlDsrStore(options: SqlDsrStoreOptions): Promise<DsrStore> {
  const database = options?.database;
  if (!database || typeof database.run !== 'function') {
    throw new ComplianceError('sqlDsrStore needs a SQL database', {
      code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const tableName = options.tableName ?? 'compliance_dsr_requests';
  if (!TABLE.test(tableName)) {
    throw new ComplianceError('tableName must be a lowercase SQL identifier', {
      code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const pg = database.dialect === 'postgres';
  await migrate(database, `compliance-${tableName.replace(/_/g, '-')}`, [
    {
      id: '0001-create',
      async up(db) {
        const text = pg ? sql.raw('TEXT COLLATE "C"') : sql.raw('TEXT');
        const big = pg ? sql.raw('BIGINT') : sql.raw('INTEGER');
        await sql`CREATE TABLE ${sql.table(tableName)} (
          id ${text} PRIMARY KEY,
          subject_id ${text} NOT NULL,
          type TEXT NOT NULL,
          status TEXT NOT NULL,
          received_at ${big} NOT NULL,
          due_at ${big} NOT NULL,
          version ${big} NOT NULL,
          record TEXT NOT NULL
        )`.execute(db);
        await sql`CREATE INDEX ${sql.id(`${tableName}_subject`)} ON ${sql.table(tableName)} (subject_id)`.execute(db);
        await sql`CREATE INDEX ${sql.id(`${tableName}_status_due`)} ON ${sql.table(tableName)} (status, due_at)`.execute(
          db,
        );
      },
    },
  ]);
  const db = database.db as Kysely<unknown>;
  const t = sql.table(tableName);
  let closed = false;
  const run = <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(closedError());
    return database.run(`compliance.${operation}`, fn);
  };
  const columns = (r: DsrRecord) => ({
    subject: r.subjectId,
    received: Date.parse(r.receivedAt),
    due: Date.parse(r.dueAt),
    text: JSON.stringify(r),
  });

  return {
    id: database.dialect,
    async create(record) {
      const c = columns(record);
      const inserted = await run('create', () =>
        sql<Row>`INSERT INTO ${t} (id, subject_id, type, status, received_at, due_at, version, record)
          VALUES (${record.id}, ${c.subject}, ${record.type}, ${record.status}, ${c.received}, ${c.due}, ${record.version}, ${c.text})
          ON CONFLICT (id) DO NOTHING RETURNING id`.execute(db),
      );
      if (inserted.rows.length === 0) throw conflictError(record.id);
    },
    async get(id) {
      const result = await run('get', () =>
        sql<Row>`SELECT id, version, record FROM ${t} WHERE id = ${id}`.execute(db),
      );
      const row = result.rows[0];
      return row ? (JSON.parse(row.record) as DsrRecord) : undefined;
    },
    async update(record) {
      const c = columns(record);
      const result = await run('update', () =>
        sql<Row>`UPDATE ${t} SET status = ${record.status}, due_at = ${c.due}, version = ${record.version}, record = ${c.text}
          WHERE id = ${record.id} AND version = ${record.version - 1} RETURNING id`.execute(db),
      );
      if (result.rows.length > 0) return;
      const exists = await run('update', () => sql<Row>`SELECT id FROM ${t} WHERE id = ${record.id}`.execute(db));
      throw exists.rows.length > 0 ? conflictError(record.id) : notFoundError(record.id);
    },
    async list(filter: DsrListFilter = {}) {
      const limit = listLimit(filter.limit);
      const where = [sql`1 = 1`];
      if (filter.subjectId !== undefined) where.push(sql`subject_id = ${filter.subjectId}`);
      if (filter.statuses !== undefined) {
        if (filter.statuses.length === 0) return [];
        where.push(sql`status IN (${sql.join(filter.statuses.map((s) => sql`${s}`))})`);
      }
      if (filter.dueBefore !== undefined) where.push(sql`due_at < ${filter.dueBefore.getTime()}`);
      const result = await run('list', () =>
        sql<Row>`SELECT id, version, record FROM ${t} WHERE ${sql.join(where, sql` AND `)}
          ORDER BY received_at, id LIMIT ${limit}`.execute(db),
      );
      return result.rows.map((row) => JSON.parse(row.record) as DsrRecord);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (options.ownsDatabase) await database.close();
    },
  };
}

export type { DsrListFilter, DsrStore } from './dsr-store.js';
