import type { ManualClock } from '@provisioning/core';
import { createManualClock } from '@provisioning/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ed25519Signer, generateCheckpointKeyPair } from '../src/chain.js';
import type { AuditEventInput } from '../src/events.js';
import type { AuditLog } from '../src/log.js';
import { createAuditLog } from '../src/log.js';
import type { AuditStore, StoredRecord } from '../src/store.js';
import { sampleInput } from './helpers.js';

/** A store driver under test. */
export interface StoreDriver {
  readonly name: string;
  /** Opens an empty store. */
  open(): Promise<AuditStore>;
  /** Opens the same backend again (a restart). */
  reopen(first: AuditStore): Promise<AuditStore>;
}

const keys = generateCheckpointKeyPair();
export const conformanceSigner = ed25519Signer({ privateKey: keys.privateKey });

/**
 * The conformance suite of the {@link AuditStore} contract: every driver
 * (memory, JSONL, SQLite, PostgreSQL) runs it.
 */
export function describeAuditStore(driver: StoreDriver): void {
  describe(`AuditStore conformance: ${driver.name}`, () => {
    let clock: ManualClock;
    let store: AuditStore;
    let log: AuditLog;
    const extra: AuditLog[] = [];

    beforeEach(async () => {
      // In the past on purpose: SQL triggers check expiry against the database's own clock.
      clock = createManualClock(new Date('2020-01-01T00:00:00Z'));
      store = await driver.open();
      log = await createAuditLog({ sinks: [store], clock, signer: conformanceSigner, checkpoint: { everyEvents: 5 } });
    });
    afterEach(async () => {
      for (const l of extra.splice(0)) await l.close();
      await log.close();
    });

    const fill = async (inputs: AuditEventInput[], stepMs = 60_000): Promise<void> => {
      for (const input of inputs) {
        void log.record(input);
        clock.advance(stepMs);
        await log.flush();
      }
    };

    it('stores what it is given and verifies', async () => {
      await fill(
        Array.from({ length: 12 }, (_, i) => sampleInput(i)),
        1000,
      );
      const page = await store.query({}, { limit: 1000 });
      expect(page.records.map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(page.records[3]?.event).toMatchObject({
        action: 'auth.login.succeeded',
        actor: { id: 'user-3', ip: '192.0.2.3' },
        metadata: { n: 3 },
      });
      expect(await log.verify()).toMatchObject({ ok: true, count: 12, checkpointsVerified: 2, unsignedTail: 2 });
    });

    it('stores awkward text exactly, many events to a batch, and verifies', async () => {
      // Newlines, tabs, quotes, backslashes, escapes written out, non-BMP characters, U+2028,
      // numbers whose text a database could rewrite: every batched insert must keep them.
      const awkward = [
        'two\nlines\r\n',
        'tab\tquote" backslash\\ slash/',
        'written-out \\n and \\u0041',
        'emoji \u{1f600} and \u2028 and \u0007',
        '',
      ];
      const inputs = awkward.flatMap((reason, i) => [
        sampleInput(i, {
          reason,
          metadata: { reason, numbers: [0.1, 1e21, -2.5e-7, 9007199254740991], nested: { '\n': [null, true] } },
        }),
        sampleInput(i + 100),
      ]);
      // No flush in between: one group commit holds them all.
      const receipts = inputs.map((input) => log.record(input, { durable: true }));
      await Promise.all(receipts);
      const page = await store.query({}, { limit: 1000 });
      expect(page.records).toHaveLength(inputs.length);
      awkward.forEach((reason, i) => {
        expect(page.records[2 * i]?.event).toMatchObject({
          reason,
          metadata: { reason, numbers: [0.1, 1e21, -2.5e-7, 9007199254740991], nested: { '\n': [null, true] } },
        });
      });
      expect(log.stats().batches).toBe(1);
      expect(await log.verify()).toMatchObject({ ok: true, count: inputs.length });
    });

    it('resumes the chain after a restart and still verifies', async () => {
      await fill([sampleInput(1), sampleInput(2)]);
      await log.close();
      const again = await driver.reopen(store);
      log = await createAuditLog({ sinks: [again], clock, signer: conformanceSigner });
      const receipt = await log.record(sampleInput(3), { durable: true });
      expect(receipt.seq).toBe(3);
      expect(await log.verify()).toMatchObject({ ok: true, count: 3 });
    });

    it('filters by time, actor, action, category, outcome, resource, IP, session, request id and text', async () => {
      await fill([
        sampleInput(1),
        sampleInput(2, { action: 'auth.login.failed', outcome: 'failure', reason: 'Bad Password' }),
        sampleInput(3, { action: 'authz.denied', outcome: 'denied', resource: { type: 'kms_key', id: 'k1' } }),
        sampleInput(4, { action: 'mfa.failed', outcome: 'failure' }),
        sampleInput(5, { actor: { id: 'bob', type: 'service', ip: '2001:db8::1' } }),
      ]);
      const seqs = async (filter: Parameters<AuditStore['query']>[0]): Promise<number[]> =>
        (await store.query(filter, { limit: 100 })).records.map((r) => r.seq);
      expect(await seqs({ from: '2020-01-01T00:01:00Z', to: '2020-01-01T00:03:00Z' })).toEqual([2, 3]);
      expect(await seqs({ from: new Date('2020-01-01T00:03:00Z') })).toEqual([4, 5]);
      expect(await seqs({ actorId: 'bob' })).toEqual([5]);
      expect(await seqs({ action: 'auth.login.failed' })).toEqual([2]);
      expect(await seqs({ action: ['auth.login.failed', 'mfa.failed'] })).toEqual([2, 4]);
      expect(await seqs({ category: 'authentication' })).toEqual([1, 2, 5]);
      expect(await seqs({ outcome: 'failure' })).toEqual([2, 4]);
      expect(await seqs({ resourceType: 'kms_key', resourceId: 'k1' })).toEqual([3]);
      expect(await seqs({ ip: '2001:db8::1' })).toEqual([5]);
      expect(await seqs({ ip: '192.0.2.4' })).toEqual([4]);
      expect(await seqs({ sessionId: 'sess-1' })).toEqual([1, 4]);
      expect(await seqs({ requestId: 'req-3' })).toEqual([3]);
      expect(await seqs({ text: 'bad password' })).toEqual([2]);
      expect(await seqs({ text: '100%_' })).toEqual([]);
      expect(await seqs({ category: 'authentication', outcome: 'success' })).toEqual([1, 5]);
    });

    it('sorts and pages with a cursor', async () => {
      await fill(Array.from({ length: 25 }, (_, i) => sampleInput(i)));
      const walk = async (order: 'asc' | 'desc'): Promise<number[]> => {
        const seen: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.query({}, { limit: 7, order, ...(cursor ? { cursor } : {}) });
          expect(page.records.length).toBeLessThanOrEqual(7);
          seen.push(...page.records.map((r: StoredRecord) => r.seq));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        return seen;
      };
      expect(await walk('asc')).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(await walk('desc')).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));
      await expect(store.query({}, { cursor: 'garbage' })).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_QUERY' });
      await expect(store.query({}, { limit: 0 })).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_QUERY' });
    });

    it('counts by action, outcome and time bucket', async () => {
      await fill(
        [
          sampleInput(1),
          sampleInput(2, { action: 'auth.login.failed', outcome: 'failure' }),
          sampleInput(3, { action: 'auth.login.failed', outcome: 'failure' }),
          sampleInput(4),
        ],
        40 * 60_000,
      );
      expect(await store.count({}, 'action')).toEqual([
        { key: 'auth.login.failed', count: 2 },
        { key: 'auth.login.succeeded', count: 2 },
      ]);
      expect(await store.count({ outcome: 'failure' }, 'outcome')).toEqual([{ key: 'failure', count: 2 }]);
      expect(await store.count({}, 'hour')).toEqual([
        { key: '2020-01-01T00', count: 2 },
        { key: '2020-01-01T01', count: 1 },
        { key: '2020-01-01T02', count: 1 },
      ]);
      expect(await store.count({}, 'day')).toEqual([{ key: '2020-01-01', count: 4 }]);
      await expect(store.count({}, 'week' as never)).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_QUERY' });
      await expect(store.query({ to: 'soon' })).rejects.toMatchObject({ code: 'ERR_AUDIT_INVALID_QUERY' });
    });

    it('streams a scan of every matching record', async () => {
      await fill(Array.from({ length: 30 }, (_, i) => sampleInput(i)));
      const seen: number[] = [];
      for await (const r of store.scan({ actorId: 'user-1' }, 'asc')) seen.push(r.seq);
      expect(seen).toEqual([2, 9, 16, 23, 30]);
    });

    it('retention purge removes expired events, keeps break-glass for 7 years, and verification still passes', async () => {
      await fill([sampleInput(1), sampleInput(2, { action: 'break_glass.activated' }), sampleInput(3), sampleInput(4)]);
      // Rotate file-based stores so old events sit in their own files.
      await log.close();
      const again = await driver.reopen(store);
      store = again;
      clock.advance(400 * 86_400_000);
      log = await createAuditLog({ sinks: [again], clock, signer: conformanceSigner });
      await log.record(sampleInput(5), { durable: true });
      const outcomes = await log.purge();
      await log.flush();
      const purged = outcomes[0]?.purged ?? 0;
      const remaining = (await again.query({}, { limit: 100 })).records;
      expect(purged).toBe(3);
      expect(remaining.map((r) => r.seq)).toEqual([2, 5, 6]);
      expect(remaining[0]?.event.action).toBe('break_glass.activated');
      expect(remaining[2]?.event).toMatchObject({ action: 'audit.retention.purged', metadata: { count: 3 } });
      expect(await log.verify()).toMatchObject({ ok: true, purged });
    });
  });
}
