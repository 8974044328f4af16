import { createManualClock } from '@provisioning/core';
import { usePostgresDatabase } from '@provisioning/testing';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/canonical.js';
import type { ChainedRecord } from '../../src/chain.js';
import { chainHash, GENESIS_HASH } from '../../src/chain.js';
import { prepareEvent } from '../../src/events.js';
import { createAuditLog } from '../../src/log.js';
import { postgresAuditStore } from '../../src/postgres.js';
import type { AuditStore } from '../../src/store.js';
import { sampleInput } from '../helpers.js';
import { conformanceSigner, describeAuditStore } from '../store-conformance.js';

const db = usePostgresDatabase();
const newPool = (max = 5): pg.Pool => db.pool(max);

let n = 0;
const prefixes = new WeakMap<AuditStore, string>();
describeAuditStore({
  name: 'postgres',
  async open() {
    const tablePrefix = `a${n++}`;
    const store = await postgresAuditStore({ pool: newPool(), tablePrefix });
    prefixes.set(store, tablePrefix);
    return store;
  },
  // Another pool: a restarted instance of the application.
  async reopen(first) {
    const tablePrefix = prefixes.get(first) as string;
    const store = await postgresAuditStore({ pool: newPool(), tablePrefix });
    prefixes.set(store, tablePrefix);
    return store;
  },
});

