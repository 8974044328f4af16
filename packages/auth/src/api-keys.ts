import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock, KeyValueStore, RandomSource } from '@provisioning/core';
import { randomToken, systemClock, systemRandom } from '@provisioning/core';
import { type AuthError, authError, invalidOptions } from './errors.js';
import { enc, storePrefix } from './revocation.js';

/** An API key as stored and listed: never the secret, never its hash. */
export interface ApiKeyInfo {
  /** The public id; the visible prefix of the key is `<prefix>_<id>`. */
  readonly id: string;
  /** The visible part of the key (`prov_3f9c0d2a41b7e856`), safe to show in lists and logs. */
  readonly visiblePrefix: string;
  /** Who the key acts for (a user or service id). */
  readonly owner: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date | undefined;
  /** Last successful verification, updated at most once per `lastUsedResolutionSeconds`. */
  readonly lastUsedAt: Date | undefined;
  readonly revokedAt: Date | undefined;
}

/** What {@link ApiKeyService.create} takes. */
export interface CreateApiKeyOptions {
  readonly owner: string;
  /** A label for people. */
  readonly name: string;
  /** Scopes the key grants (`servers:read` …). Default none. */
  readonly scopes?: readonly string[];
  /** When the key stops working. Default: never (set one). */
  readonly expiresAt?: Date;
}

/** Options of {@link createApiKeyService}. */
export interface ApiKeyServiceOptions {
  /** Where key records live (memory, SQLite, PostgreSQL or Redis through core's drivers). */
  readonly store: KeyValueStore;
  /** The visible prefix of every key, lower-case letters. Default `prov`. */
  readonly keyPrefix?: string;
  /** Store key prefix. Default `auth:`. */
  readonly prefix?: string;
  /** Seconds between writes of `lastUsedAt` for one key (each write costs a store round trip). Default 60. */
  readonly lastUsedResolutionSeconds?: number;
  readonly clock?: Clock;
  readonly random?: RandomSource;
}

/** Creates, verifies, lists and revokes API keys. See {@link createApiKeyService}. */
export interface ApiKeyService {
  /** Creates a key. The returned `key` is the only time the secret exists outside the caller: show it once. */
  create(options: CreateApiKeyOptions): Promise<{ readonly key: string; readonly info: ApiKeyInfo }>;
  /**
   * Verifies a presented key (constant-time comparison of the secret's hash)
   * and, if given, that it holds every scope in `requiredScopes`.
   *
   * @throws AuthError `ERR_AUTH_API_KEY_INVALID`, `ERR_AUTH_API_KEY_EXPIRED`, `ERR_AUTH_API_KEY_REVOKED`, `ERR_AUTH_INSUFFICIENT_SCOPE`.
   */
  verify(key: string, options?: { readonly requiredScopes?: readonly string[] }): Promise<ApiKeyInfo>;
  /** Revokes a key by id; resolves `false` if unknown. */
  revoke(id: string): Promise<boolean>;
  /** The key's info, or `undefined`. */
  get(id: string): Promise<ApiKeyInfo | undefined>;
  /** The owner's keys (including revoked and expired ones, for display), newest first. */
  list(owner: string): Promise<ApiKeyInfo[]>;
}

interface Record_ {
  id: string;
  owner: string;
  name: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  hash: string; // hex SHA-256 of the whole key
}

// The record is written once and never rewritten: last use and revocation
// live under their own keys, so a verification's last-used write can never
// race with (and undo) a revocation.
interface State {
  lastUsedAt: number | null;
  revokedAt: number | null;
}

const ID = /^[0-9a-f]{16}$/;
const RETAIN_AFTER_EXPIRY_S = 30 * 86400;
const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

const info = (r: Record_, st: State, keyPrefix: string): ApiKeyInfo => ({
  id: r.id,
  visiblePrefix: `${keyPrefix}_${r.id}`,
  owner: r.owner,
  name: r.name,
  scopes: r.scopes,
  createdAt: new Date(r.createdAt),
  expiresAt: r.expiresAt === null ? undefined : new Date(r.expiresAt),
  lastUsedAt: st.lastUsedAt === null ? undefined : new Date(st.lastUsedAt),
  revokedAt: st.revokedAt === null ? undefined : new Date(st.revokedAt),
});

/**
 * Creates an {@link ApiKeyService}. Keys look like `prov_<16 hex id>_<43 char secret>`:
 * the id is a visible lookup handle; the secret carries 256 random bits and
 * only its SHA-256 is stored (a fast hash suffices for high-entropy secrets).
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` for a bad store or prefix.
 * @example
 * ```ts
 * const apiKeys = createApiKeyService({ store });
 * const { key } = await apiKeys.create({ owner: 'user-1', name: 'CI', scopes: ['servers:read'] });
 * const info = await apiKeys.verify(key, { requiredScopes: ['servers:read'] });
 * ```
 */
