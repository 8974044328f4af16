import { createPublicKey } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { memoryStore } from '@provisioning/core';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { createKeySet } from '../src/keys.js';
import { createTokenService } from '../src/tokens.js';

describe('interoperability', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'a %s token we issue verifies with jsonwebtoken (an independent library)',
    async (alg) => {
      const keys = await createKeySet({ generate: alg });
      const tokens = createTokenService({
        keys,
        issuer: 'https://auth.test',
        audience: ['orchestrator', 'control-center'],
        store: memoryStore(),
      });
      const { accessToken } = await tokens.issue({ subject: 'user-1', roles: ['Operator'] });
      const jwk = (await keys.jwks()).keys[0];
      const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
      if (alg === 'EdDSA') {
        // jsonwebtoken 9 has no EdDSA support: verifying with it must fail, so say so instead of pretending.
        expect(() => jsonwebtoken.verify(accessToken, publicKey, { algorithms: ['EdDSA' as never] })).toThrow();
        return;
      }
      const payload = jsonwebtoken.verify(accessToken, publicKey, {
        algorithms: [alg],
        issuer: 'https://auth.test',
        audience: 'orchestrator',
      }) as jsonwebtoken.JwtPayload;
      expect(payload).toMatchObject({ sub: 'user-1', roles: ['Operator'], aud: ['orchestrator', 'control-center'] });
      const complete = jsonwebtoken.decode(accessToken, { complete: true });
      expect(complete?.header).toMatchObject({ alg, typ: 'at+jwt', kid: keys.signingKey().kid });
    },
  );

  it('our JWKS served over HTTP is consumed by jose createRemoteJWKSet, across a key rotation', async () => {
    const keys = await createKeySet();
    const tokens = createTokenService({ keys, issuer: 'https://auth.test', audience: 'api', store: memoryStore() });
    let fetches = 0;
    const server = createServer(async (req, res) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.statusCode = 404;
        res.end();
        return;
      }
      fetches++;
      res.setHeader('content-type', 'application/jwk-set+json');
      res.end(JSON.stringify(await keys.jwks()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`), {
        cooldownDuration: 0,
      });
      const first = await tokens.issue({ subject: 'u' });
      const { payload, protectedHeader } = await jwtVerify(first.accessToken, jwks, {
        issuer: 'https://auth.test',
        audience: 'api',
        typ: 'at+jwt',
      });
      expect(payload.sub).toBe('u');
      expect(protectedHeader.kid).toBe(keys.signingKey().kid);
      // After rotation the remote set refetches for the unknown kid and finds the new key.
      await keys.rotate({ alg: 'ES256' });
      const second = await tokens.issue({ subject: 'u2' });
      await expect(
        jwtVerify(second.accessToken, jwks, { issuer: 'https://auth.test', audience: 'api' }),
      ).resolves.toMatchObject({ payload: { sub: 'u2' } });
      await expect(
        jwtVerify(first.accessToken, jwks, { issuer: 'https://auth.test', audience: 'api' }),
      ).resolves.toBeDefined();
      expect(fetches).toBe(2);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
