import { randomBytes, randomUUID } from 'node:crypto';
import type { BreakGlassFacts, FactReader, PasswordHashingFacts, TokenLifetimeFacts } from './checks.js';
import { ComplianceError, invalidInput, invalidOptions, remainedAfterErasure } from './errors.js';
import type { DataProvider } from './providers.js';

// Structural views of @provisioning/auth: this package does not import it. Each
// interface names only what a provider or reader uses; auth's own objects
// (`UserStore`, `TokenService`, `ApiKeyService`, `PasswordHasher`, `BreakGlass`) fit them.

/** A user as `@provisioning/auth`'s `UserStore` returns it (the fields read here). */
export interface AuthUser {
  readonly id: string;
  readonly username: string;
  readonly email: string | undefined;
  /** Only tested for presence: it never leaves the provider. */
  readonly passwordHash?: string | undefined;
  readonly roles: readonly string[];
  readonly teams?: readonly string[];
  readonly disabled: boolean;
  readonly mfaEnabled?: boolean;
  readonly createdAt: Date;
  readonly updatedAt?: Date;
}

/** What {@link usersProvider} needs of auth's `UserStore` (`memoryUserStore()`, `sqlUserStore()`). */
export interface AuthUserStore {
  findById(id: string): Promise<AuthUser | undefined>;
  update(id: string, patch: { readonly email?: string | null }): Promise<unknown>;
  delete(id: string): Promise<boolean>;
}

/** Options of {@link usersProvider}. */
export interface UsersProviderOptions {
  readonly users: AuthUserStore;
  /** Provider id. Default `users`. */
  readonly id?: string;
}

const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]{1,189}$/u;

/**
 * The data provider of the platform's user accounts, over
 * `@provisioning/auth`'s `UserStore`.
 *
 * - `export`: the profile (id, username, email, roles, teams, disabled,
 *   MFA flag, times, and whether a password is set) — never the password hash;
 * - `rectify`: `email` (a new address, or `null` to remove it). `username`
 *   cannot be rectified: the `UserStore` has no operation that renames a user,
 *   so such a request fails with `ERR_COMPLIANCE_UNSUPPORTED_CHANGE` (nothing
 *   is changed). Other fields belong to other providers and are ignored;
 * - `erase`: deletes the account (`method: 'deleted'`). The rule is deletion,
 *   not anonymisation: the username is personal data and the store cannot
 *   overwrite it, so an anonymised row would still identify the person.
 *   Sessions, API keys, MFA factors and leases are erased by their own providers.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a user store. Its `rectify` rejects
 * with `ERR_COMPLIANCE_INVALID_INPUT` (malformed email) or `ERR_COMPLIANCE_UNSUPPORTED_CHANGE` (username);
 * store errors pass through (the DSR service records their code).
 * @example
 * ```ts
 * import { sqlUserStore } from '@provisioning/auth/sql';
 * const providers = createProviderRegistry([usersProvider({ users: await sqlUserStore({ database }) })]);
 * ```
 */
export function usersProvider(options: UsersProviderOptions): DataProvider {
  const { users } = options;
  if (typeof users?.findById !== 'function' || typeof users.delete !== 'function') {
    throw invalidOptions('usersProvider needs a UserStore');
  }
  return {
    id: options.id ?? 'users',
    description: 'user accounts (profile, roles, teams; never the password hash)',
    async export({ subjectId }) {
      const user = await users.findById(subjectId);
      if (user === undefined) return { subjectFound: false, data: null, records: 0 };
      // An allow-list, not a copy: a store that returns more fields (the hash) leaks nothing.
      const profile = {
        id: user.id,
        username: user.username,
        email: user.email ?? null,
        roles: [...user.roles],
        teams: [...(user.teams ?? [])],
        disabled: user.disabled,
        ...(user.mfaEnabled === undefined ? {} : { mfaEnabled: user.mfaEnabled }),
        hasPassword: typeof user.passwordHash === 'string' && user.passwordHash !== '',
        createdAt: user.createdAt,
        ...(user.updatedAt === undefined ? {} : { updatedAt: user.updatedAt }),
      };
      return { subjectFound: true, data: profile, records: 1 };
    },
    async rectify({ subjectId }, changes) {
      if ('username' in changes) {
        throw new ComplianceError('the user store cannot rename a user', {
          code: 'ERR_COMPLIANCE_UNSUPPORTED_CHANGE',
          fault: 'server',
          details: { provider: options.id ?? 'users', field: 'username' },
        });
      }
      // Validated before the user is read: a malformed value changes nothing.
      const email = 'email' in changes ? emailChange(changes.email) : undefined;
      const user = await users.findById(subjectId);
      if (user === undefined) return { subjectFound: false, affected: 0 };
      if (email === undefined || (user.email ?? null) === email) return { subjectFound: true, affected: 0 };
      await users.update(subjectId, { email });
      return { subjectFound: true, affected: 1 };
    },
    async erase({ subjectId }) {
      const deleted = await users.delete(subjectId);
      return { subjectFound: deleted, affected: deleted ? 1 : 0, method: 'deleted' };
    },
  };
}

