import { type Clock, redact } from '@provisioning/core';
import { isPlatformClientError, PlatformClientError, type PlatformClientErrorCode } from './errors.js';

/**
 * Where the client writes its debug lines. Every field passed here has gone
 * through core's `redact` first: passwords, tokens, plaintexts and keys never
 * reach it.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
}

/** Retry policy for retryable failures of idempotent requests. */
export interface RetryOptions {
  /** Total attempts including the first. Default 3. */
  readonly maxAttempts?: number;
  /** Base of the exponential backoff in ms. Default 100. */
  readonly baseDelayMs?: number;
  /** Cap of one backoff delay in ms. Default 10 000. */
  readonly maxDelayMs?: number;
  /** A `Retry-After` longer than this (ms) is not waited for: the error is thrown. Default 60 000. */
  readonly maxRetryAfterMs?: number;
}

/** Options every call accepts. */
export interface CallOptions {
  /** Cancels the call (`ERR_CLIENT_ABORTED`). */
  readonly signal?: AbortSignal;
  /** Per-attempt timeout in ms; overrides the client's `timeoutMs`. */
  readonly timeoutMs?: number;
  /** `false` disables retries for this call. */
  readonly retry?: false;
}

/** Sleeps `ms` milliseconds; rejects with the signal's reason when aborted. Injectable for tests. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The default {@link Sleep}: a timer that an `AbortSignal` cancels. */
export const defaultSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Supplies credentials to the transport. */
export interface Authenticator {
  /** Headers to add to an authenticated request (may refresh first). */
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /**
   * Called after a 401 with the headers that were sent. Returns whether new
   * credentials are available, in which case the request is sent once more.
   */
  unauthorized(sent: Record<string, string>, signal?: AbortSignal): Promise<boolean>;
}

/** @internal Resolved transport configuration. */
export interface TransportConfig {
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  readonly retry: Required<RetryOptions> | false;
  readonly logger: Logger | undefined;
  readonly random: () => number;
  readonly sleep: Sleep;
  readonly clock: Clock;
  readonly userAgent: string;
  /** Largest response body read, in bytes. */
  readonly maxResponseBytes: number;
}

/** @internal One HTTP request. */
export interface HttpRequest {
  readonly service: string;
  readonly baseUrl: string;
  readonly method: string;
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON body (serialised here). */
  readonly json?: unknown;
  readonly idempotent: boolean;
  readonly auth: Authenticator | undefined;
  /** Non-2xx statuses to resolve with (body read) instead of rejecting. */
  readonly passStatuses?: readonly number[];
}

/** @internal A fully read 2xx response (or one of the request's `passStatuses`). */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

/** The defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
});

/**
 * Full-jitter exponential backoff (AWS architecture blog): a uniformly random
 * delay in `[0, min(cap, base · 2^(attempt-1))]`. Jitter spreads the retries
 * of many clients so they do not hit a recovering server in lockstep.
 *
 * @example
 * ```ts
 * backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 10_000 }, Math.random); // 0–400 ms
 * ```
 */
export function backoffDelay(
  attempt: number,
  retry: Pick<Required<RetryOptions>, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number,
): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from
 * `now`; `undefined` when absent or unparseable.
 *
 * @example
 * ```ts
 * parseRetryAfter('2', Date.now()); // 2000
 * ```
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

const STATUS_CODES: Readonly<Record<number, PlatformClientErrorCode>> = {
  400: 'ERR_CLIENT_BAD_REQUEST',
  401: 'ERR_CLIENT_UNAUTHENTICATED',
  403: 'ERR_CLIENT_FORBIDDEN',
  404: 'ERR_CLIENT_NOT_FOUND',
  408: 'ERR_CLIENT_TIMEOUT',
  409: 'ERR_CLIENT_CONFLICT',
  412: 'ERR_CLIENT_CONFLICT',
  422: 'ERR_CLIENT_BAD_REQUEST',
  429: 'ERR_CLIENT_RATE_LIMITED',
};
// 501 (not implemented) and 505 will not change on a retry; these may.
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** @internal What an error body said, whatever its shape. */
interface ServerError {
  readonly code?: string;
  readonly message?: string;
}

