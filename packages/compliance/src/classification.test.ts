import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import type { DataAsset } from './classification.js';
import {
  CLASSIFICATION_LEVELS,
  classificationCheck,
  DEFAULT_HANDLING_RULES,
  handlingViolations,
} from './classification.js';
import { ComplianceError } from './errors.js';

const clock = createManualClock(new Date('2026-06-01T00:00:00Z'));
const restricted: DataAsset = {
  id: 'kms-keys',
  classification: 'restricted',
  encryptedAtRest: true,
  encryptedInTransit: true,
  retentionDays: 365,
  accessRoles: ['Admin', 'Operator'],
  accessAudited: true,
};

describe('data classification', () => {
  it('has four levels, least sensitive first, each with a handling rule', () => {
    expect(CLASSIFICATION_LEVELS).toEqual(['public', 'internal', 'confidential', 'restricted']);
    for (const level of CLASSIFICATION_LEVELS) expect(DEFAULT_HANDLING_RULES[level]).toBeDefined();
  });

  it('accepts an asset that meets its rule', () => {
    expect(handlingViolations(restricted)).toEqual([]);
    expect(
      handlingViolations({
        id: 'docs',
        classification: 'public',
        encryptedAtRest: false,
        encryptedInTransit: false,
        retentionDays: null,
        accessRoles: ['Anyone'],
        accessAudited: false,
      }),
    ).toEqual([]);
  });

  it('reports each rule an asset breaks', () => {
    const v = handlingViolations({
      ...restricted,
      encryptedAtRest: false,
      encryptedInTransit: false,
      retentionDays: null,
      accessRoles: ['Admin', 'Developer', 'Viewer'],
      accessAudited: false,
    });
    expect(v).toEqual([
      'kms-keys: restricted data must be encrypted at rest',
      'kms-keys: restricted data must be encrypted in transit',
      'kms-keys: restricted data may be kept at most 365 days (configured: forever)',
      'kms-keys: roles not allowed to read restricted data: Developer, Viewer',
      'kms-keys: access to restricted data must be audited',
    ]);
    expect(handlingViolations({ ...restricted, classification: 'confidential', retentionDays: 731 })).toEqual([
      'kms-keys: confidential data may be kept at most 730 days (configured: 731)',
    ]);
  });

  it('rejects an unknown level with ERR_COMPLIANCE_INVALID_INPUT', () => {
    expect(() => handlingViolations({ ...restricted, classification: 'secret' as never })).toThrow(ComplianceError);
  });

  describe('data.classification-handling check', () => {
    const check = classificationCheck();
    const readers = (assets: DataAsset[]) => ({ dataAssets: { list: async () => assets } });
    it('passes when every asset meets its rule', async () => {
      expect((await check.run({ readers: readers([restricted]), clock })).status).toBe('pass');
    });
    it('fails with the violations as evidence', async () => {
      const outcome = await check.run({
        readers: readers([restricted, { ...restricted, id: 'backups', encryptedAtRest: false }]),
        clock,
      });
      expect(outcome.status).toBe('fail');
      expect(outcome.evidence).toContain('backups: restricted data must be encrypted at rest');
    });
    it('fails on an unknown level rather than skipping the asset', async () => {
      expect(
        (await check.run({ readers: readers([{ ...restricted, classification: 'top-secret' as never }]), clock }))
          .status,
      ).toBe('fail');
    });
    it('is manual without a reader', async () => {
      expect((await check.run({ readers: {}, clock })).status).toBe('manual');
    });
  });
});
