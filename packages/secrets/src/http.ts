import { SecretsError } from './errors.js';

/** The `fetch` signature the HTTP providers use (inject one for tests or proxies). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * @internal Sends a JSON request and returns the parsed body (or `undefined`
 * for an empty one). A non-2xx answer rejects with
 * `ERR_SECRETS_PROVIDER_FAILED` carrying only the status: response bodies may
 * quote request data and are never copied into errors.
 */
export async function requestJson(
  fetchImpl: FetchLike,
  provider: string,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: unknown; signal?: AbortSignal },
  accept: (status: number) => boolean = (status) => status >= 200 && status < 300,
): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: init.method,
      headers: {
        accept: 'application/json',
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
  } catch (error) {
    throw new SecretsError(`${provider} is unreachable`, {
      code: 'ERR_SECRETS_PROVIDER_FAILED',
      fault: 'server',
      retryable: true,
      details: { provider, errorName: error instanceof Error ? error.name : typeof error },
    });
  }
  const text = await response.text();
  if (!accept(response.status)) {
    throw new SecretsError(`${provider} answered HTTP ${response.status}`, {
      code: 'ERR_SECRETS_PROVIDER_FAILED',
      fault: 'server',
      retryable: response.status >= 500 || response.status === 429,
      details: { provider, status: response.status },
    });
  }
  if (text === '') return { status: response.status, body: undefined };
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new SecretsError(`${provider} answered with malformed JSON`, {
      code: 'ERR_SECRETS_PROVIDER_FAILED',
      fault: 'server',
      details: { provider, status: response.status },
    });
  }
}