export function createApiKeyService(options: ApiKeyServiceOptions): ApiKeyService {
  const { store } = options;
  if (typeof store?.get !== 'function') throw invalidOptions('store (a KeyValueStore) is required');
  const keyPrefix = options.keyPrefix ?? 'prov';
  if (!/^[a-z]{2,16}$/.test(keyPrefix)) throw invalidOptions('keyPrefix is 2-16 lower-case letters');
  const p = storePrefix(options.prefix);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const resolutionMs = (options.lastUsedResolutionSeconds ?? 60) * 1000;
  if (!(resolutionMs >= 0)) throw invalidOptions('lastUsedResolutionSeconds must be >= 0');
  const pattern = new RegExp(`^${keyPrefix}_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$`);
  const recordKey = (id: string): string => `${p}ak:${id}`;
  const usedKey = (id: string): string => `${p}aku:${id}`;
  const revokedKey = (id: string): string => `${p}akr:${id}`;
  const ownerKey = (owner: string, id: string): string => `${p}ako:${enc(owner)}:${id}`;
  const ttlFor = (r: Record_): { ttlSeconds?: number } =>
    r.expiresAt === null
      ? {}
      : { ttlSeconds: Math.max(1, Math.ceil((r.expiresAt - clock.now()) / 1000) + RETAIN_AFTER_EXPIRY_S) };
  const load = async (id: string): Promise<{ record: Record_; state: State } | undefined> => {
    // One read of the three entries: one round trip, and a revocation is never
    // seen without its record or the other way round.
    const [raw, used, revoked] = await store.getMany([recordKey(id), usedKey(id), revokedKey(id)]);
    if (raw === undefined) return undefined;
    return {
      record: JSON.parse(raw) as Record_,
      state: {
        lastUsedAt: used === undefined ? null : Number(used),
        revokedAt: revoked === undefined ? null : Number(revoked),
      },
    };
  };
  const invalid = (): AuthError => authError('ERR_AUTH_API_KEY_INVALID', 'the API key was rejected');

  return {
    async create(input) {
      if (typeof input?.owner !== 'string' || !/^[^\s]{1,256}$/.test(input.owner))
        throw authError('ERR_AUTH_INVALID_INPUT', 'owner is 1-256 characters without whitespace');
      if (typeof input.name !== 'string' || input.name.length === 0 || input.name.length > 200)
        throw authError('ERR_AUTH_INVALID_INPUT', 'name is 1-200 characters');
      const scopes = input.scopes ?? [];
      if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(s)))
        throw authError('ERR_AUTH_INVALID_INPUT', 'scopes are 1-128 printable characters');
      const now = clock.now();
      if (input.expiresAt !== undefined && !(input.expiresAt.getTime() > now))
        throw authError('ERR_AUTH_INVALID_INPUT', 'expiresAt must be in the future');
      const id = Buffer.from(random.bytes(8)).toString('hex');
      const key = `${keyPrefix}_${id}_${randomToken(32, random)}`;
      const record: Record_ = {
        id,
        owner: input.owner,
        name: input.name,
        scopes: [...new Set(scopes)],
        createdAt: now,
        expiresAt: input.expiresAt?.getTime() ?? null,
        hash: sha256(key).toString('hex'),
      };
      // setIfAbsent: a colliding id (2^-64) can never overwrite another key.
      if (!(await store.setIfAbsent(recordKey(id), JSON.stringify(record), ttlFor(record)))) {
        throw authError('ERR_AUTH_INVALID_INPUT', 'key id collision; try again');
      }
      await store.set(ownerKey(record.owner, id), '1', ttlFor(record));
      return { key, info: info(record, { lastUsedAt: null, revokedAt: null }, keyPrefix) };
    },

    async verify(key, verifyOptions) {
      const match = typeof key === 'string' ? pattern.exec(key) : null;
      if (match === null) throw invalid();
      const loaded = await load(match[1] as string);
      // Compare the hash even when the record is missing (against a fixed
      // value), so unknown ids and wrong secrets take the same path.
      const presented = sha256(key);
      const stored = loaded === undefined ? Buffer.alloc(32) : Buffer.from(loaded.record.hash, 'hex');
      const equal = stored.length === 32 && timingSafeEqual(presented, stored);
      if (loaded === undefined || !equal) throw invalid();
      const { record, state } = loaded;
      const now = clock.now();
      if (state.revokedAt !== null)
        throw authError('ERR_AUTH_API_KEY_REVOKED', 'the API key was revoked', { id: record.id });
      if (record.expiresAt !== null && now >= record.expiresAt)
        throw authError('ERR_AUTH_API_KEY_EXPIRED', 'the API key has expired', { id: record.id });
      const required = verifyOptions?.requiredScopes ?? [];
      const missing = required.filter((s) => !record.scopes.includes(s));
      if (missing.length > 0)
        throw authError('ERR_AUTH_INSUFFICIENT_SCOPE', 'the API key lacks a required scope', {
          id: record.id,
          missing,
        });
      if (state.lastUsedAt === null || now - state.lastUsedAt >= resolutionMs) {
        state.lastUsedAt = now;
        await store.set(usedKey(record.id), String(now), ttlFor(record));
      }
      return info(record, state, keyPrefix);
    },

    async revoke(id) {
      if (typeof id !== 'string' || !ID.test(id)) return false;
      const loaded = await load(id);
      if (loaded === undefined) return false;
      // setIfAbsent keeps the first revocation time.
      await store.setIfAbsent(revokedKey(id), String(clock.now()), ttlFor(loaded.record));
      return true;
    },

    async get(id) {
      if (typeof id !== 'string' || !ID.test(id)) return undefined;
      const loaded = await load(id);
      return loaded === undefined ? undefined : info(loaded.record, loaded.state, keyPrefix);
    },

    async list(owner) {
      const keys = await store.list(`${p}ako:${enc(owner)}:`, { limit: 10_000 });
      const loaded = await Promise.all(keys.map((k) => load(k.slice(k.lastIndexOf(':') + 1))));
      return loaded
        .filter((r): r is NonNullable<typeof r> => r !== undefined)
        .sort((a, b) => b.record.createdAt - a.record.createdAt)
        .map((r) => info(r.record, r.state, keyPrefix));
    },
  };
}
