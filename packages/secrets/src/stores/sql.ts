import type { Migration, SqlDatabase } from '@provisioning/core/sql';
import { migrate, sqlStatement } from '@provisioning/core/sql';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { clientError, SecretsError } from '../errors.js';
import type { Lease, LeaseFilter, LeaseState, LeaseStore } from '../lease.js';
import { dueAt, filterLimit } from '../lease.js';

/** Options of {@link sqlLeaseStore}. */
export interface SqlLeaseStoreOptions {
  /** An open database: `sqliteDatabase()` or `postgresDatabase()` from `@provisioning/core`. */
  readonly database: SqlDatabase;
  /** Table name, a lowercase identifier. Default `provisioning_leases`. */
  readonly tableName?: string;
  /** Close `database` when the store is closed. Default `false` (the caller owns it). */
  readonly closeDatabase?: boolean;
}

type Num = number | string | bigint;
interface Row {
  id: string;
  provider: string;
  owner: string;
  state: string;
  ttl_seconds: Num;
  max_ttl_seconds: Num;
  renewable: Num | boolean;
  created_at: Num;
  expires_at: Num;
  max_expires_at: Num;
  metadata: string;
  revoke_attempts: Num;
  next_attempt_at: Num | null;
  last_error_code: string | null;
  version: Num;
}

const TABLE = /^[a-z_][a-z0-9_]{0,62}$/;

function toLease(row: Row): Lease {
  return Object.freeze({
    id: row.id,
    provider: row.provider,
    owner: row.owner,
    state: row.state as LeaseState,
    ttlSeconds: Number(row.ttl_seconds),
    maxTtlSeconds: Number(row.max_ttl_seconds),
    renewable: Number(row.renewable) === 1 || row.renewable === true,
    createdAt: new Date(Number(row.created_at)),
    expiresAt: new Date(Number(row.expires_at)),
    maxExpiresAt: new Date(Number(row.max_expires_at)),
    metadata: Object.freeze(JSON.parse(row.metadata) as Record<string, string>),
    revokeAttempts: Number(row.revoke_attempts),
    nextAttemptAt: row.next_attempt_at === null ? undefined : new Date(Number(row.next_attempt_at)),
    lastErrorCode: row.last_error_code ?? undefined,
    version: Number(row.version),
  });
}

function values(lease: Lease) {
  return {
    provider: lease.provider,
    owner: lease.owner,
    state: lease.state,
    ttl: lease.ttlSeconds,
    maxTtl: lease.maxTtlSeconds,
    renewable: lease.renewable ? 1 : 0,
    created: lease.createdAt.getTime(),
    expires: lease.expiresAt.getTime(),
    maxExpires: lease.maxExpiresAt.getTime(),
    metadata: JSON.stringify(lease.metadata),
    attempts: lease.revokeAttempts,
    next: lease.nextAttemptAt?.getTime() ?? null,
    lastError: lease.lastErrorCode ?? null,
    version: lease.version,
    due: dueAt(lease),
  };
}

/**
 * A {@link LeaseStore} on SQL, written once for SQLite and PostgreSQL
 * (Kysely, through `@provisioning/core/sql`). Leases survive restarts, so the
 * TTL manager still revokes what expired while the process was down, and
 * several instances sharing a PostgreSQL database share the leases (updates
 * are compare-and-set on a version column). Creates its table on open.
 *
 * @throws CoreError `ERR_STORE_*` from the database; `ERR_SECRETS_INVALID_OPTIONS` for a bad table name.
 * @example
 * ```ts
 * import { sqliteDatabase } from '@provisioning/core/sqlite';
 * import { sqlLeaseStore } from '@provisioning/secrets/sql';
 * const store = await sqlLeaseStore({ database: sqliteDatabase({ filename: './data/leases.db' }) });
 * ```
 */
