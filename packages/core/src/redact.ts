/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/**
 * Names of fields whose values are never logged, compared case-insensitively
 * with `-` and `_` ignored (so `private_key`, `privateKey` and `Private-Key`
 * all match). Use it for pino's `redact` option too.
 *
 * `code` and `key` are deliberately absent: they name error codes and store
 * keys far more often than secrets. Pass them in {@link RedactOptions.fields}
 * where a body's `code` is a one-time password.
 */
export const SENSITIVE_FIELD_NAMES: readonly string[] = Object.freeze([
  'password',
  'newpassword',
  'currentpassword',
  'passphrase',
  'secret',
  'clientsecret',
  'secretaccesskey',
  'sessiontoken',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'apikey',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'privatekey',
  'datakey',
  'plaintext',
  'otp',
  'mfacode',
  'totp',
  'backupcode',
  'recoverycode',
  'identity',
  'credentials',
  'bootstrapsecret',
]);

const SENSITIVE = new Set(SENSITIVE_FIELD_NAMES);
// Names that end like a secret are secrets too: `x-api-key`, `db_password`, `github_token`.
const SENSITIVE_SUFFIXES = [
  'password',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'authorization',
  'cookie',
  'credentials',
];

/** Whether a field with this name holds a secret (see {@link SENSITIVE_FIELD_NAMES}; names ending in one of them count too). */
export function isSensitiveFieldName(name: string): boolean {
  const normalized = name.replace(/[-_]/g, '').toLowerCase();
  return SENSITIVE.has(normalized) || SENSITIVE_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

// Patterns of secrets that show up inside free text: JWTs, bearer/basic
// credentials, PEM private keys, age secret keys, AWS secret-looking keys and
// URL passwords. Each match is replaced whole.
const SECRET_PATTERNS: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g,
  /\b(Bearer|Basic|Splunk)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bAGE-SECRET-KEY-1[0-9A-Z]+/g,
  /(?<=:\/\/[^/\s:@]+:)[^@\s/]+(?=@)/g,
];

/**
 * Replaces secrets inside a string (JWTs, `Bearer …`, PEM private keys, age
 * identities, passwords in URLs) with {@link REDACTED}.
 *
 * @example
 * ```ts
 * redactString('Authorization: Bearer abc.def.ghi'); // 'Authorization: [REDACTED]'
 * ```
 */
export function redactString(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, REDACTED);
  return out;
}

/** Options of {@link redact}. */
export interface RedactOptions {
  /** More field names to treat as sensitive (matched like {@link SENSITIVE_FIELD_NAMES}). */
  readonly fields?: readonly string[];
  /** How deep to descend before replacing the rest with `[Truncated]`. Default 8. */
  readonly maxDepth?: number;
}

/**
 * Returns a copy of `value` safe to log: values of sensitive fields become
 * {@link REDACTED}, strings are scrubbed with {@link redactString}, binary data
 * is replaced by its length, and cycles are cut. The input is not modified.
 *
 * @example
 * ```ts
 * logger.debug(redact({ username: 'ada', password: 'hunter2' }));
 * // { username: 'ada', password: '[REDACTED]' }
 * ```
 */
export function redact(value: unknown, options: RedactOptions = {}): unknown {
  const extra = new Set((options.fields ?? []).map((f) => f.replace(/[-_]/g, '').toLowerCase()));
  const maxDepth = options.maxDepth ?? 8;
  const seen = new WeakSet<object>();
  const sensitive = (name: string): boolean =>
    isSensitiveFieldName(name) || extra.has(name.replace(/[-_]/g, '').toLowerCase());

  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactString(v);
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Uint8Array || v instanceof ArrayBuffer) return `[${v.byteLength} bytes]`;
    if (seen.has(v)) return '[Circular]';
    if (depth >= maxDepth) return '[Truncated]';
    seen.add(v);
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Error) {
      return { name: v.name, message: redactString(v.message), ...(walk({ ...v }, depth + 1) as object) };
    }
    if (v instanceof Map) return walk(Object.fromEntries(v), depth);
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    if (typeof Headers !== 'undefined' && v instanceof Headers) {
      return walk(Object.fromEntries(v.entries()), depth);
    }
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      out[k] = sensitive(k) && item !== undefined && item !== null ? REDACTED : walk(item, depth + 1);
    }
    return out;
  };
  return walk(value, 0);
}
