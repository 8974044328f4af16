import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { sampleInput } from '../test/helpers.js';
import { canonicalJson } from './canonical.js';
import { chainHash, ed25519Signer, generateCheckpointKeyPair, verifyChain } from './chain.js';
import { createAuditLog } from './log.js';
import type { MemoryAuditStore } from './sinks/memory.js';
import { memoryAuditStore } from './sinks/memory.js';

const keys = generateCheckpointKeyPair();
const signer = ed25519Signer({ privateKey: keys.privateKey });

async function filled(n = 10, everyEvents = 4): Promise<MemoryAuditStore> {
  const store = memoryAuditStore();
  const log = await createAuditLog({
    sinks: [store],
    clock: createManualClock(new Date('2026-01-01T00:00:00Z')),
    signer,
    checkpoint: { everyEvents },
    queue: { maxBatch: 2 },
  });
  for (let i = 0; i < n; i++) void log.record(sampleInput(i));
  await log.close();
  return store;
}

const check = async (store: MemoryAuditStore, publicKey = keys.publicKey) =>
  verifyChain({
    entries: store.read(),
    checkpoints: await store.checkpoints(),
    purges: await store.purges(),
    publicKey,
  });

describe('tamper evidence', () => {
  it('an untouched log verifies, with every checkpoint matched', async () => {
    const store = await filled();
    const result = await check(store);
    expect(result).toMatchObject({ ok: true, count: 10, unsignedTail: 0, problems: [] });
    expect(result.checkpointsVerified).toBe(store.checkpointList.length);
    expect(store.checkpointList.map((c) => c.seq)).toEqual([4, 8, 10]);
  });

  it('detects a modified event', async () => {
    const store = await filled();
    const e = store.entries[3];
    if (e === undefined) throw new Error('missing');
    store.entries[3] = { ...e, event: { ...e.event, outcome: 'failure' } };
    const result = await check(store);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'modified', seq: 4 }));
  });

  it('detects a modified event whose hash was recomputed: the next link breaks', async () => {
    const store = await filled();
    const prev = store.entries[1];
    const e = store.entries[2];
    if (e === undefined || prev === undefined) throw new Error('missing');
    const event = { ...e.event, actor: { ...e.event.actor, id: 'mallory' } };
    store.entries[2] = { ...e, event, hash: chainHash(prev.hash, 3, canonicalJson(event)) };
    const result = await check(store);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'modified', seq: 4 }));
  });

  it('detects a deleted event', async () => {
    const store = await filled();
    store.entries.splice(5, 1);
    const result = await check(store);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'missing', seq: 6, toSeq: 6 }));
  });

  it('detects an inserted event', async () => {
    const store = await filled();
    const copy = store.entries[4];
    if (copy === undefined) throw new Error('missing');
    store.entries.splice(6, 0, { ...copy, event: { ...copy.event, reason: 'forged' } });
    const result = await check(store);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'duplicate', seq: 5 }));
  });

  it('detects reordered events', async () => {
    const store = await filled();
    const [a, b] = store.entries.splice(2, 2);
    if (a === undefined || b === undefined) throw new Error('missing');
    store.entries.splice(2, 0, b, a);
    const result = await check(store);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.kind)).toContain('reordered');
  });

  it('detects a truncated tail against the latest checkpoint', async () => {
    const store = await filled();
    store.entries.splice(7);
    const result = await check(store);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', seq: 7, toSeq: 10 }));
  });

  it('a rewritten tail (every hash recomputed) is caught by the signed checkpoint', async () => {
    const store = await filled();
    let prev = store.entries[5]?.hash as string;
    for (let i = 6; i < store.entries.length; i++) {
      const e = store.entries[i];
      if (e === undefined) throw new Error('missing');
      const event = { ...e.event, outcome: 'failure' as const };
      prev = chainHash(prev, e.seq, canonicalJson(event));
      store.entries[i] = { ...e, event, hash: prev };
    }
    const result = await check(store);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'checkpoint_mismatch', seq: 8 }));
  });

  it('a forged checkpoint (wrong key) is rejected, so it cannot vouch for a rewritten chain', async () => {
    const store = await filled();
    const other = generateCheckpointKeyPair().publicKey;
    const result = await check(store, other);
    expect(result.ok).toBe(false);
    expect(result.problems.every((p) => p.kind === 'checkpoint_invalid')).toBe(true);
    expect(result.checkpointsVerified).toBe(0);
  });

  it('a trusted checkpoint kept outside the log detects truncation even if in-log checkpoints were removed too', async () => {
    const store = await filled();
    const trusted = store.checkpointList.at(-1);
    store.entries.splice(9);
    store.checkpointList.splice(2);
    const result = await verifyChain({
      entries: store.read(),
      checkpoints: await store.checkpoints(),
      purges: [],
      publicKey: keys.publicKey,
      ...(trusted ? { trustedCheckpoint: trusted } : {}),
    });
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'truncated' }));
  });

  it('reports events after the latest checkpoint as an unsigned tail', async () => {
    const store = await filled(10, 4);
    store.checkpointList.pop();
    const result = await check(store);
    expect(result).toMatchObject({ ok: true, unsignedTail: 2 });
  });
});