/**
 * Reads any of the platform's error shapes: the API server's
 * `{ error, message, code: "400" }`, the envelope's `{ success: false, error, code? }`,
 * the OCI `{ errors: [{ code, message }] }`, or a bare `{ message }`.
 */
export function parseServerError(body: Uint8Array, contentType: string | null): ServerError {
  if (!contentType || !/json/i.test(contentType)) return {};
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return {};
  }
  if (typeof value !== 'object' || value === null) return {};
  const v = value as Record<string, unknown>;
  const str = (x: unknown): string | undefined => (typeof x === 'string' && x.length > 0 ? x : undefined);
  if (Array.isArray(v.errors) && typeof v.errors[0] === 'object' && v.errors[0] !== null) {
    const first = v.errors[0] as Record<string, unknown>;
    return { code: str(first.code), message: str(first.message) } as ServerError;
  }
  if (v.success === false) {
    // Envelope: `error` is the message, `code` the machine code (designed).
    return { code: str(v.code), message: str(v.error) ?? str(v.message) } as ServerError;
  }
  if (typeof v.error === 'string' && typeof v.message === 'string') {
    // API server: `error` is the machine code, `code` the status as a string.
    return { code: v.error, message: v.message };
  }
  return { message: str(v.message) ?? str(v.error) } as ServerError;
}

/** Maps a non-2xx status and its body to a typed error. */
export function errorForStatus(
  status: number,
  server: ServerError,
  context: { service: string; request: string; retryAfterMs?: number },
): PlatformClientError {
  let code: PlatformClientErrorCode =
    STATUS_CODES[status] ?? (status >= 500 ? 'ERR_CLIENT_SERVER_ERROR' : 'ERR_CLIENT_HTTP');
  // The control center answers `MFA_REQUIRED`, the security chain's step-up refusal `mfa_required` (403).
  const serverCode = server.code?.toUpperCase();
  if (serverCode === 'MFA_REQUIRED' || serverCode === 'MFA_REQUIRED_ERROR') code = 'ERR_CLIENT_MFA_REQUIRED';
  const what = server.message ?? `HTTP ${status}`;
  return new PlatformClientError(`${context.service}: ${context.request} failed: ${what}`, {
    code,
    fault: status >= 500 ? 'server' : 'client',
    retryable: RETRYABLE_STATUSES.has(status),
    status,
    service: context.service,
    request: context.request,
    ...(server.code !== undefined ? { serverCode: server.code } : {}),
    ...(context.retryAfterMs !== undefined ? { retryAfterMs: context.retryAfterMs } : {}),
  });
}

// Request-body fields that are secrets here although core's `redact` leaves
// them alone elsewhere: `code` is a one-time password in `/mfa/verify` and
// `/auth/login/mfa`, `challenge_id` the bearer secret of a half-finished
// login, `backup_codes` one-time codes.
const BODY_SECRET_FIELDS: readonly string[] = ['code', 'challenge_id', 'backup_codes'];

/** Drops values of sensitive query parameters (`?token=…` of the WebSocket URL) before logging. */
function loggableQuery(query: HttpRequest['query']): Record<string, unknown> | undefined {
  if (!query) return undefined;
  return redact(Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined))) as Record<
    string,
    unknown
  >;
}

