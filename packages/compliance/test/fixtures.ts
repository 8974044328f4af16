import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sql } from 'kysely';
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

/**
 * A stand-in for the audit package: an append-only, hash-chained log whose
 * events carry HMAC pseudonyms of the subject under a per-subject key. Erasure
 * destroys the key (crypto-shredding); the events stay, so the chain verifies.
 */
/** An event of {@link auditChainFixture}. */
export interface ChainEvent {
  seq: number;
  action: string;
  actor: string;
  prev: string;
  hash: string;
}

export function auditChainFixture() {
  type Event = ChainEvent;
  const events: Event[] = [];
  const keys = new Map<string, Buffer>();
  const pseudonym = (subjectId: string): string => {
    let key = keys.get(subjectId);
    if (!key) {
      key = randomBytes(32);
      keys.set(subjectId, key);
    }
    return createHmac('sha256', key).update(subjectId).digest('hex').slice(0, 32);
  };
  const hashOf = (e: Omit<Event, 'hash'>): string =>
    createHash('sha256')
      .update(JSON.stringify([e.seq, e.action, e.actor, e.prev]))
      .digest('hex');
  const append = (subjectId: string, action: string): void => {
    const prev = events.at(-1)?.hash ?? '0'.repeat(64);
    const e = { seq: events.length, action, actor: pseudonym(subjectId), prev };
    events.push({ ...e, hash: hashOf(e) });
  };
  const verifier = {
    async verify(): Promise<{ ok: boolean; checked: number; brokenAt?: number }> {
      let prev = '0'.repeat(64);
      for (const e of events) {
        if (e.prev !== prev || hashOf(e) !== e.hash) return { ok: false, checked: events.length, brokenAt: e.seq };
        prev = e.hash;
      }
      return { ok: true, checked: events.length };
    },
  };
  const provider: DataProvider = {
    id: 'audit',
    appendOnly: true,
    async export({ subjectId }) {
      const key = keys.get(subjectId);
      if (!key) return { subjectFound: false, data: [] };
      const p = createHmac('sha256', key).update(subjectId).digest('hex').slice(0, 32);
      const mine = events.filter((e) => e.actor === p).map((e) => ({ seq: e.seq, action: e.action }));
      return { subjectFound: true, data: mine, records: mine.length };
    },
    async erase({ subjectId }) {
      // Never delete events: destroy the key that links the pseudonym to the subject.
      const had = keys.delete(subjectId);
      return {
        subjectFound: had,
        affected: had ? 1 : 0,
        method: 'key_destroyed',
        note: 'audit events kept; pseudonym key destroyed',
      };
    },
  };
  return { events, keys, append, verifier, provider, pseudonym };
}
