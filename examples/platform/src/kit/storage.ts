import { join } from 'node:path';
import type { AuditStore } from '@provisioning/audit';
import { sqliteAuditStore } from '@provisioning/audit/sqlite';
import type { Clock, KeyValueStore } from '@provisioning/core';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sqliteDatabase, sqliteStore } from '@provisioning/core/sqlite';

/**
 * Where the platform keeps its state.
 *
 * - SQL (users, MFA devices, tasks, operations, leases, compliance records,
 *   and the durable key/value state: API keys, break-glass, the bootstrap
 *   secret): SQLite files under the data directory (default), or PostgreSQL
 *   (`postgresUrl`), which several instances share.
 * - Hot key/value state (sessions and revocation, refresh-token families,
 *   login throttling, rate limits, MFA replay guards and challenges, SSH
 *   OTPs): the SQL key/value store, or Redis (`redisUrl`) when given. Redis
 *   expires keys on its own clock; without persistence (AOF) a Redis restart
 *   logs everyone out and forgets revocations of tokens that are still valid
 *   (at most their 15-minute lifetime).
 * - The audit log: `audit.db` beside the others on SQLite; on PostgreSQL the
 *   tables `audit_<instance>_*`, one hash chain per instance (a chain has one
 *   writer: two instances appending to one chain would be detected as tampering).
 */
export interface StorageOptions {
  /** `postgres://…`: the SQL stores on PostgreSQL instead of SQLite. */
  readonly postgresUrl?: string;
  /** Largest PostgreSQL pool. Default 10. */
  readonly postgresPoolSize?: number;
  /** `redis://…`: the hot key/value state on Redis. */
  readonly redisUrl?: string;
  /** Prefix of every Redis key; instances that share state use the same one. Default `prov:`. */
  readonly redisPrefix?: string;
  /** This instance's name: its audit chain on PostgreSQL (`audit_<instance>`). Default `main`. */
  readonly instance?: string;
}

/** The opened stores. */
export interface Storage {
  readonly database: SqlDatabase;
  /** Durable key/value state (SQL). */
  readonly kv: KeyValueStore;
  /** Hot key/value state (Redis when configured, else {@link Storage.kv}). */
  readonly hot: KeyValueStore;
  readonly auditStore: AuditStore;
  /** What the storage runs on, for logs: `sqlite`, `postgres`, `postgres+redis` … */
  readonly description: string;
  close(): Promise<void>;
}

const INSTANCE = /^[a-z][a-z0-9_]{0,30}$/;

/**
 * Opens the stores. Drivers are loaded only when configured (`pg`, `ioredis`),
 * and a server that cannot be reached fails the start with its code, never
 * its URL (which may carry a password).
 */
export async function openStorage(options: StorageOptions & { dataDir: string; clock: Clock }): Promise<Storage> {
  const instance = options.instance ?? 'main';
  if (!INSTANCE.test(instance)) throw new Error('storage instance must be a short lowercase identifier');
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    let database: SqlDatabase;
    let kv: KeyValueStore;
    let auditStore: AuditStore;
    if (options.postgresUrl === undefined) {
      database = sqliteDatabase({ filename: join(options.dataDir, 'platform.db') });
      closers.push(() => database.close());
      kv = await sqliteStore({ database, clock: options.clock });
      auditStore = await sqliteAuditStore({ filename: join(options.dataDir, 'audit.db') });
    } else {
      const [{ default: pg }, { postgresDatabase, postgresStore }, { postgresAuditStore }] = await Promise.all([
        import('pg'),
        import('@provisioning/core/postgres'),
        import('@provisioning/audit/postgres'),
      ]);
      const pool = new pg.Pool({ connectionString: options.postgresUrl, max: options.postgresPoolSize ?? 10 });
      // pg emits idle-connection errors here; without a listener Node exits.
      pool.on('error', () => {});
      closers.push(() => pool.end());
      database = postgresDatabase({ pool });
      closers.push(() => database.close());
      kv = await postgresStore({ database, clock: options.clock });
      auditStore = await postgresAuditStore({ database, tablePrefix: `audit_${instance}` });
    }
    // The audit log closes its store (platform.close() closes the log first).
    let hot = kv;
    if (options.redisUrl !== undefined) {
      const [{ Redis }, { redisStore }] = await Promise.all([import('ioredis'), import('@provisioning/core/redis')]);
      const client = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      client.on('error', () => {});
      closers.push(async () => client.quit());
      await client.connect();
      hot = redisStore({ client, prefix: options.redisPrefix ?? 'prov:' });
    }
    closers.push(() => kv.close());
    return {
      database,
      kv,
      hot,
      auditStore,
      description: `${options.postgresUrl === undefined ? 'sqlite' : 'postgres'}${options.redisUrl === undefined ? '' : '+redis'}`,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
