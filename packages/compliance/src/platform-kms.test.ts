import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { ageBackend, generateAgeIdentity } from '@provisioning/kms/age';
import { localBackend } from '@provisioning/kms/local';
import { tempDir } from '@provisioning/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheck } from '../test/platform.js';
import { keyRotationReader } from './platform-kms.js';

const dir = tempDir('compliance-kms-rotation-');
afterAll(() => dir.remove());
const DAY = 86_400_000;

describe('keyRotationReader over @provisioning/kms', () => {
  it('passes while the encrypting version is younger than its period, fails after, passes again once rotated', async () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const kms = await localBackend({ path: join(dir.path, 'keyring.json'), clock });
    const readers = { keys: keyRotationReader([{ backend: kms, rotationPeriodDays: 90, purpose: 'mfa-secrets' }]) };
    clock.advance(89 * DAY);
    expect(await runCheck('kms.key-rotation', readers, { clock })).toMatchObject({
      status: 'pass',
      evidence: ['1 active key(s) checked'],
    });
    clock.advance(2 * DAY);
    const stale = await runCheck('kms.key-rotation', readers, { clock });
    expect(stale).toMatchObject({
      status: 'fail',
      evidence: ['1 active key(s) checked', 'key local:default v1 last rotated 2026-01-01T00:00:00.000Z (period 90 d)'],
    });
    await kms.rotate(); // version 2, created now; version 1 only decrypts and is not checked
    expect((await runCheck('kms.key-rotation', readers, { clock })).status).toBe('pass');
  });

  it('fails a key whose versions carry no date (age recipients), and refuses bad options', async () => {
    const { identity } = await generateAgeIdentity();
    const age = await ageBackend({ identities: [identity] });
    const result = await runCheck('kms.key-rotation', {
      keys: keyRotationReader([{ backend: age, rotationPeriodDays: 365 }]),
    });
    expect(result.status).toBe('fail');
    expect(result.evidence[1]).toMatch(/^key age:age1\S+ last rotated at an unknown or invalid time \(period 365 d\)$/);
    expect(() => keyRotationReader([{ backend: age, rotationPeriodDays: 0 }])).toThrow(
      expect.objectContaining({ code: 'ERR_COMPLIANCE_INVALID_OPTIONS' }),
    );
  });
});
