import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultTransit } from '../test/fixtures/vault-transit.js';
import { expectKmsError } from '../test/helpers.js';
import { createEnvelope } from './envelope.js';
import { decryptSops, encryptSops, sopsVault } from './sops.js';
import { vaultTransitBackend } from './vault.js';

// Vault cannot run here: these tests use an in-process fixture that follows Vault's documented
// Transit API shapes (test/fixtures/vault-transit.ts), with real AES-GCM underneath.
let vault: Awaited<ReturnType<typeof startVaultTransit>>;
const TOKEN = 'hvs.test-token-0123456789';
beforeAll(async () => {
  vault = await startVaultTransit(TOKEN);
  vault.createKey('app');
  vault.createKey('derived', true);
});
afterAll(() => vault.close());

const secret = Buffer.from('vault secret plaintext');
const backend = (over: Partial<Parameters<typeof vaultTransitBackend>[0]> = {}) =>
  vaultTransitBackend({ address: vault.url, token: TOKEN, keyName: 'app', ...over });

describe('Vault Transit backend', () => {
  it('encrypts to vault:vN: ciphertexts and decrypts them; sends the token header', async () => {
    const kms = backend();
    const ct = await kms.encrypt(secret, { tenant: 't1' });
    expect(Buffer.from(ct.data).toString()).toMatch(/^vault:v1:/);
    expect(ct.keyVersion).toBe(1);
    expect(Buffer.from(await kms.decrypt(ct, { tenant: 't1' }))).toEqual(secret);
    expect(vault.received.at(-1)?.headers['x-vault-token']).toBe(TOKEN);
    expect(vault.received.at(-1)?.url).toBe('/v1/transit/decrypt/app');
  });

  it('context binding without derived keys: a wrong context is refused', async () => {
    const kms = backend();
    const ct = await kms.encrypt(secret, { tenant: 't1' });
    await expectKmsError(kms.decrypt(ct, { tenant: 't2' }), 'ERR_KMS_CONTEXT_MISMATCH', [secret]);
  });

  it('derived keys: the context goes to Vault as `context` and a wrong one fails there', async () => {
    const kms = backend({ keyName: 'derived', derived: true });
    const ct = await kms.encrypt(secret, { tenant: 't1' });
    const sent = vault.received.at(-1)?.body as { context?: string };
    expect(typeof sent.context).toBe('string');
    expect(Buffer.from(await kms.decrypt(ct, { tenant: 't1' }))).toEqual(secret);
    await expectKmsError(kms.decrypt(ct, { tenant: 't2' }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
    await expectKmsError(kms.encrypt(secret), 'ERR_KMS_INVALID_OPTIONS');
    const dk = await kms.generateDataKey({ tenant: 't1' });
    expect(vault.received.at(-1)?.url).toBe('/v1/transit/datakey/plaintext/derived');
    expect(Buffer.from(await kms.decrypt(dk.ciphertext, { tenant: 't1' }))).toEqual(Buffer.from(dk.plaintext));
  });

  it('associated_data mode: Vault authenticates the context; a wrong one fails there', async () => {
    const kms = backend({ associatedData: true });
    const ct = await kms.encrypt(secret, { tenant: 't1' });
    const sent = vault.received.at(-1)?.body as { associated_data?: string; plaintext: string };
    expect(typeof sent.associated_data).toBe('string');
    expect(Buffer.from(sent.plaintext, 'base64')).toEqual(secret); // not framed: Vault holds the binding
    expect(Buffer.from(await kms.decrypt(ct, { tenant: 't1' }))).toEqual(secret);
    await expectKmsError(kms.decrypt(ct, { tenant: 't2' }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
    const re = await kms.rewrap(ct, { tenant: 't1' });
    expect(Buffer.from(await kms.decrypt(re, { tenant: 't1' }))).toEqual(secret);
  });

  it('rotation, key versions, server-side rewrap and minimum decryption version', async () => {
    vault.createKey('rot');
    const kms = backend({ keyName: 'rot' });
    const v1 = await kms.encrypt(secret);
    const meta = await kms.rotate();
    expect(meta.latestVersion).toBe(2);
    expect(meta.versions.map((v) => v.version)).toEqual([1, 2]);
    const rewrapped = await kms.rewrap(v1);
    expect(vault.received.at(-1)?.url).toBe('/v1/transit/rewrap/rot');
    expect(rewrapped.keyVersion).toBe(2);
    await kms.setMinDecryptionVersion(2);
    expect((await kms.metadata()).minDecryptionVersion).toBe(2);
    await expectKmsError(kms.decrypt(v1), 'ERR_KMS_KEY_VERSION_TOO_OLD');
    expect(Buffer.from(await kms.decrypt(rewrapped))).toEqual(secret);
  });

  it('batch requests encrypt and decrypt many items in one call each', async () => {
    const kms = backend();
    const before = vault.received.length;
    const cts = await kms.encryptBatch([
      { plaintext: Buffer.from('a') },
      { plaintext: Buffer.from('b'), context: { x: '1' } },
    ]);
    const pts = await kms.decryptBatch([{ ciphertext: cts[0]! }, { ciphertext: cts[1]!, context: { x: '1' } }]);
    expect(pts.map((p) => Buffer.from(p).toString())).toEqual(['a', 'b']);
    expect(vault.received.length - before).toBe(2);
    expect((vault.received.at(-1)?.body as { batch_input: unknown[] } | undefined)?.batch_input).toHaveLength(2);
    const tampered = Buffer.from(cts[0]!.data)
      .toString()
      .replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const err = await expectKmsError(
      kms.decryptBatch([
        { ciphertext: cts[1]!, context: { x: '1' } },
        { ciphertext: { ...cts[0]!, data: Buffer.from(tampered) } },
      ]),
      'ERR_KMS_DECRYPT_FAILED',
    );
    expect(err.details.index).toBe(1);
  });

  it('errors: bad token, unknown key, unreachable server, malformed ciphertext; never the token or plaintext', async () => {
    await expectKmsError(backend({ token: 'wrong-token-value' }).encrypt(secret), 'ERR_KMS_ACCESS_DENIED', [
      'wrong-token-value',
      secret,
    ]);
    await expectKmsError(backend({ keyName: 'nope' }).metadata(), 'ERR_KMS_KEY_NOT_FOUND');
    await expectKmsError(
      backend({ keyName: 'nope' }).decrypt({
        backend: 'vault',
        keyId: 'nope',
        keyVersion: 1,
        data: Buffer.from('vault:v1:AAAA'),
      }),
      'ERR_KMS_KEY_NOT_FOUND',
    );
    const down = await expectKmsError(
      vaultTransitBackend({ address: 'http://127.0.0.1:9', token: TOKEN, keyName: 'app', timeoutMs: 2000 }).encrypt(
        secret,
      ),
      'ERR_KMS_BACKEND_UNAVAILABLE',
      [TOKEN],
    );
    expect(down.retryable).toBe(true);
    await expectKmsError(
      backend().decrypt({ backend: 'vault', keyId: 'app', keyVersion: 1, data: Buffer.from('garbage') }),
      'ERR_KMS_MALFORMED_CIPHERTEXT',
    );
    expect(() => vaultTransitBackend({ address: 'ftp://x', token: 't', keyName: 'a' })).toThrow(/URL/);
    expect(await backend().health()).toMatchObject({ ok: true });
    expect(await backend({ token: 'bad' }).health()).toMatchObject({ ok: false, reason: 'ERR_KMS_ACCESS_DENIED' });
  });

  it('works under the envelope and as a sops hc_vault master key', async () => {
    const env = createEnvelope({ backends: [backend()] });
    const blob = await env.encrypt(Buffer.alloc(100_000, 1), { a: 'b' });
    expect(Buffer.from(await env.decrypt(blob, { a: 'b' })).equals(Buffer.alloc(100_000, 1))).toBe(true);
    const source = sopsVault({ backend: backend(), address: vault.url });
    const enc = JSON.parse(await encryptSops('{"password": "pw"}', { keys: [source] }));
    expect(enc.sops.hc_vault[0]).toMatchObject({ vault_address: vault.url, engine_path: 'transit', key_name: 'app' });
    expect(enc.sops.hc_vault[0].enc).toMatch(/^vault:v\d+:/);
    expect((await decryptSops(JSON.stringify(enc), { keys: [source] })).data).toEqual({ password: 'pw' });
  });
});
