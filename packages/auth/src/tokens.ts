import { createHash } from 'node:crypto';
import type { Clock, KeyValueStore, RandomSource } from '@provisioning/core';
import { randomToken, systemClock, systemRandom, uuidv7 } from '@provisioning/core';
import type { JWTPayload } from 'jose';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { AuthErrorCode } from './errors.js';
import { AuthError, authError, invalidOptions } from './errors.js';
import type { KeySet, SigningAlgorithm } from './keys.js';
import type { RevocationList } from './revocation.js';
import { createRevocationList, enc, storePrefix } from './revocation.js';

/** The `typ` header of access tokens (RFC 9068). Verification refuses every other `typ`. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** The visible prefix of refresh tokens, so a refresh token is recognised (and refused) where an access token is expected. */
export const REFRESH_TOKEN_PREFIX = 'prt_';
/** The longest lifetime an access token may be given, in seconds (4 h, the break-glass maximum). */
export const MAX_ACCESS_TTL_SECONDS: number = 4 * 3600;

/** Claims of a verified access token. */
export interface AccessTokenClaims extends JWTPayload {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly exp: number;
  readonly iat: number;
  readonly nbf: number;
  readonly jti: string;
  /** Session id: every token of one login (and its refreshes) shares it. */
  readonly sid: string;
  /** Role names (see `ROLES`). */
  readonly roles: string[];
  /** Authentication methods used (RFC 8176): `pwd`, `otp`, `hwk`, `mfa` … */
  readonly amr: string[];
  /** When the user authenticated (seconds since the epoch). */
  readonly auth_time: number;
  /** When the user last passed MFA (seconds since the epoch), for step-up decisions. Absent without MFA. */
  readonly mfa_at?: number;
}

/** What {@link TokenService.issue} takes. */
export interface IssueOptions {
  /** The user id (`sub`). */
  readonly subject: string;
  /** Role names. Default none. */
  readonly roles?: readonly string[];
  /** Authentication methods (RFC 8176). Default `['pwd']`. */
  readonly amr?: readonly string[];
  /** When the user last passed MFA; sets `mfa_at`. */
  readonly mfaAt?: Date;
  /** When the user authenticated. Default now. */
  readonly authTime?: Date;
  /** Audience(s) for this token. Default: the service's audience. */
  readonly audience?: string | readonly string[];
  /** Access token lifetime in seconds, at most {@link MAX_ACCESS_TTL_SECONDS}. Default: the service's (900). */
  readonly accessTtlSeconds?: number;
  /** Issue a refresh token (and a token family) too. Default `true`. */
  readonly refresh?: boolean;
  /** Use this session id instead of a new one (break-glass sessions). */
  readonly sessionId?: string;
  /** Extra claims. Registered and SDK claim names are refused. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Shown in the session list. */
  readonly metadata?: { readonly ip?: string; readonly userAgent?: string; readonly label?: string };
}

/** What {@link TokenService.issue} and {@link TokenService.refresh} return. */
export interface IssuedTokens {
  readonly accessToken: string;
  /** The opaque refresh token: shown once, stored only as a hash. Absent when `refresh: false`. */
  readonly refreshToken: string | undefined;
  readonly tokenType: 'Bearer';
  /** Access token lifetime in seconds. */
  readonly expiresIn: number;
  readonly accessExpiresAt: Date;
  readonly refreshExpiresAt: Date | undefined;
  readonly sessionId: string;
  readonly jti: string;
}

/** A session as listed by {@link TokenService.listSessions}. */
export interface SessionInfo {
  readonly sessionId: string;
  readonly subject: string;
  readonly createdAt: Date;
  /** Last login or refresh. */
  readonly lastUsedAt: Date;
  /** When the session ends unless refreshed. */
  readonly expiresAt: Date;
  readonly amr: readonly string[];
  readonly ip?: string;
  readonly userAgent?: string;
  readonly label?: string;
}

