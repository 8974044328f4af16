import type { Clock, KeyValueStore } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import { invalidOptions } from './errors.js';

/** Options of {@link createRevocationList}. */
export interface RevocationListOptions {
  /** Where revocations live: share one store (PostgreSQL, Redis) between instances. */
  readonly store: KeyValueStore;
  /** Key prefix inside the store. Default `auth:`. */
  readonly prefix?: string;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
}

/** What a revocation check looks at: the facts of one token. */
export interface RevocationSubject {
  /** The token id (`jti`). */
  readonly jti?: string;
  /** The session id (`sid`). */
  readonly sid?: string;
  /** The user (`sub`). */
  readonly sub?: string;
  /** When the token (or refresh token) was issued, in ms since the epoch. */
  readonly issuedAtMs?: number;
}

/**
 * The revocation list: tokens by `jti`, sessions by id, and "everything a user
 * was issued up to a time". Each entry expires with the last token it covers,
 * so the list never grows without bound. Every check reads the store: a
 * revocation made by one instance is enforced by every other on its next request.
 */
export interface RevocationList {
  /** Revokes one token until `expiresAtMs` (its `exp`); nothing is stored for an expired token. */
  revokeToken(jti: string, expiresAtMs: number): Promise<void>;
  /** Revokes a session for `ttlSeconds` (the longest lifetime of a token in it). */
  revokeSession(sid: string, ttlSeconds: number): Promise<void>;
  /** Revokes every token of `sub` issued at or before `beforeMs`, for `ttlSeconds`. */
  revokeUserBefore(sub: string, beforeMs: number, ttlSeconds: number): Promise<void>;
  /** Whether any revocation covers the token. Store failures reject (callers fail closed). */
  isRevoked(subject: RevocationSubject): Promise<'token' | 'session' | 'user' | false>;
  /** Whether the session was revoked. */
  isSessionRevoked(sid: string): Promise<boolean>;
}

// What encodeURIComponent leaves alone, minus !'()*: UUIDs and most ids pass through untouched.
const KEY_SAFE = /^[A-Za-z0-9_.~-]*$/;

/** @internal Store keys: user ids and such are URI-encoded so any string fits the key alphabet. */
export const enc = (part: string): string =>
  KEY_SAFE.test(part)
    ? part
    : encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** @internal Validates a store key prefix. */
export function storePrefix(prefix: string | undefined): string {
  const p = prefix ?? 'auth:';
  if (!/^[\x21-\x7e]{0,64}$/.test(p)) throw invalidOptions('prefix must be up to 64 printable ASCII characters');
  return p;
}

/**
 * Creates a {@link RevocationList} on a {@link KeyValueStore}. The token
 * service makes its own; use this directly only to share revocations with
 * components that verify tokens some other way.
 *
 * @example
 * ```ts
 * const revocations = createRevocationList({ store: redisStore({ client }) });
 * await revocations.revokeSession(sid, 7 * 86400);
 * ```
 */
export function createRevocationList(options: RevocationListOptions): RevocationList {
  const { store } = options;
  if (typeof store?.get !== 'function') throw invalidOptions('a KeyValueStore is required');
  const clock = options.clock ?? systemClock;
  const p = storePrefix(options.prefix);
  const jtiKey = (jti: string): string => `${p}rj:${enc(jti)}`;
  const sidKey = (sid: string): string => `${p}rs:${enc(sid)}`;
  const subKey = (sub: string): string => `${p}ru:${enc(sub)}`;

  return {
    async revokeToken(jti, expiresAtMs) {
      const ttlMs = expiresAtMs - clock.now();
      if (ttlMs <= 0) return;
      await store.set(jtiKey(jti), '1', { ttlSeconds: Math.ceil(ttlMs / 1000) });
    },
    async revokeSession(sid, ttlSeconds) {
      await store.set(sidKey(sid), String(clock.now()), { ttlSeconds });
    },
    async revokeUserBefore(sub, beforeMs, ttlSeconds) {
      // Keep the latest cut-off: an older revocation must not un-revoke newer tokens.
      const current = Number((await store.get(subKey(sub))) ?? 0);
      await store.set(subKey(sub), String(Math.max(current, beforeMs)), { ttlSeconds });
    },
    async isRevoked(subject) {
      // One getMany: one round trip and one consistent read on a remote store.
      const keys: string[] = [];
      if (subject.jti !== undefined) keys.push(jtiKey(subject.jti));
      if (subject.sid !== undefined) keys.push(sidKey(subject.sid));
      if (subject.sub !== undefined) keys.push(subKey(subject.sub));
      const values = await store.getMany(keys);
      let i = 0;
      const byJti = subject.jti === undefined ? undefined : values[i++];
      const bySid = subject.sid === undefined ? undefined : values[i++];
      const bySub = subject.sub === undefined ? undefined : values[i];
      if (byJti !== undefined) return 'token';
      if (bySid !== undefined) return 'session';
      if (bySub !== undefined) {
        // A token without an issue time is treated as covered (fail closed).
        if (subject.issuedAtMs === undefined || subject.issuedAtMs <= Number(bySub)) return 'user';
      }
      return false;
    },
    async isSessionRevoked(sid) {
      return (await store.get(sidKey(sid))) !== undefined;
    },
  };
}
