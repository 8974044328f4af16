/**
 * The {@link MfaStore} on SQL (Kysely), written once for SQLite and
 * PostgreSQL. Open the database with `sqliteDatabase()` from
 * `@provisioning/core/sqlite` or `postgresDatabase()` from
 * `@provisioning/core/postgres`.
 *
 * @module
 */
import { CoreError } from '@provisioning/core';
import type { SqlDatabase } from '@provisioning/core/sql';
import { guardedClaimWith, migrate, sqlStatement } from '@provisioning/core/sql';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { MfaError } from './errors.js';
import type { CounterUpdate, DeleteDeviceOutcome, MfaDevice, MfaStore } from './store.js';
import type { TotpAlgorithm } from './totp.js';

/**
 * Options of {@link sqlMfaStore}.
 *
 * @example
 * ```ts
 * await sqlMfaStore({ database: postgresDatabase({ pool }) });
 * ```
 */
export interface SqlMfaStoreOptions {
  /** The database (SQLite or PostgreSQL). It stays open when the store is closed: its owner closes it. */
  readonly database: SqlDatabase;
}

interface DeviceRow {
  id: string;
  user_id: string;
  type: string;
  name: string;
  created_at: number | string;
  confirmed_at: number | string | null;
  last_used_at: number | string | null;
  totp_secret: string | null;
  totp_algorithm: string | null;
  totp_digits: number | null;
  totp_period: number | null;
  credential_id: string | null;
  public_key: string | null;
  counter: number | string | null;
  transports: string | null;
  device_type: string | null;
  backed_up: number | boolean | null;
  aaguid: string | null;
  user_handle: string | null;
}

interface BackupRow {
  user_id: string;
  hash: string;
  created_at: number | string;
}

interface Tables {
  mfa_devices: DeviceRow;
  mfa_backup_codes: BackupRow;
}

const date = (v: number | string | null): Date | undefined => (v === null ? undefined : new Date(Number(v)));

function fromRow(r: DeviceRow): MfaDevice {
  return {
    id: r.id,
    userId: r.user_id,
    type: r.type as MfaDevice['type'],
    name: r.name,
    createdAt: new Date(Number(r.created_at)),
    confirmedAt: date(r.confirmed_at),
    lastUsedAt: date(r.last_used_at),
    totp:
      r.totp_secret === null
        ? undefined
        : {
            secretCiphertext: r.totp_secret,
            algorithm: r.totp_algorithm as TotpAlgorithm,
            digits: Number(r.totp_digits),
            periodSeconds: Number(r.totp_period),
          },
    webauthn:
      r.credential_id === null
        ? undefined
        : {
            credentialId: r.credential_id,
            publicKey: r.public_key as string,
            counter: Number(r.counter),
            transports: JSON.parse(r.transports ?? '[]') as string[],
            deviceType: r.device_type as 'singleDevice' | 'multiDevice',
            backedUp: Boolean(r.backed_up),
            aaguid: r.aaguid as string,
            userHandle: r.user_handle as string,
          },
  };
}

function toRow(d: MfaDevice): DeviceRow {
  return {
    id: d.id,
    user_id: d.userId,
    type: d.type,
    name: d.name,
    created_at: d.createdAt.getTime(),
    confirmed_at: d.confirmedAt?.getTime() ?? null,
    last_used_at: d.lastUsedAt?.getTime() ?? null,
    totp_secret: d.totp?.secretCiphertext ?? null,
    totp_algorithm: d.totp?.algorithm ?? null,
    totp_digits: d.totp?.digits ?? null,
    totp_period: d.totp?.periodSeconds ?? null,
    credential_id: d.webauthn?.credentialId ?? null,
    public_key: d.webauthn?.publicKey ?? null,
    counter: d.webauthn?.counter ?? null,
    transports: d.webauthn === undefined ? null : JSON.stringify(d.webauthn.transports),
    device_type: d.webauthn?.deviceType ?? null,
    backed_up: d.webauthn === undefined ? null : d.webauthn.backedUp ? 1 : 0,
    aaguid: d.webauthn?.aaguid ?? null,
    user_handle: d.webauthn?.userHandle ?? null,
  };
}

/**
 * An {@link MfaStore} on SQLite or PostgreSQL. Creates its tables on open
 * (`mfa_devices`, `mfa_backup_codes`, migrations namespace `mfa`). Times are
 * stored as integer milliseconds.
 *
 * @throws CoreError `ERR_STORE_MIGRATION` / `ERR_STORE_UNAVAILABLE` when the schema cannot be created.
 * @example
 * ```ts
 * import { sqliteDatabase } from '@provisioning/core/sqlite';
 * import { sqlMfaStore } from '@provisioning/mfa/sql';
 * const store = await sqlMfaStore({ database: sqliteDatabase({ filename: './data/platform.db' }) });
 * ```
 */
