import { createManualClock } from '@provisioning/core';
import { tempDir } from '@provisioning/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { prng } from '../test/helpers.js';
import { canonicalJson, eventJson } from './canonical.js';
import type { AuditEvent, AuditEventInput, JsonValue } from './events.js';
import { AUDIT_ACTION_NAMES, prepareEvent } from './events.js';
import { createAuditLog } from './log.js';
import { jsonlSink } from './sinks/jsonl.js';

const dir = tempDir('audit-canonical-');
afterAll(() => dir.remove());

// Characters JSON.stringify treats differently: quotes, backslashes, control characters,
// U+2028/2029 (written raw), DEL, Latin-1, CJK and a surrogate pair (an emoji).
const PIECES = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '/',
  '\n',
  '\t',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u2028',
  '\u2029',
  'é',
  'ß',
  '中',
  '😀',
  '-',
  '.',
];

function randomText(rand: () => number, max = 12, min = 0): string {
  const n = min + Math.floor(rand() * (max - min + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}

function randomJson(rand: () => number, depth: number): JsonValue {
  const kind = Math.floor(rand() * (depth > 2 ? 5 : 7));
  switch (kind) {
    case 0:
      return randomText(rand);
    case 1:
      return Math.floor(rand() * 2000) - 1000 + (rand() < 0.3 ? rand() : 0);
    case 2:
      return rand() < 0.5;
    case 3:
      return null;
    case 4:
      return rand() < 0.5 ? 1e21 * rand() : -0.000001 * rand();
    case 5:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
    default: {
      const out: Record<string, JsonValue> = {};
      for (let i = Math.floor(rand() * 5); i > 0; i--) out[randomText(rand, 6, 1)] = randomJson(rand, depth + 1);
      return out;
    }
  }
}

function randomInput(rand: () => number): AuditEventInput {
  const maybe = <T>(value: () => T): T | undefined => (rand() < 0.5 ? value() : undefined);
  const input: Record<string, unknown> = {
    action: AUDIT_ACTION_NAMES[Math.floor(rand() * AUDIT_ACTION_NAMES.length)],
    outcome: ['success', 'failure', 'denied', 'unknown'][Math.floor(rand() * 4)],
    actor: Object.fromEntries(
      Object.entries({
        id: randomText(rand, 12, 1),
        type: ['user', 'service', 'api_key', 'system', 'anonymous'][Math.floor(rand() * 5)],
        roles: maybe(() => Array.from({ length: Math.floor(rand() * 3) }, () => randomText(rand, 8, 1))),
        ip: maybe(() =>
          rand() < 0.5
            ? `198.51.100.${Math.floor(rand() * 255)}`
            : `2001:db8::${Math.floor(rand() * 65535).toString(16)}`,
        ),
        userAgent: maybe(() => randomText(rand, 30)),
      }).filter(([, v]) => v !== undefined),
    ),
    resource: maybe(() =>
      rand() < 0.5 ? { type: randomText(rand, 8, 1) } : { type: randomText(rand, 8, 1), id: randomText(rand) },
    ),
    reason: maybe(() => randomText(rand, 40)),
    requestId: maybe(() => randomText(rand)),
    sessionId: maybe(() => randomText(rand)),
    policyVersion: maybe(() => randomText(rand, 6)),
    metadata: maybe(() => {
      const m = randomJson(rand, 0);
      return typeof m === 'object' && m !== null && !Array.isArray(m) ? m : { value: m };
    }),
  };
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];
  return input as unknown as AuditEventInput;
}

// structuredClone drops the canonical marker: canonicalJson then takes its generic path.
const generic = (event: AuditEvent): string => canonicalJson(structuredClone(event));

describe('eventJson (the serializer of the fixed event shape)', () => {
  const context = { clock: createManualClock(new Date('2026-01-01T00:00:00Z')) };

  it('writes byte for byte what the generic canonicaliser writes, on 5,000 random events', () => {
    const rand = prng(7);
    let withEscapes = 0;
    for (let i = 0; i < 5000; i++) {
      const { event, json } = prepareEvent(randomInput(rand), context);
      const expected = generic(event);
      if (json !== expected) expect({ i, json }).toEqual({ i, json: expected });
      if (json.includes('\\')) withEscapes++;
    }
    // The generator must reach the escaping paths, or the comparison proves little.
    expect(withEscapes).toBeGreaterThan(1000);
  });

  it('covers every field of an event with all of them set', () => {
    const input: AuditEventInput = {
      action: 'authz.denied',
      outcome: 'denied',
      actor: { id: 'ada', type: 'user', roles: ['a', 'b'], ip: '203.0.113.9', userAgent: 'UA' },
      resource: { type: 'kms_key', id: 'k1' },
      reason: 'policy',
      requestId: 'r1',
      sessionId: 's1',
      policyVersion: 'v1',
      metadata: { z: 1, a: { y: [1, 'x'], b: null } },
      retention: 'standard',
    };
    const { event, json } = prepareEvent(input, context);
    expect(json).toBe(generic(event));
    // Every key the built event has is in the text the chain hashes.
    expect(JSON.parse(json)).toEqual(structuredClone(event));
    expect(Object.keys(JSON.parse(json)).sort()).toEqual(Object.keys(event).sort());
  });

  it('escapes what JSON.stringify escapes, lone surrogates and U+0000 included', () => {
    // Built by hand: normalizeEvent refuses these strings, the serializer must still agree.
    const base = prepareEvent(randomInput(prng(1)), context).event;
    for (const s of ['\ud800', 'a\udfffb', '\u0000', '😀\ud83d', '"\\\b\f\n\r\t', '\u2028\u2029', 'plain']) {
      const event = {
        ...base,
        actor: { id: s, type: 'user', roles: [s], ip: '192.0.2.1', userAgent: s },
        reason: s,
        resource: { type: s, id: s },
      } as AuditEvent;
      expect(eventJson(event)).toBe(generic(event));
    }
  });
});

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