function buildUrl(request: HttpRequest): URL {
  const base = request.baseUrl.endsWith('/') ? request.baseUrl.slice(0, -1) : request.baseUrl;
  const url = new URL(base + request.path);
  for (const [k, v] of Object.entries(request.query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  return url;
}

/** The default of {@link PlatformClientOptions.maxResponseBytes}: 32 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES: number = 32 * 1024 * 1024;

/**
 * Reads the body fully, checking it against `Content-Length`: a connection
 * that drops mid-body must not look like a complete (shorter) document. A
 * body over `maxBytes` is refused as soon as it is announced or read that
 * far (a broken or hostile server cannot fill the client's memory).
 */
export async function readBody(
  response: Response,
  context: { service: string; request: string },
  maxBytes: number = Number.POSITIVE_INFINITY,
): Promise<Uint8Array> {
  const tooLarge = (): PlatformClientError => {
    void response.body?.cancel().catch(() => undefined);
    return new PlatformClientError(
      `${context.service}: ${context.request}: the response is larger than ${maxBytes} bytes`,
      {
        code: 'ERR_CLIENT_MALFORMED_RESPONSE',
        fault: 'server',
        status: response.status,
        service: context.service,
        request: context.request,
        details: { maxBytes },
      },
    );
  };
  const announced = response.headers.get('content-length');
  if (announced !== null && /^\d+$/.test(announced) && Number(announced) > maxBytes) throw tooLarge();
  let body: Uint8Array;
  try {
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > maxBytes) throw tooLarge();
        chunks.push(chunk);
      }
    }
    body = chunks.length === 1 ? (chunks[0] as Uint8Array) : new Uint8Array(Buffer.concat(chunks));
  } catch (error) {
    if (isPlatformClientError(error)) throw error;
    if (isAbort(error)) throw error;
    throw new PlatformClientError(`${context.service}: ${context.request}: the response body was cut short`, {
      code: 'ERR_CLIENT_TRUNCATED_RESPONSE',
      fault: 'server',
      retryable: true,
      status: response.status,
      service: context.service,
      request: context.request,
      cause: error,
    });
  }
  const length = response.headers.get('content-length');
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  if (length !== null && !encoded && /^\d+$/.test(length) && Number(length) !== body.byteLength) {
    throw new PlatformClientError(
      `${context.service}: ${context.request}: received ${body.byteLength} of ${length} bytes`,
      {
        code: 'ERR_CLIENT_TRUNCATED_RESPONSE',
        fault: 'server',
        retryable: true,
        status: response.status,
        service: context.service,
        request: context.request,
      },
    );
  }
  return body;
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/**
 * @internal Sends requests with auth, per-attempt timeouts, cancellation,
 * retries (idempotent requests only) and redacted debug logging.
 */
export class Transport {
  readonly config: TransportConfig;
  constructor(config: TransportConfig) {
    this.config = config;
  }

