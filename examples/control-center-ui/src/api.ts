import type { LoginResponse, User } from '@provisioning/platform-client/api';

/**
 * An API failure: the HTTP status and the server's machine code. Codes come
 * from the contract's failure envelope (`{ success: false, error, code }`),
 * which the security chain's refusals use too (`MFA_REQUIRED`,
 * `INVALID_TOKEN` …); a body in the chain's default shape
 * (`{ error: "mfa_required", code: "403" }`) maps to the same code.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }

  /** The route needs a recent MFA verification (step-up) before it runs. */
  get needsStepUp(): boolean {
    return this.status === 403 && this.code === 'MFA_REQUIRED';
  }
}

/** Why the session ended, for the login screen. */
export type SessionEnd = 'signed-out' | 'expired';

/** The signed-in user and the API calls made for them. */
export interface ApiClient {
  readonly user: User | undefined;
  /** An authenticated call (Bearer access token); refreshes once on an expired token. */
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** An authenticated call whose answer is a file (exports). */
  download(path: string): Promise<Blob>;
  /** An unauthenticated call (login, passkey sign-in). */
  open<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Starts a session from a login answer. */
  signIn(login: LoginResponse): void;
  /** Takes the fresh tokens of a step-up (`/mfa/verify`, WebAuthn authenticate). */
  stepUp(tokens: { access_token?: string; refresh_token?: string; expires_in?: number }): void;
  /** Forgets every token, and tells the listener. */
  end(reason: SessionEnd): void;
}

/** Options of {@link createApiClient}. */
export interface ApiClientOptions {
  /** Called when the session starts or ends (the app re-renders). */
  readonly onChange: (user: User | undefined, reason?: SessionEnd) => void;
  readonly fetch?: typeof fetch;
}

/**
 * The UI's API client.
 *
 * Tokens live in this closure only: never in `localStorage`,
 * `sessionStorage`, a cookie or the URL, so a reload means signing in again
 * and nothing outlives the tab. Requests are same-origin, carry the token in
 * `Authorization` (which a cross-site page cannot make the browser attach)
 * and send no cookies (`credentials: 'omit'`): there is no ambient
 * credential for a CSRF to ride on.
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let user: User | undefined;
  let access: string | undefined;
  let refresh: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let refreshing: Promise<boolean> | undefined;

  const schedule = (expiresInSeconds: number) => {
    if (timer !== undefined) clearTimeout(timer);
    // Refresh a minute before expiry so an open screen keeps working.
    const ms = Math.max(10, expiresInSeconds - 60) * 1000;
    timer = setTimeout(() => void renew(), ms);
  };

  const send = (method: string, path: string, body: unknown, token: string | undefined): Promise<Response> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return doFetch(path, {
      method,
      headers,
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  };

  const renew = async (): Promise<boolean> => {
    if (refresh === undefined) return false;
    // One refresh at a time: a refresh token is single use (a second use
    // would be taken for theft and end the session).
    refreshing ??= (async () => {
      try {
        const login = await parse<LoginResponse>(
          await send('POST', '/auth/refresh', { refresh_token: refresh }, undefined),
        );
        access = login.access_token;
        refresh = login.refresh_token;
        schedule(login.expires_in);
        return true;
      } catch {
        client.end('expired');
        return false;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  const authed = async (method: string, path: string, body: unknown): Promise<Response> => {
    if (access === undefined) throw new ApiError(401, 'UNAUTHENTICATED', 'Sign in first.');
    const res = await send(method, path, body, access);
    if (!(await tokenRefused(res))) return res;
    // An expired or revoked access token: refresh once, then retry once. (A
    // 401 for another reason, a refused WebAuthn response, is no token
    // problem: retrying it would only repeat the failure.)
    if (!(await renew())) return res;
    const again = await send(method, path, body, access);
    if (await tokenRefused(again)) client.end('expired');
    return again;
  };

  const client: ApiClient = {
    get user() {
      return user;
    },
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      return parse<T>(await authed(method, path, body));
    },
    async download(path) {
      const res = await authed('GET', path, undefined);
      if (!res.ok) return parse<never>(res);
      return res.blob();
    },
    async open<T>(method: string, path: string, body?: unknown): Promise<T> {
      return parse<T>(await send(method, path, body, undefined));
    },
    signIn(login) {
      access = login.access_token;
      refresh = login.refresh_token;
      user = login.user;
      schedule(login.expires_in);
      options.onChange(user);
    },
    stepUp(tokens) {
      if (tokens.access_token !== undefined) access = tokens.access_token;
      if (tokens.refresh_token !== undefined) refresh = tokens.refresh_token;
      if (tokens.expires_in !== undefined) schedule(tokens.expires_in);
    },
    end(reason) {
      if (timer !== undefined) clearTimeout(timer);
      const had = user !== undefined;
      access = undefined;
      refresh = undefined;
      user = undefined;
      timer = undefined;
      if (had) options.onChange(undefined, reason);
    },
  };
  return client;
}

// The security chain's answers for a missing, expired or revoked token.
const TOKEN_REFUSED = new Set(['UNAUTHENTICATED', 'INVALID_TOKEN']);

async function tokenRefused(res: Response): Promise<boolean> {
  if (res.status !== 401) return false;
  const error = await parse(res.clone()).catch((e: unknown) => e);
  return error instanceof ApiError && TOKEN_REFUSED.has(error.code);
}

/** The `data` of a success envelope, or an {@link ApiError}. */
export async function parse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = undefined;
  }
  if (res.ok) return (body?.success === true ? body.data : body) as T;
  const envelopeCode = typeof body?.code === 'string' && !/^\d+$/.test(body.code) ? body.code : undefined;
  const chainCode =
    typeof body?.error === 'string' && envelopeCode === undefined ? body.error.toUpperCase() : undefined;
  const message =
    body?.success === false && typeof body.error === 'string'
      ? body.error
      : typeof body?.message === 'string'
        ? body.message
        : `The request failed (HTTP ${res.status}).`;
  throw new ApiError(res.status, envelopeCode ?? chainCode ?? `HTTP_${res.status}`, message, body?.data);
}

/** A message for any failure, for an alert. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.name === 'NotAllowedError') {
    return 'The security key or passkey request was cancelled or timed out.';
  }
  return error instanceof Error ? error.message : 'Something went wrong.';
}
