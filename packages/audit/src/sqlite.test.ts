import { createManualClock } from '@provisioning/core';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { tempDir } from '@provisioning/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleInput } from '../test/helpers.js';
import { conformanceSigner, describeAuditStore } from '../test/store-conformance.js';
import { createAuditLog } from './log.js';
import { sqliteAuditStore } from './sqlite.js';
import type { AuditStore } from './store.js';

const dir = tempDir('audit-sqlite-');
afterAll(() => dir.remove());
let n = 0;
const files = new WeakMap<AuditStore, string>();

describeAuditStore({
  name: 'sqlite',
  async open() {
    const filename = `${dir.path}/c${n++}.db`;
    const store = await sqliteAuditStore({ filename });
    files.set(store, filename);
    return store;
  },
  async reopen(first) {
    const filename = files.get(first) as string;
    const store = await sqliteAuditStore({ filename });
    files.set(store, filename);
    return store;
  },
});

describe('sqlite append-only', () => {
  it('append-only: the database refuses UPDATE and DELETE of events, checkpoints and purge records', async () => {
    const filename = `${dir.path}/ro.db`;
    const log = await createAuditLog({
      sinks: [await sqliteAuditStore({ filename })],
      clock: createManualClock(new Date('2020-01-01T00:00:00Z')),
      signer: conformanceSigner,
    });
    for (let i = 0; i < 3; i++) await log.record(sampleInput(i), { durable: true });
    await log.close();
    const raw = new Database(filename);
    try {
      expect(() => raw.prepare("UPDATE audit_events SET outcome = 'failure' WHERE seq = 2").run()).toThrow(
        /append-only/,
      );
      // Expired by its date, but no tombstone: a plain DELETE is still refused.
      expect(() => raw.prepare('DELETE FROM audit_events WHERE seq = 2').run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM audit_events').run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM audit_checkpoints').run()).toThrow(/append-only/);
      expect(() => raw.prepare("UPDATE audit_checkpoints SET body = '{}'").run()).toThrow(/append-only/);
      expect(raw.prepare('SELECT count(*) AS n FROM audit_events').get()).toEqual({ n: 3 });
    } finally {
      raw.close();
    }
  });

  it('append-only: an event that has not expired cannot be deleted even with a tombstone', async () => {
    const filename = `${dir.path}/fresh.db`;
    const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })], signer: conformanceSigner });
    const r = await log.record(sampleInput(1), { durable: true });
    await log.close();
    const raw = new Database(filename);
    try {
      raw.prepare("INSERT INTO audit_tombstones (seq, hash, purge_id) VALUES (?, ?, 'x')").run(r.seq, r.hash);
      expect(() => raw.prepare('DELETE FROM audit_events WHERE seq = ?').run(r.seq)).toThrow(/append-only/);
    } finally {
      raw.close();
    }
  });

  it('tamper evidence survives a superuser: with the triggers dropped, an edited or deleted row is still detected', async () => {
    const filename = `${dir.path}/tamper.db`;
    const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })], signer: conformanceSigner });
    for (let i = 0; i < 5; i++) await log.record(sampleInput(i), { durable: true });
    await log.close();
    const raw = new Database(filename);
    raw.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_guard_delete;');
    raw
      .prepare(
        `UPDATE audit_events SET event = replace(event, '"outcome":"success"', '"outcome":"failure"'), outcome = 'failure' WHERE seq = 2`,
      )
      .run();
    raw.prepare('DELETE FROM audit_events WHERE seq = 4').run();
    raw.prepare("UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 5").run();
    raw.close();
    const reader = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })], signer: conformanceSigner });
    const result = await reader.verify();
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'modified', seq: 2 }),
        expect.objectContaining({ kind: 'missing', seq: 4, toSeq: 4 }),
      ]),
    );
    await reader.close();
  });

  it('an indexed column edited behind the JSON is reported, so queries cannot be steered silently', async () => {
    const filename = `${dir.path}/steer.db`;
    const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })], signer: conformanceSigner });
    for (let i = 0; i < 3; i++) await log.record(sampleInput(i), { durable: true });
    await log.close();
    const raw = new Database(filename);
    raw.exec('DROP TRIGGER audit_events_no_update;');
    raw.prepare("UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 3").run();
    raw.close();
    const reader = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })], signer: conformanceSigner });
    expect((await reader.verify()).problems).toContainEqual(expect.objectContaining({ kind: 'modified', seq: 3 }));
    await reader.close();
  });

  it('filtered queries use the indexes', async () => {
    const filename = `${dir.path}/plan.db`;
    const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })] });
    await log.close();
    const raw = new Database(filename);
    try {
      const plan = (where: string) =>
        (
          raw.prepare(`EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE ${where} ORDER BY seq LIMIT 10`).all() as {
            detail: string;
          }[]
        )
          .map((r) => r.detail)
          .join(' ');
      expect(plan("actor_id = 'a'")).toMatch(/USING (COVERING )?INDEX audit_events_actor_idx/);
      expect(plan("action IN ('auth.login.failed', 'mfa.failed')")).toMatch(
        /USING (COVERING )?INDEX audit_events_action_idx/,
      );
      expect(plan("session_id = 's'")).toMatch(/USING (COVERING )?INDEX audit_events_session_idx/);
      expect(plan("request_id = 'r'")).toMatch(/USING (COVERING )?INDEX audit_events_request_idx/);
      expect(plan("actor_ip = '192.0.2.1'")).toMatch(/USING (COVERING )?INDEX audit_events_ip_idx/);
      expect(plan('ts >= 1 AND ts < 2')).toMatch(/USING (COVERING )?INDEX audit_events_ts_idx/);
      // The partial indexes (migration 0002) serve equality on their column.
      expect(plan("resource_type = 'session' AND resource_id = 's-1'")).toMatch(
        /USING (COVERING )?INDEX audit_events_resource_idx/,
      );
    } finally {
      raw.close();
    }
  });

  it('migration 0002: a database of the first schema gets partial indexes, keeps every event and still verifies', async () => {
    const filename = `${dir.path}/upgrade.db`;
    const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })], signer: conformanceSigner });
    // Half the events without client IP, session, request id or resource.
    for (let i = 0; i < 40; i++) {
      const input = sampleInput(i);
      const { ip: _ip, ...actor } = input.actor;
      const { resource: _r, sessionId: _s, requestId: _q, ...bare } = input;
      void log.record(i % 2 === 0 ? input : { ...bare, actor });
    }
    await log.close();
    // Back to what a database of the first release holds: its full indexes, 0002 not applied.
    const raw = new Database(filename);
    raw.exec(`
      DROP INDEX audit_events_resource_idx; CREATE INDEX audit_events_resource_idx ON audit_events (resource_type, resource_id);
      DROP INDEX audit_events_ip_idx; CREATE INDEX audit_events_ip_idx ON audit_events (actor_ip);
      DROP INDEX audit_events_session_idx; CREATE INDEX audit_events_session_idx ON audit_events (session_id);
      DROP INDEX audit_events_request_idx; CREATE INDEX audit_events_request_idx ON audit_events (request_id);
      DELETE FROM provisioning_migrations WHERE namespace = 'audit-audit' AND id = '0002-partial-indexes';`);
    const indexSql = () =>
      (
        raw
          .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
          .all() as {
          name: string;
          sql: string;
        }[]
      ).map((r) => `${r.name}: ${r.sql.includes('WHERE') ? 'partial' : 'full'}`);
    expect(indexSql()).toContain('audit_events_ip_idx: full');
    raw.close();

    const reopened = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })], signer: conformanceSigner });
    const result = await reopened.verify();
    expect(result.problems).toEqual([]);
    expect(result.count).toBe(40);
    expect((await reopened.query({ ip: '192.0.2.2' })).records.map((r) => r.seq)).toEqual([3]);
    expect((await reopened.query({ sessionId: 'sess-1' }, { limit: 100 })).records).toHaveLength(6);
    expect((await reopened.query({ resourceType: 'session', resourceId: 's-4' })).records.map((r) => r.seq)).toEqual([
      5,
    ]);
    await reopened.record(sampleInput(40), { durable: true });
    expect((await reopened.verify()).count).toBe(41);
    await reopened.close();
    const after = new Database(filename);
    try {
      const rows = (
        after
          .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
          .all() as {
          name: string;
          sql: string;
        }[]
      ).map((r) => `${r.name}: ${r.sql.includes('WHERE') ? 'partial' : 'full'}`);
      expect(rows).toEqual([
        'audit_events_action_idx: full',
        'audit_events_actor_idx: full',
        'audit_events_ip_idx: partial',
        'audit_events_request_idx: partial',
        'audit_events_resource_idx: partial',
        'audit_events_session_idx: partial',
        'audit_events_ts_idx: full',
      ]);
      // The triggers are still there: the upgrade rebuilt indexes only.
      expect(() => after.prepare('DELETE FROM audit_events WHERE seq = 1').run()).toThrow(/append-only/);
    } finally {
      after.close();
    }
  });

  it('streams an export larger than one page (keyset paging) in order, in every format', async () => {
    const filename = `${dir.path}/export.db`;
    const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })] });
    for (let i = 0; i < 2500; i++) void log.record(sampleInput(i));
    await log.flush();
    let lines = 0;
    let lastSeq = 0;
    for await (const chunk of log.export({ format: 'jsonl' })) {
      const seq = JSON.parse(chunk).seq as number;
      expect(seq).toBe(lastSeq + 1);
      lastSeq = seq;
      lines++;
    }
    expect(lines).toBe(2500);
    const csv = await new Response(log.exportStream({ format: 'csv', order: 'desc' })).text();
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(2501);
    expect(csv.split('\r\n')[1]?.startsWith('2500,')).toBe(true);
    await log.close();
  });

  it('shares a database handle without closing it', async () => {
    const database = sqliteDatabase({ filename: `${dir.path}/shared.db` });
    const store = await sqliteAuditStore({ database, tablePrefix: 'audit_x' });
    const log = await createAuditLog({ sinks: [store] });
    await log.record(sampleInput(1), { durable: true });
    await log.close();
    expect(await database.run('probe', async () => 1)).toBe(1);
    await database.close();
  });
});

describe('sqlite group commit', () => {
  it('a large batch lets the event loop run between its chunks and stays one transaction', async () => {
    const filename = `${dir.path}/yield.db`;
    const log = await createAuditLog({ sinks: [await sqliteAuditStore({ filename })] });
    for (let i = 0; i < 3000; i++) void log.record(sampleInput(i));
    // Turns of the event loop (what a request handler needs) while the batch is written.
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    await log.flush();
    spinning = false;
    expect(log.stats().batches).toBe(1);
    // 3,000 rows are six INSERTs of 500: a turn between each (without yielding: none at all).
    expect(turns).toBeGreaterThanOrEqual(5);
    expect(await log.verify()).toMatchObject({ ok: true, count: 3000 });
    await log.close();
  });
});