export async function sqlLeaseStore(options: SqlLeaseStoreOptions): Promise<LeaseStore> {
  const database = options?.database;
  if (database === undefined || typeof database.run !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'sqlLeaseStore needs a SqlDatabase');
  }
  const tableName = options.tableName ?? 'provisioning_leases';
  if (!TABLE.test(tableName)) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'tableName must be a lowercase SQL identifier');
  }
  const pg = database.dialect === 'postgres';
  const migrations: Migration[] = [
    {
      id: '0001-create',
      async up(db) {
        // COLLATE "C": byte order, so id order and prefixes agree on every locale.
        const idType = pg ? sql.raw('TEXT COLLATE "C"') : sql.raw('TEXT');
        const int = pg ? sql.raw('BIGINT') : sql.raw('INTEGER');
        await sql`CREATE TABLE ${sql.table(tableName)} (
          id ${idType} PRIMARY KEY, provider TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL,
          ttl_seconds ${int} NOT NULL, max_ttl_seconds ${int} NOT NULL, renewable ${int} NOT NULL,
          created_at ${int} NOT NULL, expires_at ${int} NOT NULL, max_expires_at ${int} NOT NULL,
          metadata TEXT NOT NULL, revoke_attempts ${int} NOT NULL, next_attempt_at ${int},
          last_error_code TEXT, version ${int} NOT NULL, due_at ${int} NOT NULL)`.execute(db);
        await sql`CREATE INDEX ${sql.id(`${tableName}_due_at`)} ON ${sql.table(tableName)} (due_at)`.execute(db);
        await sql`CREATE INDEX ${sql.id(`${tableName}_owner`)} ON ${sql.table(tableName)} (owner)`.execute(db);
      },
    },
  ];
  await migrate(database, `secrets-${tableName.replace(/_/g, '-')}`.slice(0, 63), migrations);

  const db = database.db as Kysely<unknown>;
  const t = sql.table(tableName);
  const cols = sql.raw(
    'id, provider, owner, state, ttl_seconds, max_ttl_seconds, renewable, created_at, expires_at, max_expires_at, metadata, revoke_attempts, next_attempt_at, last_error_code, version',
  );
  type Values = ReturnType<typeof values> & { id: string };
  // Issuing a lease writes one row (the hot path of certificate issuance):
  // compiled once instead of on every call.
  const INSERT = sqlStatement<Values>(database, 'leases.insert', (v) =>
    sql`INSERT INTO ${t} (${cols}, due_at) VALUES (${v.id}, ${v.provider}, ${v.owner}, ${v.state},
        ${v.ttl}, ${v.maxTtl}, ${v.renewable}, ${v.created}, ${v.expires}, ${v.maxExpires}, ${v.metadata}, ${v.attempts},
        ${v.next}, ${v.lastError}, ${v.version}, ${v.due}) ON CONFLICT (id) DO NOTHING`.compile(db),
  );
  let closed = false;
  const run = <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) {
      return Promise.reject(
        new SecretsError('the lease store is closed', { code: 'ERR_SECRETS_INVALID_OPTIONS', fault: 'client' }),
      );
    }
    return database.run(operation, fn);
  };

  return {
    id: database.dialect,
    async insert(lease) {
      const inserted = await run('leases.insert', async () => {
        const result = await INSERT.execute({ ...values(lease), id: lease.id });
        return Number(result.numAffectedRows ?? 0n);
      });
      if (inserted !== 1) throw clientError('ERR_SECRETS_INVALID_REQUEST', 'a lease with this id exists');
    },
    async get(id) {
      return run('leases.get', async () => {
        const { rows } = await sql<Row>`SELECT ${cols} FROM ${t} WHERE id = ${id}`.execute(db);
        return rows[0] === undefined ? undefined : toLease(rows[0]);
      });
    },
    async update(next, expectedVersion) {
      const v = values(next);
      return run('leases.update', async () => {
        const result = await sql`UPDATE ${t} SET provider = ${v.provider}, owner = ${v.owner}, state = ${v.state},
          ttl_seconds = ${v.ttl}, max_ttl_seconds = ${v.maxTtl}, renewable = ${v.renewable}, created_at = ${v.created},
          expires_at = ${v.expires}, max_expires_at = ${v.maxExpires}, metadata = ${v.metadata},
          revoke_attempts = ${v.attempts}, next_attempt_at = ${v.next}, last_error_code = ${v.lastError},
          version = ${v.version}, due_at = ${v.due}
          WHERE id = ${next.id} AND version = ${expectedVersion}`.execute(db);
        return Number(result.numAffectedRows ?? 0n) === 1;
      });
    },
    async delete(id) {
      return run('leases.delete', async () => {
        const result = await sql`DELETE FROM ${t} WHERE id = ${id}`.execute(db);
        return Number(result.numAffectedRows ?? 0n) === 1;
      });
    },
    async list(filter?: LeaseFilter) {
      const limit = filterLimit(filter);
      const where = [sql`1 = 1`];
      if (filter?.owner !== undefined) where.push(sql`owner = ${filter.owner}`);
      if (filter?.provider !== undefined) where.push(sql`provider = ${filter.provider}`);
      if (filter?.state !== undefined) where.push(sql`state = ${filter.state}`);
      if (filter?.prefix !== undefined) {
        // substr, not LIKE: LIKE is case-insensitive on SQLite and treats % and _ as wildcards.
        where.push(sql`substr(id, 1, ${filter.prefix.length}) = ${filter.prefix}`);
      }
      if (filter?.after !== undefined) where.push(sql`id > ${filter.after}`);
      return run('leases.list', async () => {
        const { rows } = await sql<Row>`SELECT ${cols} FROM ${t} WHERE ${sql.join(where, sql` AND `)}
          ORDER BY id LIMIT ${limit}`.execute(db);
        return rows.map(toLease);
      });
    },
    async due(now, limit) {
      return run('leases.due', async () => {
        const { rows } = await sql<Row>`SELECT ${cols} FROM ${t} WHERE due_at <= ${now.getTime()}
          ORDER BY due_at, id LIMIT ${limit}`.execute(db);
        return rows.map(toLease);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (options.closeDatabase === true) await database.close();
    },
  };
}
