import { type Clock, redact } from '@provisioning/core';
import { isPlatformClientError, PlatformClientError } from '../errors.js';
import {
  backoffDelay,
  errorForStatus,
  type Logger,
  parseRetryAfter,
  parseServerError,
  type RetryOptions,
  readBody,
  type Sleep,
} from '../transport.js';

/** Credentials for a registry. */
export type OciCredentials =
  /** Username and password: sent as Basic to a Basic realm, or to the token endpoint of a Bearer realm. */
  | { readonly username: string; readonly password: string }
  /** A pre-issued registry bearer token (no challenge flow). */
  | { readonly token: string };

/** A parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a `WWW-Authenticate` header (`Bearer realm="…",service="…",scope="…"`),
 * quoted values with escapes included.
 *
 * @example
 * ```ts
 * parseChallenge('Bearer realm="https://auth/token",service="registry"');
 * // { scheme: 'bearer', params: { realm: 'https://auth/token', service: 'registry' } }
 * ```
 */
export function parseChallenge(header: string): AuthChallenge | undefined {
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?\s*/g;
  for (const m of (match[2] ?? '').matchAll(re)) {
    params[(m[1] ?? '').toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return { scheme: (match[1] ?? '').toLowerCase(), params };
}

/** @internal A bearer token and when it stops being usable. */
interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** @internal Configuration of {@link OciHttp}. */
export interface OciHttpConfig {
  readonly baseUrl: string;
  readonly credentials: OciCredentials | undefined;
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  readonly retry: Required<RetryOptions> | false;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly random: () => number;
  readonly logger: Logger | undefined;
  readonly userAgent: string;
}

/** @internal One registry request. */
export interface OciRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path (`/v2/…`) or an absolute URL (a `Location`). */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** Token scopes the request needs, e.g. `repository:app:pull`. */
  readonly scopes: readonly string[];
  readonly idempotent: boolean;
  readonly signal?: AbortSignal;
  /** Statuses that are answers, not errors (e.g. 404 for "absent"). Default: 2xx only. */
  readonly accept?: readonly number[];
}

/** @internal The response with its body unread (`stream`) or read (`read()`). */
export interface OciResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly url: string;
  readonly response: Response;
  /** Reads the whole body (checking `Content-Length`). */
  /** Reads the whole body; more than `maxBytes` is `ERR_CLIENT_MALFORMED_RESPONSE`, refused while reading. */
  read(maxBytes?: number): Promise<Uint8Array>;
  /** Releases the timeout and the body when done streaming. */
  done(): void;
}

/**
 * @internal HTTP for the distribution API: the auth challenge flow (Basic,
 * and Bearer tokens per scope set, refreshed when they expire), timeouts,
 * cancellation and retries of idempotent requests.
 */
export class OciHttp {
  private basic: string | undefined;
  private bearerChallenge: AuthChallenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private refreshToken: string | undefined;
  /** Token requests made (for tests). */
  tokenRequests = 0;

  private readonly bearerStatic: string | undefined;

  constructor(readonly config: OciHttpConfig) {
    this.bearerStatic = config.credentials && 'token' in config.credentials ? config.credentials.token : undefined;
  }

  /** Resolves a path or a (possibly relative) `Location` against the registry. */
  resolve(url: string): URL {
    return new URL(url, `${this.config.baseUrl}/`);
  }