function emailChange(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length > 254 || !EMAIL.test(value.trim())) {
    throw invalidInput('the corrected email is not an email address', { field: 'email' });
  }
  return value.trim();
}

/** A session as auth's `TokenService.listSessions()` lists it. */
export interface AuthSession {
  readonly sessionId: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date;
  readonly expiresAt: Date;
  readonly amr: readonly string[];
  readonly ip?: string;
  readonly userAgent?: string;
  readonly label?: string;
}

/** What {@link sessionsProvider} needs of auth's `TokenService`. */
export interface AuthSessionSource {
  listSessions(subject: string): Promise<readonly AuthSession[]>;
  revokeUser(subject: string, before?: Date): Promise<void>;
}

/** Options of {@link sessionsProvider}. */
export interface SessionsProviderOptions {
  readonly tokens: AuthSessionSource;
  /** Provider id. Default `sessions`. */
  readonly id?: string;
}

/**
 * The data provider of sign-in sessions and their refresh-token families,
 * over `@provisioning/auth`'s `TokenService`.
 *
 * - `export`: each live session's id, times, authentication methods, IP
 *   address, user agent and label — never a token;
 * - `erase`: `revokeUser(subject)`, which revokes every access and refresh
 *   token issued to the subject until now and deletes every session record,
 *   then lists the sessions again and fails unless none is left. Refresh-token
 *   records (keyed by a hash of the token) and the user-wide revocation marker
 *   expire by themselves within the longest token lifetime: the marker must
 *   outlive the tokens it revokes.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a token service. Its `erase` rejects
 * with `ERR_COMPLIANCE_PROVIDER_FAILED` (retryable) if a session survives; store errors pass through.
 * @example
 * ```ts
 * const providers = createProviderRegistry([sessionsProvider({ tokens })]); // tokens = createTokenService(…)
 * ```
 */
export function sessionsProvider(options: SessionsProviderOptions): DataProvider {
  const { tokens } = options;
  if (typeof tokens?.listSessions !== 'function' || typeof tokens.revokeUser !== 'function') {
    throw invalidOptions('sessionsProvider needs a TokenService');
  }
  return {
    id: options.id ?? 'sessions',
    description: 'sign-in sessions and refresh-token families (metadata only)',
    async export({ subjectId }) {
      const sessions = await tokens.listSessions(subjectId);
      const data = sessions.map((s) => ({
        sessionId: s.sessionId,
        createdAt: s.createdAt,
        lastUsedAt: s.lastUsedAt,
        expiresAt: s.expiresAt,
        amr: [...s.amr],
        ...(s.ip === undefined ? {} : { ip: s.ip }),
        ...(s.userAgent === undefined ? {} : { userAgent: s.userAgent }),
        ...(s.label === undefined ? {} : { label: s.label }),
      }));
      return { subjectFound: data.length > 0, data, records: data.length };
    },
    async erase({ subjectId }) {
      const before = await tokens.listSessions(subjectId);
      // Always revoke, even with no session listed: it also cuts off any access token still in flight.
      await tokens.revokeUser(subjectId);
      const left = await tokens.listSessions(subjectId);
      if (left.length > 0) throw remainedAfterErasure('sessions', left.length);
      return { subjectFound: before.length > 0, affected: before.length, method: 'deleted' };
    },
  };
}

/** An API key as auth's `ApiKeyService.list()` describes it (no key material). */
export interface AuthApiKey {
  readonly id: string;
  readonly visiblePrefix: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date | undefined;
  readonly lastUsedAt: Date | undefined;
  readonly revokedAt: Date | undefined;
}

/** What {@link apiKeysProvider} needs of auth's `ApiKeyService`. */
export interface AuthApiKeySource {
  list(owner: string): Promise<readonly AuthApiKey[]>;
  revoke(id: string): Promise<boolean>;
}

