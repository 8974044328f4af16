import { memoryStore } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, countingKeySet, expectAuthError, fixture, ISSUER } from '../test/helpers.js';
import { createTokenService } from './tokens.js';

describe('token service', () => {
  it('issues access tokens with the documented claims and a 15 minute lifetime', async () => {
    const { tokens, clock } = await fixture();
    const mfaAt = new Date(clock.now() - 60_000);
    const issued = await tokens.issue({
      subject: 'user-1',
      roles: ['Developer'],
      amr: ['pwd', 'otp'],
      mfaAt,
      claims: { workspace: 'ws-1' },
    });
    expect(issued.expiresIn).toBe(900);
    expect(issued.tokenType).toBe('Bearer');
    expect(issued.refreshToken).toMatch(/^prt_[A-Za-z0-9_-]{43}$/);
    const claims = await tokens.verify(issued.accessToken);
    const now = Math.floor(clock.now() / 1000);
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-1',
      iat: now,
      nbf: now,
      exp: now + 900,
      jti: issued.jti,
      sid: issued.sessionId,
      roles: ['Developer'],
      amr: ['pwd', 'otp'],
      auth_time: now,
      mfa_at: Math.floor(mfaAt.getTime() / 1000),
      workspace: 'ws-1',
    });
  });

  it('issues tokens for several audiences and accepts any configured audience', async () => {
    const { tokens, keys, store, clock } = await fixture();
    const { accessToken } = await tokens.issue({ subject: 'u', audience: ['orchestrator', 'control-center'] });
    const orchestrator = createTokenService({ keys, store, clock, issuer: ISSUER, audience: ['orchestrator'] });
    await expect(orchestrator.verify(accessToken)).resolves.toMatchObject({ aud: ['orchestrator', 'control-center'] });
    await expect(tokens.verify(accessToken, { audience: 'control-center' })).resolves.toBeDefined();
  });

  it('refuses reserved custom claims, bad subjects and lifetimes over 4 hours', async () => {
    const { tokens } = await fixture();
    await expectAuthError(tokens.issue({ subject: 'u', claims: { roles: ['Admin'] } }), 'ERR_AUTH_INVALID_INPUT');
    await expectAuthError(tokens.issue({ subject: '' }), 'ERR_AUTH_INVALID_INPUT');
    await expectAuthError(tokens.issue({ subject: 'u', accessTtlSeconds: 4 * 3600 + 1 }), 'ERR_AUTH_INVALID_INPUT');
  });

  it('validates options at construction', async () => {
    const { keys } = await fixture();
    const store = memoryStore();
    expect(() => createTokenService({ keys, store, issuer: '', audience: 'a' })).toThrow(/issuer/);
    expect(() => createTokenService({ keys, store, issuer: 'i', audience: [] })).toThrow(/audience/);
    expect(() => createTokenService({ keys, store, issuer: 'i', audience: 'a', accessTtlSeconds: 5 * 3600 })).toThrow();
    expect(() => createTokenService({ keys, store, issuer: 'i', audience: 'a', clockSkewSeconds: 3600 })).toThrow();
    expect(() => createTokenService({ keys, store, issuer: 'i', audience: 'a', refreshGraceSeconds: 600 })).toThrow();
  });

  it('rotates refresh tokens: each is single use and the new pair keeps the session and claims', async () => {
    const { tokens, clock } = await fixture();
    const first = await tokens.issue({ subject: 'u', roles: ['Operator'], amr: ['pwd', 'hwk'] });
    clock.advance(10 * 60_000);
    const second = await tokens.refresh(first.refreshToken as string);
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const claims = await tokens.verify(second.accessToken);
    expect(claims).toMatchObject({ sub: 'u', roles: ['Operator'], amr: ['pwd', 'hwk'], sid: first.sessionId });
    const third = await tokens.refresh(second.refreshToken as string);
    expect(third.sessionId).toBe(first.sessionId);
  });

  it('refuses unknown and expired refresh tokens', async () => {
    const { tokens, clock } = await fixture({ refreshTtlSeconds: 3600 });
    await expectAuthError(tokens.refresh(`prt_${'A'.repeat(43)}`), 'ERR_AUTH_REFRESH_INVALID');
    await expectAuthError(tokens.refresh('garbage'), 'ERR_AUTH_REFRESH_INVALID');
    const { refreshToken } = await tokens.issue({ subject: 'u' });
    clock.advance(3601_000);
    await expectAuthError(tokens.refresh(refreshToken as string), 'ERR_AUTH_REFRESH_INVALID', [refreshToken as string]);
  });

  it('stores refresh tokens only as hashes', async () => {
    const { tokens, store } = await fixture();
    const { refreshToken } = await tokens.issue({ subject: 'u' });
    const keys = await store.list('');
    const values = await Promise.all(keys.map((k) => store.get(k)));
    const secret = (refreshToken as string).slice(4);
    expect(keys.join(' ').includes(secret)).toBe(false);
    expect(values.join(' ').includes(secret)).toBe(false);
  });

  it('grace period: a concurrent reuse within the grace window is allowed, after it the family is revoked', async () => {
    const { tokens, clock, events } = await fixture({ refreshGraceSeconds: 10 });
    const first = await tokens.issue({ subject: 'u' });
    await tokens.refresh(first.refreshToken as string);
    clock.advance(5_000);
    const concurrent = await tokens.refresh(first.refreshToken as string);
    await expect(tokens.verify(concurrent.accessToken)).resolves.toBeDefined();
    clock.advance(6_000);
    await expectAuthError(tokens.refresh(first.refreshToken as string), 'ERR_AUTH_REFRESH_REUSED');
    expect(events.map((e) => e.type)).toContain('refresh.reused');
  });

  it('without a grace period, concurrent refreshes of one token: exactly one wins, the rest are reuse', async () => {
    const { tokens } = await fixture();
    const first = await tokens.issue({ subject: 'u' });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => tokens.refresh(first.refreshToken as string)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected')
        expect((r.reason as { code: string }).code).toMatch(/ERR_AUTH_REFRESH_REUSED|ERR_AUTH_TOKEN_REVOKED/);
  });

  it('lists sessions and logs out everywhere', async () => {
    const { tokens, clock } = await fixture();
    const a = await tokens.issue({ subject: 'u', metadata: { ip: '10.0.0.1', userAgent: 'cli' } });
    clock.advance(1000);
    const b = await tokens.issue({ subject: 'u' });
    await tokens.issue({ subject: 'someone-else' });
    const sessions = await tokens.listSessions('u');
    expect(sessions.map((s) => s.sessionId)).toEqual([b.sessionId, a.sessionId]);
    expect(sessions[1]).toMatchObject({ ip: '10.0.0.1', userAgent: 'cli', amr: ['pwd'] });
    await tokens.revokeSession(a.sessionId);
    expect((await tokens.listSessions('u')).map((s) => s.sessionId)).toEqual([b.sessionId]);
    await tokens.verify(b.accessToken);
    clock.advance(1000);
    await tokens.revokeUser('u');
    expect(await tokens.listSessions('u')).toEqual([]);
    await expectAuthError(tokens.verify(b.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
    await expectAuthError(tokens.refresh(b.refreshToken as string), 'ERR_AUTH_TOKEN_REVOKED');
    // A login after the cut-off works.
    clock.advance(1000);
    const c = await tokens.issue({ subject: 'u' });
    await expect(tokens.verify(c.accessToken)).resolves.toBeDefined();
    expect(await tokens.listSessions('someone-else')).toHaveLength(1);
  });

  it('revokes a whole session through its refresh token (logout)', async () => {
    const { tokens } = await fixture();
    const a = await tokens.issue({ subject: 'u' });
    await tokens.revokeRefreshToken(a.refreshToken as string);
    await expectAuthError(tokens.verify(a.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
    await expectAuthError(tokens.refresh(a.refreshToken as string), 'ERR_AUTH_TOKEN_REVOKED');
    await tokens.revokeRefreshToken('unknown');
  });

  it('revocation entries expire with the tokens they cover', async () => {
    const { tokens, clock, store } = await fixture({ refreshTtlSeconds: 3600 });
    const a = await tokens.issue({ subject: 'u' });
    await tokens.revokeToken(await tokens.verify(a.accessToken));
    expect(await store.list('auth:rj:')).toHaveLength(1);
    clock.advance((900 + 30 + 30 + 1) * 1000);
    expect(await store.list('auth:rj:')).toHaveLength(0);
    await tokens.revokeSession(a.sessionId);
    await tokens.revokeUser('u');
    expect(await store.list('auth:rs:')).toHaveLength(1);
    expect(await store.list('auth:ru:')).toHaveLength(1);
    // Session and user entries cover refresh tokens and 4 h access tokens: they outlive both, then go.
    clock.advance((4 * 3600 + 31) * 1000);
    expect(await store.list('auth:r')).toEqual([]);
  });

  it('admits a token to the cache on its second verification: from the third on, no signature check', async () => {
    const { keys: counting, signatureChecks } = await countingKeySet();
    const { tokens } = await fixture({ keys: counting });
    const once = await tokens.issue({ subject: 'u' });
    const reused = await tokens.issue({ subject: 'u' });
    await tokens.verify(once.accessToken);
    expect(signatureChecks()).toBe(1);
    for (let i = 0; i < 5; i++) await tokens.verify(reused.accessToken);
    expect(signatureChecks()).toBe(1 + 2);
    await tokens.verify(once.accessToken); // its second use: checked, now admitted
    await tokens.verify(once.accessToken);
    expect(signatureChecks()).toBe(1 + 2 + 1);
  });

  it('admits every reused token: no two tokens can keep each other out of the cache', async () => {
    const { keys: counting, signatureChecks } = await countingKeySet();
    // 100 tokens against a small admission table: with one slot per fingerprint
    // some pairs collided (~5 expected) and overwrote each other on every use.
    const { tokens } = await fixture({ keys: counting, cache: { maxEntries: 400 } });
    const issued = [];
    for (let i = 0; i < 100; i++) issued.push((await tokens.issue({ subject: `u${i}` })).accessToken);
    for (let round = 0; round < 2; round++) for (const t of issued) await tokens.verify(t);
    // Two checks each, fewer if the filter admitted one early (a false positive, ~1e-4 a token here).
    const afterTwo = signatureChecks();
    expect(afterTwo).toBeGreaterThanOrEqual(190);
    expect(afterTwo).toBeLessThanOrEqual(200);
    // From then on every one of them is a cache hit.
    for (let round = 0; round < 3; round++) for (const t of issued) await tokens.verify(t);
    expect(signatureChecks()).toBe(afterTwo);
  });

  it('the verified-token cache never outlives exp and never skips the revocation check', async () => {
    const { tokens, clock } = await fixture({ clockSkewSeconds: 0 });
    const a = await tokens.issue({ subject: 'u' });
    await tokens.verify(a.accessToken);
    await tokens.verify(a.accessToken); // admitted to the cache
    await tokens.verify(a.accessToken); // served from the cache
    await tokens.revokeToken(await tokens.verify(a.accessToken));
    await expectAuthError(tokens.verify(a.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
    const b = await tokens.issue({ subject: 'u' });
    await tokens.verify(b.accessToken);
    await tokens.verify(b.accessToken); // cached
    clock.advance(900_000);
    await expectAuthError(tokens.verify(b.accessToken), 'ERR_AUTH_TOKEN_EXPIRED');
  });

  it('never puts a token in an error, even for store failures elsewhere', async () => {
    const { tokens } = await fixture();
    const a = await tokens.issue({ subject: 'u' });
    const broken = `${a.accessToken}x`;
    await expectAuthError(tokens.verify(broken), 'ERR_AUTH_INVALID_SIGNATURE', [broken, a.accessToken]);
  });
});
