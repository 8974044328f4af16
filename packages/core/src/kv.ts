import { CoreError } from './errors.js';

/** Options of {@link KeyValueStore.set} and {@link KeyValueStore.setIfAbsent}. */
export interface SetOptions {
  /** Time to live in seconds (fractions allowed, millisecond resolution). Omit to keep the value until deleted. */
  readonly ttlSeconds?: number;
}

/** Options of {@link KeyValueStore.setIfAbsent}. */
export interface SetIfAbsentOptions extends SetOptions {
  /**
   * Keys to delete in the same atomic operation if, and only if, this write
   * wins: e.g. the failed-attempt counter that a successful one-time code
   * resets. At most 16, none equal to the key written. Default none.
   */
  readonly alsoDelete?: readonly string[];
}

/** Options of {@link KeyValueStore.increment}. */
export interface IncrementOptions {
  /** Amount to add: a safe integer, default 1. Negative amounts decrement. */
  readonly by?: number;
  /**
   * Time to live in seconds, applied only when this call creates the counter
   * (fixed windows: later increments never extend it). Omit for no expiry.
   */
  readonly ttlSeconds?: number;
}

/** What {@link KeyValueStore.increment} returns. */
export interface CounterResult {
  /** The counter's value after this increment. */
  readonly value: number;
  /** When the counter expires (and restarts), if it has a TTL. */
  readonly expiresAt: Date | undefined;
}

/** Options of {@link KeyValueStore.guardedClaim}. */
export interface GuardedClaimOptions {
  /** The failure counter that guards the claim: absent, or a counter as {@link KeyValueStore.increment} keeps it. */
  readonly counterKey: string;
  /** The attempt is refused, changing nothing, once the counter holds this many failures: a safe integer, at least 1. */
  readonly maxFailures: number;
  /** Time to live of the counter in seconds, set when a failure creates it (a fixed window, as `increment`). */
  readonly windowSeconds: number;
  /**
   * The single-use marker a right attempt claims (`setIfAbsent` semantics):
   * e.g. `totp-used:<device>:<step>`. Omit it for a wrong attempt. Its key
   * cannot be `counterKey`.
   */
  readonly claim?: { readonly key: string; readonly value: string; readonly ttlSeconds?: number };
}

/** What {@link KeyValueStore.guardedClaim} decided. */
export interface GuardedClaimResult {
  /**
   * `locked`: the counter had reached `maxFailures`; nothing changed.
   * `claimed`: the marker was written and the counter deleted.
   * `replayed`: the marker already existed; counted as a failure.
   * `failed`: no claim was given; counted as a failure.
   */
  readonly outcome: 'locked' | 'claimed' | 'replayed' | 'failed';
  /** Failures counted after this call (0 after a claim). */
  readonly failures: number;
  /** When the counter expires (and the failures are forgotten); `undefined` after a claim or without a TTL. */
  readonly expiresAt: Date | undefined;
}

/** Options of {@link KeyValueStore.list}. */
export interface ListOptions {
  /** Most keys to return; default 1000, at most 10,000. */
  readonly limit?: number;
  /** Return only keys sorting strictly after this one (for pagination). */
  readonly after?: string;
}

/**
 * The storage contract every key-shaped store in the SDK builds on: strings
 * under ASCII keys, with TTLs in seconds and the atomic operations that
 * security depends on.
 *
 * Keys are 1–512 printable ASCII characters (`!` to `~`, no spaces); values
 * are well-formed strings without U+0000, up to the driver's `maxValueBytes`
 * (UTF-8, default 64 KiB). Encode binary data (base64) before storing it.
 * Expired entries are never returned, whichever driver runs.
 *
 * Concurrency: every method is a single atomic operation on the backend
 * (one statement, one command or one script), so concurrent callers on any
 * number of processes sharing the backend observe the guarantees below, and
 * a failure never leaves a partial write.
 *
 * Errors: invalid input rejects with a {@link CoreError} whose `fault` is
 * `client`; a lost connection rejects with `ERR_STORE_UNAVAILABLE`
 * (`retryable: true`); other backend failures with `ERR_STORE_FAILURE`.
 */