/** Options of {@link apiKeysProvider}. */
export interface ApiKeysProviderOptions {
  readonly apiKeys: AuthApiKeySource;
  /** Provider id. Default `api-keys`. */
  readonly id?: string;
}

/**
 * The data provider of API keys, over `@provisioning/auth`'s `ApiKeyService`.
 *
 * - `export`: each key's id, visible prefix, name, scopes and times — the
 *   service holds no key, only its hash, and the hash is not exported;
 * - `erase`: revokes every key of the subject, then checks that each is
 *   revoked. The service cannot delete a key record: a revoked key's metadata
 *   (name, scopes, owner id) stays until 30 days after its expiry, or for
 *   good when it has none. The result therefore says `method: 'retained'`
 *   with that reason in `note`, not `deleted`.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without an API-key service. Its `erase` rejects
 * with `ERR_COMPLIANCE_PROVIDER_FAILED` (retryable) if a key is still live; store errors pass through.
 * @example
 * ```ts
 * const providers = createProviderRegistry([apiKeysProvider({ apiKeys })]); // apiKeys = createApiKeyService(…)
 * ```
 */
export function apiKeysProvider(options: ApiKeysProviderOptions): DataProvider {
  const { apiKeys } = options;
  if (typeof apiKeys?.list !== 'function' || typeof apiKeys.revoke !== 'function') {
    throw invalidOptions('apiKeysProvider needs an ApiKeyService');
  }
  return {
    id: options.id ?? 'api-keys',
    description: 'API keys (metadata only; keys are stored as hashes)',
    async export({ subjectId }) {
      const keys = await apiKeys.list(subjectId);
      const data = keys.map((k) => ({
        id: k.id,
        visiblePrefix: k.visiblePrefix,
        name: k.name,
        scopes: [...k.scopes],
        createdAt: k.createdAt,
        expiresAt: k.expiresAt ?? null,
        lastUsedAt: k.lastUsedAt ?? null,
        revokedAt: k.revokedAt ?? null,
      }));
      return { subjectFound: data.length > 0, data, records: data.length };
    },
    async erase({ subjectId }) {
      const keys = await apiKeys.list(subjectId);
      if (keys.length === 0) return { subjectFound: false, affected: 0, method: 'deleted' };
      for (const key of keys) if (key.revokedAt === undefined) await apiKeys.revoke(key.id);
      const live = (await apiKeys.list(subjectId)).filter((k) => k.revokedAt === undefined);
      if (live.length > 0) throw remainedAfterErasure('api keys', live.length);
      return {
        subjectFound: true,
        affected: keys.length,
        method: 'retained',
        note: 'keys revoked; @provisioning/auth keeps revoked-key metadata until 30 days after expiry (no delete operation)',
      };
    },
  };
}

/** What {@link passwordHashingReader} needs of auth's `PasswordHasher`. */
export interface PasswordHashSource {
  hash(password: string): Promise<string>;
}

// `$<id>[$v=<version>]$<k>=<v>,…$<salt>$<hash>`; the parameter order differs between libraries.
const PHC = /^\$([a-z0-9-]{1,32})(?:\$v=\d+)?\$([a-z]=\d+(?:,[a-z]=\d+)*)\$/;

/**
 * Reads the password-hashing facts from the hasher itself: it hashes a random
 * throw-away password and parses the PHC string it produced
 * (`$argon2id$v=19$m=19456,t=2,p=1$…`), so the facts are what new hashes are
 * really made with, not what a configuration file claims. Costs one hash
 * (~25 ms at the OWASP minimum). A format it cannot parse gives the
 * algorithm `unknown`, which the check fails.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a hasher.
 * @example
 * ```ts
 * const readers = { passwordHashing: passwordHashingReader({ hasher: createPasswordHasher() }) };
 * ```
 */
