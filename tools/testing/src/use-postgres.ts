import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { integrationServers } from './inject.js';
import { createTestDatabase } from './postgres.js';

/** A fresh PostgreSQL database for one test file, and pools on it that are closed afterwards. */
export interface TestPostgres {
  /** The database URL (available once the file's `beforeAll` hooks ran). */
  readonly url: string;
  /**
   * A new pool on the database: another application instance. It has an
   * `error` listener (pg emits there when the server drops an idle
   * connection; without one Node exits) and is ended after the file.
   */
  pool(max?: number): pg.Pool;
}

/**
 * Registers `beforeAll`/`afterAll` hooks that create a database of its own
 * for the calling test file on the integration PostgreSQL server, and drop
 * it (and end every pool handed out) afterwards.
 */
export function usePostgresDatabase(): TestPostgres {
  let url: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    ({ url, drop } = await createTestDatabase(integrationServers().postgresUrl));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await drop?.();
  });
  return {
    get url() {
      if (url === undefined) throw new Error('the test database exists only inside tests and hooks');
      return url;
    },
    pool(max = 10) {
      const pool = new pg.Pool({ connectionString: this.url, max });
      pool.on('error', () => {});
      pools.push(pool);
      return pool;
    },
  };
}