/** An event worth an audit record. `refresh.reused` is a likely token theft. */
export interface TokenEvent {
  readonly type: 'refresh.reused' | 'session.revoked' | 'token.revoked' | 'user.revoked';
  readonly at: Date;
  readonly subject?: string;
  readonly sessionId?: string;
  readonly jti?: string;
  /** The token family (refresh reuse). */
  readonly familyId?: string;
}

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  /** Signing and verification keys. */
  readonly keys: KeySet;
  /** The `iss` of issued tokens and the only issuer accepted. */
  readonly issuer: string;
  /** The default `aud` of issued tokens; verification accepts a token naming any of them. */
  readonly audience: string | readonly string[];
  /** Refresh, session and revocation state. Share one store (PostgreSQL, Redis) between instances. */
  readonly store: KeyValueStore;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
  /** Randomness for token ids and refresh tokens. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
  /** Access token lifetime, seconds. Default 900 (15 min); at most 4 h. */
  readonly accessTtlSeconds?: number;
  /** Refresh token lifetime, seconds (sliding: each refresh starts a new one). Default 604,800 (7 days). */
  readonly refreshTtlSeconds?: number;
  /** Tolerated clock difference for `exp`, `nbf` and `iat`, seconds. Default 30, at most 300. */
  readonly clockSkewSeconds?: number;
  /**
   * Seconds during which an already-rotated refresh token may be used again
   * (concurrent refreshes from one client) without being treated as theft.
   * Default 0: off, every reuse revokes the family. At most 60.
   */
  readonly refreshGraceSeconds?: number;
  /**
   * Verified-token cache (in the spirit of Envoy jwt_authn's `jwt_cache_config`):
   * a reused token skips the signature check from its third use; `exp` and
   * `nbf` are checked against the clock and the revocation check runs on
   * every call, hit or not. An entry lives until the token's `exp` or
   * `maxAgeSeconds` after its verification, whichever is first (default 60,
   * from 1 to 3600). At most `maxEntries` tokens (default 10,000). Emptied
   * when a key is removed or retires, and by {@link TokenService.clearCache}.
   * Default `{ maxEntries: 10000, maxAgeSeconds: 60 }`; `false` disables it.
   */
  readonly cache?: false | { readonly maxEntries?: number; readonly maxAgeSeconds?: number };
  /** Key prefix in the store. Default `auth:`. */
  readonly prefix?: string;
  /** Receives audit-worthy events; exceptions it throws are ignored. */
  readonly onEvent?: (event: TokenEvent) => void;
}

/** Options of {@link TokenService.verify}. */
export interface VerifyOptions {
  /** Accept only tokens naming this audience (instead of the service's). */
  readonly audience?: string | readonly string[];
}

/**
 * Issues, verifies, refreshes and revokes tokens. See {@link createTokenService}.
 */
export interface TokenService {
  /** The key set (for `jwks()` and rotation). */
  readonly keys: KeySet;
  /** The revocation list the service checks on every verification. */
  readonly revocations: RevocationList;
  /**
   * Starts a session and issues its first access token (and a refresh token).
   *
   * @throws AuthError `ERR_AUTH_INVALID_INPUT` for a bad subject, lifetime or reserved claim.
   */
  issue(options: IssueOptions): Promise<IssuedTokens>;
  /**
   * Verifies an access token: pinned algorithm, known `kid`, signature, `typ`,
   * `iss`, `aud`, `exp`, `nbf`, `iat` (with the clock skew), required claims,
   * then revocation (token, session, user) — every call.
   *
   * @throws AuthError one of `ERR_AUTH_TOKEN_MALFORMED`, `ERR_AUTH_ALGORITHM_NOT_ALLOWED`,
   * `ERR_AUTH_UNKNOWN_KEY`, `ERR_AUTH_UNSUPPORTED_CRITICAL_HEADER`, `ERR_AUTH_INVALID_SIGNATURE`,
   * `ERR_AUTH_WRONG_TOKEN_TYPE`, `ERR_AUTH_TOKEN_EXPIRED`, `ERR_AUTH_TOKEN_NOT_YET_VALID`,
   * `ERR_AUTH_INVALID_ISSUER`, `ERR_AUTH_INVALID_AUDIENCE`, `ERR_AUTH_INVALID_CLAIMS`, `ERR_AUTH_TOKEN_REVOKED`;
   * a store failure rejects with the store's `CoreError` (fail closed).
   */
  verify(token: string, options?: VerifyOptions): Promise<AccessTokenClaims>;
  /**
   * Exchanges a refresh token for a new access and refresh token (rotation).
   * The presented token is spent; presenting it again revokes its family and
   * session and emits `refresh.reused`.
   *
   * @throws AuthError `ERR_AUTH_REFRESH_INVALID`, `ERR_AUTH_REFRESH_REUSED`, `ERR_AUTH_TOKEN_REVOKED`, `ERR_AUTH_WRONG_TOKEN_TYPE`.
   */
  refresh(refreshToken: string): Promise<IssuedTokens>;
  /** Revokes one access token (by verified claims or `jti` + expiry) until it expires. */
  revokeToken(token: { readonly jti: string; readonly exp: number }): Promise<void>;
  /** Revokes a refresh token's whole family and session (logout with a refresh token). Unknown tokens are ignored. */
  revokeRefreshToken(refreshToken: string): Promise<void>;
  /** Revokes a session: its access tokens and refresh tokens stop working. */
  revokeSession(sessionId: string): Promise<void>;
  /** Revokes every token of `subject` issued up to `before` (default now) and ends every session: "log out everywhere". */
  revokeUser(subject: string, before?: Date): Promise<void>;
  /** The user's live sessions, newest first. */
  listSessions(subject: string): Promise<SessionInfo[]>;
  /**
   * Empties the verified-token cache: every token's signature is checked
   * again on its next use. For operators after a signing key was compromised
   * in a way the key set did not see (key removal and retirement already
   * empty it). Revocations need no call: they are checked on every use.
   */
  clearCache(): void;
}