export async function sqlMfaStore(options: SqlMfaStoreOptions): Promise<MfaStore> {
  const database = options?.database as SqlDatabase<Tables> | undefined;
  if (database === undefined || typeof database.run !== 'function') {
    throw new MfaError('sqlMfaStore needs a SqlDatabase', { code: 'ERR_MFA_INVALID_OPTIONS', fault: 'client' });
  }
  const pg = database.dialect === 'postgres';
  await migrate(database as unknown as SqlDatabase, 'mfa', [
    {
      id: '0001-devices-and-backup-codes',
      async up(db) {
        const big = pg ? 'bigint' : 'integer';
        await db.schema
          .createTable('mfa_devices')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('confirmed_at', big)
          .addColumn('last_used_at', big)
          .addColumn('totp_secret', 'text')
          .addColumn('totp_algorithm', 'text')
          .addColumn('totp_digits', 'integer')
          .addColumn('totp_period', 'integer')
          .addColumn('credential_id', 'text', (c) => c.unique())
          .addColumn('public_key', 'text')
          .addColumn('counter', big)
          .addColumn('transports', 'text')
          .addColumn('device_type', 'text')
          .addColumn('backed_up', 'integer')
          .addColumn('aaguid', 'text')
          .addColumn('user_handle', 'text')
          .execute();
        await db.schema.createIndex('mfa_devices_user').on('mfa_devices').columns(['user_id', 'created_at']).execute();
        await db.schema
          .createTable('mfa_backup_codes')
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('created_at', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('mfa_backup_codes_pk', ['user_id', 'hash'])
          .execute();
      },
    },
  ]);

  let closed = false;
  const run = <T>(operation: string, fn: (db: Kysely<Tables>) => Promise<T>): Promise<T> => {
    if (closed) {
      return Promise.reject(new CoreError('the MFA store is closed', { code: 'ERR_STORE_CLOSED', fault: 'client' }));
    }
    return database.run(operation, fn);
  };

  // The two statements of every TOTP verification, compiled once (Kysely
  // compiles a builder on every call, which cost more than the query here).
  const kysely = database.db;
  const listByUser = sqlStatement<{ userId: string }, DeviceRow>(
    database as unknown as SqlDatabase,
    'listDevices',
    (p) =>
      kysely
        .selectFrom('mfa_devices')
        .selectAll()
        .where('user_id', '=', p.userId)
        .orderBy('created_at')
        .orderBy('id')
        .compile(),
  );
  const touch = sqlStatement<{ userId: string; deviceId: string; at: number }>(
    database as unknown as SqlDatabase,
    'touchDevice',
    (p) =>
      kysely
        .updateTable('mfa_devices')
        .set({ last_used_at: p.at })
        .where('id', '=', p.deviceId)
        .where('user_id', '=', p.userId)
        .compile(),
  );
  const open = (): void => {
    if (closed) throw new CoreError('the MFA store is closed', { code: 'ERR_STORE_CLOSED', fault: 'client' });
  };

  const store: MfaStore = {
    id: database.dialect,
    async createDevice(device) {
      try {
        await run('createDevice', (db) => db.insertInto('mfa_devices').values(toRow(device)).execute());
      } catch (error) {
        const driver = (error as CoreError).details?.driverCode as string | undefined;
        // 23505: PostgreSQL unique violation; SQLITE_CONSTRAINT_*: SQLite's.
        if (driver === '23505' || driver?.startsWith('SQLITE_CONSTRAINT')) {
          throw new MfaError('the device or credential is already registered', {
            code: 'ERR_MFA_CREDENTIAL_EXISTS',
            fault: 'client',
          });
        }
        throw error;
      }
    },
    async getDevice(userId, deviceId) {
      const row = await run('getDevice', (db) =>
        db
          .selectFrom('mfa_devices')
          .selectAll()
          .where('id', '=', deviceId)
          .where('user_id', '=', userId)
          .executeTakeFirst(),
      );
      return row && fromRow(row);
    },
    async listDevices(userId) {
      open();
      return (await listByUser.execute({ userId })).rows.map(fromRow);
    },
    async findCredential(credentialId) {
      const row = await run('findCredential', (db) =>
        db.selectFrom('mfa_devices').selectAll().where('credential_id', '=', credentialId).executeTakeFirst(),
      );
      return row && fromRow(row);
    },
    async renameDevice(userId, deviceId, name) {
      const r = await run('renameDevice', (db) =>
        db
          .updateTable('mfa_devices')
          .set({ name })
          .where('id', '=', deviceId)
          .where('user_id', '=', userId)
          .executeTakeFirst(),
      );
      return Number(r.numUpdatedRows) > 0;
    },
    async confirmDevice(userId, deviceId, at) {
      const r = await run('confirmDevice', (db) =>
        db
          .updateTable('mfa_devices')
          .set({ confirmed_at: at.getTime() })
          .where('id', '=', deviceId)
          .where('user_id', '=', userId)
          .where('confirmed_at', 'is', null)
          .executeTakeFirst(),
      );
      return Number(r.numUpdatedRows) > 0;
    },
    async touchDevice(userId, deviceId, at) {
      open();
      const { numAffectedRows } = await touch.execute({ userId, deviceId, at: at.getTime() });
      return Number(numAffectedRows ?? 0n) > 0;
    },
    guardedClaimAndTouch(kv, claim, { userId, deviceId, at }) {
      if (closed) {
        return Promise.reject(new CoreError('the MFA store is closed', { code: 'ERR_STORE_CLOSED', fault: 'client' }));
      }
      // The same UPDATE as touchDevice, run inside the claim's transaction
      // when kv is on this database's connection (else undefined: the service
      // falls back to two calls).
      return guardedClaimWith(kv, database as unknown as SqlDatabase, claim, {
        sql: touch.sql,
        values: touch.values({ userId, deviceId, at: at.getTime() }),
      });
    },
    async updateCounter(userId, deviceId, update: CounterUpdate) {
      // One conditional UPDATE: the compare-and-set is atomic on both databases.
      const r = await run('updateCounter', (db) =>
        db
          .updateTable('mfa_devices')
          .set({
            counter: update.counter,
            backed_up: update.backedUp ? 1 : 0,
            last_used_at: update.lastUsedAt.getTime(),
          })
          .where('id', '=', deviceId)
          .where('user_id', '=', userId)
          .where('counter', '=', update.expectedCounter)
          .executeTakeFirst(),
      );
      return Number(r.numUpdatedRows) > 0;
    },
    async deleteDevice(userId, deviceId, opts): Promise<DeleteDeviceOutcome> {
      if (!pg) {
        // SQLite runs one statement at a time under the database write lock,
        // so the "another confirmed factor remains" check and the delete are
        // one atomic step. (An interactive transaction would also be atomic,
        // but two handles in one process would deadlock on it: better-sqlite3
        // is synchronous.)
        const keep = opts.keepLastFactor ? 1 : 0;
        const deleted = await run('deleteDevice', (db) =>
          sql<{ id: string }>`DELETE FROM mfa_devices WHERE id = ${deviceId} AND user_id = ${userId}
            AND (${keep} = 0 OR confirmed_at IS NULL
              OR (SELECT count(*) FROM mfa_devices WHERE user_id = ${userId} AND confirmed_at IS NOT NULL) > 1)
            RETURNING id`.execute(db),
        );
        if (deleted.rows.length > 0) return 'deleted';
        // Nothing deleted: tell "no such device" from "last factor" (for the error only).
        return (await store.getDevice(userId, deviceId)) === undefined ? 'not_found' : 'last_factor';
      }
      return run('deleteDevice', async (db) => {
        try {
          return await db.transaction().execute(async (trx): Promise<DeleteDeviceOutcome> => {
            // Lock the user's rows first: a concurrent removal of their other
            // device waits here, then counts what this one left (READ COMMITTED
            // alone would let both see two factors and both delete).
            await sql`SELECT id FROM mfa_devices WHERE user_id = ${userId} FOR UPDATE`.execute(trx);
            const deleted = await trx
              .deleteFrom('mfa_devices')
              .where('id', '=', deviceId)
              .where('user_id', '=', userId)
              .returning(['confirmed_at'])
              .executeTakeFirst();
            if (deleted === undefined) return 'not_found';
            if (opts.keepLastFactor && deleted.confirmed_at !== null) {
              const left = await trx
                .selectFrom('mfa_devices')
                .select((eb) => eb.fn.countAll().as('n'))
                .where('user_id', '=', userId)
                .where('confirmed_at', 'is not', null)
                .executeTakeFirstOrThrow();
              // Throwing rolls the deletion back.
              if (Number(left.n) === 0) throw new LastFactor();
            }
            return 'deleted';
          });
        } catch (error) {
          if (error instanceof LastFactor) return 'last_factor';
          throw error;
        }
      });
    },
    async replaceBackupCodes(userId, hashes, createdAt) {
      await run('replaceBackupCodes', (db) =>
        db.transaction().execute(async (trx) => {
          await trx.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
          if (hashes.length > 0) {
            await trx
              .insertInto('mfa_backup_codes')
              .values(hashes.map((hash) => ({ user_id: userId, hash, created_at: createdAt.getTime() })))
              .execute();
          }
        }),
      );
    },
    async consumeBackupCode(userId, hash) {
      // DELETE … RETURNING: exactly one concurrent caller gets the row.
      const row = await run('consumeBackupCode', (db) =>
        db
          .deleteFrom('mfa_backup_codes')
          .where('user_id', '=', userId)
          .where('hash', '=', hash)
          .returning('hash')
          .executeTakeFirst(),
      );
      return row !== undefined;
    },
    async countBackupCodes(userId) {
      const row = await run('countBackupCodes', (db) =>
        db
          .selectFrom('mfa_backup_codes')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('user_id', '=', userId)
          .executeTakeFirstOrThrow(),
      );
      return Number(row.n);
    },
    async deleteUser(userId) {
      await run('deleteUser', (db) =>
        db.transaction().execute(async (trx) => {
          await trx.deleteFrom('mfa_devices').where('user_id', '=', userId).execute();
          await trx.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
        }),
      );
    },
    async close() {
      closed = true;
    },
  };
  return store;
}

/** Rolls the deletion back from inside the transaction. */
class LastFactor extends Error {}