export interface KeyValueStore {
  /** Which driver this is: `memory`, `sqlite`, `postgres`, `redis` … */
  readonly id: string;
  /** The value under `key`, or `undefined` if absent or expired. Counters read as decimal strings. */
  get(key: string): Promise<string | undefined>;
  /**
   * The values under `keys` (at most 1,000), in the same order, `undefined`
   * where absent or expired: one round trip (one statement, one `MGET`) and
   * one consistent read, where separate `get`s could each see a different
   * moment. Use it where a decision needs several entries, such as a
   * revocation check of a token, its session and its user.
   */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Stores `value` under `key`, replacing any value or counter (and its TTL). */
  set(key: string, value: string, options?: SetOptions): Promise<void>;
  /** Removes `key`; resolves `true` if a live entry was removed. */
  delete(key: string): Promise<boolean>;
  /**
   * Get-and-delete. **Exactly one** of any number of concurrent callers
   * receives the value; every other caller receives `undefined`. Use it for
   * single-use things: challenges, one-time codes, refresh tokens.
   */
  consume(key: string): Promise<string | undefined>;
  /**
   * Stores `value` only if `key` holds no live entry. **Exactly one** of any
   * number of concurrent writers wins and receives `true`. Use it for replay
   * protection (`jti`, TOTP steps, nonces) and locks. With `alsoDelete`, the
   * winner also deletes those keys in the same atomic operation (a loser
   * deletes nothing).
   */
  setIfAbsent(key: string, value: string, options?: SetIfAbsentOptions): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1) to the counter under `key`, creating it at
   * `by` if absent or expired; the TTL is set only on creation. N concurrent
   * increments of 1 raise the count by exactly N. Rejects with
   * `ERR_STORE_NOT_A_COUNTER` (changing nothing) if `key` holds a plain value.
   */
  increment(key: string, options?: IncrementOptions): Promise<CounterResult>;
  /**
   * One attempt at a guarded, single-use claim, decided in **one atomic
   * operation**: if the counter under `counterKey` holds `maxFailures` or
   * more, `locked` and nothing changes; else, with a `claim` whose key holds
   * no live entry, writes it and deletes the counter (`claimed`); else adds 1
   * to the counter, creating it with the `windowSeconds` TTL (`replayed` with
   * a claim, `failed` without).
   *
   * Because every call checks the count and updates it in the same atomic
   * step, concurrent callers on any number of instances are serialised: of
   * any number of concurrent failing attempts, at most `maxFailures` are
   * answered anything but `locked`, and of concurrent attempts on one marker
   * exactly one is `claimed`. Use it for code verification (TOTP): compute
   * whether the code is right first, then let this decide.
   *
   * Rejects with `ERR_STORE_NOT_A_COUNTER` (changing nothing) if `counterKey`
   * holds a plain value, and with a client error for invalid keys, value or
   * numbers.
   */
  guardedClaim(options: GuardedClaimOptions): Promise<GuardedClaimResult>;
  /** Live keys starting with `prefix`, in ascending byte order, paginated by `after`. */
  list(prefix: string, options?: ListOptions): Promise<string[]>;
  /**
   * Releases what the store opened itself. Clients passed in by the caller
   * (a `pg.Pool`, an ioredis client) are left open. Later calls reject with
   * `ERR_STORE_CLOSED`.
   */
  close(): Promise<void>;
}

/** The longest key, in characters. */
export const MAX_KEY_LENGTH: number = 512;
/** The default largest value, in UTF-8 bytes (64 KiB). */
export const DEFAULT_MAX_VALUE_BYTES: number = 64 * 1024;
/** The most keys one {@link KeyValueStore.getMany} call reads. */
export const MAX_GET_MANY: number = 1000;
const MAX_ALSO_DELETE = 16;
const MAX_LIST_LIMIT = 10_000;
const KEY_PATTERN = /^[\x21-\x7e]+$/;

/** Throws `ERR_STORE_INVALID_KEY` unless `key` is 1–512 printable ASCII characters. */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(key)) {
    throw new CoreError(`store keys are 1-${MAX_KEY_LENGTH} printable ASCII characters without spaces`, {
      code: 'ERR_STORE_INVALID_KEY',
      fault: 'client',
      details: { length: typeof key === 'string' ? key.length : undefined },
    });
  }
}

/** Throws `ERR_STORE_INVALID_KEY` unless `prefix` is empty or a valid key prefix. */
export function assertValidPrefix(prefix: unknown): asserts prefix is string {
  if (prefix === '') return;
  assertValidKey(prefix);
}

// U+0000 (PostgreSQL text cannot hold it) and lone surrogates (UTF-8 cannot
// encode them, so they would be silently replaced): refused, never altered.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching U+0000 is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Throws unless `value` is a well-formed string without U+0000
 * (`ERR_STORE_INVALID_VALUE`) of at most `maxBytes` UTF-8 bytes (`ERR_STORE_VALUE_TOO_LARGE`).
 */
export function assertValidValue(value: unknown, maxBytes: number): asserts value is string {
  if (typeof value !== 'string' || UNSTORABLE.test(value)) {
    throw new CoreError('store values are well-formed strings without U+0000', {
      code: 'ERR_STORE_INVALID_VALUE',
      fault: 'client',
    });
  }
  // Cheap bound first: a UTF-8 string is at most 3 bytes per UTF-16 unit.
  if (value.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > maxBytes) {
      throw new CoreError(`value of ${bytes} bytes exceeds the store's limit of ${maxBytes}`, {
        code: 'ERR_STORE_VALUE_TOO_LARGE',
        fault: 'client',
        details: { bytes, maxBytes },
      });
    }
  }
}

/**
 * Validates an optional TTL and returns it in whole milliseconds (at least 1),
 * or `undefined` for no expiry. Throws `ERR_STORE_INVALID_TTL`.
 */
