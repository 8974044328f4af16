/**
 * Redis driver (ioredis 5, an optional peer dependency): for hot, key-shaped
 * state shared by instances: revocation lists, rate limits, replay caches,
 * challenges.
 *
 * @module
 */
import type { Redis } from 'ioredis';
import type { Clock } from './clock.js';
import { CoreError } from './errors.js';
import type {
  CounterResult,
  GuardedClaimOptions,
  GuardedClaimResult,
  IncrementOptions,
  KeyValueStore,
  ListOptions,
  SetIfAbsentOptions,
  SetOptions,
} from './kv.js';
import {
  alsoDeleteKeys,
  assertValidKey,
  assertValidKeys,
  assertValidPrefix,
  assertValidValue,
  guardedClaimOptions,
  incrementAmount,
  listLimit,
  maxValueBytesOption,
  notACounterError,
  storeClosedError,
  ttlToMs,
} from './kv.js';

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** A ready ioredis client (standalone). It stays open when the store is closed. */
  readonly client: Redis;
  /** Prepended to every key, so several stores can share one Redis. Default `prov:`. */
  readonly prefix?: string;
  /** Largest value in UTF-8 bytes. Default 64 KiB. */
  readonly maxValueBytes?: number;
  /**
   * Ignored for expiry: Redis expires keys on its own clock. Accepted so a
   * store can be swapped for another without changing options.
   */
  readonly clock?: Clock;
}

// Counters are stored as "#<integer>" and plain values as "=<value>", so
// `increment` can refuse a plain value atomically inside the script and `get`
// can tell the two apart. Both scripts run atomically on the server.
const INCREMENT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 1) ~= '#' then return false end
  local nextv = tonumber(string.sub(cur, 2)) + tonumber(ARGV[1])
  redis.call('SET', KEYS[1], '#' .. string.format('%d', nextv), 'KEEPTTL')
  return {string.format('%d', nextv), redis.call('PTTL', KEYS[1])}
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], '#' .. ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], '#' .. ARGV[1])
end
return {ARGV[1], redis.call('PTTL', KEYS[1])}
`;

// SET NX, and only if it wrote, DEL of the other keys: one atomic script.
const SET_IF_ABSENT_ALSO_DELETE = `
local ok
if ARGV[2] ~= '' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
if not ok then return 0 end
redis.call('DEL', unpack(KEYS, 2))
return 1
`;

// guardedClaim: one script, so the count check, the claim and the counter
// update are one atomic step on the server. KEYS[1] the counter, KEYS[2] the
// claimed marker (absent for a wrong attempt); ARGV: maxFailures, window ms,
// marker value, marker TTL ms ('' for none).
const GUARDED_CLAIM = `
local cur = redis.call('GET', KEYS[1])
local n = 0
if cur then
  if string.sub(cur, 1, 1) ~= '#' then return false end
  n = tonumber(string.sub(cur, 2))
end
if n >= tonumber(ARGV[1]) then
  return {'locked', string.format('%d', n), redis.call('PTTL', KEYS[1])}
end
if #KEYS > 1 then
  local ok
  if ARGV[4] ~= '' then
    ok = redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4], 'NX')
  else
    ok = redis.call('SET', KEYS[2], ARGV[3], 'NX')
  end
  if ok then
    redis.call('DEL', KEYS[1])
    return {'claimed', '0', -2}
  end
end
local nextv = string.format('%d', n + 1)
if cur then
  redis.call('SET', KEYS[1], '#' .. nextv, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], '#' .. nextv, 'PX', ARGV[2])
end
if #KEYS > 1 then
  return {'replayed', nextv, redis.call('PTTL', KEYS[1])}
end
return {'failed', nextv, redis.call('PTTL', KEYS[1])}
`;

const NET =
  /Connection is closed|connect ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Stream isn't writeable|MaxRetriesPerRequest|enableOfflineQueue|Command timed out|LOADING|READONLY|TRYAGAIN|CLUSTERDOWN/i;

function mapRedisError(error: unknown, operation: string): CoreError {
  if (error instanceof CoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const retryable = NET.test(message) || (error as { name?: string })?.name === 'MaxRetriesPerRequestError';
  return new CoreError(
    retryable ? `${operation}: the redis backend is unavailable` : `${operation}: the redis backend failed`,
    {
      code: retryable ? 'ERR_STORE_UNAVAILABLE' : 'ERR_STORE_FAILURE',
      fault: 'server',
      retryable,
      cause: error,
      details: { operation },
    },
  );
}

// Drop the one-character type tag ('#' counter, '=' value).
const decode = (raw: string | null): string | undefined => (raw === null ? undefined : raw.slice(1));

/**
 * A {@link KeyValueStore} on Redis 6.2+. TTLs are Redis expirations (PX);
 * `consume` is `GETDEL`, `setIfAbsent` is `SET NX`, `increment` a Lua script:
 * each a single atomic server-side operation. `list` scans (`SCAN MATCH`) and
 * sorts, so it costs O(keys under the prefix): keep it for administration.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisStore } from '@provisioning/core/redis';
 * const store = redisStore({ client: new Redis(url), prefix: 'auth:' });
 * ```
 */
