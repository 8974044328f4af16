import { randomBytes } from 'node:crypto';
import type { AuditAction, EventSink } from '@provisioning/audit';
import {
  createAuditLog,
  createPiiPolicy,
  ed25519Signer,
  generateCheckpointKeyPair,
  subjectKeyPseudonymizer,
} from '@provisioning/audit';
import type { Clock, KeyValueStore } from '@provisioning/core';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sql } from 'kysely';
import { auditPseudonymsProvider } from '../src/platform-audit.js';
import type { DataProvider } from '../src/providers.js';

/**
 * A tiny "users" table and its data provider, on SQLite or PostgreSQL: the
 * kind of host-application store a real erasure must reach.
 */
export async function usersTable(database: SqlDatabase, table = 'app_users') {
  const db = database.db;
  await sql`CREATE TABLE ${sql.table(table)} (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL)`.execute(
    db,
  );
  const provider: DataProvider = {
    id: `${database.dialect}-users`,
    async export({ subjectId }) {
      const { rows } = await sql<{
        id: string;
        email: string;
        name: string;
      }>`SELECT id, email, name FROM ${sql.table(table)} WHERE id = ${subjectId}`.execute(db);
      return { subjectFound: rows.length > 0, data: rows, records: rows.length };
    },
    async erase({ subjectId }) {
      const result = await sql`DELETE FROM ${sql.table(table)} WHERE id = ${subjectId}`.execute(db);
      const n = Number(result.numAffectedRows ?? 0n);
      return { subjectFound: n > 0, affected: n, method: 'deleted' };
    },
    async rectify({ subjectId }, changes) {
      const email = typeof changes.email === 'string' ? changes.email : undefined;
      if (email === undefined) return { subjectFound: true, affected: 0 };
      const result = await sql`UPDATE ${sql.table(table)} SET email = ${email} WHERE id = ${subjectId}`.execute(db);
      const n = Number(result.numAffectedRows ?? 0n);
      return { subjectFound: n > 0, affected: n };
    },
  };
  return {
    provider,
    async insert(id: string, email: string, name: string) {
      await sql`INSERT INTO ${sql.table(table)} (id, email, name) VALUES (${id}, ${email}, ${name})`.execute(db);
    },
    async ids(): Promise<string[]> {
      const { rows } = await sql<{ id: string }>`SELECT id FROM ${sql.table(table)} ORDER BY id`.execute(db);
      return rows.map((r) => r.id);
    },
  };
}

/** Options of {@link auditSubjects}. */
export interface AuditSubjectsOptions {
  /** Where the audit events go (real stores: SQLite, PostgreSQL, memory). */
  readonly sinks: readonly EventSink[];
  /** Where the per-subject pseudonym keys live (any KeyValueStore). */
  readonly keys: KeyValueStore;
  readonly clock?: Clock;
}

/**
 * The real audit log of `@provisioning/audit` with the shipped
 * `auditPseudonymsProvider`, the way a host wires it: events carry a pseudonym
 * of the acting subject under a key of that subject's own
 * (`subjectKeyPseudonymizer`), never the subject id.
 */
export async function auditSubjects(options: AuditSubjectsOptions) {
  const signer = ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey });
  const subjects = subjectKeyPseudonymizer({ store: options.keys, secret: randomBytes(32) });
  const policy = createPiiPolicy({
    fields: { 'actor.id': 'pseudonymize', 'actor.ip': 'mask', 'metadata.email': 'drop' },
    pseudonymizer: subjects,
  });
  const log = await createAuditLog({
    sinks: options.sinks,
    signer,
    transform: policy.apply,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const provider = auditPseudonymsProvider({ log, subjects });
  return {
    log,
    subjects,
    signer,
    provider,
    /** Records one event by `subjectId` (durable: it is stored when this resolves). */
    record: (subjectId: string, action: AuditAction, email?: string) =>
      log.record(
        {
          action,
          outcome: 'success',
          actor: { id: subjectId, type: 'user', ip: '203.0.113.77' },
          ...(email ? { metadata: { email } } : {}),
        },
        { durable: true },
      ),
  };
}
