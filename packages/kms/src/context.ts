import { createHash } from 'node:crypto';
import { clientError } from './errors.js';

/**
 * An encryption context: non-secret key/value pairs bound to a ciphertext as
 * additional authenticated data (AWS KMS calls it `EncryptionContext`). The
 * same pairs must be given to decrypt. Order does not matter.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * Canonical bytes of a context: entries sorted by key (UTF-16 code unit order),
 * each key and value length-prefixed (u32 big-endian), so no two contexts encode
 * alike and `{a:'b:c'}` differs from `{'a:b':'c'}`.
 *
 * Throws `ERR_KMS_INVALID_OPTIONS` when a value is not a string.
 *
 * @example
 * ```ts
 * canonicalContext({ tenant: 't1', purpose: 'db' }).length; // 40
 * ```
 */
export function canonicalContext(context: object | undefined): Buffer {
  const entries = Object.entries(context ?? {});
  for (const [, value] of entries) {
    if (typeof value !== 'string') {
      throw clientError('ERR_KMS_INVALID_OPTIONS', 'encryption context values must be strings');
    }
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: Buffer[] = [u32(entries.length)];
  for (const [key, value] of entries) {
    const k = Buffer.from(key, 'utf8');
    const v = Buffer.from(value as string, 'utf8');
    parts.push(u32(k.length), k, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/**
 * SHA-256 of {@link canonicalContext}: the context digest written into
 * envelope ciphertexts so a wrong context is reported as such.
 *
 * @example
 * ```ts
 * contextDigest({}).length; // 32
 * ```
 */
export function contextDigest(context: object | undefined): Buffer {
  return createHash('sha256').update(canonicalContext(context)).digest();
}

/** @internal Copies a context into a plain string record (validating it). */
export function toContextRecord(context: object | undefined): Record<string, string> {
  canonicalContext(context);
  return { ...(context as Record<string, string> | undefined) };
}

/** @internal Whether a context has at least one entry. */
export function hasContext(context: object | undefined): boolean {
  return context !== undefined && Object.keys(context).length > 0;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}
