import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { KeyValueStore, RandomSource } from '@provisioning/core';
import { randomToken, systemRandom } from '@provisioning/core';
import { AuditError } from './errors.js';
import type { AuditEvent, JsonValue } from './events.js';

/** What a field policy does to a value. */
export type PiiAction = 'pseudonymize' | 'mask' | 'generalize' | 'drop';

/**
 * A field an action applies to: `actor.id`, `actor.ip`, `actor.userAgent`,
 * `actor.roles`, `resource.id`, `reason`, `sessionId`, `requestId`, or
 * `metadata.<key>` (nested keys with dots, e.g. `metadata.user.email`).
 */
export type PiiField = string;

/**
 * Turns an identifier into a pseudonym (GDPR Art. 4(5) pseudonymisation: the
 * data can no longer be attributed to a person without additional information,
 * here a secret key, kept separately).
 */
export interface Pseudonymizer {
  pseudonymize(value: string): string | Promise<string>;
  /**
   * The pseudonym a known value has in the log, so an investigator can find
   * its events (as Vault's `sys/audit-hash`); `undefined` once the subject
   * was erased.
   */
  lookup(value: string): string | undefined | Promise<string | undefined>;
}

const PREFIX = 'psn:';

/** A {@link Pseudonymizer} with one key: synchronous, never erased. */
export interface HmacPseudonymizer extends Pseudonymizer {
  pseudonymize(value: string): string;
  lookup(value: string): string;
}

