import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRustyVault } from '../test/fixtures/rustyvault.js';
import { expectKmsError } from '../test/helpers.js';
import { createEnvelope } from './envelope.js';
import { rustyVaultBackend } from './rustyvault.js';

// RustyVault cannot run here: an in-process fixture follows its PKI-mount encryption API.
let rv: Awaited<ReturnType<typeof startRustyVault>>;
const TOKEN = 'rv-token-abcdef';
beforeAll(async () => {
  rv = await startRustyVault(TOKEN);
  rv.createKey('app-aes');
});
afterAll(() => rv.close());
const secret = Buffer.from('rusty plaintext');

describe('RustyVault backend', () => {
  it('uses pki/keys/encrypt with hex data and the context as hex aad', async () => {
    const b = rustyVaultBackend({ address: rv.url, token: TOKEN, keyName: 'app-aes' });
    const ct = await b.encrypt(secret, { tenant: 't1' });
    expect(rv.received.at(-1)?.url).toBe('/v1/pki/keys/encrypt');
    expect(rv.received.at(-1)?.body).toMatchObject({ key_name: 'app-aes', data: secret.toString('hex') });
    expect(ct.keyVersion).toBe(0);
    expect(Buffer.from(await b.decrypt(ct, { tenant: 't1' }))).toEqual(secret);
    await expectKmsError(b.decrypt(ct, { tenant: 'x' }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
  });

  it('has no versions: rotate is unsupported, rewrap re-encrypts', async () => {
    const b = rustyVaultBackend({ address: rv.url, token: TOKEN, keyName: 'app-aes' });
    await expectKmsError(b.rotate(), 'ERR_KMS_UNSUPPORTED');
    await expectKmsError(b.setMinDecryptionVersion(1), 'ERR_KMS_UNSUPPORTED');
    const ct = await b.rewrap(await b.encrypt(secret));
    expect(Buffer.from(await b.decrypt(ct))).toEqual(secret);
    expect((await b.metadata()).rotatable).toBe(false);
  });

  it('errors and envelope use', async () => {
    await expectKmsError(
      rustyVaultBackend({ address: rv.url, token: 'bad-token', keyName: 'app-aes' }).encrypt(secret),
      'ERR_KMS_ACCESS_DENIED',
      ['bad-token'],
    );
    await expectKmsError(
      rustyVaultBackend({ address: rv.url, token: TOKEN, keyName: 'nope' }).encrypt(secret),
      'ERR_KMS_KEY_NOT_FOUND',
    );
    const b = rustyVaultBackend({ address: rv.url, token: TOKEN, keyName: 'app-aes' });
    expect(await b.health()).toMatchObject({ ok: true });
    const env = createEnvelope({ backends: [b] });
    expect(Buffer.from(await env.decrypt(await env.encrypt(secret, { a: '1' }), { a: '1' }))).toEqual(secret);
  });
});
