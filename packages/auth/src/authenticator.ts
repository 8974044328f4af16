import type { Clock } from '@provisioning/core';
import { randomToken, systemClock } from '@provisioning/core';
import { type AuthError, authError, invalidOptions } from './errors.js';
import type { PasswordHasher } from './passwords.js';
import type { LoginThrottle } from './throttle.js';
import type { IssuedTokens, TokenService } from './tokens.js';
import type { NewUser, User, UserStore } from './users.js';
import { normalizeUsername } from './users.js';

/** A user as returned by login: everything but the password hash. */
export type PublicUser = Omit<User, 'passwordHash'>;

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  readonly users: UserStore;
  readonly hasher: PasswordHasher;
  /** If given, a successful login also issues tokens (a new session). */
  readonly tokens?: TokenService;
  /** Throttling per account and IP. Strongly advised; omit only behind another rate limiter. */
  readonly throttle?: LoginThrottle;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
}

/** What {@link Authenticator.login} takes. */
export interface LoginRequest {
  readonly username: string;
  readonly password: string;
  /** Client IP address for per-IP throttling and the session list. */
  readonly ip?: string;
  readonly userAgent?: string;
}

/** What {@link Authenticator.login} returns. */
export interface LoginResult {
  readonly user: PublicUser;
  /** Present when the authenticator has a token service. */
  readonly tokens: IssuedTokens | undefined;
  /** Whether the stored hash was upgraded to the current parameters during this login. */
  readonly rehashed: boolean;
}

/** Password login and account helpers. See {@link createAuthenticator}. */
export interface Authenticator {
  /**
   * Checks a username and password. Unknown users, wrong passwords, disabled
   * accounts and accounts without a password all fail with the same error
   * after the same Argon2id work, so responses do not reveal which accounts exist.
   *
   * @throws AuthError `ERR_AUTH_INVALID_CREDENTIALS`, or `ERR_AUTH_LOCKED_OUT` (checked before any work).
   */
  login(request: LoginRequest): Promise<LoginResult>;
  /**
   * Creates a user with a hashed password.
   * @throws AuthError `ERR_AUTH_USER_EXISTS`, `ERR_AUTH_WEAK_PASSWORD`, `ERR_AUTH_INVALID_INPUT`.
   */
  createUser(user: Omit<NewUser, 'passwordHash'> & { readonly password?: string }): Promise<PublicUser>;
  /** Sets a new password; with `revokeSessions` (default true) every existing session ends. */
  setPassword(userId: string, password: string, options?: { readonly revokeSessions?: boolean }): Promise<void>;
}

const strip = (user: User): PublicUser => {
  const { passwordHash: _hash, ...rest } = user;
  return rest;
};

/**
 * Creates an {@link Authenticator}: password login over a {@link UserStore}
 * and an Argon2id {@link PasswordHasher}, with throttling and optional token issuance.
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` when `users` or `hasher` is missing.
 * @example
 * ```ts
 * const auth = createAuthenticator({ users, hasher: createPasswordHasher(), tokens, throttle });
 * const { user, tokens: issued } = await auth.login({ username, password, ip });
 * ```
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { users, hasher, tokens, throttle } = options;
  if (typeof users?.findByUsername !== 'function') throw invalidOptions('users (a UserStore) is required');
  if (typeof hasher?.verify !== 'function') throw invalidOptions('hasher (a PasswordHasher) is required');
  const clock = options.clock ?? systemClock;
  // A hash of a random password with the current parameters: unknown users are
  // verified against it so they cost the same Argon2id work as real ones.
  let dummy: Promise<string> | undefined;
  const dummyHash = (): Promise<string> => {
    dummy ??= hasher.hash(randomToken(24));
    return dummy;
  };
  const invalid = (): AuthError => authError('ERR_AUTH_INVALID_CREDENTIALS', 'invalid username or password');

  return {
    async login(request) {
      let username: string;
      try {
        username = normalizeUsername(request?.username);
      } catch {
        // Still spend the work: a malformed name must not answer faster.
        await hasher.verify(await dummyHash(), String(request?.password ?? ''));
        throw invalid();
      }
      const attempt = { username, ...(request.ip === undefined ? {} : { ip: request.ip }) };
      await throttle?.check(attempt);
      const user = await users.findByUsername(username);
      const hash = user?.passwordHash ?? (await dummyHash());
      const ok = await hasher.verify(hash, request.password);
      if (!ok || user === undefined || user.passwordHash === undefined || user.disabled) {
        await throttle?.recordFailure(attempt);
        throw invalid();
      }
      await throttle?.recordSuccess(attempt);
      let current = user;
      let rehashed = false;
      if (hasher.needsRehash(hash)) {
        current = await users.update(user.id, { passwordHash: await hasher.hash(request.password) });
        rehashed = true;
      }
      const issued =
        tokens === undefined
          ? undefined
          : await tokens.issue({
              subject: user.id,
              roles: user.roles,
              amr: ['pwd'],
              authTime: new Date(clock.now()),
              metadata: {
                ...(request.ip === undefined ? {} : { ip: request.ip }),
                ...(request.userAgent === undefined ? {} : { userAgent: request.userAgent }),
              },
            });
      return { user: strip(current), tokens: issued, rehashed };
    },
    async createUser(input) {
      const { password, ...rest } = input;
      const passwordHash = password === undefined ? undefined : await hasher.hash(password);
      return strip(await users.create({ ...rest, ...(passwordHash === undefined ? {} : { passwordHash }) }));
    },
    async setPassword(userId, password, opts) {
      const passwordHash = await hasher.hash(password);
      await users.update(userId, { passwordHash });
      if (opts?.revokeSessions !== false) await tokens?.revokeUser(userId);
    },
  };
}
