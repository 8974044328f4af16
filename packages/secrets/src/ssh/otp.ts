import { createHash } from 'node:crypto';
import type { Clock, KeyValueStore, RandomSource } from '@provisioning/core';
import { randomToken, systemClock, systemRandom } from '@provisioning/core';
import { clientError } from '../errors.js';
import { validateTtl } from '../manager.js';
import type { SecretProvider } from '../provider.js';

/** Options of {@link createSshOtp}. */
export interface SshOtpOptions {
  /** Where pending OTPs live (memory, SQLite, PostgreSQL or Redis store from `@provisioning/core`). */
  readonly store: KeyValueStore;
  /** Default lifetime, in seconds. Default 120; at most 900. */
  readonly ttlSeconds?: number;
  /** Key prefix in the store. Default `ssh-otp:`. */
  readonly prefix?: string;
  readonly clock?: Clock;
  readonly random?: RandomSource;
}

/** An issued one-time password (show it once; it is not stored in clear). */
export interface SshOtp {
  readonly otp: string;
  readonly user: string;
  readonly host: string;
  readonly expiresAt: Date;
}

/** SSH one-time passwords. Made by {@link createSshOtp}. */
export interface SshOtpService {
  /** Issues an OTP bound to `user` at `host`. @throws SecretsError `ERR_SECRETS_INVALID_REQUEST`, `ERR_SECRETS_INVALID_TTL`. */
  issue(request: { readonly user: string; readonly host: string; readonly ttlSeconds?: number }): Promise<SshOtp>;
  /**
   * Verifies and burns an OTP: atomically consumed (exactly one of concurrent
   * callers can succeed), then checked against `user` and `host`. A
   * presented OTP is burned even when the binding does not match: a valid OTP
   * offered for another user or host has leaked.
   *
   * @throws SecretsError `ERR_SECRETS_OTP_INVALID` (unknown, used, expired or bound elsewhere; the code never says which).
   */
  verify(request: { readonly otp: string; readonly user: string; readonly host: string }): Promise<void>;
  /** Deletes an unused OTP by its hash (lease revocation). Resolves whether it existed. */
  revokeByHash(hash: string): Promise<boolean>;
  /** The store key hash of an OTP. */
  hash(otp: string): string;
}

const NAME = /^[\x21-\x7e]{1,255}$/;

/**
 * Creates the SSH one-time-password service (the Vault SSH OTP model): the
 * platform issues a short-lived password bound to a user and a host; the
 * host's PAM helper calls `verify` once.
 *
 * Only a SHA-256 of each OTP is stored (a leaked store reveals no usable
 * password); OTPs carry 144 random bits, so a fast hash is enough.
 *
 * @example
 * ```ts
 * const otps = createSshOtp({ store: memoryStore() });
 * const { otp } = await otps.issue({ user: 'deploy', host: 'db1' });
 * await otps.verify({ otp, user: 'deploy', host: 'db1' }); // throws ERR_SECRETS_OTP_INVALID the second time
 * ```
 */
export function createSshOtp(options: SshOtpOptions): SshOtpService {
  const store = options?.store;
  if (store === undefined || typeof store.consume !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'createSshOtp needs a KeyValueStore');
  }
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const prefix = options.prefix ?? 'ssh-otp:';
  const defaultTtl = validateTtl(options.ttlSeconds ?? 120, 900);
  const hash = (otp: string): string => createHash('sha256').update(otp, 'utf8').digest('base64url');
  const invalid = () => clientError('ERR_SECRETS_OTP_INVALID', 'the one-time password is not valid');

  return {
    hash,
    async issue(request) {
      const { user, host } = request ?? ({} as never);
      if (typeof user !== 'string' || !NAME.test(user) || typeof host !== 'string' || !NAME.test(host)) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'user and host are 1-255 printable ASCII characters');
      }
      const ttl = validateTtl(request.ttlSeconds ?? defaultTtl, 900);
      const otp = randomToken(18, random);
      const expiresAt = new Date(clock.now() + ttl * 1000);
      await store.set(`${prefix}${hash(otp)}`, JSON.stringify({ user, host, exp: expiresAt.getTime() }), {
        ttlSeconds: ttl,
      });
      return { otp, user, host, expiresAt };
    },
    async verify(request) {
      const { otp, user, host } = request ?? ({} as never);
      if (typeof otp !== 'string' || otp.length === 0 || otp.length > 256) throw invalid();
      const value = await store.consume(`${prefix}${hash(otp)}`);
      if (value === undefined) throw invalid();
      const bound = JSON.parse(value) as { user: string; host: string; exp: number };
      // The store expires entries too; this check keeps the binding exact whatever the driver's clock.
      if (bound.user !== user || bound.host !== host || bound.exp <= clock.now()) throw invalid();
    },
    async revokeByHash(h) {
      return store.delete(`${prefix}${h}`);
    },
  };
}

/**
 * A lease provider for SSH OTPs: each OTP is a lease (TTL = the OTP's TTL,
 * at most 900 s), and revoking the lease deletes an unused OTP.
 *
 * @example
 * ```ts
 * const otpProvider = sshOtpProvider(createSshOtp({ store }));
 * const { secret } = await leases.issue(otpProvider, { user: 'deploy', host: 'db1' }, { owner: 'alice', ttlSeconds: 120 });
 * ```
 */
export function sshOtpProvider(
  service: SshOtpService,
  name = 'ssh-otp',
): SecretProvider<{ readonly user: string; readonly host: string }, SshOtp> {
  return {
    name,
    async create(request, ctx) {
      const issued = await service.issue({ ...request, ttlSeconds: Math.min(ctx.ttlSeconds, 900) });
      return { secret: issued, metadata: { otpHash: service.hash(issued.otp), user: issued.user, host: issued.host } };
    },
    async revoke(lease) {
      const h = lease.metadata.otpHash;
      if (h !== undefined) await service.revokeByHash(h);
    },
  };
}
