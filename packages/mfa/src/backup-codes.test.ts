import { describe, expect, it } from 'vitest';
import { enrollTotp, harness, rejectsWith } from '../test/helpers.js';
import type { MfaStore } from './store.js';
import { memoryMfaStore } from './stores/memory.js';

/** A memory store that records every backup-code hash it is given. */
function recordingStore(): { store: MfaStore; stored: string[][] } {
  const inner = memoryMfaStore();
  const stored: string[][] = [];
  return {
    stored,
    store: {
      ...inner,
      replaceBackupCodes: (userId, hashes, at) => {
        stored.push([...hashes]);
        return inner.replaceBackupCodes(userId, hashes, at);
      },
    },
  };
}

describe('backup codes', () => {
  it('issues 10 human-readable codes of 80 bits with the first factor', async () => {
    const h = harness();
    const { backupCodes } = await enrollTotp(h, 'u1');
    expect(backupCodes).toHaveLength(10);
    for (const code of backupCodes ?? []) expect(code).toMatch(/^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
    expect(new Set(backupCodes).size).toBe(10);
    expect(await h.mfa.remainingBackupCodes('u1')).toBe(10);
  });

  it('stores only hashes, never the codes', async () => {
    const { store, stored } = recordingStore();
    const h = harness({ store });
    const { backupCodes } = await enrollTotp(h, 'u1');
    const flat = stored.flat().join('\n');
    for (const code of backupCodes ?? []) {
      expect(flat).not.toContain(code);
      expect(flat).not.toContain(code.replace(/-/g, ''));
    }
    expect(stored.at(-1)).toHaveLength(10);
  });

  it('is single use and counts down', async () => {
    const h = harness();
    const { backupCodes = [] } = await enrollTotp(h, 'u1');
    const [first, second] = backupCodes as string[];
    const r = await h.mfa.verifyBackupCode('u1', first as string);
    expect(r).toMatchObject({ method: 'backup_code', deviceId: undefined, remainingBackupCodes: 9, amr: ['otp'] });
    await rejectsWith(h.mfa.verifyBackupCode('u1', first as string), 'ERR_MFA_INVALID_CODE');
    // Typed loosely: lower case, spaces instead of dashes.
    await expect(
      h.mfa.verifyBackupCode('u1', (second as string).toLowerCase().replace(/-/g, ' ')),
    ).resolves.toMatchObject({
      remainingBackupCodes: 8,
    });
  });

  it('lets exactly one of concurrent uses of a code win', async () => {
    const h = harness();
    const { backupCodes = [] } = await enrollTotp(h, 'u1');
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map(() => h.mfa.verifyBackupCode('u1', backupCodes[0] as string)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('regenerating invalidates the whole previous set', async () => {
    const h = harness();
    const { backupCodes: old = [] } = await enrollTotp(h, 'u1');
    const fresh = await h.mfa.generateBackupCodes('u1');
    expect(fresh).toHaveLength(10);
    expect(fresh.some((c) => old.includes(c))).toBe(false);
    await rejectsWith(h.mfa.verifyBackupCode('u1', old[0] as string), 'ERR_MFA_INVALID_CODE');
    await expect(h.mfa.verifyBackupCode('u1', fresh[0] as string)).resolves.toMatchObject({ remainingBackupCodes: 9 });
  });

  it('does not accept another user’s code', async () => {
    const h = harness();
    const { backupCodes = [] } = await enrollTotp(h, 'u1');
    await enrollTotp(h, 'u2');
    await rejectsWith(h.mfa.verifyBackupCode('u2', backupCodes[0] as string), 'ERR_MFA_INVALID_CODE');
    expect(await h.mfa.remainingBackupCodes('u1')).toBe(10);
  });

  it('needs a confirmed factor, and honours a configured count', async () => {
    const h = harness({ backupCodeCount: 12, issueBackupCodesOnFirstFactor: false });
    await rejectsWith(h.mfa.generateBackupCodes('u1'), 'ERR_MFA_NOT_ENROLLED');
    const { backupCodes } = await enrollTotp(h, 'u1');
    expect(backupCodes).toBeUndefined();
    expect(await h.mfa.generateBackupCodes('u1')).toHaveLength(12);
  });

  it('refuses malformed codes without touching anything', async () => {
    const h = harness({ attempts: { maxFailures: 1 } });
    const { backupCodes = [] } = await enrollTotp(h, 'u1');
    for (const bad of ['', 'AAAA-AAAA-AAAA', 'AAAA-AAAA-AAAA-AAA1', 'x'.repeat(100), 42 as unknown as string]) {
      await rejectsWith(h.mfa.verifyBackupCode('u1', bad), 'ERR_MFA_MALFORMED_INPUT');
    }
    expect(await h.mfa.remainingBackupCodes('u1')).toBe(10);
    await expect(h.mfa.verifyBackupCode('u1', backupCodes[0] as string)).resolves.toBeDefined();
  });
});