interface RefreshRecord {
  fid: string;
  sid: string;
  sub: string;
  iat: number; // ms
  exp: number; // ms
  roles: string[];
  amr: string[];
  authTime: number; // s
  mfaAt: number | undefined; // s
  aud: string | string[];
  claims: Record<string, unknown> | undefined;
}

interface SessionRecord {
  sid: string;
  sub: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  amr: string[];
  ip?: string;
  userAgent?: string;
  label?: string;
}

const RESERVED = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'sid',
  'roles',
  'amr',
  'auth_time',
  'mfa_at',
  'typ',
  'cnf',
  'scope',
]);
const MAX_TOKEN_LENGTH = 16 * 1024;
const REQUIRED_CLAIMS = ['sub', 'exp', 'iat', 'nbf', 'jti'];
const SUBJECT = /^[^\s\p{Cc}]{1,256}$/u;
const REFRESH_PATTERN = /^prt_[A-Za-z0-9_-]{43}$/;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');

function seconds(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw invalidOptions(`${name} must be a number from ${min} to ${max}`, { [name]: value });
  }
  return v;
}

/** Maps any error from jose (or a plain TypeError from a misuse path) to a typed code; never copies token data. */
function mapVerifyError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  const code = (error as { code?: string })?.code;
  let mapped: AuthErrorCode = 'ERR_AUTH_TOKEN_MALFORMED';
  let claim: string | undefined;
  if (error instanceof joseErrors.JWTExpired || code === 'ERR_JWT_EXPIRED') mapped = 'ERR_AUTH_TOKEN_EXPIRED';
  else if (error instanceof joseErrors.JWTClaimValidationFailed) {
    claim = error.claim;
    mapped =
      claim === 'nbf' || claim === 'iat'
        ? 'ERR_AUTH_TOKEN_NOT_YET_VALID'
        : claim === 'iss'
          ? 'ERR_AUTH_INVALID_ISSUER'
          : claim === 'aud'
            ? 'ERR_AUTH_INVALID_AUDIENCE'
            : claim === 'typ'
              ? 'ERR_AUTH_WRONG_TOKEN_TYPE'
              : 'ERR_AUTH_INVALID_CLAIMS';
  } else if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') mapped = 'ERR_AUTH_ALGORITHM_NOT_ALLOWED';
  else if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') mapped = 'ERR_AUTH_INVALID_SIGNATURE';
  else if (code === 'ERR_JWKS_NO_MATCHING_KEY') mapped = 'ERR_AUTH_UNKNOWN_KEY';
  // During JWS verification with pinned algorithms, jose only reports "not
  // supported" for a `crit` extension it does not recognise.
  else if (code === 'ERR_JOSE_NOT_SUPPORTED') mapped = 'ERR_AUTH_UNSUPPORTED_CRITICAL_HEADER';
  // Everything else (ERR_JWS_INVALID, ERR_JWT_INVALID, a
  // TypeError from a misuse path, a SyntaxError) is a malformed token: fail closed.
  // No `cause`: jose's claim errors carry the token's payload.
  return authError(mapped, 'the access token was rejected', claim === undefined ? { reason: mapped } : { claim });
}

const reject = (code: AuthErrorCode, details?: Record<string, unknown>): AuthError =>
  authError(code, 'the access token was rejected', details ?? { reason: code });

