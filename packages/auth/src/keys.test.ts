import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock, memoryStore } from '@provisioning/core';
import { createLocalJWKSet, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectAuthError, fixture, T0 } from '../test/helpers.js';
import { createKeySet, readKeyFile } from './keys.js';
import { createTokenService } from './tokens.js';

describe('key sets', () => {
  it.each(['RS256', 'EdDSA', 'ES256'] as const)(
    'generates a %s key, signs and verifies with it, and exports its public JWK',
    async (alg) => {
      const clock = createManualClock(T0);
      const keys = await createKeySet({ generate: alg, clock });
      const tokens = createTokenService({ keys, issuer: 'i', audience: 'a', store: memoryStore({ clock }), clock });
      const { accessToken } = await tokens.issue({ subject: 'u' });
      expect(JSON.parse(Buffer.from(accessToken.split('.')[0] as string, 'base64url').toString())).toEqual({
        alg,
        kid: keys.signingKey().kid,
        typ: 'at+jwt',
      });
      await expect(tokens.verify(accessToken)).resolves.toMatchObject({ sub: 'u' });
      const jwks = await keys.jwks();
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({ kid: keys.signingKey().kid, alg, use: 'sig' });
      // Public only: no private members leave the set.
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwks.keys[0]).not.toHaveProperty(member);
      // Another verifier can use the exported JWKS.
      const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks), { currentDate: T0 });
      expect(payload.sub).toBe('u');
    },
  );

  it('loads PKCS#8 PEM and private JWK keys, derives the kid from the thumbprint, and loads verify-only public keys', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const pem = await exportPKCS8(rsa.privateKey);
    const fromPem = await createKeySet({ keys: [{ pem }] });
    const again = await createKeySet({ keys: [{ pem }] });
    expect(fromPem.signingKey().kid).toBe(again.signingKey().kid);
    const fromJwk = await createKeySet({
      keys: [
        { alg: 'EdDSA', jwk: await exportJWK(ed.privateKey), kid: 'ed-1' },
        { alg: 'RS256', pem: await exportSPKI(rsa.publicKey) },
      ],
    });
    expect(fromJwk.signingKey()).toMatchObject({ kid: 'ed-1', alg: 'EdDSA' });
    expect(fromJwk.list().map((k) => k.signing)).toEqual([true, false]);
    expect(fromJwk.algorithms).toEqual(['EdDSA', 'RS256']);
    const dir = mkdtempSync(join(tmpdir(), 'auth-keys-'));
    writeFileSync(join(dir, 'k.pem'), pem);
    writeFileSync(join(dir, 'k.json'), JSON.stringify(await exportJWK(ed.privateKey)));
    // A public JWK carrying its own alg is added as verify-only.
    const withAlg = await createKeySet({ keys: [{ pem }] });
    await withAlg.addPublicKey({ jwk: { ...(await exportJWK(ed.publicKey)), alg: 'EdDSA' } });
    expect(withAlg.algorithms).toEqual(['RS256', 'EdDSA']);
    const files = await createKeySet({
      keys: [await readKeyFile(join(dir, 'k.json'), { alg: 'EdDSA' }), await readKeyFile(join(dir, 'k.pem'))],
    });
    expect(files.list()).toHaveLength(2);
  });

  it('refuses symmetric keys, key sets without a private key, duplicate kids and unsupported algorithms', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    await expectAuthError(
      createKeySet({ keys: [{ jwk: { kty: 'oct', k: 'c2VjcmV0' }, alg: 'RS256' }] }),
      'ERR_AUTH_INVALID_OPTIONS',
      ['c2VjcmV0'],
    );
    await expectAuthError(
      createKeySet({ keys: [{ pem: await exportSPKI(rsa.publicKey) }] }),
      'ERR_AUTH_INVALID_OPTIONS',
    );
    const pem = await exportPKCS8(rsa.privateKey);
    await expectAuthError(createKeySet({ keys: [{ pem }, { pem }] }), 'ERR_AUTH_INVALID_OPTIONS');
    await expectAuthError(createKeySet({ generate: 'HS256' as never }), 'ERR_AUTH_INVALID_OPTIONS');
    await expectAuthError(createKeySet({ keys: [{ pem: 'garbage' }] }), 'ERR_AUTH_INVALID_OPTIONS');
  });

  it('keeps generated private keys non-extractable unless asked', async () => {
    const keys = await createKeySet();
    await expectAuthError(keys.exportPrivateJwk(keys.signingKey().kid), 'ERR_AUTH_INVALID_INPUT');
    expect(keys.signingKey().privateKey.extractable).toBe(false);
  });

  it('rotation overlap: the old key verifies its tokens until the last one expires, then retires', async () => {
    const { tokens, keys, clock } = await fixture({ clockSkewSeconds: 0 });
    const oldKid = keys.signingKey().kid;
    const old = await tokens.issue({ subject: 'u' });
    clock.advance(60_000);
    const newKid = await keys.rotate();
    expect(newKid).not.toBe(oldKid);
    const fresh = await tokens.issue({ subject: 'u' });
    expect(JSON.parse(Buffer.from(fresh.accessToken.split('.')[0] as string, 'base64url').toString()).kid).toBe(newKid);
    expect((await keys.jwks()).keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    await expect(tokens.verify(old.accessToken)).resolves.toMatchObject({ sub: 'u' });
    // The old key retires at the old token's expiry plus the 60 s grace.
    const retiresAt = keys.list().find((k) => k.kid === oldKid)?.retiresAt;
    expect(retiresAt?.getTime()).toBe(old.accessExpiresAt.getTime() + 60_000);
    clock.set(old.accessExpiresAt.getTime() + 61_000);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([newKid]);
    await expectAuthError(tokens.verify(old.accessToken), 'ERR_AUTH_UNKNOWN_KEY');
  });

  it('removing a compromised key stops its tokens at once, even cached ones', async () => {
    const { tokens, keys } = await fixture();
    const old = await tokens.issue({ subject: 'u' });
    await tokens.verify(old.accessToken);
    const oldKid = keys.signingKey().kid;
    await keys.rotate();
    expect(keys.removeKey(oldKid)).toBe(true);
    await expectAuthError(tokens.verify(old.accessToken), 'ERR_AUTH_UNKNOWN_KEY');
    expect(() => keys.removeKey(keys.signingKey().kid)).toThrow();
  });
});
