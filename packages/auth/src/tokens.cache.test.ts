// The verified-token cache skips only the signature check of a token it has
// already verified: these tests pin what it must never skip or keep.
import { describe, expect, it } from 'vitest';
import { AUDIENCE, countingKeySet, expectAuthError, fixture, forge, ISSUER } from '../test/helpers.js';

/** Verifies `token` `times` times. */
async function use(verify: (token: string) => Promise<unknown>, token: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await verify(token);
}

describe('verified-token cache', () => {
  it('a hit skips the signature check, nothing else', async () => {
    const { keys, signatureChecks } = await countingKeySet();
    const { tokens } = await fixture({ keys });
    const t = await tokens.issue({ subject: 'u' });
    await use((x) => tokens.verify(x), t.accessToken, 10);
    // Checked on its first two uses (admission on the second), then served from the cache.
    expect(signatureChecks()).toBe(2);
    await expect(tokens.verify(t.accessToken)).resolves.toMatchObject({ sub: 'u', jti: t.jti });
  });

  it('an entry lives at most maxAgeSeconds (default 60) after its verification', async () => {
    const { keys, signatureChecks } = await countingKeySet();
    const { tokens, clock } = await fixture({ keys });
    const t = await tokens.issue({ subject: 'u' });
    await use((x) => tokens.verify(x), t.accessToken, 3);
    expect(signatureChecks()).toBe(2);
    clock.advance(59_000);
    await tokens.verify(t.accessToken);
    expect(signatureChecks()).toBe(2);
    clock.advance(1_000); // 60 s after the verification that cached it
    await tokens.verify(t.accessToken);
    expect(signatureChecks()).toBe(3);
  });

  it('maxAgeSeconds is configurable and validated', async () => {
    const { keys, signatureChecks } = await countingKeySet();
    const { tokens, clock } = await fixture({ keys, cache: { maxAgeSeconds: 5 } });
    const t = await tokens.issue({ subject: 'u' });
    await use((x) => tokens.verify(x), t.accessToken, 3);
    clock.advance(5_000);
    await tokens.verify(t.accessToken);
    expect(signatureChecks()).toBe(3);
    for (const maxAgeSeconds of [0, 3601, Number.NaN]) {
      await expect(fixture({ cache: { maxAgeSeconds } })).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_OPTIONS' });
    }
  });

  it('an expired token is refused on a hit', async () => {
    const { tokens, clock } = await fixture({ clockSkewSeconds: 0, cache: { maxAgeSeconds: 3600 } });
    const t = await tokens.issue({ subject: 'u', accessTtlSeconds: 120 });
    await use((x) => tokens.verify(x), t.accessToken, 3);
    clock.advance(120_000);
    await expectAuthError(tokens.verify(t.accessToken), 'ERR_AUTH_TOKEN_EXPIRED', [t.accessToken]);
  });

  it('a revoked token, session or user is refused on a hit', async () => {
    const { keys, signatureChecks } = await countingKeySet();
    const { tokens } = await fixture({ keys });
    const byToken = await tokens.issue({ subject: 'a' });
    const bySession = await tokens.issue({ subject: 'b' });
    const byUser = await tokens.issue({ subject: 'c' });
    for (const t of [byToken, bySession, byUser]) await use((x) => tokens.verify(x), t.accessToken, 3);
    const checks = signatureChecks();
    await tokens.revokeToken(await tokens.verify(byToken.accessToken));
    await tokens.revokeSession(bySession.sessionId);
    await tokens.revokeUser('c');
    for (const t of [byToken, bySession, byUser]) {
      await expectAuthError(tokens.verify(t.accessToken), 'ERR_AUTH_TOKEN_REVOKED', [t.accessToken]);
    }
    // They were hits: refused by the revocation check, not by a fresh verification.
    expect(signatureChecks()).toBe(checks);
  });

  it('a token that failed verification is never cached', async () => {
    const { keys, signatureChecks } = await countingKeySet();
    const { tokens, clock } = await fixture({ keys });
    const now = Math.floor(clock.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u', jti: 'j1', sid: 's1', roles: [], amr: ['pwd'] };
    const kid = keys.signingKey().kid;
    const header = { alg: 'RS256', kid, typ: 'at+jwt' };
    // Valid signature, but failing checks made after it: issued in the future, and a malformed claim.
    const future = await forge(keys, header, { ...claims, auth_time: now, iat: now + 600, nbf: now, exp: now + 900 });
    const badRoles = await forge(keys, header, {
      ...claims,
      roles: 'admin',
      auth_time: now,
      iat: now,
      nbf: now,
      exp: now + 900,
    });
    for (let i = 0; i < 4; i++) {
      await expectAuthError(tokens.verify(future), 'ERR_AUTH_TOKEN_NOT_YET_VALID', [future]);
      await expectAuthError(tokens.verify(badRoles), 'ERR_AUTH_INVALID_CLAIMS', [badRoles]);
    }
    expect(signatureChecks()).toBe(8);
  });

  it('removing or retiring a key empties the cache: its tokens are refused at once', async () => {
    const { tokens, keys } = await fixture();
    const old = await tokens.issue({ subject: 'u' });
    await use((x) => tokens.verify(x), old.accessToken, 3); // cached
    const oldKid = keys.signingKey().kid;
    await keys.rotate();
    expect(keys.removeKey(oldKid)).toBe(true);
    await expectAuthError(tokens.verify(old.accessToken), 'ERR_AUTH_UNKNOWN_KEY', [old.accessToken]);
  });

  it('clearCache() makes every token go through the signature check again', async () => {
    const { keys, signatureChecks } = await countingKeySet();
    const { tokens } = await fixture({ keys });
    const t = await tokens.issue({ subject: 'u' });
    await use((x) => tokens.verify(x), t.accessToken, 3);
    expect(signatureChecks()).toBe(2);
    tokens.clearCache();
    await tokens.verify(t.accessToken);
    expect(signatureChecks()).toBe(3);
  });

  it('cache: false checks the signature on every call', async () => {
    const { keys, signatureChecks } = await countingKeySet();
    const { tokens } = await fixture({ keys, cache: false });
    const t = await tokens.issue({ subject: 'u' });
    await use((x) => tokens.verify(x), t.accessToken, 5);
    expect(signatureChecks()).toBe(5);
  });
});

describe('verified-token cache: shared claims', () => {
  it('hands out claims nobody can change, nested values included', async () => {
    const { tokens } = await fixture();
    const t = await tokens.issue({ subject: 'u', roles: ['Viewer'], claims: { workspace: { id: 'ws-1' } } });
    await use((x) => tokens.verify(x), t.accessToken, 2);
    const hit = (await tokens.verify(t.accessToken)) as unknown as { roles: string[]; workspace: { id: string } };
    expect(() => hit.roles.push('Admin')).toThrow(TypeError);
    expect(() => {
      hit.workspace.id = 'ws-2';
    }).toThrow(TypeError);
    expect(await tokens.verify(t.accessToken)).toMatchObject({ roles: ['Viewer'], workspace: { id: 'ws-1' } });
  });
});
