/**
 * SQL stores of `@provisioning/auth` (SQLite and PostgreSQL through core's
 * Kysely layer). Open the database with `sqliteDatabase()` from
 * `@provisioning/core/sqlite` or `postgresDatabase()` from
 * `@provisioning/core/postgres`; this module itself imports no driver.
 *
 * @module
 */
import type { Clock } from '@provisioning/core';
import { isSdkError, systemClock } from '@provisioning/core';
import type { SqlDatabase } from '@provisioning/core/sql';
import { migrate } from '@provisioning/core/sql';
import type { Kysely } from 'kysely';
import { authError } from './errors.js';
import type { User, UserStore } from './users.js';
import { applyPatch, buildUser, listLimit, normalizeUsername } from './users.js';

/** @internal The table map of the auth stores. */
interface AuthTables {
  auth_users: {
    id: string;
    username: string;
    email: string | null;
    password_hash: string | null;
    roles: string;
    teams: string;
    disabled: number;
    mfa_enabled: number;
    created_at: number | string;
    updated_at: number | string;
  };
}
type Row = AuthTables['auth_users'];

/** Options of {@link sqlUserStore}. */
export interface SqlUserStoreOptions {
  /** A database from `sqliteDatabase()` or `postgresDatabase()`. It stays open when the store is dropped. */
  readonly database: SqlDatabase;
  /** Time source for `createdAt`/`updatedAt`. Default: the system clock. */
  readonly clock?: Clock;
}

const toRow = (u: User): Row => ({
  id: u.id,
  username: u.username,
  email: u.email ?? null,
  password_hash: u.passwordHash ?? null,
  roles: JSON.stringify(u.roles),
  teams: JSON.stringify(u.teams),
  disabled: u.disabled ? 1 : 0,
  mfa_enabled: u.mfaEnabled ? 1 : 0,
  created_at: u.createdAt.getTime(),
  updated_at: u.updatedAt.getTime(),
});

const fromRow = (r: Row): User => ({
  id: r.id,
  username: r.username,
  email: r.email ?? undefined,
  passwordHash: r.password_hash ?? undefined,
  roles: JSON.parse(r.roles) as string[],
  teams: JSON.parse(r.teams) as string[],
  disabled: Number(r.disabled) === 1,
  mfaEnabled: Number(r.mfa_enabled) === 1,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

// Unique violations: PostgreSQL SQLSTATE 23505, SQLite's constraint codes.
const isUniqueViolation = (error: unknown): boolean => {
  const code = isSdkError(error) ? (error.details.driverCode as string | undefined) : undefined;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
};

/**
 * A {@link UserStore} on SQLite or PostgreSQL, written once with Kysely.
 * Creates its table (`auth_users`) on open through core's `migrate()`.
 *
 * @throws CoreError `ERR_STORE_MIGRATION` / `ERR_STORE_UNAVAILABLE` when the table cannot be created.
 * @example
 * ```ts
 * import { sqliteDatabase } from '@provisioning/core/sqlite';
 * import { sqlUserStore } from '@provisioning/auth/sql';
 * const users = await sqlUserStore({ database: sqliteDatabase({ filename: './data/auth.db' }) });
 * ```
 */
export async function sqlUserStore(options: SqlUserStoreOptions): Promise<UserStore> {
  const database = options.database as unknown as SqlDatabase<AuthTables>;
  if (typeof database?.run !== 'function')
    throw authError('ERR_AUTH_INVALID_OPTIONS', 'sqlUserStore needs a SqlDatabase');
  const clock = options.clock ?? systemClock;
  await migrate(options.database, 'auth', [
    {
      id: '0001-users',
      async up(db, dialect) {
        const big = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('auth_users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('email', 'text')
          .addColumn('password_hash', 'text')
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('teams', 'text', (c) => c.notNull())
          .addColumn('disabled', 'integer', (c) => c.notNull())
          .addColumn('mfa_enabled', 'integer', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('updated_at', big, (c) => c.notNull())
          .execute();
      },
    },
  ]);
  const run = <T>(op: string, fn: (db: Kysely<AuthTables>) => Promise<T>): Promise<T> => database.run(op, fn);
  const findById = async (id: string): Promise<User | undefined> => {
    const row = await run('users.findById', (db) =>
      db.selectFrom('auth_users').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row === undefined ? undefined : fromRow(row);
  };

  return {
    id: database.dialect,
    async create(input) {
      const user = buildUser(input, clock);
      try {
        await run('users.create', (db) => db.insertInto('auth_users').values(toRow(user)).execute());
      } catch (error) {
        if (isUniqueViolation(error)) throw authError('ERR_AUTH_USER_EXISTS', 'a user with this id or username exists');
        throw error;
      }
      return user;
    },
    findById,
    async findByUsername(username) {
      let name: string;
      try {
        name = normalizeUsername(username);
      } catch {
        return undefined;
      }
      const row = await run('users.findByUsername', (db) =>
        db.selectFrom('auth_users').selectAll().where('username', '=', name).executeTakeFirst(),
      );
      return row === undefined ? undefined : fromRow(row);
    },
    async update(id, patch) {
      const user = await findById(id);
      if (user === undefined) throw authError('ERR_AUTH_USER_NOT_FOUND', 'no such user');
      const next = applyPatch(user, patch, clock);
      const { id: _id, username: _u, created_at: _c, ...changes } = toRow(next);
      const result = await run('users.update', (db) =>
        db.updateTable('auth_users').set(changes).where('id', '=', id).executeTakeFirst(),
      );
      if (Number(result.numUpdatedRows) === 0) throw authError('ERR_AUTH_USER_NOT_FOUND', 'no such user');
      return next;
    },
    async delete(id) {
      const result = await run('users.delete', (db) =>
        db.deleteFrom('auth_users').where('id', '=', id).executeTakeFirst(),
      );
      return Number(result.numDeletedRows) > 0;
    },
    async list(opts) {
      const limit = listLimit(opts);
      const rows = await run('users.list', (db) => {
        let q = db.selectFrom('auth_users').selectAll().orderBy('id').limit(limit);
        if (opts?.after !== undefined) q = q.where('id', '>', opts.after);
        return q.execute();
      });
      return rows.map(fromRow);
    },
  };
}