/**
 * Creates the {@link TokenService}: RS256/EdDSA/ES256 access tokens
 * (`typ: at+jwt`, 15 min), opaque rotating refresh tokens (7 days) with
 * reuse detection, sessions and revocation, all state in a {@link KeyValueStore}.
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` for missing keys/store/issuer/audience or out-of-range lifetimes.
 * @example
 * ```ts
 * import { memoryStore } from '@provisioning/core';
 * import { createKeySet, createTokenService } from '@provisioning/auth';
 * const tokens = createTokenService({
 *   keys: await createKeySet(), issuer: 'https://auth.example', audience: 'provisioning', store: memoryStore(),
 * });
 * const { accessToken, refreshToken } = await tokens.issue({ subject: 'user-1', roles: ['Developer'] });
 * const claims = await tokens.verify(accessToken);
 * const next = await tokens.refresh(refreshToken!);
 * ```
 */
export function createTokenService(options: TokenServiceOptions): TokenService {
  const { keys, store } = options;
  if (typeof keys?.signingKey !== 'function') throw invalidOptions('keys (a KeySet) is required');
  if (typeof store?.get !== 'function') throw invalidOptions('store (a KeyValueStore) is required');
  if (typeof options.issuer !== 'string' || options.issuer === '') throw invalidOptions('issuer is required');
  const audiences = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    throw invalidOptions('audience is one or more non-empty strings');
  }
  const issuer = options.issuer;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const accessTtl = seconds('accessTtlSeconds', options.accessTtlSeconds, 900, 1, MAX_ACCESS_TTL_SECONDS);
  const refreshTtl = seconds('refreshTtlSeconds', options.refreshTtlSeconds, 7 * 86400, 60, 366 * 86400);
  const skew = seconds('clockSkewSeconds', options.clockSkewSeconds, 30, 0, 300);
  const grace = seconds('refreshGraceSeconds', options.refreshGraceSeconds, 0, 0, 60);
  const p = storePrefix(options.prefix);
  const revocations = createRevocationList({ store, clock, prefix: p });
  // Revocation entries must outlive every token they cover: refresh tokens, and access tokens up to 4 h.
  const revocationTtl = Math.max(refreshTtl, MAX_ACCESS_TTL_SECONDS) + skew;
  const emit = (event: TokenEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // An event consumer's failure must not change the outcome of a security decision.
    }
  };

  const maxEntries = options.cache === false ? 0 : (options.cache?.maxEntries ?? 10_000);
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw invalidOptions('cache.maxEntries must be >= 0');
  // Security trade-off of the cache: a hit skips only the signature check,
  // which for the exact same token string gives the same answer as long as
  // the key that signed it is trusted. Every other check stays per call
  // (`exp`/`nbf` against the clock, revocation of token, session and user).
  // What a hit cannot see is a signing key that stopped being trusted without
  // the key set being told: its tokens stay accepted until the entry's max
  // age (60 s by default) or clearCache(). Removing or retiring the key in the
  // key set empties the cache at once, and a compromised key's tokens can
  // also be revoked by user or session; that bounded window is why the cache
  // is on by default. `cache: false` turns it off (every call checks the
  // signature), a smaller `maxAgeSeconds` shortens the window.
  const maxAgeMs =
    options.cache === false ? 0 : seconds('cache.maxAgeSeconds', options.cache?.maxAgeSeconds, 60, 1, 3600) * 1000;
  // An entry: the verified claims and the instant (ms) after which it is not
  // used, min(exp, verification + max age).
  interface Cached {
    readonly claims: AccessTokenClaims;
    readonly until: number;
  }
  // Two generations instead of one FIFO Map: deleting the oldest key of a
  // large Map over and over makes V8 skip ever more tombstones on iteration.
  // When the young generation is full it becomes the old one (and the old one
  // is dropped); a hit in the old generation is promoted. O(1) per call.
  let young = new Map<string, Cached>();
  let old = new Map<string, Cached>();
  const half = Math.max(1, Math.floor(maxEntries / 2));
  const cacheGet = (token: string): Cached | undefined => {
    const hit = young.get(token);
    if (hit !== undefined) return hit;
    const promoted = old.get(token);
    if (promoted !== undefined) cachePut(token, promoted);
    return promoted;
  };
  const cachePut = (token: string, entry: Cached): void => {
    if (young.size >= half) {
      old = young;
      young = new Map();
    }
    young.set(token, entry);
  };
  const cacheDelete = (token: string): void => {
    young.delete(token);
    old.delete(token);
  };
  const clearCache = (): void => {
    young = new Map();
    old = new Map();
  };
  keys.onChange(clearCache);
  // Admission: a token enters the cache on its second verification. Most
  // tokens a busy server sees once (or a few times); caching each on first
  // sight made the cache churn (a Map entry and a claims object per token
  // that the GC copies and promotes, about 6% of an RS256 verification) for
  // no hit. A Bloom filter (two bits per fingerprint of the signature's last
  // characters) remembers what was seen and is cleared after 4 × maxEntries
  // first sightings, so it never fills up. A false positive only admits a
  // verified token early. (A table of one slot per fingerprint let two
  // colliding tokens overwrite each other forever: neither was ever cached.)
  const seenBits = new Uint32Array(2 ** Math.max(5, Math.ceil(Math.log2(Math.max(1, maxEntries)))));
  const bitMask = seenBits.length * 32 - 1;
  const resetAfter = Math.max(1024, 4 * maxEntries);
  let sightings = 0;
  const admit = (token: string): boolean => {
    let h = 0x811c9dc5;
    for (let i = token.length - 12; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
    const a = h & bitMask;
    const b = Math.imul(h ^ (h >>> 16), 0x85ebca6b) & bitMask;
    if ((seenBits[a >>> 5] as number) & (1 << (a & 31)) && (seenBits[b >>> 5] as number) & (1 << (b & 31))) {
      return true;
    }
    seenBits[a >>> 5] = (seenBits[a >>> 5] as number) | (1 << (a & 31));
    seenBits[b >>> 5] = (seenBits[b >>> 5] as number) | (1 << (b & 31));
    if (++sightings >= resetAfter) {
      seenBits.fill(0);
      sightings = 0;
    }
    return false;
  };

  const sessionKey = (sub: string, sid: string): string => `${p}s:${enc(sub)}:${enc(sid)}`;
  const sessionIndexKey = (sid: string): string => `${p}si:${enc(sid)}`;
  const refreshKey = (hash: string): string => `${p}rt:${hash}`;
  const usedKey = (hash: string): string => `${p}rtu:${hash}`;
  const familyKey = (fid: string): string => `${p}rf:${enc(fid)}`;

  const sign = async (
    claims: Record<string, unknown>,
    ttl: number,
    nowMs: number,
  ): Promise<{ token: string; exp: number }> => {
    const key = keys.signingKey();
    const iat = Math.floor(nowMs / 1000);
    const exp = iat + Math.ceil(ttl);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(issuer)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(key.privateKey);
    keys.noteIssued(key.kid, exp * 1000);
    return { token, exp };
  };

  const mintRefresh = async (
    record: Omit<RefreshRecord, 'iat' | 'exp'>,
    nowMs: number,
  ): Promise<{ token: string; exp: number }> => {
    const token = `${REFRESH_TOKEN_PREFIX}${randomToken(32, random)}`;
    const full: RefreshRecord = { ...record, iat: nowMs, exp: nowMs + refreshTtl * 1000 };
    // Only the SHA-256 of the token is stored: it carries 256 random bits, so a
    // fast hash is enough and a leaked store does not yield usable tokens.
    await store.set(refreshKey(sha256(token)), JSON.stringify(full), { ttlSeconds: refreshTtl });
    return { token, exp: full.exp };
  };

  const writeSession = async (session: SessionRecord): Promise<void> => {
    const ttlSeconds = Math.max(1, Math.ceil((session.expiresAt - clock.now()) / 1000));
    await Promise.all([
      store.set(sessionKey(session.sub, session.sid), JSON.stringify(session), { ttlSeconds }),
      store.set(sessionIndexKey(session.sid), session.sub, { ttlSeconds }),
    ]);
  };

  const accessClaims = (r: Omit<RefreshRecord, 'iat' | 'exp' | 'fid'>, jti: string): Record<string, unknown> => ({
    ...(r.claims ?? {}),
    sub: r.sub,
    aud: r.aud,
    jti,
    sid: r.sid,
    roles: r.roles,
    amr: r.amr,
    auth_time: r.authTime,
    ...(r.mfaAt === undefined ? {} : { mfa_at: r.mfaAt }),
  });

  const stringList = (name: string, value: readonly string[] | undefined, fallback: string[]): string[] => {
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0 || v.length > 128)) {
      throw authError('ERR_AUTH_INVALID_INPUT', `${name} must be a list of non-empty strings`);
    }
    return [...value];
  };

  const revokeSessionNow = async (sid: string, subject?: string): Promise<void> => {
    await revocations.revokeSession(sid, revocationTtl);
    const sub = subject ?? (await store.get(sessionIndexKey(sid)));
    if (sub !== undefined) await store.delete(sessionKey(sub, sid));
    await store.delete(sessionIndexKey(sid));
    emit({
      type: 'session.revoked',
      at: new Date(clock.now()),
      sessionId: sid,
      ...(sub === undefined ? {} : { subject: sub }),
    });
  };

  const checkRevoked = async (claims: AccessTokenClaims): Promise<void> => {
    const revoked = await revocations.isRevoked({
      jti: claims.jti,
      sid: claims.sid,
      sub: claims.sub,
      issuedAtMs: claims.iat * 1000,
    });
    if (revoked !== false) throw reject('ERR_AUTH_TOKEN_REVOKED', { scope: revoked });
  };

  const service: TokenService = {
    keys,
    revocations,

    async issue(input) {
      if (typeof input?.subject !== 'string' || !SUBJECT.test(input.subject)) {
        throw authError('ERR_AUTH_INVALID_INPUT', 'subject must be 1-256 characters without whitespace');
      }
      const ttl = input.accessTtlSeconds ?? accessTtl;
      if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 1 || ttl > MAX_ACCESS_TTL_SECONDS) {
        throw authError('ERR_AUTH_INVALID_INPUT', `accessTtlSeconds must be from 1 to ${MAX_ACCESS_TTL_SECONDS}`);
      }
      for (const name of Object.keys(input.claims ?? {})) {
        if (RESERVED.has(name))
          throw authError('ERR_AUTH_INVALID_INPUT', 'a custom claim uses a reserved name', { claim: name });
      }
      const aud =
        input.audience === undefined
          ? audiences
          : typeof input.audience === 'string'
            ? [input.audience]
            : [...input.audience];
      const now = clock.now();
      const sid = input.sessionId ?? uuidv7(clock, random);
      if (typeof sid !== 'string' || !SUBJECT.test(sid))
        throw authError('ERR_AUTH_INVALID_INPUT', 'sessionId is invalid');
      const base = {
        sid,
        sub: input.subject,
        roles: stringList('roles', input.roles, []),
        amr: stringList('amr', input.amr, ['pwd']),
        authTime: Math.floor((input.authTime?.getTime() ?? now) / 1000),
        mfaAt: input.mfaAt === undefined ? undefined : Math.floor(input.mfaAt.getTime() / 1000),
        aud: aud.length === 1 ? (aud[0] as string) : aud,
        claims: input.claims === undefined ? undefined : { ...input.claims },
      };
      const jti = uuidv7(clock, random);
      const access = await sign(accessClaims(base, jti), ttl, now);
      let refresh: { token: string; exp: number } | undefined;
      if (input.refresh !== false) refresh = await mintRefresh({ ...base, fid: randomToken(16, random) }, now);
      const meta = input.metadata ?? {};
      await writeSession({
        sid,
        sub: input.subject,
        createdAt: now,
        lastUsedAt: now,
        expiresAt: Math.max(access.exp * 1000, refresh?.exp ?? 0),
        amr: base.amr,
        ...(meta.ip === undefined ? {} : { ip: meta.ip }),
        ...(meta.userAgent === undefined ? {} : { userAgent: meta.userAgent }),
        ...(meta.label === undefined ? {} : { label: meta.label }),
      });
      return {
        accessToken: access.token,
        refreshToken: refresh?.token,
        tokenType: 'Bearer',
        expiresIn: access.exp - Math.floor(now / 1000),
        accessExpiresAt: new Date(access.exp * 1000),
        refreshExpiresAt: refresh === undefined ? undefined : new Date(refresh.exp),
        sessionId: sid,
        jti,
      };
    },

    async verify(token, verifyOptions) {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw reject('ERR_AUTH_TOKEN_MALFORMED');
      }
      if (token.startsWith(REFRESH_TOKEN_PREFIX)) throw reject('ERR_AUTH_WRONG_TOKEN_TYPE');
      const now = clock.now();
      const useCache = maxEntries > 0 && verifyOptions?.audience === undefined;
      if (useCache) {
        const hit = cacheGet(token);
        // A cached result never outlives `exp` (no skew added) nor its max
        // age, and still goes through the revocation check below.
        if (hit !== undefined) {
          if (now < hit.until && now >= (hit.claims.nbf - skew) * 1000) {
            await checkRevoked(hit.claims);
            return hit.claims;
          }
          cacheDelete(token);
        }
      }
      let claims: AccessTokenClaims;
      try {
        const expected = verifyOptions?.audience ?? audiences;
        // jose parses the header once and hands it to this resolver, after it
        // has refused any algorithm outside the key set (`none`, HS256 with the
        // public key …) and any unrecognised `crit` parameter.
        const { payload } = await jwtVerify(
          token,
          (header) => {
            if (typeof header.kid !== 'string') throw reject('ERR_AUTH_UNKNOWN_KEY');
            const key = keys.verificationKey(header.kid);
            if (key === undefined) throw reject('ERR_AUTH_UNKNOWN_KEY');
            // The key decides the algorithm, not the token: a token claiming ES256 under an RS256 kid is a swap.
            if (key.alg !== header.alg)
              throw reject('ERR_AUTH_ALGORITHM_NOT_ALLOWED', { alg: String(header.alg).slice(0, 16) });
            return key.key;
          },
          {
            algorithms: keys.algorithms as SigningAlgorithm[],
            // Refuse every `crit` extension: none is understood (RFC 7515 §4.1.11).
            crit: {},
            issuer,
            audience: typeof expected === 'string' ? expected : (expected as string[]),
            typ: ACCESS_TOKEN_TYPE,
            clockTolerance: skew,
            currentDate: new Date(now),
            requiredClaims: REQUIRED_CLAIMS,
          },
        );
        if (typeof payload.iat !== 'number' || payload.iat > Math.floor(now / 1000) + skew)
          throw reject('ERR_AUTH_TOKEN_NOT_YET_VALID', { claim: 'iat' });
        if (typeof payload.sid !== 'string' || typeof payload.jti !== 'string' || typeof payload.sub !== 'string')
          throw reject('ERR_AUTH_INVALID_CLAIMS', { claim: 'sid' });
        if (!isStringArray(payload.roles) || !isStringArray(payload.amr) || typeof payload.auth_time !== 'number')
          throw reject('ERR_AUTH_INVALID_CLAIMS', { claim: 'roles' });
        // Frozen all the way down: the cache hands the same claims to every
        // later caller, so no caller may change what the next one is told.
        claims = deepFreeze(payload) as AccessTokenClaims;
      } catch (error) {
        throw mapVerifyError(error);
      }
      await checkRevoked(claims);
      // Only a token that passed every check above gets here: a failure is never cached.
      if (useCache && admit(token)) cachePut(token, { claims, until: Math.min(claims.exp * 1000, now + maxAgeMs) });
      return claims;
    },

    async refresh(refreshToken) {
      if (typeof refreshToken !== 'string')
        throw authError('ERR_AUTH_REFRESH_INVALID', 'the refresh token was rejected');
      if (refreshToken.includes('.'))
        throw authError('ERR_AUTH_WRONG_TOKEN_TYPE', 'the refresh token was rejected', {
          reason: 'a JWT is not a refresh token',
        });
      if (!REFRESH_PATTERN.test(refreshToken))
        throw authError('ERR_AUTH_REFRESH_INVALID', 'the refresh token was rejected');
      const hash = sha256(refreshToken);
      const raw = await store.get(refreshKey(hash));
      if (raw === undefined) throw authError('ERR_AUTH_REFRESH_INVALID', 'the refresh token was rejected');
      const record = JSON.parse(raw) as RefreshRecord;
      const now = clock.now();
      if (record.exp <= now)
        throw authError('ERR_AUTH_REFRESH_INVALID', 'the refresh token was rejected', { reason: 'expired' });
      const [familyRevoked, revoked] = await Promise.all([
        store.get(familyKey(record.fid)),
        revocations.isRevoked({ sid: record.sid, sub: record.sub, issuedAtMs: record.iat }),
      ]);
      if (familyRevoked !== undefined || revoked !== false) {
        throw authError('ERR_AUTH_TOKEN_REVOKED', 'the refresh token was rejected', {
          scope: familyRevoked !== undefined ? 'family' : revoked,
        });
      }
      // Single use: exactly one caller wins this atomic write, across every
      // instance sharing the store. The record itself stays until it expires,
      // so a second use is recognised as reuse (not as an unknown token).
      const ttlSeconds = Math.max(1, Math.ceil((record.exp - now) / 1000));
      const won = await store.setIfAbsent(usedKey(hash), String(now), { ttlSeconds });
      if (!won) {
        const usedAt = Number((await store.get(usedKey(hash))) ?? 0);
        const withinGrace = grace > 0 && now - usedAt <= grace * 1000;
        if (!withinGrace) {
          // Reuse of a rotated token: either the client or a thief holds a copy.
          // We cannot tell which, so the whole family and its session end.
          await store.set(familyKey(record.fid), String(now), { ttlSeconds: revocationTtl });
          await revokeSessionNow(record.sid, record.sub);
          emit({
            type: 'refresh.reused',
            at: new Date(now),
            subject: record.sub,
            sessionId: record.sid,
            familyId: record.fid,
          });
          throw authError('ERR_AUTH_REFRESH_REUSED', 'the refresh token was already used; the session is revoked', {
            sessionId: record.sid,
          });
        }
      }
      const jti = uuidv7(clock, random);
      const access = await sign(accessClaims(record, jti), accessTtl, now);
      const { iat: _iat, exp: _exp, ...rest } = record;
      const next = await mintRefresh(rest, now);
      const sessionRaw = await store.get(sessionKey(record.sub, record.sid));
      const session: SessionRecord =
        sessionRaw === undefined
          ? { sid: record.sid, sub: record.sub, createdAt: now, lastUsedAt: now, expiresAt: next.exp, amr: record.amr }
          : { ...(JSON.parse(sessionRaw) as SessionRecord), lastUsedAt: now, expiresAt: next.exp };
      await writeSession(session);
      return {
        accessToken: access.token,
        refreshToken: next.token,
        tokenType: 'Bearer',
        expiresIn: access.exp - Math.floor(now / 1000),
        accessExpiresAt: new Date(access.exp * 1000),
        refreshExpiresAt: new Date(next.exp),
        sessionId: record.sid,
        jti,
      };
    },

    async revokeToken(token) {
      if (typeof token?.jti !== 'string' || typeof token.exp !== 'number') {
        throw authError('ERR_AUTH_INVALID_INPUT', 'revokeToken needs the jti and exp of a token');
      }
      // exp is capped by the longest possible lifetime, so a forged far-future exp cannot pin an entry forever.
      const expMs = Math.min(token.exp * 1000, clock.now() + (MAX_ACCESS_TTL_SECONDS + skew) * 1000) + skew * 1000;
      await revocations.revokeToken(token.jti, expMs);
      emit({ type: 'token.revoked', at: new Date(clock.now()), jti: token.jti });
    },

    async revokeRefreshToken(refreshToken) {
      if (typeof refreshToken !== 'string' || !REFRESH_PATTERN.test(refreshToken)) return;
      const raw = await store.get(refreshKey(sha256(refreshToken)));
      if (raw === undefined) return;
      const record = JSON.parse(raw) as RefreshRecord;
      await store.set(familyKey(record.fid), String(clock.now()), { ttlSeconds: revocationTtl });
      await revokeSessionNow(record.sid, record.sub);
    },

    async revokeSession(sessionId) {
      if (typeof sessionId !== 'string' || !SUBJECT.test(sessionId))
        throw authError('ERR_AUTH_INVALID_INPUT', 'sessionId is invalid');
      await revokeSessionNow(sessionId);
    },

    async revokeUser(subject, before) {
      if (typeof subject !== 'string' || !SUBJECT.test(subject))
        throw authError('ERR_AUTH_INVALID_INPUT', 'subject is invalid');
      const at = before?.getTime() ?? clock.now();
      await revocations.revokeUserBefore(subject, at, revocationTtl);
      for (const session of await service.listSessions(subject)) {
        if (session.createdAt.getTime() <= at) await revokeSessionNow(session.sessionId, subject);
      }
      emit({ type: 'user.revoked', at: new Date(clock.now()), subject });
    },

    async listSessions(subject) {
      if (typeof subject !== 'string' || !SUBJECT.test(subject))
        throw authError('ERR_AUTH_INVALID_INPUT', 'subject is invalid');
      const prefix = `${p}s:${enc(subject)}:`;
      const out: SessionInfo[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.list(prefix, { limit: 1000, ...(after === undefined ? {} : { after }) });
        const values = await Promise.all(page.map((k) => store.get(k)));
        for (const raw of values) {
          if (raw === undefined) continue;
          const s = JSON.parse(raw) as SessionRecord;
          // A refresh racing a revocation may rewrite the record: the revocation marker decides.
          if (s.expiresAt <= clock.now() || (await revocations.isSessionRevoked(s.sid))) continue;
          out.push({
            sessionId: s.sid,
            subject: s.sub,
            createdAt: new Date(s.createdAt),
            lastUsedAt: new Date(s.lastUsedAt),
            expiresAt: new Date(s.expiresAt),
            amr: s.amr,
            ...(s.ip === undefined ? {} : { ip: s.ip }),
            ...(s.userAgent === undefined ? {} : { userAgent: s.userAgent }),
            ...(s.label === undefined ? {} : { label: s.label }),
          });
        }
        if (page.length < 1000) break;
        after = page[page.length - 1];
      }
      return out.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    },

    clearCache,
  };
  return service;
}

// Freezes a decoded JSON value and everything in it (JSON has no cycles).
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
