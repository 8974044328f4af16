import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectKmsError, tempDir } from '../test/helpers.js';
import { localBackend } from './local.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

const secret = new TextEncoder().encode('correct horse battery staple');

describe('local backend', () => {
  it('round-trips with the same context and creates a 0600 keyring file', async () => {
    const path = join(dir, 'keyring.json');
    const kms = await localBackend({ path });
    const ct = await kms.encrypt(secret, { tenant: 't1' });
    expect(ct).toMatchObject({ backend: 'local', keyId: 'default', keyVersion: 1 });
    expect(Buffer.from(await kms.decrypt(ct, { tenant: 't1' })).toString()).toBe('correct horse battery staple');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('context binding: a different or missing context does not decrypt', async () => {
    const kms = await localBackend({ path: join(dir, 'k.json') });
    const ct = await kms.encrypt(secret, { tenant: 't1' });
    await expectKmsError(kms.decrypt(ct, { tenant: 't2' }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
    await expectKmsError(kms.decrypt(ct), 'ERR_KMS_DECRYPT_FAILED', [secret]);
  });

  it('tamper detection: a flipped bit fails without leaking the plaintext', async () => {
    const kms = await localBackend({ path: join(dir, 'k.json') });
    const ct = await kms.encrypt(secret);
    const data = Buffer.from(ct.data);
    data[data.length - 20] = (data[data.length - 20] as number) ^ 1;
    await expectKmsError(kms.decrypt({ ...ct, data }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
    await expectKmsError(kms.decrypt({ ...ct, data: data.subarray(0, 10) }), 'ERR_KMS_MALFORMED_CIPHERTEXT');
  });

  it('wrong key: a ciphertext from another keyring fails', async () => {
    const a = await localBackend({ path: join(dir, 'a.json') });
    const b = await localBackend({ path: join(dir, 'b.json') });
    await expectKmsError(b.decrypt(await a.encrypt(secret)), 'ERR_KMS_DECRYPT_FAILED', [secret]);
  });

  it('rotation: new version encrypts, old still decrypts, rewrap moves to the newest, min version refuses old', async () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const path = join(dir, 'k.json');
    const kms = await localBackend({ path, clock });
    const v1 = await kms.encrypt(secret, { a: 'b' });
    clock.advance(1000);
    const meta = await kms.rotate();
    expect(meta.latestVersion).toBe(2);
    expect(meta.versions.map((v) => v.createdAt?.toISOString())).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:01.000Z',
    ]);
    const v2 = await kms.encrypt(secret, { a: 'b' });
    expect(v2.keyVersion).toBe(2);
    expect(Buffer.from(await kms.decrypt(v1, { a: 'b' }))).toEqual(Buffer.from(secret));
    const rewrapped = await kms.rewrap(v1, { a: 'b' });
    expect(rewrapped.keyVersion).toBe(2);
    await kms.setMinDecryptionVersion(2);
    await expectKmsError(kms.decrypt(v1, { a: 'b' }), 'ERR_KMS_KEY_VERSION_TOO_OLD');
    expect(Buffer.from(await kms.decrypt(rewrapped, { a: 'b' }))).toEqual(Buffer.from(secret));
    // persisted: a second instance sees the same versions and minimum
    const again = await localBackend({ path, create: false });
    expect((await again.metadata()).minDecryptionVersion).toBe(2);
    expect(Buffer.from(await again.decrypt(v2, { a: 'b' }))).toEqual(Buffer.from(secret));
    await expectKmsError(kms.setMinDecryptionVersion(3), 'ERR_KMS_INVALID_OPTIONS');
  });

  it('keyring file stays mode 0600 and whole after rotation, with no temp files left', async () => {
    const path = join(dir, 'k.json');
    const kms = await localBackend({ path });
    await kms.rotate();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const parsed = JSON.parse(await readFile(path, 'utf8'));
    expect(parsed.keys.default.versions).toHaveLength(2);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual(['k.json']);
  });

  it('corrupt keyring: a typed error that does not quote the file', async () => {
    const path = join(dir, 'k.json');
    await writeFile(path, '{"format":"provisioning-kms-keyring", "keys": SECRETMATERIAL');
    await expectKmsError(localBackend({ path }), 'ERR_KMS_KEYRING', ['SECRETMATERIAL']);
    await expectKmsError(localBackend({ path: join(dir, 'missing.json'), create: false }), 'ERR_KMS_KEYRING');
    await expectKmsError(() => localBackend({ path, keyId: 'bad id!' }), 'ERR_KMS_INVALID_OPTIONS');
  });

  it('data keys and health', async () => {
    const kms = await localBackend({ path: join(dir, 'k.json') });
    const dk = await kms.generateDataKey({ x: 'y' });
    expect(dk.plaintext).toHaveLength(32);
    expect(Buffer.from(await kms.decrypt(dk.ciphertext, { x: 'y' }))).toEqual(Buffer.from(dk.plaintext));
    expect(await kms.health()).toMatchObject({ ok: true, backend: 'local' });
  });
});
