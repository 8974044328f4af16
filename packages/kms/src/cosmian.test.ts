import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCosmian } from '../test/fixtures/cosmian-kms.js';
import { expectKmsError } from '../test/helpers.js';
import { cosmianBackend } from './cosmian.js';
import { createEnvelope } from './envelope.js';

// Cosmian KMS cannot run here: an in-process fixture follows its KMIP 2.1 JSON shapes.
let kms: Awaited<ReturnType<typeof startCosmian>>;
const TOKEN = 'cosmian-access-token-xyz';
beforeAll(async () => {
  kms = await startCosmian(TOKEN);
});
afterAll(() => kms.close());
const secret = Buffer.from('cosmian plaintext');

describe('Cosmian KMS backend (KMIP 2.1 JSON)', () => {
  it('encrypts with hex ByteStrings and the context as AEAD additional data', async () => {
    const uid = kms.createKey();
    const b = cosmianBackend({ url: kms.url, keyId: uid, accessToken: TOKEN });
    const ct = await b.encrypt(secret, { tenant: 't1' });
    const sent = kms.received.at(-1);
    expect(sent?.url).toBe('/kmip/2_1');
    expect(sent?.body).toMatchObject({ tag: 'Encrypt', type: 'Structure' });
    const data = (sent?.body as { value: { tag: string; value: string }[] } | undefined)?.value.find(
      (v) => v.tag === 'Data',
    )?.value;
    expect(data).toBe(secret.toString('hex').toUpperCase());
    expect(Buffer.from(await b.decrypt(ct, { tenant: 't1' }))).toEqual(secret);
    await expectKmsError(b.decrypt(ct, { tenant: 't2' }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
    const bad = Buffer.from(ct.data);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    await expectKmsError(b.decrypt({ ...ct, data: bad }, { tenant: 't1' }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
    await expectKmsError(b.decrypt({ ...ct, data: Buffer.from([0, 9]) }), 'ERR_KMS_MALFORMED_CIPHERTEXT');
  });

  it('ReKey rotation: versions chain, old decrypts until the minimum passes it, rewrap moves to the newest', async () => {
    const uid = kms.createKey();
    const b = cosmianBackend({ url: kms.url, keyId: uid, accessToken: TOKEN });
    const v1 = await b.encrypt(secret);
    const meta = await b.rotate();
    expect(kms.received.at(-1)?.body).toMatchObject({ tag: 'ReKey' });
    expect(meta.latestVersion).toBe(2);
    const v2 = await b.rewrap(v1);
    expect(v2.keyVersion).toBe(2);
    await b.setMinDecryptionVersion(2);
    await expectKmsError(b.decrypt(v1), 'ERR_KMS_KEY_VERSION_TOO_OLD');
    expect(Buffer.from(await b.decrypt(v2))).toEqual(secret);
  });

  it('errors: no token, unknown key; health; envelope use', async () => {
    await expectKmsError(
      cosmianBackend({ url: kms.url, keyId: kms.createKey() }).encrypt(secret),
      'ERR_KMS_ACCESS_DENIED',
    );
    await expectKmsError(
      cosmianBackend({ url: kms.url, keyId: 'missing', accessToken: TOKEN }).encrypt(secret),
      'ERR_KMS_BACKEND_FAILURE',
      [TOKEN],
    );
    const b = cosmianBackend({ url: kms.url, keyId: kms.createKey(), accessToken: TOKEN });
    expect(await b.health()).toMatchObject({ ok: true, backend: 'cosmian' });
    const env = createEnvelope({ backends: [b] });
    expect(Buffer.from(await env.decrypt(await env.encrypt(secret, { a: '1' }), { a: '1' }))).toEqual(secret);
  });
});
