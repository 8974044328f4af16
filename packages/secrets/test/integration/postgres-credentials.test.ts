import { readFileSync } from 'node:fs';
import { createManualClock } from '@provisioning/core';
import { createTestDatabase, integrationServers } from '@provisioning/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeaseManager } from '../../src/manager.js';
import { postgresCredentialsProvider } from '../../src/postgres.js';
import { memoryLeaseStore } from '../../src/stores/memory.js';
import { startScramPostgres } from './pg-scram.js';

let server: Awaited<ReturnType<typeof startScramPostgres>>;
let admin: pg.Pool;

beforeAll(async () => {
  server = await startScramPostgres();
  admin = new pg.Pool({
    host: server.adminSocketDir,
    port: server.port,
    user: 'postgres',
    database: 'postgres',
    max: 3,
  });
  admin.on('error', () => {});
  await admin.query('CREATE ROLE app_readonly NOLOGIN');
}, 60_000);
afterAll(async () => {
  await admin?.end();
  server?.stop();
});

async function loginAs(user: string, password: string): Promise<unknown> {
  const client = new pg.Client({ host: '127.0.0.1', port: server.port, user, password, database: 'postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ who: string }>('SELECT current_user AS who');
    return rows[0]?.who;
  } catch (error) {
    return error;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('PostgreSQL dynamic credentials (password-checking server)', () => {
  it('a dynamic role can log in with its password; after revocation it cannot', async () => {
    const provider = postgresCredentialsProvider({ pool: admin, grantRoles: ['app_readonly'] });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const { lease, secret } = await leases.issue(provider, {}, { owner: 'alice', ttlSeconds: 600 });
    expect(secret.username).toMatch(/^v_[0-9a-f]{32}$/);
    expect(await loginAs(secret.username, secret.password)).toBe(secret.username);
    expect(await loginAs(secret.username, `${secret.password}x`)).toMatchObject({ code: '28P01' });
    const { rows } = await admin.query<{ m: boolean }>('SELECT pg_has_role($1, $2, $3) AS m', [
      secret.username,
      'app_readonly',
      'MEMBER',
    ]);
    expect(rows[0]?.m).toBe(true);
    await leases.revoke(lease.id);
    expect(await loginAs(secret.username, secret.password)).toBeInstanceOf(Error);
    const gone = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [secret.username]);
    expect(gone.rows).toHaveLength(0);
  });

  it('the password never appears in the SQL the server receives and logs (log_statement=all)', async () => {
    const provider = postgresCredentialsProvider({ pool: admin });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const { lease, secret } = await leases.issue(provider, {}, { owner: 'alice', ttlSeconds: 600 });
    await leases.revoke(lease.id);
    const log = readFileSync(server.logFile, 'utf8');
    expect(log).toContain(`CREATE ROLE "${secret.username}"`);
    expect(log).toContain('SCRAM-SHA-256$4096:');
    expect(log).not.toContain(secret.password);
  });

  it('VALID UNTIL is enforced by PostgreSQL: a role past its expiry cannot log in', async () => {
    // Issued "an hour ago" with a 60 s TTL: VALID UNTIL is already in the past.
    const clock = createManualClock(Date.now() - 3_600_000);
    const provider = postgresCredentialsProvider({ pool: admin });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], clock });
    const { lease, secret } = await leases.issue(provider, {}, { owner: 'alice', ttlSeconds: 60 });
    expect(await loginAs(secret.username, secret.password)).toMatchObject({ code: '28P01' });
    await leases.revoke(lease.id);
  });

  it('revocation ends open sessions and is idempotent', async () => {
    const provider = postgresCredentialsProvider({ pool: admin });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const { lease, secret } = await leases.issue(provider, {}, { owner: 'alice', ttlSeconds: 600 });
    const session = new pg.Client({
      host: '127.0.0.1',
      port: server.port,
      user: secret.username,
      password: secret.password,
      database: 'postgres',
    });
    session.on('error', () => {});
    await session.connect();
    await leases.revoke(lease.id);
    await expect(session.query('SELECT 1')).rejects.toBeDefined();
    await session.end().catch(() => {});
    await provider.revoke(lease, { signal: new AbortController().signal });
  });

  it('quotes identifiers and refuses role names that are not plain identifiers', async () => {
    const provider = postgresCredentialsProvider({ pool: admin });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    await expect(
      leases.issue(provider, { grantRoles: ['x"; DROP ROLE postgres; --'] }, { owner: 'a', ttlSeconds: 60 }),
    ).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_REQUEST' });
    expect(await leases.list()).toEqual([]);
  });
});

describe('PostgreSQL dynamic credentials (shared integration server)', () => {
  let url: string;
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ url, drop } = await createTestDatabase(integrationServers().postgresUrl));
    pool = new pg.Pool({ connectionString: url, max: 3 });
    pool.on('error', () => {});
  });
  afterAll(async () => {
    await pool.end();
    await drop();
  });

  it('the role can log in; after revocation it cannot', async () => {
    const provider = postgresCredentialsProvider({ pool, rolePrefix: 'dyn_' });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider] });
    const { lease, secret } = await leases.issue(provider, {}, { owner: 'alice', ttlSeconds: 600 });
    const login = async () => {
      const u = new URL(url);
      u.username = secret.username;
      u.password = secret.password;
      const client = new pg.Client({ connectionString: u.toString() });
      client.on('error', () => {});
      try {
        await client.connect();
        return (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u;
      } catch (error) {
        return error;
      } finally {
        await client.end().catch(() => {});
      }
    };
    expect(await login()).toBe(secret.username);
    await leases.revoke(lease.id);
    expect(await login()).toMatchObject({ code: '28000' });
  });
});