  /** Sends `request`; resolves with a fully read 2xx response, rejects with a {@link PlatformClientError}. */
  async send(request: HttpRequest, options: CallOptions = {}): Promise<HttpResponse> {
    const retry = options.retry === false ? false : this.config.retry;
    const maxAttempts = retry === false ? 1 : retry.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(request, options);
      } catch (error) {
        if (!isPlatformClientError(error)) throw error;
        const canRetry = retry !== false && error.retryable && request.idempotent && attempt < maxAttempts;
        if (!canRetry) throw error;
        let delay = backoffDelay(attempt, retry, this.config.random);
        if (error.retryAfterMs !== undefined) {
          // The server said when: waiting less would only earn another 429/503.
          if (error.retryAfterMs > retry.maxRetryAfterMs) throw error;
          delay = Math.max(delay, error.retryAfterMs);
        }
        this.log('retry', {
          service: request.service,
          request: `${request.method} ${request.path}`,
          attempt,
          delayMs: delay,
          code: error.code,
        });
        try {
          await this.config.sleep(delay, options.signal);
        } catch (cause) {
          throw aborted(request, cause);
        }
      }
    }
  }

  private async attempt(request: HttpRequest, options: CallOptions): Promise<HttpResponse> {
    let headers = await this.authHeaders(request, options);
    let response = await this.fetchOnce(request, headers, options);
    if (response.status === 401 && request.auth) {
      // Discard the body, get fresh credentials once (single-flight refresh), resend.
      await response.discard();
      if (await request.auth.unauthorized(headers, options.signal)) {
        headers = await this.authHeaders(request, options);
        response = await this.fetchOnce(request, headers, options);
      }
    }
    return response.ok || request.passStatuses?.includes(response.status) ? response.read() : response.fail();
  }

  private async authHeaders(request: HttpRequest, options: CallOptions): Promise<Record<string, string>> {
    return request.auth ? request.auth.headers(options.signal) : {};
  }

  private async fetchOnce(
    request: HttpRequest,
    authHeaders: Record<string, string>,
    options: CallOptions,
  ): Promise<{
    status: number;
    ok: boolean;
    discard(): Promise<void>;
    read(): Promise<HttpResponse>;
    fail(): Promise<never>;
  }> {
    const url = buildUrl(request);
    const label = `${request.method} ${request.path}`;
    const context = { service: request.service, request: label };
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.config.userAgent,
      ...request.headers,
      ...authHeaders,
    };
    let body: string | undefined;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    }
    this.log('request', {
      service: request.service,
      method: request.method,
      path: request.path,
      query: loggableQuery(request.query),
      headers,
      body: request.json === undefined ? undefined : redact(request.json, { fields: BODY_SECRET_FIELDS }),
    });
    if (options.signal?.aborted) throw aborted(request, options.signal.reason);
    const controller = new AbortController();
    let timedOut = false;
    const timeoutMs = options.timeoutMs ?? this.config.timeoutMs;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    // The timer must not keep a CLI process alive on its own.
    timer.unref?.();
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const mapAbort = (error: unknown): never => {
      if (timedOut) {
        throw new PlatformClientError(`${request.service}: ${label} timed out after ${timeoutMs} ms`, {
          code: 'ERR_CLIENT_TIMEOUT',
          fault: 'server',
          retryable: true,
          service: request.service,
          request: label,
          details: { timeoutMs },
        });
      }
      if (options.signal?.aborted) throw aborted(request, options.signal.reason);
      throw error;
    };
    const started = this.config.clock.now();
    let response: Response;
    try {
      response = await this.config.fetch(url, {
        method: request.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: controller.signal,
        redirect: 'follow',
      });
    } catch (error) {
      cleanup();
      if (timedOut || options.signal?.aborted) return mapAbort(error);
      throw new PlatformClientError(`${request.service}: ${label}: cannot reach ${url.origin}`, {
        code: 'ERR_CLIENT_NETWORK',
        fault: 'server',
        retryable: true,
        service: request.service,
        request: label,
        cause: error instanceof Error ? new Error(error.message) : undefined,
      });
    }
    this.log('response', {
      service: request.service,
      request: label,
      status: response.status,
      durationMs: this.config.clock.now() - started,
    });
    const readAll = async (): Promise<Uint8Array> => {
      try {
        return await readBody(response, context, this.config.maxResponseBytes);
      } catch (error) {
        if (timedOut || options.signal?.aborted) return mapAbort(error);
        throw error;
      } finally {
        cleanup();
      }
    };
    return {
      status: response.status,
      ok: response.ok,
      discard: async () => {
        cleanup();
        await response.body?.cancel().catch(() => undefined);
      },
      read: async () => ({ status: response.status, headers: response.headers, body: await readAll() }),
      fail: async () => {
        const errorBody = await readAll().catch(() => new Uint8Array());
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.config.clock.now());
        throw errorForStatus(response.status, parseServerError(errorBody, response.headers.get('content-type')), {
          ...context,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
      },
    };
  }

  /** Writes a debug line with every field redacted. */
  log(message: string, fields: Record<string, unknown>): void {
    if (!this.config.logger) return;
    this.config.logger.debug(message, redact(fields) as Record<string, unknown>);
  }
}

function aborted(request: HttpRequest, reason: unknown): PlatformClientError {
  return new PlatformClientError(`${request.service}: ${request.method} ${request.path} was aborted`, {
    code: 'ERR_CLIENT_ABORTED',
    fault: 'client',
    service: request.service,
    request: `${request.method} ${request.path}`,
    cause: reason instanceof Error ? reason : undefined,
  });
}

/** Whether a `Content-Type` is JSON (`application/json` or `+json`). */
export function isJsonContentType(value: string | null): boolean {
  if (value === null) return false;
  const type = value.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json');
}
