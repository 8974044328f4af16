import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DsrRecord } from '../src/dsr-model.js';
import type { DsrStore } from '../src/dsr-store.js';
import { ComplianceError } from '../src/errors.js';

/** A driver of the {@link DsrStore} conformance suite. */
export interface DsrStoreDriver {
  readonly name: string;
  /** Opens an empty store. */
  open(): Promise<DsrStore>;
  /** Opens a second store on the same backend (another connection or instance). */
  openPeer(first: DsrStore): Promise<DsrStore>;
}

let seq = 0;
/** A minimal valid record. */
export function sampleRecord(patch: Partial<DsrRecord> = {}): DsrRecord {
  seq += 1;
  return {
    id: `req-${String(seq).padStart(4, '0')}`,
    version: 1,
    type: 'erasure',
    subjectId: 'user-1',
    status: 'received',
    receivedAt: '2026-01-10T10:00:00.000Z',
    dueAt: '2026-02-10T23:59:59.999Z',
    identity: { attempts: 0 },
    providers: {},
    history: [{ at: '2026-01-10T10:00:00.000Z', from: null, to: 'received' }],
    ...patch,
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ComplianceError);
  return (error as ComplianceError).code;
}

/** The conformance suite every {@link DsrStore} driver runs. */
export function describeDsrStore(driver: DsrStoreDriver): void {
  describe(`DsrStore conformance: ${driver.name}`, () => {
    let store: DsrStore;
    const extra: DsrStore[] = [];
    beforeEach(async () => {
      store = await driver.open();
    });
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await store.close();
    });

    it('round-trips a record exactly, nested fields included', async () => {
      const record = sampleRecord({
        type: 'rectification',
        rectification: { email: 'new@example.test', name: 'Zoë Ünïcödé', tags: ['a', 'b'] },
        providers: {
          users: { status: 'failed', at: '2026-01-11T00:00:00.000Z', attempts: 2, error: { code: 'X', message: 'm' } },
        },
      });
      await store.create(record);
      expect(await store.get(record.id)).toEqual(record);
      expect(await store.get('missing')).toBeUndefined();
    });

    it('refuses to create the same id twice', async () => {
      const record = sampleRecord();
      await store.create(record);
      expect(await codeOf(store.create({ ...record, subjectId: 'other' }))).toBe('ERR_COMPLIANCE_CONFLICT');
      expect((await store.get(record.id))?.subjectId).toBe('user-1');
    });

    it('updates only from the previous version (compare-and-set)', async () => {
      const record = sampleRecord();
      await store.create(record);
      await store.update({ ...record, version: 2, status: 'verified' });
      expect((await store.get(record.id))?.status).toBe('verified');
      // A stale writer (still on version 1) loses and changes nothing.
      expect(await codeOf(store.update({ ...record, version: 2, status: 'rejected' }))).toBe('ERR_COMPLIANCE_CONFLICT');
      expect(await codeOf(store.update({ ...record, version: 5, status: 'rejected' }))).toBe('ERR_COMPLIANCE_CONFLICT');
      expect((await store.get(record.id))?.status).toBe('verified');
      expect(await codeOf(store.update(sampleRecord({ version: 2 })))).toBe('ERR_COMPLIANCE_REQUEST_NOT_FOUND');
    });

    it('lets exactly one of two concurrent writers win, across instances', async () => {
      const peer = await driver.openPeer(store);
      extra.push(peer);
      const record = sampleRecord();
      await store.create(record);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? peer : store).update({ ...record, version: 2, status: 'verified', identity: { attempts: i } }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as ComplianceError).code).toBe('ERR_COMPLIANCE_CONFLICT');
      }
      expect((await peer.get(record.id))?.version).toBe(2);
    });

    it('lists by subject, status and due date, oldest receipt first', async () => {
      const a = sampleRecord({
        subjectId: 's-a',
        receivedAt: '2026-03-02T00:00:00.000Z',
        dueAt: '2026-04-02T23:59:59.999Z',
      });
      const b = sampleRecord({
        subjectId: 's-b',
        receivedAt: '2026-03-01T00:00:00.000Z',
        dueAt: '2026-04-01T23:59:59.999Z',
        status: 'verified',
      });
      const c = sampleRecord({
        subjectId: 's-a',
        receivedAt: '2026-03-03T00:00:00.000Z',
        dueAt: '2026-04-03T23:59:59.999Z',
        status: 'completed',
      });
      for (const r of [a, b, c]) await store.create(r);
      expect((await store.list()).map((r) => r.id)).toEqual([b.id, a.id, c.id]);
      expect((await store.list({ subjectId: 's-a' })).map((r) => r.id)).toEqual([a.id, c.id]);
      expect((await store.list({ statuses: ['verified', 'completed'] })).map((r) => r.id)).toEqual([b.id, c.id]);
      expect(await store.list({ statuses: [] })).toEqual([]);
      expect((await store.list({ dueBefore: new Date('2026-04-03T00:00:00Z') })).map((r) => r.id)).toEqual([
        b.id,
        a.id,
      ]);
      expect((await store.list({ limit: 1 })).map((r) => r.id)).toEqual([b.id]);
      expect(await codeOf(store.list({ limit: 0 }))).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    });

    it('keeps the status index in step with updates', async () => {
      const record = sampleRecord();
      await store.create(record);
      await store.update({ ...record, version: 2, status: 'cancelled' });
      expect(await store.list({ statuses: ['received'] })).toEqual([]);
      expect((await store.list({ statuses: ['cancelled'] })).map((r) => r.id)).toEqual([record.id]);
    });

    it('treats ids and subject ids as data, not SQL', async () => {
      const record = sampleRecord({ id: "x'; DROP TABLE t; --", subjectId: 'o\'hara"%_' });
      await store.create(record);
      expect((await store.list({ subjectId: 'o\'hara"%_' })).map((r) => r.id)).toEqual([record.id]);
      expect(await store.list({ subjectId: 'o%' })).toEqual([]);
    });

    it('rejects calls after close with ERR_COMPLIANCE_STORE_CLOSED', async () => {
      const s = await driver.open();
      await s.close();
      expect(await codeOf(s.get('x'))).toBe('ERR_COMPLIANCE_STORE_CLOSED');
      expect(await codeOf(s.create(sampleRecord()))).toBe('ERR_COMPLIANCE_STORE_CLOSED');
    });
  });
}
