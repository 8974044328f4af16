import type { KmsErrorCode } from './errors.js';
import { clientError, KmsError, serverError } from './errors.js';

/** The `fetch` the HTTP backends use (inject one for proxies, mTLS agents or tests). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** @internal Options of {@link httpJson}. */
export interface HttpJsonOptions {
  readonly fetch: FetchLike;
  readonly backend: string;
  readonly op: string;
  readonly timeoutMs: number;
  readonly method?: 'GET' | 'POST' | 'PUT';
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Maps a non-2xx answer (status and parsed body) to an error code; `undefined` for the default mapping. */
  readonly classify?: (status: number, body: unknown) => KmsErrorCode | undefined;
}

/**
 * @internal One JSON request with a timeout. Network failures, timeouts, 429
 * and 5xx become retryable `ERR_KMS_BACKEND_UNAVAILABLE`; 401/403
 * `ERR_KMS_ACCESS_DENIED`; 404 `ERR_KMS_KEY_NOT_FOUND`. Response bodies are
 * never copied into errors (they may echo request data).
 */
export async function httpJson(url: string, options: HttpJsonOptions): Promise<unknown> {
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers: {
        accept: 'application/json',
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    const timeout = (err as Error).name === 'TimeoutError';
    throw serverError('ERR_KMS_BACKEND_UNAVAILABLE', `${options.backend} did not answer`, {
      retryable: true,
      details: { backend: options.backend, op: options.op, reason: timeout ? 'timeout' : 'network' },
    });
  }
  const text = await response.text().catch(() => '');
  let body: unknown;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (response.ok) {
    if (text.length > 0 && body === undefined) {
      throw serverError('ERR_KMS_BACKEND_FAILURE', `${options.backend} answered with invalid JSON`, {
        details: { backend: options.backend, op: options.op, status: response.status },
      });
    }
    return body;
  }
  const details = { backend: options.backend, op: options.op, status: response.status };
  const code = options.classify?.(response.status, body) ?? defaultCode(response.status);
  if (code === 'ERR_KMS_BACKEND_UNAVAILABLE') {
    throw serverError(code, `${options.backend} is unavailable`, { retryable: true, details });
  }
  const fault = code === 'ERR_KMS_BACKEND_FAILURE' ? 'server' : 'client';
  throw new KmsError(`${options.backend} refused the ${options.op} request`, { code, fault, details });
}

function defaultCode(status: number): KmsErrorCode {
  if (status === 401 || status === 403) return 'ERR_KMS_ACCESS_DENIED';
  if (status === 404) return 'ERR_KMS_KEY_NOT_FOUND';
  if (status === 429 || status >= 500) return 'ERR_KMS_BACKEND_UNAVAILABLE';
  return 'ERR_KMS_BACKEND_FAILURE';
}

/** @internal Reads a nested field or throws `ERR_KMS_BACKEND_FAILURE` (unexpected answer shape). */
export function field<T>(body: unknown, path: readonly (string | number)[], type: string, backend: string): T {
  let cur: unknown = body;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) {
      cur = undefined;
      break;
    }
    cur = (cur as Record<string | number, unknown>)[p];
  }
  if (typeof cur !== type && !(type === 'array' && Array.isArray(cur))) {
    throw serverError('ERR_KMS_BACKEND_FAILURE', `${backend} answered in an unexpected shape`, {
      details: { backend, field: path.join('.') },
    });
  }
  return cur as T;
}

/** @internal Validates an http(s) base URL and strips trailing slashes. */
export function baseUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw clientError('ERR_KMS_INVALID_OPTIONS', `${name} must be an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw clientError('ERR_KMS_INVALID_OPTIONS', `${name} must be an http(s) URL`);
  }
  return value.replace(/\/+$/, '');
}

/** @internal Error strings a server put in its JSON body (`errors: [...]`), for classification only. */
export function errorStrings(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const errs = (body as { errors?: unknown }).errors;
  return Array.isArray(errs) ? errs.filter((e) => typeof e === 'string').join('\n') : '';
}