export function ttlToMs(ttlSeconds: number | undefined): number | undefined {
  if (ttlSeconds === undefined) return undefined;
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > 2 ** 31) {
    throw new CoreError('ttlSeconds must be a positive, finite number of seconds', {
      code: 'ERR_STORE_INVALID_TTL',
      fault: 'client',
      details: { ttlSeconds },
    });
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

/** Throws unless `keys` is an array of at most {@link MAX_GET_MANY} valid keys. */
export function assertValidKeys(keys: unknown): asserts keys is readonly string[] {
  if (!Array.isArray(keys) || keys.length > MAX_GET_MANY) {
    throw new CoreError(`getMany reads an array of at most ${MAX_GET_MANY} keys`, {
      code: 'ERR_INVALID_OPTIONS',
      fault: 'client',
      details: { count: Array.isArray(keys) ? keys.length : undefined },
    });
  }
  for (const key of keys) assertValidKey(key);
}

/** Validates `alsoDelete` of {@link KeyValueStore.setIfAbsent} and returns its distinct keys. */
export function alsoDeleteKeys(key: string, options: SetIfAbsentOptions | undefined): string[] {
  const keys = options?.alsoDelete;
  if (keys === undefined) return [];
  if (!Array.isArray(keys) || keys.length > MAX_ALSO_DELETE) {
    throw new CoreError(`alsoDelete is an array of at most ${MAX_ALSO_DELETE} keys`, {
      code: 'ERR_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  for (const k of keys) {
    assertValidKey(k);
    if (k === key) {
      throw new CoreError('alsoDelete cannot name the key being written', {
        code: 'ERR_INVALID_OPTIONS',
        fault: 'client',
      });
    }
  }
  return [...new Set(keys)];
}

/** {@link GuardedClaimOptions}, validated: TTLs in milliseconds. */
export interface ValidGuardedClaim {
  readonly counterKey: string;
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly claim: { readonly key: string; readonly value: string; readonly ttlMs: number | undefined } | undefined;
}

/** Validates the options of {@link KeyValueStore.guardedClaim} (nothing is written on a rejection). */
export function guardedClaimOptions(options: GuardedClaimOptions, maxValueBytes: number): ValidGuardedClaim {
  const { counterKey, maxFailures, windowSeconds, claim } = options ?? ({} as GuardedClaimOptions);
  assertValidKey(counterKey);
  if (!Number.isSafeInteger(maxFailures) || maxFailures < 1) {
    throw new CoreError('maxFailures must be a safe integer of at least 1', {
      code: 'ERR_INVALID_OPTIONS',
      fault: 'client',
      details: { maxFailures },
    });
  }
  const windowMs = ttlToMs(windowSeconds);
  if (windowMs === undefined) {
    throw new CoreError('guardedClaim needs windowSeconds', { code: 'ERR_STORE_INVALID_TTL', fault: 'client' });
  }
  if (claim === undefined) return { counterKey, maxFailures, windowMs, claim: undefined };
  assertValidKey(claim?.key);
  if (claim.key === counterKey) {
    throw new CoreError('the claimed key cannot be the counter', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  assertValidValue(claim.value, maxValueBytes);
  return {
    counterKey,
    maxFailures,
    windowMs,
    claim: { key: claim.key, value: claim.value, ttlMs: ttlToMs(claim.ttlSeconds) },
  };
}

/** Validates an increment amount (a safe integer) and returns it. */
export function incrementAmount(by: number | undefined): number {
  const amount = by ?? 1;
  if (!Number.isSafeInteger(amount)) {
    throw new CoreError('increment amounts are safe integers', {
      code: 'ERR_STORE_NOT_A_COUNTER',
      fault: 'client',
      details: { by },
    });
  }
  return amount;
}

/** Validates list options and returns the limit. */
export function listLimit(options: ListOptions | undefined): number {
  const limit = options?.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new CoreError(`list limit must be an integer from 1 to ${MAX_LIST_LIMIT}`, {
      code: 'ERR_INVALID_OPTIONS',
      fault: 'client',
      details: { limit },
    });
  }
  if (options?.after !== undefined) assertValidKey(options.after);
  return limit;
}

/** Validates `maxValueBytes` from a driver's options (construction time). */
export function maxValueBytesOption(value: number | undefined): number {
  const max = value ?? DEFAULT_MAX_VALUE_BYTES;
  if (!Number.isSafeInteger(max) || max < 1 || max > 16 * 1024 * 1024) {
    throw new CoreError('maxValueBytes must be an integer from 1 to 16 MiB', {
      code: 'ERR_INVALID_OPTIONS',
      fault: 'client',
      details: { maxValueBytes: value },
    });
  }
  return max;
}

/** The error every method of a closed store rejects with. */
export function storeClosedError(id: string): CoreError {
  return new CoreError(`the ${id} store is closed`, { code: 'ERR_STORE_CLOSED', fault: 'client' });
}

/** Throws `ERR_STORE_NOT_A_COUNTER` for `key` (the key itself is not secret, but stays out of the message). */
export function notACounterError(): CoreError {
  return new CoreError('the key holds a value, not a counter', { code: 'ERR_STORE_NOT_A_COUNTER', fault: 'client' });
}
