import type { KeyValueStore, ManualClock } from '@provisioning/core';
import { createManualClock } from '@provisioning/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeySet } from '../src/keys.js';
import { createKeySet } from '../src/keys.js';
import { createLoginThrottle } from '../src/throttle.js';
import type { TokenEvent, TokenService } from '../src/tokens.js';
import { createTokenService } from '../src/tokens.js';
import { AUDIENCE, expectAuthError, ISSUER, T0 } from './helpers.js';

/** A key/value driver the token state runs on. */
export interface TokenStateDriver {
  readonly name: string;
  /** Opens an empty store. */
  open(clock: ManualClock): Promise<KeyValueStore>;
  /** Opens a second store on the same backend: another instance of the application. */
  openPeer(clock: ManualClock, first: KeyValueStore): Promise<KeyValueStore>;
}

let sharedKeys: KeySet | undefined;

/**
 * The conformance suite of the token service's state (refresh tokens, families,
 * sessions, revocations) on one KeyValueStore driver, including two instances
 * sharing the backend.
 */
export function describeTokenState(driver: TokenStateDriver): void {
  describe(`token state conformance: ${driver.name}`, () => {
    let clock: ManualClock;
    let store: KeyValueStore;
    let peerStore: KeyValueStore;
    let a: TokenService;
    let b: TokenService;
    let events: TokenEvent[];

    beforeEach(async () => {
      clock = createManualClock(T0);
      sharedKeys ??= await createKeySet();
      store = await driver.open(clock);
      peerStore = await driver.openPeer(clock, store);
      events = [];
      const common = {
        keys: sharedKeys,
        issuer: ISSUER,
        audience: AUDIENCE,
        clock,
        onEvent: (e: TokenEvent) => events.push(e),
      };
      a = createTokenService({ ...common, store });
      b = createTokenService({ ...common, store: peerStore });
    });
    afterEach(async () => {
      if (peerStore !== store) await peerStore.close();
      await store.close();
    });

    it('issues on one instance and verifies and refreshes on the other', async () => {
      const issued = await a.issue({ subject: 'user-1', roles: ['Viewer'] });
      await expect(b.verify(issued.accessToken)).resolves.toMatchObject({ sub: 'user-1', roles: ['Viewer'] });
      const next = await b.refresh(issued.refreshToken as string);
      await expect(a.verify(next.accessToken)).resolves.toMatchObject({ sid: issued.sessionId });
    });

    it('a refresh token is single use across instances: of concurrent refreshes exactly one wins', async () => {
      const issued = await a.issue({ subject: 'user-1' });
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).refresh(issued.refreshToken as string)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'refresh.reused').length).toBeGreaterThanOrEqual(1);
    });

    it('reuse detected on one instance revokes the family and session on the other', async () => {
      const first = await a.issue({ subject: 'user-1' });
      const second = await a.refresh(first.refreshToken as string);
      await b.verify(second.accessToken);
      await expectAuthError(b.refresh(first.refreshToken as string), 'ERR_AUTH_REFRESH_REUSED');
      await expectAuthError(a.refresh(second.refreshToken as string), 'ERR_AUTH_TOKEN_REVOKED');
      await expectAuthError(a.verify(second.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
    });

    it('a token revoked on one instance is refused by the other on its next request (even from its cache)', async () => {
      const issued = await a.issue({ subject: 'user-1' });
      await b.verify(issued.accessToken);
      const claims = await b.verify(issued.accessToken); // now in b's cache (admitted on the second use)
      await a.revokeToken(claims);
      await expectAuthError(b.verify(issued.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
    });

    it('a session revoked on one instance is refused by the other', async () => {
      const issued = await a.issue({ subject: 'user-1' });
      await b.verify(issued.accessToken);
      await a.revokeSession(issued.sessionId);
      await expectAuthError(b.verify(issued.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
      await expectAuthError(b.refresh(issued.refreshToken as string), 'ERR_AUTH_TOKEN_REVOKED');
    });

    it('log out everywhere on one instance ends every session on the other', async () => {
      const one = await a.issue({ subject: 'user-1' });
      const two = await b.issue({ subject: 'user-1' });
      const other = await b.issue({ subject: 'user-2' });
      expect((await b.listSessions('user-1')).map((s) => s.sessionId).sort()).toEqual(
        [one.sessionId, two.sessionId].sort(),
      );
      clock.advance(1000);
      await a.revokeUser('user-1');
      expect(await b.listSessions('user-1')).toEqual([]);
      await expectAuthError(b.verify(one.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
      await expectAuthError(b.verify(two.accessToken), 'ERR_AUTH_TOKEN_REVOKED');
      await expectAuthError(a.refresh(two.refreshToken as string), 'ERR_AUTH_TOKEN_REVOKED');
      await expect(b.verify(other.accessToken)).resolves.toMatchObject({ sub: 'user-2' });
    });

    it('login lockout recorded on one instance is enforced by the other; concurrent failures all count', async () => {
      const one = createLoginThrottle({ store, clock, account: { maxFailures: 6, windowSeconds: 60 } });
      const two = createLoginThrottle({ store: peerStore, clock, account: { maxFailures: 6, windowSeconds: 60 } });
      const attempt = { username: 'ada', ip: '203.0.113.7' };
      await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? one : two).recordFailure(attempt)));
      await expectAuthError(two.check(attempt), 'ERR_AUTH_LOCKED_OUT');
      await expectAuthError(one.check({ username: 'ada' }), 'ERR_AUTH_LOCKED_OUT');
      await expect(one.check({ username: 'bob', ip: '198.51.100.2' })).resolves.toBeUndefined();
    });

    it('keeps subjects with unusual characters apart in the store', async () => {
      const x = await a.issue({ subject: 'ada@example.com' });
      await a.issue({ subject: 'ada@example.com:x' });
      expect((await b.listSessions('ada@example.com')).map((s) => s.sessionId)).toEqual([x.sessionId]);
    });
  });
}
