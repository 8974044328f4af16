import { randomBytes } from 'node:crypto';
import type { KeyValueStore, ManualClock } from '@provisioning/core';
import { createManualClock } from '@provisioning/core';
import { afterEach, describe, expect, it } from 'vitest';
import { localAesGcmEncrypter } from '../src/encrypter.js';
import type { MfaService } from '../src/service.js';
import { createMfaService } from '../src/service.js';
import type { MfaStore } from '../src/store.js';
import { createSoftwareAuthenticator } from '../src/testing.js';
import { codeFor, ORIGIN, RP } from './helpers.js';

/** Backends for the service: an MfaStore and a KeyValueStore, and a way to open a second instance on them. */
export interface ServiceBackend {
  readonly name: string;
  /** Opens empty stores. `clock` is honoured by drivers that compute expiry themselves. */
  open(clock: ManualClock): Promise<{ store: MfaStore; kv: KeyValueStore }>;
  /** Opens the same stores through new connections: another instance of the application. */
  openPeer(
    clock: ManualClock,
    first: { store: MfaStore; kv: KeyValueStore },
  ): Promise<{ store: MfaStore; kv: KeyValueStore }>;
  /** Expiry follows the server's real clock (Redis). */
  readonly realTime?: boolean;
}

/**
 * The service's guarantees on real shared stores, with two instances: TOTP
 * replay, attempt cap, single-use challenges, backup codes and WebAuthn
 * ceremonies hold across instances.
 */
export function describeMfaServiceOn(backend: ServiceBackend): void {
  describe(`MFA service on ${backend.name}, two instances`, () => {
    const opened: { store: MfaStore; kv: KeyValueStore }[] = [];
    afterEach(async () => {
      for (const o of opened.splice(0)) {
        await o.store.close();
        await o.kv.close();
      }
    });

    async function twoInstances(): Promise<{ a: MfaService; b: MfaService; clock: ManualClock }> {
      // Redis expires on its own clock: start the manual clock at the real time so retry-after figures agree.
      const clock = createManualClock(
        backend.realTime ? Math.floor(Date.now() / 30_000) * 30_000 : Date.UTC(2026, 0, 1),
      );
      const first = await backend.open(clock);
      const second = await backend.openPeer(clock, first);
      opened.push(first, second);
      const encrypter = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
      // Both instances share one key prefix, unique per test (Redis is shared by every test).
      const keyPrefix = `mfa-${randomBytes(4).toString('hex')}:`;
      return {
        a: createMfaService({ ...first, encrypter, rp: RP, clock, keyPrefix }),
        b: createMfaService({ ...second, encrypter, rp: RP, clock, keyPrefix }),
        clock,
      };
    }

    const user = (): string => `user-${randomBytes(6).toString('hex')}`;

    async function enroll(mfa: MfaService, clock: ManualClock, userId: string) {
      const e = await mfa.beginTotpEnrollment(userId, { accountName: 'a@example.com' });
      const r = await mfa.confirmTotpEnrollment(userId, e.deviceId, codeFor(e.secret, clock));
      return { ...e, backupCodes: r.backupCodes ?? [] };
    }

    it('accepts a TOTP code on exactly one instance when both verify it at once', async () => {
      const { a, b, clock } = await twoInstances();
      const u = user();
      const { secret } = await enroll(a, clock, u);
      for (let round = 0; round < 3; round++) {
        clock.advance(30_000);
        const code = codeFor(secret, clock);
        const results = await Promise.allSettled([a, b].map((m) => m.verifyTotp(u, code)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ERR_MFA_CODE_REPLAYED' });
        }
      }
    });

    it('counts failures across instances and refuses with a retry-after', async () => {
      const { a, b, clock } = await twoInstances();
      const u = user();
      const { secret } = await enroll(a, clock, u);
      clock.advance(30_000);
      const right = codeFor(secret, clock);
      const wrong = right === '000000' ? '111111' : '000000';
      const burst = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).verifyTotp(u, wrong)),
      );
      const codes = burst.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
      expect(codes.filter((c) => c === 'ERR_MFA_INVALID_CODE')).toHaveLength(5);
      expect(codes.filter((c) => c === 'ERR_MFA_TOO_MANY_ATTEMPTS')).toHaveLength(7);
      const refused = await b.verifyTotp(u, right).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'ERR_MFA_TOO_MANY_ATTEMPTS', retryable: true });
      const after = (refused as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds;
      expect(after).toBeGreaterThan(200);
      expect(after).toBeLessThanOrEqual(300);
    });

    it('completes an MFA challenge once, whichever instance is asked', async () => {
      const { a, b, clock } = await twoInstances();
      const u = user();
      const { secret, backupCodes } = await enroll(a, clock, u);
      clock.advance(30_000);
      const c = await a.createChallenge(u);
      const r = await b.completeChallenge(c.challengeId, { method: 'totp', code: codeFor(secret, clock) });
      expect(r).toMatchObject({ userId: u, method: 'totp' });
      await expect(
        a.completeChallenge(c.challengeId, { method: 'backup_code', code: backupCodes[0] as string }),
      ).rejects.toMatchObject({
        code: 'ERR_MFA_CHALLENGE_INVALID',
      });
      // The used challenge is refused before the factor is checked: the backup code is not spent.
      expect(await a.remainingBackupCodes(u)).toBe(10);
    });

    it('uses a backup code once across instances', async () => {
      const { a, b, clock } = await twoInstances();
      const u = user();
      const { backupCodes } = await enroll(a, clock, u);
      const code = backupCodes[1] as string;
      const results = await Promise.allSettled([a, b, a, b].map((m) => m.verifyBackupCode(u, code)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await b.remainingBackupCodes(u)).toBe(9);
    });

    it('runs WebAuthn ceremonies across instances and consumes each challenge once', async () => {
      const { a, b } = await twoInstances();
      const u = user();
      const key = createSoftwareAuthenticator({ origin: ORIGIN });
      const o = await a.beginWebAuthnRegistration(u, { userName: 'alice' });
      await b.finishWebAuthnRegistration(u, key.register(o));
      const request = await b.beginWebAuthnAuthentication({ userId: u });
      const response = key.authenticate(request);
      const results = await Promise.allSettled(
        [a, b].map((m) => m.finishWebAuthnAuthentication(response, { userId: u })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const passkey = await a.beginWebAuthnAuthentication();
      await expect(b.finishWebAuthnAuthentication(key.authenticate(passkey))).resolves.toMatchObject({ userId: u });
    });

    it('refuses a cloned authenticator on the other instance', async () => {
      const { a, b } = await twoInstances();
      const u = user();
      const key = createSoftwareAuthenticator({ origin: ORIGIN });
      await a.finishWebAuthnRegistration(u, key.register(await a.beginWebAuthnRegistration(u, { userName: 'alice' })));
      const clone = key.clone();
      await a.finishWebAuthnAuthentication(key.authenticate(await a.beginWebAuthnAuthentication({ userId: u })), {
        userId: u,
      });
      await a.finishWebAuthnAuthentication(key.authenticate(await a.beginWebAuthnAuthentication({ userId: u })), {
        userId: u,
      });
      await expect(
        b.finishWebAuthnAuthentication(clone.authenticate(await b.beginWebAuthnAuthentication({ userId: u })), {
          userId: u,
        }),
      ).rejects.toMatchObject({ code: 'ERR_MFA_WEBAUTHN_COUNTER' });
    });
  });
}
