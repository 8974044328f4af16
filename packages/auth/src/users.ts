import type { Clock } from '@provisioning/core';
import { systemClock, uuidv7 } from '@provisioning/core';
import { authError } from './errors.js';

/** A user as stored. `passwordHash` never leaves the package in login results. */
export interface User {
  readonly id: string;
  /** Normalised login name (NFKC, trimmed, lower-case); unique. */
  readonly username: string;
  readonly email: string | undefined;
  /** Argon2id PHC string, or `undefined` for accounts without a password (SSO, API only). */
  readonly passwordHash: string | undefined;
  /** Role names (see `ROLES`). */
  readonly roles: readonly string[];
  /** Team names (break-glass approvals need two teams). */
  readonly teams: readonly string[];
  /** A disabled user cannot log in (the login error does not say so). */
  readonly disabled: boolean;
  readonly mfaEnabled: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** What {@link UserStore.create} takes. */
export interface NewUser {
  /** Default: a UUIDv7. */
  readonly id?: string;
  readonly username: string;
  readonly email?: string;
  readonly passwordHash?: string;
  readonly roles?: readonly string[];
  readonly teams?: readonly string[];
  readonly disabled?: boolean;
  readonly mfaEnabled?: boolean;
}

/** The fields {@link UserStore.update} can change. */
export interface UserPatch {
  readonly email?: string | null;
  readonly passwordHash?: string | null;
  readonly roles?: readonly string[];
  readonly teams?: readonly string[];
  readonly disabled?: boolean;
  readonly mfaEnabled?: boolean;
}

/**
 * Where users live. Implementations: {@link memoryUserStore}, and
 * `sqlUserStore()` from `@provisioning/auth/sql` (SQLite and PostgreSQL).
 * Every implementation passes the same conformance suite.
 */
export interface UserStore {
  /** `memory`, `sqlite`, `postgres`. */
  readonly id: string;
  /** @throws AuthError `ERR_AUTH_USER_EXISTS` when the id or username is taken; `ERR_AUTH_INVALID_INPUT` for a bad username. */
  create(user: NewUser): Promise<User>;
  findById(id: string): Promise<User | undefined>;
  /** Looks up by username, normalised the same way as on create. */
  findByUsername(username: string): Promise<User | undefined>;
  /** @throws AuthError `ERR_AUTH_USER_NOT_FOUND`. */
  update(id: string, patch: UserPatch): Promise<User>;
  /** Resolves `true` if a user was deleted. */
  delete(id: string): Promise<boolean>;
  /** Users ordered by id, paginated by `after` (an id). Default limit 100, at most 1000. */
  list(options?: { readonly limit?: number; readonly after?: string }): Promise<User[]>;
}

/** Normalises a username: NFKC, trimmed, lower-case; 1–254 characters without control characters or whitespace inside. */
export function normalizeUsername(username: unknown): string {
  if (typeof username !== 'string') throw authError('ERR_AUTH_INVALID_INPUT', 'username must be a string');
  const normalized = username.normalize('NFKC').trim().toLowerCase();
  if (!/^[^\s\p{Cc}]{1,254}$/u.test(normalized)) {
    throw authError('ERR_AUTH_INVALID_INPUT', 'username must be 1-254 characters without whitespace');
  }
  return normalized;
}

/** @internal Validates a list of names (roles, teams). */
export function nameList(field: string, value: readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0 || v.length > 128)) {
    throw authError('ERR_AUTH_INVALID_INPUT', `${field} must be a list of 1-128 character names`);
  }
  return [...new Set(value)];
}

/** @internal Validates and fills a new user. */
export function buildUser(input: NewUser, clock: Clock): User {
  const now = new Date(clock.now());
  const id = input.id ?? uuidv7(clock);
  if (typeof id !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(id))
    throw authError('ERR_AUTH_INVALID_INPUT', 'user ids are 1-128 printable ASCII characters');
  return {
    id,
    username: normalizeUsername(input.username),
    email: input.email,
    passwordHash: input.passwordHash,
    roles: nameList('roles', input.roles),
    teams: nameList('teams', input.teams),
    disabled: input.disabled ?? false,
    mfaEnabled: input.mfaEnabled ?? false,
    createdAt: now,
    updatedAt: now,
  };
}

/** @internal Applies a patch. */
export function applyPatch(user: User, patch: UserPatch, clock: Clock): User {
  return {
    ...user,
    ...(patch.email === undefined ? {} : { email: patch.email ?? undefined }),
    ...(patch.passwordHash === undefined ? {} : { passwordHash: patch.passwordHash ?? undefined }),
    ...(patch.roles === undefined ? {} : { roles: nameList('roles', patch.roles) }),
    ...(patch.teams === undefined ? {} : { teams: nameList('teams', patch.teams) }),
    ...(patch.disabled === undefined ? {} : { disabled: patch.disabled }),
    ...(patch.mfaEnabled === undefined ? {} : { mfaEnabled: patch.mfaEnabled }),
    updatedAt: new Date(clock.now()),
  };
}

/** @internal Validates list options. */
export function listLimit(options: { readonly limit?: number } | undefined): number {
  const limit = options?.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    throw authError('ERR_AUTH_INVALID_INPUT', 'limit must be from 1 to 1000');
  return limit;
}

/**
 * A {@link UserStore} in memory, for tests and quick starts.
 *
 * @example
 * ```ts
 * const users = memoryUserStore();
 * await users.create({ username: 'ada', passwordHash: await hasher.hash(pw), roles: ['Admin'] });
 * ```
 */
export function memoryUserStore(options: { readonly clock?: Clock } = {}): UserStore {
  const clock = options.clock ?? systemClock;
  const byId = new Map<string, User>();
  const byName = new Map<string, string>();
  return {
    id: 'memory',
    async create(input) {
      const user = buildUser(input, clock);
      if (byId.has(user.id) || byName.has(user.username))
        throw authError('ERR_AUTH_USER_EXISTS', 'a user with this id or username exists');
      byId.set(user.id, user);
      byName.set(user.username, user.id);
      return user;
    },
    async findById(id) {
      return byId.get(id);
    },
    async findByUsername(username) {
      let name: string;
      try {
        name = normalizeUsername(username);
      } catch {
        return undefined;
      }
      const id = byName.get(name);
      return id === undefined ? undefined : byId.get(id);
    },
    async update(id, patch) {
      const user = byId.get(id);
      if (user === undefined) throw authError('ERR_AUTH_USER_NOT_FOUND', 'no such user');
      const next = applyPatch(user, patch, clock);
      byId.set(id, next);
      return next;
    },
    async delete(id) {
      const user = byId.get(id);
      if (user === undefined) return false;
      byId.delete(id);
      byName.delete(user.username);
      return true;
    },
    async list(opts) {
      const limit = listLimit(opts);
      return [...byId.values()]
        .filter((u) => opts?.after === undefined || u.id > opts.after)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit);
    },
  };
}