export function passwordHashingReader(options: {
  readonly hasher: PasswordHashSource;
}): FactReader<PasswordHashingFacts> {
  const { hasher } = options;
  if (typeof hasher?.hash !== 'function') throw invalidOptions('passwordHashingReader needs a password hasher');
  return {
    async read() {
      const hash = await hasher.hash(randomBytes(18).toString('base64url'));
      const phc = typeof hash === 'string' ? PHC.exec(hash) : null;
      const params = new Map((phc?.[2] ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
      const num = (k: string): number => (params.has(k) ? Number(params.get(k)) : Number.NaN);
      return { algorithm: phc?.[1] ?? 'unknown', memoryKiB: num('m'), timeCost: num('t'), parallelism: num('p') };
    },
  };
}

/** What {@link tokenLifetimesReader} needs of auth's `TokenService`. */
export interface TokenLifetimeSource {
  issue(options: {
    readonly subject: string;
    readonly roles?: readonly string[];
    readonly refresh?: boolean;
    readonly metadata?: { readonly label?: string };
  }): Promise<{
    readonly accessToken: string;
    readonly expiresIn: number;
    readonly accessExpiresAt: Date;
    readonly refreshExpiresAt: Date | undefined;
    readonly sessionId: string;
  }>;
  revokeSession(sessionId: string): Promise<void>;
  verify(token: string): Promise<unknown>;
}

/**
 * Reads the token lifetimes from the token service itself. `TokenService`
 * does not expose its configured lifetimes, so the reader issues one probe
 * session — subject `compliance-probe:<uuid>` (no user has it), no roles,
 * label `compliance probe` — takes the access lifetime from `expiresIn` and
 * the refresh lifetime from `refreshExpiresAt`, revokes the session at once
 * and checks that the access token no longer verifies. The tokens never leave
 * the reader. If the probe cannot be revoked the read fails (and so the check).
 * With `onEvent` wired to the audit log the revocation is audited.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a token service. `read()` rejects with
 * `ERR_COMPLIANCE_PROVIDER_FAILED` if the probe still verifies after its revocation.
 * @example
 * ```ts
 * const readers = { tokenLifetimes: tokenLifetimesReader({ tokens }) }; // tokens = createTokenService(…)
 * ```
 */
export function tokenLifetimesReader(options: {
  readonly tokens: TokenLifetimeSource;
}): FactReader<TokenLifetimeFacts> {
  const { tokens } = options;
  if (typeof tokens?.issue !== 'function' || typeof tokens.revokeSession !== 'function') {
    throw invalidOptions('tokenLifetimesReader needs a TokenService');
  }
  return {
    async read() {
      const probe = await tokens.issue({
        subject: `compliance-probe:${randomUUID()}`,
        roles: [],
        refresh: true,
        metadata: { label: 'compliance probe' },
      });
      // `expiresIn` counts from the issuing second; so does the refresh expiry (ms) once floored.
      const issuedAtMs = probe.accessExpiresAt.getTime() - probe.expiresIn * 1000;
      const refreshMs = probe.refreshExpiresAt === undefined ? Number.NaN : probe.refreshExpiresAt.getTime();
      const facts = {
        accessTokenTtlSeconds: probe.expiresIn,
        refreshTokenTtlSeconds: Math.floor((refreshMs - issuedAtMs) / 1000),
      };
      await tokens.revokeSession(probe.sessionId);
      // Security: a probe credential that still works after revocation must not go unnoticed.
      const alive = await tokens.verify(probe.accessToken).then(
        () => true,
        () => false,
      );
      if (alive) {
        throw new ComplianceError('the token-lifetime probe could not be revoked', {
          code: 'ERR_COMPLIANCE_PROVIDER_FAILED',
          fault: 'server',
        });
      }
      return facts;
    },
  };
}

/** What {@link breakGlassLimitsReader} needs of auth's `BreakGlass`: its effective limits. */
export interface BreakGlassLimitSource {
  readonly limits: {
    readonly maxDurationSeconds: number;
    readonly requiredApprovals: number;
    readonly requiredTeams?: number;
    readonly inactivityTimeoutSeconds?: number;
  };
}

/**
 * Reads the break-glass limits in force from the break-glass service (its
 * effective `limits`, after its own validation), not from configuration.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a break-glass service.
 * @example
 * ```ts
 * const readers = { breakGlass: breakGlassLimitsReader({ breakGlass: bg }) }; // bg = createBreakGlass(…)
 * ```
 */
export function breakGlassLimitsReader(options: {
  readonly breakGlass: BreakGlassLimitSource;
}): FactReader<BreakGlassFacts> {
  const { breakGlass } = options;
  if (typeof breakGlass?.limits !== 'object' || breakGlass.limits === null) {
    throw invalidOptions('breakGlassLimitsReader needs a break-glass service');
  }
  return {
    async read() {
      const l = breakGlass.limits;
      return {
        requiredApprovers: l.requiredApprovals,
        maxDurationSeconds: l.maxDurationSeconds,
        ...(l.requiredTeams === undefined ? {} : { requiredTeams: l.requiredTeams }),
        ...(l.inactivityTimeoutSeconds === undefined ? {} : { inactivityTimeoutSeconds: l.inactivityTimeoutSeconds }),
      };
    },
  };
}
