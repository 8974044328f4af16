/** Who caused a failure: the caller (bad input, denied) or the server side (a backend, a bug). */
export type ErrorFault = 'client' | 'server';

/** Options every {@link SdkError} takes. */
export interface SdkErrorOptions<C extends string> {
  /** Stable, machine-readable code, e.g. `ERR_STORE_INVALID_KEY`. */
  readonly code: C;
  /** Whether the caller or the server side is at fault. */
  readonly fault: ErrorFault;
  /** Whether the same call may succeed if tried again. Defaults to `false`. */
  readonly retryable?: boolean;
  /** The underlying error. Never put secrets here: it may be logged. */
  readonly cause?: unknown;
  /** Structured, secret-free fields that explain the failure (a claim name, a limit …). */
  readonly details?: Readonly<Record<string, unknown>>;
}

const BRAND: symbol = Symbol.for('@provisioning/core/SdkError');

/**
 * The base class of every error the SDK throws.
 *
 * Each package subclasses it once and exports the union of its codes, so
 * `switch (err.code)` narrows. Messages, `details` and `cause` never carry a
 * token, key, password, one-time code or plaintext.
 *
 * @example
 * ```ts
 * import { isSdkError } from '@provisioning/core';
 * try { await store.get(key); } catch (err) {
 *   if (isSdkError(err) && err.retryable) { // back off and try again
 *   }
 * }
 * ```
 */
export abstract class SdkError<C extends string = string> extends Error {
  abstract override readonly name: string;
  readonly code: C;
  readonly fault: ErrorFault;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, options: SdkErrorOptions<C>) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.fault = options.fault;
    this.retryable = options.retryable ?? false;
    this.details = Object.freeze({ ...options.details });
    // A global-symbol brand, not `instanceof`: two copies of this package in
    // one process still recognise each other's errors.
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** A log-safe view: code, fault, retryable, message and details (no cause, no stack). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      fault: this.fault,
      retryable: this.retryable,
      message: this.message,
      ...(Object.keys(this.details).length > 0 ? { details: this.details } : {}),
    };
  }
}

/**
 * Whether `value` is an error thrown by any `@provisioning/*` package. Works
 * across duplicated copies of the package (it checks a global brand, not
 * `instanceof`).
 */
export function isSdkError(value: unknown): value is SdkError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** The codes of {@link CoreError}. */
export type CoreErrorCode =
  /** Options passed to a factory are invalid (thrown at construction). */
  | 'ERR_INVALID_OPTIONS'
  /** A key is empty, too long, or has characters outside printable ASCII. */
  | 'ERR_STORE_INVALID_KEY'
  /** A value is larger than the store's limit. */
  | 'ERR_STORE_VALUE_TOO_LARGE'
  /** A value is not a string, holds U+0000 or a lone surrogate (not storable as UTF-8 text everywhere). */
  | 'ERR_STORE_INVALID_VALUE'
  /** A TTL is not a positive, finite number of seconds. */
  | 'ERR_STORE_INVALID_TTL'
  /** `increment` on a key that holds a plain value, or a bad increment amount. */
  | 'ERR_STORE_NOT_A_COUNTER'
  /** The backend cannot be reached right now (connection lost, busy); retryable. */
  | 'ERR_STORE_UNAVAILABLE'
  /** The backend failed in a way a retry will not fix (disk full, corrupt data …). */
  | 'ERR_STORE_FAILURE'
  /** The store was closed. */
  | 'ERR_STORE_CLOSED'
  /** A schema migration failed; nothing was applied partially. */
  | 'ERR_STORE_MIGRATION';

/**
 * The error class of `@provisioning/core`.
 *
 * @example
 * ```ts
 * if (err instanceof CoreError && err.code === 'ERR_STORE_UNAVAILABLE') retryLater();
 * ```
 */
export class CoreError extends SdkError<CoreErrorCode> {
  override readonly name = 'CoreError' as const;
}
