import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, claimsAt, expectAuthError, fixture, forge, forgeHs256, ISSUER } from '../test/helpers.js';
import { createKeySet } from './keys.js';
import { createTokenService } from './tokens.js';

// The attack battery: every case must be rejected with its own code, and no
// error may echo the token.
describe('access token verification rejects attacks', () => {
  it('rejects alg "none" (unsigned tokens)', async () => {
    const { tokens, keys, clock } = await fixture();
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: keys.signingKey().kid })).toString(
      'base64url',
    );
    const body = Buffer.from(JSON.stringify(claimsAt(clock.now()))).toString('base64url');
    const token = `${header}.${body}.`;
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_ALGORITHM_NOT_ALLOWED', [token]);
  });

  it('rejects HS256 signed with the RSA public key as the HMAC secret (key confusion)', async () => {
    const { tokens, keys, clock } = await fixture();
    const jwks = await keys.jwks();
    const { importJWK } = await import('jose');
    const pem = await exportSPKI((await importJWK(jwks.keys[0] as never, 'RS256', { extractable: true })) as never);
    const token = forgeHs256(pem, { alg: 'HS256', typ: 'at+jwt', kid: keys.signingKey().kid }, claimsAt(clock.now()));
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_ALGORITHM_NOT_ALLOWED', [token]);
  });

  it('rejects an algorithm swap: a token claiming ES256 under the RS256 key id', async () => {
    // The set holds an ES256 verification key too, so ES256 itself is allowed: only the kid/alg binding stops this.
    const attacker = await generateKeyPair('ES256', { extractable: true });
    const { exportJWK } = await import('jose');
    const { tokens, keys, clock } = await fixture();
    await keys.addPublicKey({ alg: 'ES256', kid: 'es-key', jwk: await exportJWK(attacker.publicKey) });
    const token = await new SignJWT(claimsAt(clock.now()))
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys.signingKey().kid })
      .sign(attacker.privateKey);
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_ALGORITHM_NOT_ALLOWED', [token]);
  });

  it('rejects an expired token once exp plus the clock skew has passed', async () => {
    const { tokens, clock } = await fixture({ clockSkewSeconds: 30 });
    const { accessToken } = await tokens.issue({ subject: 'user-1' });
    clock.advance((900 + 29) * 1000);
    await expect(tokens.verify(accessToken)).resolves.toMatchObject({ sub: 'user-1' });
    clock.advance(2000);
    await expectAuthError(tokens.verify(accessToken), 'ERR_AUTH_TOKEN_EXPIRED', [accessToken]);
  });

  it('rejects a token that is not yet valid (nbf in the future beyond the skew)', async () => {
    const { tokens, keys, clock } = await fixture({ clockSkewSeconds: 30 });
    const token = await forge(
      keys,
      { alg: 'RS256', typ: 'at+jwt', kid: keys.signingKey().kid },
      claimsAt(clock.now(), { nbf: Math.floor(clock.now() / 1000) + 120 }),
    );
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_TOKEN_NOT_YET_VALID', [token]);
  });

  it('rejects a token issued in the future (iat beyond the skew)', async () => {
    const { tokens, keys, clock } = await fixture({ clockSkewSeconds: 30 });
    const now = Math.floor(clock.now() / 1000);
    const token = await forge(
      keys,
      { alg: 'RS256', typ: 'at+jwt', kid: keys.signingKey().kid },
      claimsAt(clock.now(), { iat: now + 120 }),
    );
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_TOKEN_NOT_YET_VALID');
  });

  it('rejects a token of another issuer signed with a trusted key', async () => {
    const { tokens, keys, store, clock } = await fixture();
    const other = createTokenService({ keys, store, clock, issuer: 'https://evil.test', audience: AUDIENCE });
    const { accessToken } = await other.issue({ subject: 'user-1' });
    await expectAuthError(tokens.verify(accessToken), 'ERR_AUTH_INVALID_ISSUER', [accessToken]);
  });

  it('rejects a token for another audience', async () => {
    const { tokens } = await fixture();
    const { accessToken } = await tokens.issue({ subject: 'user-1', audience: 'billing' });
    await expectAuthError(tokens.verify(accessToken), 'ERR_AUTH_INVALID_AUDIENCE', [accessToken]);
    await expectAuthError(
      tokens.verify((await tokens.issue({ subject: 'u' })).accessToken, { audience: 'billing' }),
      'ERR_AUTH_INVALID_AUDIENCE',
    );
  });

  it('rejects an unknown crit header parameter', async () => {
    const { tokens, keys, clock } = await fixture();
    const token = await forge(
      keys,
      { alg: 'RS256', typ: 'at+jwt', kid: keys.signingKey().kid, crit: ['x-bind'], 'x-bind': true },
      claimsAt(clock.now()),
    );
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_UNSUPPORTED_CRITICAL_HEADER', [token]);
  });

  it('rejects a tampered payload (roles raised to Admin)', async () => {
    const { tokens } = await fixture();
    const { accessToken } = await tokens.issue({ subject: 'user-1', roles: ['Viewer'] });
    const [h, b, s] = accessToken.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(b, 'base64url').toString());
    payload.roles = ['Admin'];
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    await expectAuthError(tokens.verify(tampered), 'ERR_AUTH_INVALID_SIGNATURE', [tampered]);
  });

  it('rejects a token signed under an unknown kid', async () => {
    const { tokens, keys, clock } = await fixture();
    const token = await forge(keys, { alg: 'RS256', typ: 'at+jwt', kid: 'not-in-the-set' }, claimsAt(clock.now()));
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_UNKNOWN_KEY', [token]);
    const noKid = await forge(keys, { alg: 'RS256', typ: 'at+jwt' }, claimsAt(clock.now()));
    await expectAuthError(tokens.verify(noKid), 'ERR_AUTH_UNKNOWN_KEY');
  });

  it('rejects a token signed by a key of another set that reuses our kid', async () => {
    const { tokens, keys, clock } = await fixture();
    const foreign = await createKeySet({ extractable: true });
    const token = await forge(
      foreign,
      { alg: 'RS256', typ: 'at+jwt', kid: keys.signingKey().kid },
      claimsAt(clock.now()),
    );
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_INVALID_SIGNATURE');
  });

  it('rejects a refresh token presented as an access token', async () => {
    const { tokens } = await fixture();
    const { refreshToken } = await tokens.issue({ subject: 'user-1' });
    await expectAuthError(tokens.verify(refreshToken as string), 'ERR_AUTH_WRONG_TOKEN_TYPE', [refreshToken as string]);
  });

  it('rejects a JWT of another type (typ "JWT", e.g. an ID token) as an access token', async () => {
    const { tokens, keys, clock } = await fixture();
    const token = await forge(keys, { alg: 'RS256', typ: 'JWT', kid: keys.signingKey().kid }, claimsAt(clock.now()));
    await expectAuthError(tokens.verify(token), 'ERR_AUTH_WRONG_TOKEN_TYPE', [token]);
  });

  it('rejects an access token presented as a refresh token', async () => {
    const { tokens } = await fixture();
    const { accessToken } = await tokens.issue({ subject: 'user-1' });
    await expectAuthError(tokens.refresh(accessToken), 'ERR_AUTH_WRONG_TOKEN_TYPE', [accessToken]);
  });

  it('rejects a revoked token (by jti)', async () => {
    const { tokens } = await fixture();
    const { accessToken } = await tokens.issue({ subject: 'user-1' });
    const claims = await tokens.verify(accessToken);
    await tokens.revokeToken(claims);
    await expectAuthError(tokens.verify(accessToken), 'ERR_AUTH_TOKEN_REVOKED', [accessToken]);
  });

  it('rejects a token of a revoked session, and its refresh token', async () => {
    const { tokens } = await fixture();
    const issued = await tokens.issue({ subject: 'user-1' });
    await tokens.verify(issued.accessToken);
    await tokens.revokeSession(issued.sessionId);
    await expectAuthError(tokens.verify(issued.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
    await expectAuthError(tokens.refresh(issued.refreshToken as string), 'ERR_AUTH_TOKEN_REVOKED');
  });

  it('detects a reused refresh token: the family and session are revoked and the reuse is reported', async () => {
    const { tokens, events } = await fixture();
    const first = await tokens.issue({ subject: 'user-1' });
    const second = await tokens.refresh(first.refreshToken as string);
    // The stolen (already rotated) token comes back:
    await expectAuthError(tokens.refresh(first.refreshToken as string), 'ERR_AUTH_REFRESH_REUSED', [
      first.refreshToken as string,
    ]);
    expect(events.filter((e) => e.type === 'refresh.reused')).toHaveLength(1);
    // Every token of the family and session is now dead, including the legitimate successor.
    await expectAuthError(tokens.refresh(second.refreshToken as string), 'ERR_AUTH_TOKEN_REVOKED');
    await expectAuthError(tokens.verify(second.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
    await expectAuthError(tokens.verify(first.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
  });

  it('maps malformed input and plain TypeErrors from jose to ERR_AUTH_TOKEN_MALFORMED', async () => {
    const { tokens, keys } = await fixture();
    for (const bad of ['', 'abc', 'a.b.c', 'eyJ.eyJ.', `${'x'.repeat(20000)}`, 42 as never, null as never]) {
      await expectAuthError(tokens.verify(bad), 'ERR_AUTH_TOKEN_MALFORMED');
    }
    // A valid header with a payload that is not JSON.
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: keys.signingKey().kid })).toString(
      'base64url',
    );
    await expectAuthError(tokens.verify(`${header}.bm90IGpzb24.c2ln`), 'ERR_AUTH_INVALID_SIGNATURE');
  });

  it('maps a plain TypeError thrown inside jose (key/algorithm mismatch) to a typed code, failing closed', async () => {
    const { tokens, keys, clock } = await fixture();
    const { accessToken } = await tokens.issue({ subject: 'u' });
    // A broken key set hands jose an EC key for an RS256 token: jose throws a TypeError, not a jose error.
    const ec = await generateKeyPair('ES256');
    const broken = { ...keys, verificationKey: () => ({ alg: 'RS256' as const, key: ec.publicKey }) };
    const thrown = await import('jose').then(({ jwtVerify }) =>
      jwtVerify(accessToken, ec.publicKey, { algorithms: ['RS256'] }).catch((e: unknown) => e),
    );
    expect(thrown).toBeInstanceOf(TypeError);
    const { createTokenService: create } = await import('./tokens.js');
    const { memoryStore } = await import('@provisioning/core');
    const service = create({ keys: broken, issuer: ISSUER, audience: AUDIENCE, store: memoryStore(), clock });
    const error = await expectAuthError(service.verify(accessToken), 'ERR_AUTH_TOKEN_MALFORMED', [accessToken]);
    expect(error).not.toBeInstanceOf(TypeError);
  });

  it('rejects a signed token whose required claims are missing or mistyped', async () => {
    const { tokens, keys, clock } = await fixture();
    const header = { alg: 'RS256', typ: 'at+jwt', kid: keys.signingKey().kid };
    const noSid = claimsAt(clock.now());
    delete noSid.sid;
    await expectAuthError(tokens.verify(await forge(keys, header, noSid)), 'ERR_AUTH_INVALID_CLAIMS');
    await expectAuthError(
      tokens.verify(await forge(keys, header, claimsAt(clock.now(), { roles: 'Admin' }))),
      'ERR_AUTH_INVALID_CLAIMS',
    );
    const noExp = claimsAt(clock.now());
    delete noExp.exp;
    await expectAuthError(tokens.verify(await forge(keys, header, noExp)), 'ERR_AUTH_INVALID_CLAIMS');
  });
});
