/**
 * PostgreSQL dynamic credentials (pg 8, an optional peer dependency): a login
 * role per lease, created with `VALID UNTIL`, dropped on revoke.
 *
 * @module
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import type { RandomSource } from '@provisioning/core';
import { randomToken, systemRandom } from '@provisioning/core';
import type { Pool, PoolClient } from 'pg';
import { clientError } from './errors.js';
import type { SecretProvider } from './provider.js';

/** What the PostgreSQL provider takes. */
export interface PostgresCredentialsRequest {
  /** Existing roles the new login role becomes a member of (e.g. `readonly`). Default: the provider's `grantRoles`. */
  readonly grantRoles?: readonly string[];
}

/** Credentials of a dynamic PostgreSQL role. */
export interface PostgresCredentials {
  readonly username: string;
  /** Shown once; PostgreSQL stores only a SCRAM-SHA-256 verifier of it. */
  readonly password: string;
  /** The role's `VALID UNTIL`: password logins fail afterwards. */
  readonly validUntil: Date;
}

/** Options of {@link postgresCredentialsProvider}. */
export interface PostgresCredentialsProviderOptions {
  /** A pool connected as a role with `CREATEROLE` (and membership of the granted roles). */
  readonly pool: Pool;
  /** Provider name. Default `postgres`. */
  readonly name?: string;
  /** Prefix of generated role names (lowercase identifier). Default `v_`. */
  readonly rolePrefix?: string;
  /** Roles granted to every dynamic role unless the request names others. Default none. */
  readonly grantRoles?: readonly string[];
  /** `CONNECTION LIMIT` of each role. Default 5. */
  readonly connectionLimit?: number;
  readonly random?: RandomSource;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Quotes an identifier (`"name"`, doubling quotes): used even for validated names, as defence in depth. */
export function quoteIdentifier(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 63 || name.includes('\0')) {
    throw clientError('ERR_SECRETS_INVALID_REQUEST', 'invalid SQL identifier');
  }
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw clientError('ERR_SECRETS_INVALID_REQUEST', 'invalid SQL literal');
  // standard_conforming_strings is on in every supported PostgreSQL: only quotes need doubling.
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677,
 * 4096 iterations, as `psql \password` computes it client-side). Sending the
 * verifier instead of the password keeps the password out of the SQL text,
 * so `log_statement`, `pg_stat_statements` and error reports never see it.
 */
export function scramSha256Verifier(password: string, salt: Uint8Array, iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

async function inTransaction(pool: Pool, fn: (client: PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await fn(client);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * A lease provider of PostgreSQL login roles: `CREATE ROLE … LOGIN PASSWORD
 * '<SCRAM verifier>' VALID UNTIL '<lease expiry>'`, membership of the
 * granted roles, `ALTER ROLE … VALID UNTIL` on renew, and on revoke:
 * terminate the role's sessions, `DROP OWNED`, `DROP ROLE IF EXISTS`
 * (idempotent). Role names derive from the lease id, so a lease whose create
 * timed out can still be revoked.
 *
 * Note: `VALID UNTIL` only limits password authentication; an open session
 * outlives it until revocation terminates it (the TTL manager does).
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_OPTIONS` for bad options.
 * @example
 * ```ts
 * import { postgresCredentialsProvider } from '@provisioning/secrets/postgres';
 * const pgCreds = postgresCredentialsProvider({ pool: adminPool, grantRoles: ['app_readonly'] });
 * const { secret } = await leases.issue(pgCreds, {}, { owner: 'alice', ttlSeconds: 3600 });
 * // secret.username, secret.password
 * ```
 */
export function postgresCredentialsProvider(
  options: PostgresCredentialsProviderOptions,
): SecretProvider<PostgresCredentialsRequest, PostgresCredentials> {
  const pool = options?.pool;
  if (pool === undefined || typeof pool.connect !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'postgresCredentialsProvider needs a pg.Pool');
  }
  const prefix = options.rolePrefix ?? 'v_';
  if (!IDENT.test(prefix) || prefix.length > 30) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'rolePrefix must be a short lowercase identifier');
  }
  const limit = options.connectionLimit ?? 5;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'connectionLimit must be a positive integer');
  }
  const random = options.random ?? systemRandom;
  const checkRoles = (roles: readonly string[]): readonly string[] => {
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string' && IDENT.test(r))) {
      throw clientError('ERR_SECRETS_INVALID_REQUEST', 'granted roles are lowercase identifiers');
    }
    return roles;
  };
  const defaultRoles = checkRoles(options.grantRoles ?? []);
  const roleName = (leaseId: string): string => {
    const suffix = leaseId
      .slice(leaseId.lastIndexOf('/') + 1)
      .replace(/[^a-z0-9]/gi, '')
      .toLowerCase();
    return `${prefix}${suffix}`.slice(0, 63);
  };

  return {
    name: options.name ?? 'postgres',
    async create(request, ctx) {
      const roles = checkRoles(request?.grantRoles ?? defaultRoles);
      const username = roleName(ctx.leaseId);
      const password = randomToken(24, random);
      const verifier = scramSha256Verifier(password, random.bytes(16));
      await inTransaction(pool, async (client) => {
        await client.query(
          `CREATE ROLE ${quoteIdentifier(username)} WITH LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION ` +
            `CONNECTION LIMIT ${limit} PASSWORD ${quoteLiteral(verifier)} VALID UNTIL ${quoteLiteral(ctx.expiresAt.toISOString())}`,
        );
        for (const role of roles) {
          await client.query(`GRANT ${quoteIdentifier(role)} TO ${quoteIdentifier(username)}`);
        }
      });
      return {
        secret: { username, password, validUntil: ctx.expiresAt },
        metadata: { username, roles: roles.join(',') },
      };
    },
    async renew(lease, ctx) {
      const username = lease.metadata.username ?? roleName(lease.id);
      await pool.query(
        `ALTER ROLE ${quoteIdentifier(username)} VALID UNTIL ${quoteLiteral(ctx.expiresAt.toISOString())}`,
      );
    },
    async revoke(lease) {
      const username = lease.metadata.username ?? roleName(lease.id);
      const { rows } = await pool.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username]);
      if (rows.length === 0) return; // already gone: revocation is idempotent
      // Block new logins first, then end open sessions: VALID UNTIL does not end them.
      await pool.query(`ALTER ROLE ${quoteIdentifier(username)} NOLOGIN`);
      await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [username]);
      await inTransaction(pool, async (client) => {
        await client.query(`DROP OWNED BY ${quoteIdentifier(username)}`);
        await client.query(`DROP ROLE IF EXISTS ${quoteIdentifier(username)}`);
      });
    },
  };
}