export function redisStore(options: RedisStoreOptions): KeyValueStore {
  const client = options?.client;
  if (client === undefined || typeof client.eval !== 'function') {
    throw new CoreError('redisStore needs an ioredis client', { code: 'ERR_INVALID_OPTIONS', fault: 'client' });
  }
  const prefix = options.prefix ?? 'prov:';
  if (prefix !== '') assertValidKey(prefix);
  const maxValueBytes = maxValueBytesOption(options.maxValueBytes);
  let closed = false;
  const k = (key: string): string => `${prefix}${key}`;

  const run = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw storeClosedError('redis');
    try {
      return await fn();
    } catch (error) {
      throw mapRedisError(error, operation);
    }
  };

  return {
    id: 'redis',
    async get(key: string) {
      assertValidKey(key);
      return run('get', async () => decode(await client.get(k(key))));
    },
    async getMany(keys: readonly string[]) {
      assertValidKeys(keys);
      if (keys.length === 0) return run('getMany', async () => []);
      // MGET reads every key in one atomic command.
      return run('getMany', async () => (await client.mget(keys.map(k))).map(decode));
    },
    async set(key: string, value: string, opts?: SetOptions) {
      assertValidKey(key);
      assertValidValue(value, maxValueBytes);
      const ttl = ttlToMs(opts?.ttlSeconds);
      await run('set', () =>
        ttl === undefined ? client.set(k(key), `=${value}`) : client.set(k(key), `=${value}`, 'PX', ttl),
      );
    },
    async delete(key: string) {
      assertValidKey(key);
      return run('delete', async () => (await client.del(k(key))) > 0);
    },
    async consume(key: string) {
      assertValidKey(key);
      return run('consume', async () => decode(await client.getdel(k(key))));
    },
    async setIfAbsent(key: string, value: string, opts?: SetIfAbsentOptions) {
      assertValidKey(key);
      assertValidValue(value, maxValueBytes);
      const ttl = ttlToMs(opts?.ttlSeconds);
      const alsoDelete = alsoDeleteKeys(key, opts);
      return run('setIfAbsent', async () => {
        if (alsoDelete.length > 0) {
          const reply = await client.eval(
            SET_IF_ABSENT_ALSO_DELETE,
            1 + alsoDelete.length,
            k(key),
            ...alsoDelete.map(k),
            `=${value}`,
            ttl === undefined ? '' : String(ttl),
          );
          return Number(reply) === 1;
        }
        const reply =
          ttl === undefined
            ? await client.set(k(key), `=${value}`, 'NX')
            : await client.set(k(key), `=${value}`, 'PX', ttl, 'NX');
        return reply === 'OK';
      });
    },
    async increment(key: string, opts?: IncrementOptions): Promise<CounterResult> {
      assertValidKey(key);
      const by = incrementAmount(opts?.by);
      const ttl = ttlToMs(opts?.ttlSeconds);
      const reply = (await run('increment', () =>
        client.eval(INCREMENT, 1, k(key), String(by), ttl === undefined ? '' : String(ttl)),
      )) as [string, number] | null;
      if (reply === null) throw notACounterError();
      const value = Number(reply[0]);
      if (!Number.isSafeInteger(value)) throw notACounterError();
      const pttl = Number(reply[1]);
      return { value, expiresAt: pttl > 0 ? new Date(Date.now() + pttl) : undefined };
    },
    async guardedClaim(opts: GuardedClaimOptions): Promise<GuardedClaimResult> {
      const g = guardedClaimOptions(opts, maxValueBytes);
      const keys = g.claim === undefined ? [k(g.counterKey)] : [k(g.counterKey), k(g.claim.key)];
      const reply = (await run('guardedClaim', () =>
        client.eval(
          GUARDED_CLAIM,
          keys.length,
          ...keys,
          String(g.maxFailures),
          String(g.windowMs),
          g.claim === undefined ? '' : `=${g.claim.value}`,
          g.claim?.ttlMs === undefined ? '' : String(g.claim.ttlMs),
        ),
      )) as [GuardedClaimResult['outcome'], string, number] | null;
      if (reply === null) throw notACounterError();
      const [outcome, count, pttl] = reply;
      const failures = Number(count);
      return { outcome, failures, expiresAt: Number(pttl) > 0 ? new Date(Date.now() + Number(pttl)) : undefined };
    },
    async list(prefixArg: string, opts?: ListOptions) {
      assertValidPrefix(prefixArg);
      const limit = listLimit(opts);
      return run('list', async () => {
        // Escape glob metacharacters so the prefix matches literally.
        const pattern = `${k(prefixArg).replace(/[*?[\]\\]/g, '\\$&')}*`;
        const found = new Set<string>();
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          for (const key of keys) {
            const bare = key.slice(prefix.length);
            if (opts?.after === undefined || bare > opts.after) found.add(bare);
          }
        } while (cursor !== '0');
        return [...found].sort().slice(0, limit);
      });
    },
    async close() {
      closed = true;
    },
  };
}
