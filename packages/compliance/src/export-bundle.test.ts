import { describe, expect, it } from 'vitest';
import { ComplianceError } from './errors.js';
import type { ExportBundle } from './export-bundle.js';
import { canonicalJson, sha256Hex, verifyExportBundle } from './export-bundle.js';

describe('canonical JSON', () => {
  it('sorts keys at every level and drops undefined members, so equal data has equal bytes', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
    expect(canonicalJson([undefined, null, true, 'é\u2028'])).toBe(JSON.stringify([null, null, true, 'é\u2028']));
    expect(canonicalJson(new Date('2026-01-01T00:00:00Z'))).toBe('"2026-01-01T00:00:00.000Z"');
  });

  it('refuses what JSON cannot represent with ERR_COMPLIANCE_INVALID_INPUT', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [
      new Date('nope'),
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1n,
      () => 1,
      Symbol('s'),
      cyclic,
      { a: [1n] },
    ]) {
      expect(() => canonicalJson(bad)).toThrow(ComplianceError);
    }
    // A shared (non-cyclic) reference is fine.
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
  });

  it('hashes UTF-8 to lowercase hex SHA-256', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('verifyExportBundle', () => {
  const section = { email: 'a@x.test' };
  const bundle: ExportBundle = {
    format: 'provisioning.dsr-export/v1',
    manifest: {
      requestId: 'r1',
      subjectId: 's1',
      type: 'access',
      generatedAt: '2026-01-01T00:00:00.000Z',
      digestAlgorithm: 'sha-256',
      complete: false,
      sections: [
        { provider: 'users', status: 'succeeded', sha256: sha256Hex(canonicalJson(section)), bytes: 20 },
        { provider: 'sessions', status: 'failed' },
      ],
    },
    sections: { users: section },
  };

  it('accepts an intact bundle', () => {
    expect(verifyExportBundle(bundle)).toEqual([]);
  });

  it('names sections that changed, went missing, appeared, or fill a failed slot', () => {
    expect(verifyExportBundle({ ...bundle, sections: { users: { email: 'b@x.test' } } })).toEqual(['users']);
    expect(verifyExportBundle({ ...bundle, sections: {} })).toEqual(['users']);
    expect(verifyExportBundle({ ...bundle, sections: { users: section, sessions: [] } })).toEqual(['sessions']);
    expect(verifyExportBundle({ ...bundle, sections: { users: section, extra: 1 } })).toEqual(['extra']);
  });
});
