import { createHash, type Hash } from 'node:crypto';
import { invalidOptions, PlatformClientError } from '../errors.js';

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
// Distribution spec name grammar: path components of lowercase alphanumerics and separators.
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Whether `value` is a `sha256:`/`sha512:` digest in canonical lowercase hex. */
export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/**
 * Throws `ERR_CLIENT_INVALID_OPTIONS` unless `value` is a valid digest. Names,
 * tags and digests go into URL paths: validating them first keeps `../` and
 * query tricks out of requests.
 */
export function assertDigest(value: string): void {
  if (typeof value !== 'string' || !DIGEST.test(value)) throw invalidOptions('not a valid sha256/sha512 digest');
}

/** Throws `ERR_CLIENT_INVALID_OPTIONS` unless `name` is a valid repository name. */
export function assertRepository(name: string): void {
  if (typeof name !== 'string' || name.length > 255 || !REPOSITORY.test(name)) {
    throw invalidOptions('not a valid repository name', { repository: String(name).slice(0, 64) });
  }
}

/** Throws `ERR_CLIENT_INVALID_OPTIONS` unless `reference` is a tag or a digest. */
export function assertReference(reference: string): void {
  if (typeof reference !== 'string' || !(TAG.test(reference) || DIGEST.test(reference))) {
    throw invalidOptions('not a valid tag or digest');
  }
}

/** Whether `reference` is a tag (not a digest). */
export function isTag(reference: string): boolean {
  return TAG.test(reference) && !DIGEST.test(reference);
}

/**
 * The `sha256:` digest of `bytes`.
 *
 * @example
 * ```ts
 * digestOf(new TextEncoder().encode('{}')); // 'sha256:44136fa3…'
 * ```
 */
export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** An incremental digest for streamed content. */
export class DigestVerifier {
  private readonly hash: Hash;
  private readonly algorithm: string;
  /** Bytes seen so far. */
  size = 0;
  constructor(readonly expected: string) {
    assertDigest(expected);
    this.algorithm = expected.slice(0, expected.indexOf(':'));
    this.hash = createHash(this.algorithm);
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
  }
  /** Throws `ERR_CLIENT_DIGEST_MISMATCH` (and the data must be discarded) unless the content matches. */
  verify(context: { what: string; expectedSize?: number }): void {
    if (context.expectedSize !== undefined && this.size !== context.expectedSize) {
      throw new PlatformClientError(`${context.what}: got ${this.size} bytes, expected ${context.expectedSize}`, {
        code: this.size < context.expectedSize ? 'ERR_CLIENT_TRUNCATED_RESPONSE' : 'ERR_CLIENT_DIGEST_MISMATCH',
        fault: 'server',
        retryable: this.size < context.expectedSize,
        service: 'oci',
        details: { expected: this.expected, size: this.size, expectedSize: context.expectedSize },
      });
    }
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.expected) {
      throw new PlatformClientError(`${context.what}: content does not match its digest`, {
        code: 'ERR_CLIENT_DIGEST_MISMATCH',
        fault: 'server',
        service: 'oci',
        details: { expected: this.expected, actual },
      });
    }
  }
}
