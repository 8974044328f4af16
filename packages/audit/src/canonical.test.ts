import { createManualClock } from '@provisioning/core';
import { tempDir } from '@provisioning/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical.js';
import type { AuditEvent } from './events.js';
import { prepareEvent } from './events.js';
import { createAuditLog } from './log.js';
import { jsonlSink } from './sinks/jsonl.js';

const dir = tempDir('audit-canonical-');
afterAll(() => dir.remove());

// structuredClone drops the canonical marker: canonicalJson then takes its generic path.
const generic = (event: AuditEvent): string => canonicalJson(structuredClone(event));

describe('canonical JSON of metadata with integer-like keys', () => {
  // JavaScript enumerates "9" before "10" and both before "-": building an object in
  // sorted order does not make JSON.stringify write it sorted.
  const metadata = { '-': 1, '10': 'ten', '9': 'nine', nested: { $ref: 'x', '1': true, '0': [{ '2': 0, '11': 1 }] } };

  it('the stored text is the canonical form', () => {
    const { event, json } = prepareEvent(
      { action: 'admin.config.changed', outcome: 'success', actor: { id: 'ada', type: 'user' }, metadata },
      { clock: createManualClock(new Date('2026-01-01T00:00:00Z')) },
    );
    expect(json).toBe(generic(event));
    expect(json).toContain(
      '"metadata":{"-":1,"10":"ten","9":"nine","nested":{"$ref":"x","0":[{"11":1,"2":0}],"1":true}}',
    );
    expect(canonicalJson(event)).toBe(json);
  });

  it('verify() accepts such events read back from a file (no false "modified")', async () => {
    const log = await createAuditLog({ sinks: [jsonlSink({ directory: `${dir.path}/int-keys` })] });
    await log.record({
      action: 'admin.config.changed',
      outcome: 'success',
      actor: { id: 'ada', type: 'user' },
      metadata,
    });
    const result = await log.verify();
    await log.close();
    expect(result.problems).toEqual([]);
    expect(result.count).toBe(1);
  });
});