  async send(request: OciRequest): Promise<OciResponse> {
    // Upload `Location`s and pagination `Link`s come from the registry's
    // answers: one naming another origin would get our credentials (Basic
    // password, bearer token), so it is refused rather than followed.
    const target = this.resolve(request.url);
    if (target.origin !== new URL(this.config.baseUrl).origin) {
      throw new PlatformClientError(`the registry pointed to another origin (${target.origin})`, {
        code: 'ERR_CLIENT_OCI_PROTOCOL',
        fault: 'server',
        service: 'oci',
        request: `${request.method} ${target.pathname}`,
      });
    }
    const retry = this.config.retry;
    const max = retry === false ? 1 : retry.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sendAuthenticated(request);
      } catch (error) {
        if (!isPlatformClientError(error) || retry === false) throw error;
        if (!(error.retryable && request.idempotent && attempt < max)) throw error;
        let delay = backoffDelay(attempt, retry, this.config.random);
        if (error.retryAfterMs !== undefined) {
          if (error.retryAfterMs > retry.maxRetryAfterMs) throw error;
          delay = Math.max(delay, error.retryAfterMs);
        }
        try {
          await this.config.sleep(delay, request.signal);
        } catch {
          throw abortedError(request);
        }
      }
    }
  }

  private authHeader(scopes: readonly string[]): string | undefined {
    if (this.bearerStatic) return `Bearer ${this.bearerStatic}`;
    if (this.basic) return this.basic;
    if (this.bearerChallenge) {
      const cached = this.tokens.get(scopeKey(scopes));
      if (cached && this.config.clock.now() < cached.expiresAt) return `Bearer ${cached.token}`;
    }
    return undefined;
  }

  private async sendAuthenticated(request: OciRequest): Promise<OciResponse> {
    let auth = this.authHeader(request.scopes);
    if (!auth && this.bearerChallenge && request.scopes.length > 0) {
      // We know the realm already: get the token first instead of eating a 401.
      auth = `Bearer ${(await this.token(this.bearerChallenge, request.scopes, request.signal)).token}`;
    }
    let res = await this.once(request, auth);
    if (res.status === 401 && !this.bearerStatic) {
      const header = res.headers.get('www-authenticate');
      res.done();
      await res.response.body?.cancel().catch(() => undefined);
      const challenge = header ? parseChallenge(header) : undefined;
      if (challenge?.scheme === 'basic' && this.config.credentials && 'username' in this.config.credentials) {
        const { username, password } = this.config.credentials;
        this.basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
        res = await this.once(request, this.basic);
      } else if (challenge?.scheme === 'bearer' && challenge.params.realm) {
        this.bearerChallenge = challenge;
        const scopes = [...new Set([...request.scopes, ...(challenge.params.scope ?? '').split(' ').filter(Boolean)])];
        // A token for these scopes that the registry just refused is stale (revoked, clock skew): drop it.
        this.tokens.delete(scopeKey(request.scopes));
        const token = await this.token(challenge, scopes, request.signal, true);
        this.tokens.set(scopeKey(request.scopes), token);
        res = await this.once(request, `Bearer ${token.token}`);
      } else if (challenge && challenge.scheme !== 'basic' && challenge.scheme !== 'bearer') {
        throw new PlatformClientError(`registry asks for unsupported auth scheme ${challenge.scheme}`, {
          code: 'ERR_CLIENT_OCI_AUTH',
          fault: 'client',
          status: 401,
          service: 'oci',
        });
      }
    }
    const accepted = (res.status >= 200 && res.status < 300) || (request.accept ?? []).includes(res.status);
    if (accepted) return res;
    const body = await res.read().catch(() => new Uint8Array());
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), this.config.clock.now());
    throw errorForStatus(res.status, parseServerError(body, res.headers.get('content-type')), {
      service: 'oci',
      request: `${request.method} ${this.resolve(request.url).pathname}`,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }

  /**
   * Gets a bearer token for `scopes` from the challenge's realm. One request
   * per scope set at a time; a token is reused until 30 s before it expires,
   * then refreshed (with the refresh token when the endpoint issued one).
   */
  private token(
    challenge: AuthChallenge,
    scopes: readonly string[],
    signal: AbortSignal | undefined,
    force = false,
  ): Promise<CachedToken> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (!force && cached && this.config.clock.now() < cached.expiresAt) return Promise.resolve(cached);
    const running = this.inflight.get(key);
    if (running) return running;
    const promise = this.fetchToken(challenge, scopes, signal)
      .then((token) => {
        this.tokens.set(key, token);
        return token;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  private async fetchToken(
    challenge: AuthChallenge,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    const realm = challenge.params.realm ?? '';
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new PlatformClientError('registry token realm is not a URL', {
        code: 'ERR_CLIENT_OCI_AUTH',
        fault: 'server',
        service: 'oci',
      });
    }
    const registry = new URL(this.config.baseUrl);
    if (realmUrl.protocol === 'http:' && registry.protocol === 'https:') {
      // Never downgrade: sending credentials over plain HTTP to a realm an HTTPS registry named is a leak.
      throw new PlatformClientError('registry token realm downgrades to http', {
        code: 'ERR_CLIENT_OCI_AUTH',
        fault: 'server',
        service: 'oci',
      });
    }
    const creds =
      this.config.credentials && 'username' in this.config.credentials ? this.config.credentials : undefined;
    this.tokenRequests++;
    let init: RequestInit;
    if (this.refreshToken && creds) {
      // OAuth2 refresh (distribution token spec): no password on the wire.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: this.refreshToken,
        service: challenge.params.service ?? '',
        scope: scopes.join(' '),
        client_id: this.config.userAgent,
      });
      init = {
        method: 'POST',
        body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      };
    } else {
      if (challenge.params.service) realmUrl.searchParams.set('service', challenge.params.service);
      for (const scope of scopes) realmUrl.searchParams.append('scope', scope);
      if (creds) realmUrl.searchParams.set('offline_token', 'true');
      init = {
        method: 'GET',
        headers: creds
          ? { authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` }
          : {},
      };
    }
    this.log('oci token request', {
      realm: `${realmUrl.origin}${realmUrl.pathname}`,
      scopes,
      grant: init.method === 'POST' ? 'refresh_token' : 'password',
    });
    let response: Response;
    try {
      response = await this.config.fetch(realmUrl, { ...init, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (signal?.aborted) throw abortedError({ method: 'GET', url: realmUrl.pathname });
      throw new PlatformClientError('cannot reach the registry token endpoint', {
        code: 'ERR_CLIENT_NETWORK',
        fault: 'server',
        retryable: true,
        service: 'oci',
        cause: error instanceof Error ? new Error(error.message) : undefined,
      });
    }
    const body = await readBody(response, { service: 'oci', request: 'token' });
    if (!response.ok) {
      if (init.method === 'POST' && (response.status === 400 || response.status === 401)) {
        // The refresh token is no longer valid: fall back to the password grant once.
        this.refreshToken = undefined;
        return this.fetchToken(challenge, scopes, signal);
      }
      throw new PlatformClientError(`registry token endpoint refused (HTTP ${response.status})`, {
        code: response.status === 401 || response.status === 403 ? 'ERR_CLIENT_UNAUTHENTICATED' : 'ERR_CLIENT_OCI_AUTH',
        fault: response.status >= 500 ? 'server' : 'client',
        retryable: response.status >= 500,
        status: response.status,
        service: 'oci',
      });
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
    } catch {
      throw new PlatformClientError('registry token endpoint sent malformed JSON', {
        code: 'ERR_CLIENT_MALFORMED_RESPONSE',
        fault: 'server',
        service: 'oci',
      });
    }
    const token = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token.length === 0) {
      throw new PlatformClientError('registry token endpoint sent no token', {
        code: 'ERR_CLIENT_MALFORMED_RESPONSE',
        fault: 'server',
        service: 'oci',
      });
    }
    if (typeof parsed.refresh_token === 'string') this.refreshToken = parsed.refresh_token;
    // The token spec's default lifetime is 60 s; refresh 30 s early, never with less than 10 s of use.
    const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    const marginMs = Math.min(30_000, (expiresIn * 1000) / 2);
    return { token, expiresAt: this.config.clock.now() + expiresIn * 1000 - Math.max(marginMs, 0) };
  }

  private async once(request: OciRequest, auth: string | undefined): Promise<OciResponse> {
    const url = this.resolve(request.url);
    const headers: Record<string, string> = { 'user-agent': this.config.userAgent, ...request.headers };
    if (auth) headers.authorization = auth;
    this.log('oci request', { method: request.method, path: url.pathname, headers, bytes: request.body?.byteLength });
    if (request.signal?.aborted) throw abortedError(request);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.config.timeoutMs);
    timer.unref?.();
    const onAbort = (): void => controller.abort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
    };
    const label = `${request.method} ${url.pathname}`;
    const mapError = (error: unknown): PlatformClientError => {
      if (timedOut) {
        return new PlatformClientError(`oci: ${label} timed out after ${this.config.timeoutMs} ms`, {
          code: 'ERR_CLIENT_TIMEOUT',
          fault: 'server',
          retryable: true,
          service: 'oci',
          request: label,
        });
      }
      if (request.signal?.aborted) return abortedError(request);
      if (isPlatformClientError(error)) return error;
      return new PlatformClientError(`oci: ${label}: cannot reach ${url.origin}`, {
        code: 'ERR_CLIENT_NETWORK',
        fault: 'server',
        retryable: true,
        service: 'oci',
        request: label,
        cause: error instanceof Error ? new Error(error.message) : undefined,
      });
    };
    let response: Response;
    try {
      response = await this.config.fetch(url, {
        method: request.method,
        headers,
        ...(request.body ? { body: request.body as Uint8Array<ArrayBuffer> } : {}),
        signal: controller.signal,
      });
    } catch (error) {
      cleanup();
      throw mapError(error);
    }
    this.log('oci response', { request: label, status: response.status });
    return {
      status: response.status,
      headers: response.headers,
      url: response.url || url.toString(),
      response,
      read: async (maxBytes?: number) => {
        try {
          return await readBody(response, { service: 'oci', request: label }, maxBytes);
        } catch (error) {
          throw mapError(error);
        } finally {
          cleanup();
        }
      },
      done: cleanup,
    };
  }

  private log(message: string, fields: Record<string, unknown>): void {
    this.config.logger?.debug(message, redact(fields) as Record<string, unknown>);
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

function abortedError(request: { method: string; url: string }): PlatformClientError {
  return new PlatformClientError(`oci: ${request.method} request was aborted`, {
    code: 'ERR_CLIENT_ABORTED',
    fault: 'client',
    service: 'oci',
  });
}