function keyBytes(secret: Uint8Array | string, what: string): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'base64url') : Buffer.from(secret);
  if (bytes.length < 32) {
    throw new AuditError(`${what} needs a secret of at least 32 bytes`, {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  return bytes;
}

const hmac = (key: Uint8Array, value: string): string =>
  createHmac('sha256', key).update(value, 'utf8').digest('base64url');

/**
 * Keyed-hash pseudonyms with one secret: `psn:` + base64url(HMAC-SHA-256(secret, value)).
 * The same value always gets the same pseudonym, so events stay linkable and
 * searchable (`lookup`); without the secret a pseudonym cannot be reversed or
 * confirmed by guessing. Erasure needs {@link subjectKeyPseudonymizer}.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS` if the secret is shorter than 32 bytes.
 * @example
 * ```ts
 * const pseudonyms = hmacPseudonymizer({ secret: process.env.AUDIT_PSEUDONYM_KEY });
 * const policy = createPiiPolicy({ fields: { 'actor.id': 'pseudonymize' }, pseudonymizer: pseudonyms });
 * ```
 */
export function hmacPseudonymizer(options: { readonly secret: Uint8Array | string }): HmacPseudonymizer {
  const key = keyBytes(options.secret, 'hmacPseudonymizer');
  const pseudonymize = (value: string): string => `${PREFIX}${hmac(key, value)}`;
  return { pseudonymize, lookup: pseudonymize };
}

/** Options of {@link subjectKeyPseudonymizer}. */
export interface SubjectKeyPseudonymizerOptions {
  /** Where the per-subject keys live (any KeyValueStore: SQLite, PostgreSQL, Redis). */
  readonly store: KeyValueStore;
  /** Names the key entries: HMAC(secret, value), so the store never holds the raw identifier. At least 32 bytes. */
  readonly secret: Uint8Array | string;
  /** Key name prefix in the store. Default `audit:subject:`. */
  readonly prefix?: string;
  readonly random?: RandomSource;
  /** Keys cached in memory. Default 10,000. */
  readonly cacheSize?: number;
}

/** A pseudonymizer whose subjects can be erased. */
export interface ErasablePseudonymizer extends Pseudonymizer {
  pseudonymize(value: string): Promise<string>;
  lookup(value: string): Promise<string | undefined>;
  /**
   * Destroys the subject's key: its pseudonyms in the log can no longer be
   * linked to it by anyone, and the hash chain is untouched (the chain covers
   * the pseudonyms, which stay as they are). Resolves whether a key existed.
   */
  erase(value: string): Promise<boolean>;
}

/**
 * Pseudonyms under a random key per data subject (crypto-shredding): the
 * pseudonym is `psn:` + HMAC-SHA-256(subjectKey, value). Erasing a subject
 * deletes its key, which makes its pseudonyms unlinkable without rewriting a
 * single stored event — so GDPR erasure never breaks the hash chain.
 *
 * Caches keys in memory: in a fleet, call `erase` on every instance or
 * restart them, or use a cache size of 0.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS` if the secret is shorter than 32 bytes.
 * @example
 * ```ts
 * const subjects = subjectKeyPseudonymizer({ store: await sqliteStore({ filename }), secret });
 * const log = await createAuditLog({ sinks, transform: createPiiPolicy({ fields: { 'actor.id': 'pseudonymize' }, pseudonymizer: subjects }).apply });
 * await subjects.erase('alice'); // right to erasure
 * ```
 */
export function subjectKeyPseudonymizer(options: SubjectKeyPseudonymizerOptions): ErasablePseudonymizer {
  const secret = keyBytes(options.secret, 'subjectKeyPseudonymizer');
  const prefix = options.prefix ?? 'audit:subject:';
  const random = options.random ?? systemRandom;
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, Buffer>();
  const entry = (value: string): string =>
    `${prefix}${createHmac('sha256', secret).update(value, 'utf8').digest('hex')}`;
  const remember = (name: string, key: Buffer): void => {
    if (cacheSize <= 0) return;
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
    cache.set(name, key);
  };
  async function keyFor(value: string, create: boolean): Promise<Buffer | undefined> {
    const name = entry(value);
    const cached = cache.get(name);
    if (cached !== undefined) return cached;
    let stored = await options.store.get(name);
    if (stored === undefined && create) {
      // setIfAbsent: two instances meeting a new subject at once agree on one key.
      await options.store.setIfAbsent(name, randomToken(32, random));
      stored = await options.store.get(name);
    }
    if (stored === undefined) return undefined;
    const key = Buffer.from(stored, 'base64url');
    remember(name, key);
    return key;
  }
  return {
    async pseudonymize(value) {
      return `${PREFIX}${hmac((await keyFor(value, true)) as Buffer, value)}`;
    },
    async lookup(value) {
      const key = await keyFor(value, false);
      return key === undefined ? undefined : `${PREFIX}${hmac(key, value)}`;
    },
    async erase(value) {
      const name = entry(value);
      cache.delete(name);
      return options.store.delete(name);
    },
  };
}

/**
 * Masks an email (`a***@example.com`), an IP (IPv4 to its /24, IPv6 to its /48) or any other string (`***`).
 *
 * @example
 * ```ts
 * maskValue('192.0.2.77'); // '192.0.2.0'
 * ```
 */
export function maskValue(value: string): string {
  const ip = isIP(value);
  if (ip === 4) return truncateIp(value, 24);
  if (ip === 6) return truncateIp(value, 48);
  const at = value.lastIndexOf('@');
  if (at > 0) return `${value[0]}***${value.slice(at)}`;
  return '***';
}

/**
 * Truncates an IP address to a prefix length in bits, for masking and generalising.
 *
 * @example
 * ```ts
 * truncateIp('2001:db8:1:2::1', 48); // '2001:db8:1::'
 * ```
 */
export function truncateIp(ip: string, bits: number): string {
  if (isIP(ip) === 4) {
    const n = ip.split('.').map(Number);
    const out = n.map((octet, i) => {
      const keep = Math.max(0, Math.min(8, bits - i * 8));
      return octet & (0xff << (8 - keep)) & 0xff;
    });
    return out.join('.');
  }
  const groups = expandIpv6(ip);
  const out = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  // Compress the trailing zero groups.
  let last = out.length;
  while (last > 0 && out[last - 1] === 0) last--;
  const head = out.slice(0, last).map((g) => g.toString(16));
  return last === 8 ? head.join(':') : `${head.join(':')}::`;
}

function expandIpv6(ip: string): number[] {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const n = v4[1].split('.').map(Number) as [number, number, number, number];
    text = text.replace(v4[1], `${((n[0] << 8) | n[1]).toString(16)}:${((n[2] << 8) | n[3]).toString(16)}`);
  }
  const [left = '', right] = text.split('::');
  const l = left === '' ? [] : left.split(':');
  const r = right === undefined || right === '' ? [] : right.split(':');
  const middle = right === undefined ? [] : new Array(8 - l.length - r.length).fill('0');
  return [...l, ...middle, ...r].map((g) => Number.parseInt(g, 16));
}

/**
 * Generalises a value: IPs to /16 and /32, emails to their domain, user agents to a browser family, ISO times to the day, numbers to their power of ten.
 *
 * @example
 * ```ts
 * generalizeValue('alice@example.com'); // '@example.com'
 * ```
 */
export function generalizeValue(value: JsonValue): JsonValue {
  if (typeof value === 'number') {
    if (value === 0 || !Number.isFinite(value)) return value;
    return Math.sign(value) * 10 ** Math.floor(Math.log10(Math.abs(value)));
  }
  if (typeof value !== 'string') return null;
  const ip = isIP(value);
  if (ip === 4) return truncateIp(value, 16);
  if (ip === 6) return truncateIp(value, 32);
  const at = value.lastIndexOf('@');
  if (at > 0) return value.slice(at);
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) return value.slice(0, 10);
  for (const family of ['Edg', 'Firefox', 'Chrome', 'Safari', 'curl', 'Go-http-client', 'python-requests', 'node']) {
    if (value.includes(family)) return family === 'Edg' ? 'Edge' : family;
  }
  return 'other';
}