describe('postgres append-only', () => {
  it('append-only: the database refuses UPDATE, DELETE and TRUNCATE outside the retention purge', async () => {
    const pool = newPool();
    const log = await createAuditLog({
      sinks: [await postgresAuditStore({ pool, tablePrefix: 'ro' })],
      clock: createManualClock(new Date('2020-01-01T00:00:00Z')),
      signer: conformanceSigner,
    });
    for (let i = 0; i < 3; i++) await log.record(sampleInput(i), { durable: true });
    await log.close();
    await expect(pool.query("UPDATE ro_events SET outcome = 'failure' WHERE seq = 2")).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM ro_events WHERE seq = 2')).rejects.toThrow(/append-only/);
    await expect(pool.query('TRUNCATE ro_events')).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM ro_checkpoints')).rejects.toThrow(/append-only/);
    await expect(pool.query("UPDATE ro_purges SET body = '{}'")).resolves.toBeDefined(); // no rows: nothing to refuse
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM ro_events');
    expect(rows[0]).toEqual({ n: 3 });
  });

  it('stores each event as the exact canonical text its chain hash covers', async () => {
    const pool = newPool();
    const log = await createAuditLog({ sinks: [await postgresAuditStore({ pool, tablePrefix: 'exact' })] });
    const receipts = await Promise.all(
      ['a\nb', 'tab\t"q"\\', '\u{1f600}\u2028'].map((reason, i) =>
        log.record(sampleInput(i, { reason, metadata: { x: 0.1, y: 1e21 } }), { durable: true }),
      ),
    );
    await log.close();
    const { rows } = await pool.query('SELECT seq, hash, event FROM exact_events ORDER BY seq');
    expect(rows).toHaveLength(3);
    let prev = GENESIS_HASH;
    for (const row of rows as { seq: string; hash: string; event: string }[]) {
      // Byte for byte: the stored text is canonical, and hashing it reproduces the chain.
      expect(canonicalJson(JSON.parse(row.event))).toBe(row.event);
      prev = chainHash(prev, Number(row.seq), row.event);
      expect(prev).toBe(row.hash);
    }
    expect(rows.map((r: { hash: string }) => r.hash)).toEqual(receipts.map((r) => r.hash));
  });

  it('differential: indexed columns holding array-literal syntax are stored and found as the event says', async () => {
    // The append sends these columns as array literals this package writes (pg-array.ts):
    // quotes, backslashes, braces, commas, white space and the word NULL must come back as given.
    const pool = newPool();
    const log = await createAuditLog({
      sinks: [await postgresAuditStore({ pool, tablePrefix: 'lit' })],
      signer: conformanceSigner,
    });
    const tricky = [
      'NULL',
      'a,b',
      '{x}',
      'say "hi"',
      'C:\\dir\\',
      ' lead',
      'tab\tnew\nline',
      '\u00e9\u4e2d\u{1f600}',
      '\\"{,}',
    ];
    for (let i = 0; i < tricky.length; i++) {
      const v = tricky[i] as string;
      void log.record(
        sampleInput(i, { actor: { id: v, type: 'user' }, resource: { type: v, id: v }, sessionId: v, requestId: v }),
      );
    }
    await log.flush();
    const { rows } = await pool.query(
      'SELECT actor_id, resource_type, resource_id, session_id, request_id, event FROM lit_events ORDER BY seq',
    );
    for (const [i, row] of (rows as Record<string, string>[]).entries()) {
      const v = tricky[i];
      expect([row.actor_id, row.resource_type, row.resource_id, row.session_id, row.request_id]).toEqual([
        v,
        v,
        v,
        v,
        v,
      ]);
      expect(JSON.parse(row.event as string).actor.id).toBe(v);
    }
    for (const [i, v] of tricky.entries()) {
      for (const filter of [{ actorId: v }, { sessionId: v }, { requestId: v }, { resourceType: v, resourceId: v }]) {
        expect((await log.query(filter)).records.map((r) => r.seq)).toEqual([i + 1]);
      }
    }
    expect((await log.verify()).problems).toEqual([]);
    await log.close();
  });

  it('uses its indexes for filtered queries', async () => {
    const pool = newPool();
    await postgresAuditStore({ pool, tablePrefix: 'ix' });
    const { rows } = await pool.query(
      "SELECT indexname FROM pg_indexes WHERE tablename = 'ix_events' ORDER BY indexname",
    );
    expect(rows.map((r: { indexname: string }) => r.indexname)).toEqual(
      expect.arrayContaining([
        'ix_events_actor_idx',
        'ix_events_action_idx',
        'ix_events_ts_idx',
        'ix_events_session_idx',
      ]),
    );
  });

  it('migration 0002: tables of the first schema get partial indexes, keep every event and still verify', async () => {
    const pool = newPool();
    const log = await createAuditLog({
      sinks: [await postgresAuditStore({ pool, tablePrefix: 'up' })],
      signer: conformanceSigner,
    });
    for (let i = 0; i < 20; i++) {
      const { resource: _r, sessionId: _s, requestId: _q, ...bare } = sampleInput(i);
      void log.record(i % 2 === 0 ? sampleInput(i) : bare);
    }
    await log.flush();
    // Back to what a database of the first release holds: its full indexes, 0002 not applied.
    await pool.query(`
      DROP INDEX up_events_resource_idx; CREATE INDEX up_events_resource_idx ON up_events (resource_type, resource_id);
      DROP INDEX up_events_ip_idx; CREATE INDEX up_events_ip_idx ON up_events (actor_ip);
      DROP INDEX up_events_session_idx; CREATE INDEX up_events_session_idx ON up_events (session_id);
      DROP INDEX up_events_request_idx; CREATE INDEX up_events_request_idx ON up_events (request_id);
      DELETE FROM provisioning_migrations WHERE namespace = 'audit-up' AND id = '0002-partial-indexes';`);
    await log.close();
    const partial = async () =>
      (
        await pool.query(
          "SELECT indexname, indexdef LIKE '%WHERE%' AS partial FROM pg_indexes WHERE tablename = 'up_events' AND indexname LIKE '%_idx' ORDER BY indexname",
        )
      ).rows.map((r: { indexname: string; partial: boolean }) => `${r.indexname}: ${r.partial ? 'partial' : 'full'}`);
    expect(await partial()).toContain('up_events_ip_idx: full');

    const reopened = await createAuditLog({
      sinks: [await postgresAuditStore({ pool: newPool(), tablePrefix: 'up' })],
      signer: conformanceSigner,
    });
    const result = await reopened.verify();
    expect(result.problems).toEqual([]);
    expect(result.count).toBe(20);
    expect((await reopened.query({ requestId: 'req-4' })).records.map((r) => r.seq)).toEqual([5]);
    expect((await reopened.query({ resourceType: 'session', resourceId: 's-6' })).records.map((r) => r.seq)).toEqual([
      7,
    ]);
    await reopened.close();
    expect(await partial()).toEqual([
      'up_events_action_idx: full',
      'up_events_actor_idx: full',
      'up_events_ip_idx: partial',
      'up_events_request_idx: partial',
      'up_events_resource_idx: partial',
      'up_events_session_idx: partial',
      'up_events_ts_idx: full',
    ]);
    // A parameterised equality (what the store sends) proves `IS NOT NULL`: the partial indexes serve it.
    const client = await pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      for (const [column, index] of [
        ['session_id', 'up_events_session_idx'],
        ['request_id', 'up_events_request_idx'],
        ['actor_ip', 'up_events_ip_idx'],
      ]) {
        const plan = await client.query(`EXPLAIN SELECT seq FROM up_events WHERE ${column} = $1`, ['x']);
        expect(plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n')).toContain(index);
      }
    } finally {
      client.release();
    }
    // Only indexes were rebuilt: the append-only triggers still refuse changes.
    await expect(pool.query('DELETE FROM up_events WHERE seq = 1')).rejects.toThrow(/append-only/);
  });

  it('a batch written again (its commit acknowledgement lost) is accepted once; a different one on the same seqs is refused', async () => {
    const store = await postgresAuditStore({ pool: newPool(), tablePrefix: 'again' });
    await store.open();
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const chain = (from: number, to: number, salt = ''): ChainedRecord[] => {
      const out: ChainedRecord[] = [];
      let prev = GENESIS_HASH;
      for (let seq = 1; seq <= to; seq++) {
        const { event, json } = prepareEvent(sampleInput(seq, { reason: `r${seq}${salt}` }), { clock });
        prev = chainHash(prev, seq, json);
        if (seq >= from) out.push({ seq, hash: prev, event, json });
      }
      return out;
    };
    const ours = chain(1, 8);
    const first = ours.slice(0, 5);
    await store.write(first, { durable: true });
    // The same batch again: the plain INSERT hits the primary key, the ON CONFLICT path finds it is ours.
    await store.write(first, { durable: true });
    // Overlapping: 4 and 5 are there already, 6 to 8 are new.
    await store.write(ours.slice(3), { durable: true });
    expect((await store.query({}, { limit: 100 })).records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Other events on seqs already taken: another writer.
    await expect(store.write(chain(7, 9, 'x'), { durable: true })).rejects.toMatchObject({
      code: 'ERR_AUDIT_SINK_WRITE',
    });
    expect((await store.query({}, { limit: 100 })).records).toHaveLength(8);
    await store.close();
  });

  it('two stores on one database: a second writer on the same chain is detected, not merged', async () => {
    const a = await createAuditLog({ sinks: [await postgresAuditStore({ pool: newPool(), tablePrefix: 'dup' })] });
    const b = await createAuditLog({
      sinks: [await postgresAuditStore({ pool: newPool(), tablePrefix: 'dup' })],
      retry: { attempts: 1 },
      onError: () => {},
    });
    await a.record(sampleInput(1), { durable: true });
    await expect(b.record(sampleInput(2), { durable: true })).rejects.toMatchObject({ code: 'ERR_AUDIT_SINK_WRITE' });
    await a.close();
    await b.close();
  });
});
