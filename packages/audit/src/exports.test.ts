import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { sampleInput } from '../test/helpers.js';
import { canonicalJson } from './canonical.js';
import type { AuditEventInput } from './events.js';
import { AUDIT_ACTION_NAMES } from './events.js';
import {
  CSV_COLUMNS,
  csvCell,
  exportRecords,
  ocsfClassOf,
  toEcs,
  toOcsf,
  toReadableStream,
  toSplunkHec,
} from './exports.js';
import { createAuditLog } from './log.js';
import { memoryAuditStore } from './sinks/memory.js';
import type { StoredRecord } from './store.js';

async function records(inputs: AuditEventInput[]): Promise<StoredRecord[]> {
  const store = memoryAuditStore();
  const log = await createAuditLog({ sinks: [store], clock: createManualClock(new Date('2026-03-01T12:00:00.250Z')) });
  for (const i of inputs) void log.record(i);
  await log.close();
  return store.entries;
}

const collect = async (it: AsyncIterable<string>): Promise<string> => {
  let out = '';
  for await (const c of it) out += c;
  return out;
};

/** A minimal RFC 4180 parser, to read the CSV back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

describe('CSV export', () => {
  it('is RFC 4180: header, CRLF, quoted commas, quotes and newlines, and reads back', async () => {
    const rs = await records([sampleInput(1, { reason: 'said "hi", then\nleft' })]);
    const text = await collect(exportRecords(rs, 'csv'));
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const row = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, rows[1]?.[i]]));
    expect(row).toMatchObject({
      seq: '1',
      action: 'auth.login.succeeded',
      reason: 'said "hi", then\nleft',
      actor_roles: 'admin',
      metadata: '{"n":1}',
    });
  });

  it('neutralises formula injection: cells starting with = + - @ tab or CR', async () => {
    for (const evil of ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)', '\tcmd', '\rcmd']) {
      expect(csvCell(evil).replace(/^"/, '').startsWith("'")).toBe(true);
    }
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell(-5)).toBe('-5'); // numbers we write ourselves are not text from outside
    const rs = await records([sampleInput(1, { actor: { id: '=cmd|calc', type: 'user', userAgent: '@evil' } })]);
    const rows = parseCsv(await collect(exportRecords(rs, 'csv')));
    expect(rows[1]?.[CSV_COLUMNS.indexOf('actor_id')]).toBe("'=cmd|calc");
    expect(rows[1]?.[CSV_COLUMNS.indexOf('actor_user_agent')]).toBe("'@evil");
  });
});

describe('JSON and JSONL exports', () => {
  it('json is one valid array; jsonl one object per line; both carry seq and hash', async () => {
    const rs = await records([sampleInput(1), sampleInput(2)]);
    const arr = JSON.parse(await collect(exportRecords(rs, 'json')));
    expect(arr.map((r: StoredRecord) => r.seq)).toEqual([1, 2]);
    expect(JSON.parse(await collect(exportRecords([], 'json')))).toEqual([]);
    const lines = (await collect(exportRecords(rs, 'jsonl')))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[1]).toMatchObject({ seq: 2, hash: rs[1]?.hash, event: { id: rs[1]?.event.id } });
  });

  it('streams as a Web ReadableStream', async () => {
    const rs = await records([sampleInput(1)]);
    const text = await new Response(toReadableStream(exportRecords(rs, 'jsonl'))).text();
    expect(JSON.parse(text).seq).toBe(1);
  });

  it('streams a range larger than any page, through the log', async () => {
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store] });
    for (let i = 0; i < 2500; i++) void log.record(sampleInput(i));
    await log.flush();
    let n = 0;
    for await (const chunk of log.export({ format: 'jsonl', filter: { actorId: 'user-1' } }))
      if (chunk.endsWith('\n')) n++;
    expect(n).toBe(Math.ceil((2500 - 1) / 7));
    await log.close();
  });
});

describe('ECS export', () => {
  it('has @timestamp, ecs.version, event.kind/category/type/action/outcome, user, source.ip, event.hash and string labels', async () => {
    const [r] = await records([
      sampleInput(1, {
        action: 'auth.login.failed',
        outcome: 'failure',
        policyVersion: 'v7',
        metadata: { attempts: 3, nested: { a: 1 } },
      }),
    ]);
    const doc = toEcs(r as StoredRecord) as Record<string, any>;
    expect(doc['@timestamp']).toBe('2026-03-01T12:00:00.250Z');
    expect(doc.ecs.version).toMatch(/^8\./);
    expect(doc.event).toMatchObject({
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'auth.login.failed',
      outcome: 'failure',
      hash: r?.hash,
    });
    expect(doc.user).toEqual({ id: 'user-1', roles: ['admin'] });
    expect(doc.source).toEqual({ ip: '192.0.2.1' });
    expect(doc.http.request.id).toBe('req-1');
    for (const v of Object.values(doc.labels)) expect(typeof v).toBe('string');
    expect(doc.labels).toMatchObject({ metadata_attempts: '3', metadata_nested: '{"a":1}', policy_version: 'v7' });
  });

  it('puts a pseudonymised actor into user.hash, not user.id', async () => {
    const [r] = await records([sampleInput(1, { actor: { id: 'psn:abc', type: 'user' } })]);
    expect((toEcs(r as StoredRecord) as Record<string, any>).user).toEqual({ hash: 'psn:abc' });
  });

  it('maps denied authorization to outcome failure with type denied', async () => {
    const [r] = await records([sampleInput(1, { action: 'authz.denied', outcome: 'denied' })]);
    expect((toEcs(r as StoredRecord) as Record<string, any>).event).toMatchObject({
      outcome: 'failure',
      type: ['access', 'denied'],
    });
  });
});

describe('OCSF 1.8 export', () => {
  it('type_uid = class_uid * 100 + activity_id and class_uid = category_uid * 1000 + n, for every action', () => {
    for (const action of AUDIT_ACTION_NAMES) {
      const { classUid, activityId, typeUid } = ocsfClassOf(action);
      expect(typeUid).toBe(classUid * 100 + activityId);
      expect([3001, 3002, 3003, 3005, 3006, 2005, 6003]).toContain(classUid);
    }
  });

  it('maps logins to Authentication 3002, authorization to Authorize Session 3003, user changes to Account Change 3001, KMS to API Activity 6003', async () => {
    const rs = await records([
      sampleInput(1, { action: 'auth.login.failed', outcome: 'failure' }),
      sampleInput(2, { action: 'authz.denied', outcome: 'denied' }),
      sampleInput(3, { action: 'admin.user.created' }),
      sampleInput(4, { action: 'kms.key.rotated', resource: { type: 'kms_key', id: 'k1' } }),
    ]);
    const [login, authz, account, kms] = rs.map((r) => toOcsf(r) as Record<string, any>);
    expect(login).toMatchObject({
      class_uid: 3002,
      category_uid: 3,
      activity_id: 1,
      type_uid: 300201,
      status_id: 2,
      status: 'Failure',
      is_mfa: false,
    });
    expect(login?.time).toBe(Date.parse('2026-03-01T12:00:00.250Z'));
    expect(login?.metadata).toMatchObject({ version: '1.8.0', uid: rs[0]?.event.id, correlation_uid: 'req-1' });
    expect(login?.src_endpoint).toEqual({ ip: '192.0.2.1' });
    expect(login?.user).toMatchObject({ uid: 'user-1' });
    expect(authz).toMatchObject({ class_uid: 3003, type_uid: 300301, status_detail: 'denied' });
    expect(account).toMatchObject({ class_uid: 3001, activity_id: 1, type_uid: 300101 });
    expect(kms).toMatchObject({
      class_uid: 6003,
      category_uid: 6,
      activity_id: 3,
      type_uid: 600303,
      api: { operation: 'kms.key.rotated' },
    });
    expect(kms?.resources).toEqual([{ type: 'kms_key', uid: 'k1' }]);
  });
});

describe('Splunk HEC export', () => {
  it('has time in epoch seconds and the event with seq and hash; a batch is concatenated objects', async () => {
    const rs = await records([sampleInput(1), sampleInput(2)]);
    const r = toSplunkHec(rs[0] as StoredRecord, { index: 'main' });
    expect(r).toMatchObject({
      time: 1772366400.25,
      index: 'main',
      sourcetype: 'provisioning:audit',
      event: { seq: 1 },
    });
    const text = await collect(exportRecords(rs, 'splunk'));
    expect(text.startsWith('{')).toBe(true);
    expect(text.trim().split('\n')).toHaveLength(2);
  });
});

describe('canonical JSON', () => {
  it('the fast path for normalized events gives exactly the slow canonical form', async () => {
    const { normalizeEvent } = await import('./events.js');
    const { systemClock } = await import('@provisioning/core');
    const full = sampleInput(3, {
      reason: 'r',
      policyVersion: 'p',
      metadata: { z: 1, a: { y: [2, { d: 1, c: 2 }], b: null } },
    });
    for (const input of [
      full,
      { action: 'auth.logout' as const, outcome: 'success' as const, actor: { id: 'u', type: 'user' as const } },
    ]) {
      const event = normalizeEvent(input, { clock: systemClock });
      expect(canonicalJson(event)).toBe(canonicalJson(JSON.parse(JSON.stringify(event))));
      expect(canonicalJson(event)).toBe(canonicalJson(JSON.parse(JSON.stringify(event)).valueOf()));
    }
  });

  it('sorts keys at every level and ignores construction order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});