/** Options of {@link createPiiPolicy}. */
export interface PiiPolicyOptions {
  readonly fields: Readonly<Record<PiiField, PiiAction>>;
  /** Required when any field is pseudonymized. */
  readonly pseudonymizer?: Pseudonymizer;
}

/** A compiled field policy. */
export interface PiiPolicy {
  /** Applies the policy to an event (a new event; the input is not changed). Pass as `transform` to the log or to an export. */
  apply(event: AuditEvent): Promise<AuditEvent>;
}

const TOP: ReadonlySet<string> = new Set([
  'actor.id',
  'actor.ip',
  'actor.userAgent',
  'actor.roles',
  'resource.id',
  'reason',
  'sessionId',
  'requestId',
]);

/**
 * Compiles field policies — pseudonymize (keyed hash), mask, generalize, drop —
 * applied at write (pass `apply` as the log's `transform`: the chain then
 * covers only the protected values) or at export (pass it to `export()`).
 * `actor.id` is required by the schema: dropping it writes `[dropped]`.
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS` for an unknown field or action, or pseudonymize without a pseudonymizer.
 * @example
 * ```ts
 * const policy = createPiiPolicy({
 *   fields: { 'actor.id': 'pseudonymize', 'actor.ip': 'mask', 'actor.userAgent': 'generalize', 'metadata.email': 'mask' },
 *   pseudonymizer: hmacPseudonymizer({ secret }),
 * });
 * const log = await createAuditLog({ sinks, transform: policy.apply });
 * ```
 */
export function createPiiPolicy(options: PiiPolicyOptions): PiiPolicy {
  const rules = Object.entries(options?.fields ?? {});
  for (const [field, action] of rules) {
    if (!TOP.has(field) && !/^metadata\.[^.]+(\.[^.]+)*$/.test(field)) {
      throw new AuditError('unknown PII field', {
        code: 'ERR_AUDIT_INVALID_OPTIONS',
        fault: 'client',
        details: { field },
      });
    }
    if (!['pseudonymize', 'mask', 'generalize', 'drop'].includes(action)) {
      throw new AuditError('unknown PII action', {
        code: 'ERR_AUDIT_INVALID_OPTIONS',
        fault: 'client',
        details: { field },
      });
    }
    if (action === 'pseudonymize' && options.pseudonymizer === undefined) {
      throw new AuditError('pseudonymize needs a pseudonymizer', {
        code: 'ERR_AUDIT_INVALID_OPTIONS',
        fault: 'client',
        details: { field },
      });
    }
  }
  const pseudonymizer = options.pseudonymizer;

  async function transformValue(value: JsonValue, action: PiiAction): Promise<JsonValue | undefined> {
    switch (action) {
      case 'drop':
        return undefined;
      case 'mask':
        if (Array.isArray(value)) return value.map(() => '***');
        return typeof value === 'string' ? maskValue(value) : '***';
      case 'generalize':
        if (Array.isArray(value)) return value.map((v) => generalizeValue(v as JsonValue));
        return generalizeValue(value);
      case 'pseudonymize': {
        const p = pseudonymizer as Pseudonymizer;
        if (Array.isArray(value)) return Promise.all(value.map((v) => p.pseudonymize(String(v))));
        return p.pseudonymize(typeof value === 'string' ? value : JSON.stringify(value));
      }
    }
  }

  return {
    async apply(event: AuditEvent): Promise<AuditEvent> {
      // A deep copy: the caller's event object (and the queue's) must not change.
      const out = structuredClone(event) as unknown as Record<string, unknown>;
      for (const [field, action] of rules) {
        const path = field.split('.');
        let parent: Record<string, unknown> | undefined = out;
        for (const key of path.slice(0, -1)) {
          const next: unknown = parent?.[key];
          parent =
            typeof next === 'object' && next !== null && !Array.isArray(next)
              ? (next as Record<string, unknown>)
              : undefined;
        }
        const leaf = path.at(-1) as string;
        if (parent === undefined || parent[leaf] === undefined) continue;
        const replaced = await transformValue(parent[leaf] as JsonValue, action);
        if (replaced === undefined) {
          if (field === 'actor.id') parent[leaf] = '[dropped]';
          else delete parent[leaf];
        } else parent[leaf] = replaced;
      }
      return out as unknown as AuditEvent;
    },
  };
}
