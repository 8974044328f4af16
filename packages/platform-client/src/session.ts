import type { Clock } from '@provisioning/core';
import { CONTROL_CENTER_ROUTES, type LoginResponse, type LogoutResponse, type User } from './api/control-center.js';
import { callRoute, type ServiceContext } from './call.js';
import { invalidOptions, isPlatformClientError, PlatformClientError } from './errors.js';
import type { Authenticator, CallOptions } from './transport.js';

/** Tokens of a login session. */
export interface SessionTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** When the access token expires, in ms since the epoch. */
  readonly expiresAt: number;
  readonly user?: User;
}

/**
 * How the client authenticates.
 * - `none`: only public routes (health, extension reads) work.
 * - `apiKey`: a long-lived API key sent in `X-API-Key` (or `headerName`).
 * - `bearer`: a fixed token (e.g. a break-glass token); never refreshed.
 * - `session` (default): `login()` against the control center, then automatic
 *   refresh before expiry; pass `tokens` to resume a saved session and
 *   `onTokens` to persist rotations.
 */
export type AuthOptions =
  | { readonly type: 'none' }
  | { readonly type: 'apiKey'; readonly apiKey: string; readonly headerName?: string }
  | { readonly type: 'bearer'; readonly token: string }
  | {
      readonly type: 'session';
      readonly tokens?: SessionTokens;
      /** Refresh this many ms before expiry. Default 60 000. */
      readonly refreshSkewMs?: number;
      /** Called after login, every refresh and logout (with `undefined`). */
      readonly onTokens?: (tokens: SessionTokens | undefined) => void;
    };

/** Input of `login()`. */
export interface LoginInput {
  readonly username: string;
  readonly password: string;
  /** TOTP or backup code; without it an MFA account gets `ERR_CLIENT_MFA_REQUIRED`. */
  readonly mfaCode?: string;
}

/** @internal The authentication state shared by every service client. */
export class SessionAuth implements Authenticator {
  private tokens: SessionTokens | undefined;
  private inflight: Promise<SessionTokens> | undefined;
  private readonly skewMs: number;
  private controlCenter: ServiceContext | undefined;
  /** Number of refresh requests sent (for tests and metrics). */
  refreshCount = 0;

  constructor(
    readonly options: AuthOptions,
    private readonly clock: Clock,
  ) {
    if (options.type === 'apiKey' && (typeof options.apiKey !== 'string' || options.apiKey.length === 0)) {
      throw invalidOptions('auth.apiKey must be a non-empty string');
    }
    if (options.type === 'bearer' && (typeof options.token !== 'string' || options.token.length === 0)) {
      throw invalidOptions('auth.token must be a non-empty string');
    }
    this.tokens = options.type === 'session' ? options.tokens : undefined;
    this.skewMs = options.type === 'session' ? (options.refreshSkewMs ?? 60_000) : 0;
  }

  /** @internal Wires the control center context (built after the transport). */
  attach(controlCenter: ServiceContext): void {
    this.controlCenter = controlCenter;
  }

  current(): SessionTokens | undefined {
    return this.tokens;
  }

  async headers(signal?: AbortSignal): Promise<Record<string, string>> {
    const o = this.options;
    if (o.type === 'apiKey') return { [(o.headerName ?? 'x-api-key').toLowerCase()]: o.apiKey };
    if (o.type === 'bearer') return { authorization: `Bearer ${o.token}` };
    if (o.type === 'none') return {};
    let tokens = this.tokens;
    if (!tokens) {
      throw new PlatformClientError('not logged in: call login() first or configure an API key', {
        code: 'ERR_CLIENT_NOT_AUTHENTICATED',
        fault: 'client',
      });
    }
    if (this.clock.now() >= tokens.expiresAt - this.skewMs) {
      try {
        tokens = await this.refresh(signal);
      } catch (error) {
        // A transient refresh failure while the access token is still valid
        // must not break the call: use the token we have and refresh later.
        const stillValid = this.tokens !== undefined && this.clock.now() < this.tokens.expiresAt;
        if (!(isPlatformClientError(error) && error.retryable && stillValid)) throw error;
        tokens = this.tokens ?? tokens;
      }
    }
    return { authorization: `Bearer ${tokens.accessToken}` };
  }

  async unauthorized(sent: Record<string, string>): Promise<boolean> {
    if (this.options.type !== 'session' || !this.tokens) return false;
    // Another call already refreshed since this request was sent: just resend.
    if (sent.authorization !== `Bearer ${this.tokens.accessToken}`) return true;
    try {
      await this.refresh();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Refreshes the session. Only ONE refresh is in flight at a time: refresh
   * tokens rotate, so a second concurrent refresh with the same (now spent)
   * token would look like token theft to the server and revoke the session.
   */
  refresh(signal?: AbortSignal): Promise<SessionTokens> {
    if (this.inflight) return this.inflight;
    const promise = this.doRefresh(signal).finally(() => {
      if (this.inflight === promise) this.inflight = undefined;
    });
    this.inflight = promise;
    return promise;
  }

  private async doRefresh(signal?: AbortSignal): Promise<SessionTokens> {
    const tokens = this.tokens;
    if (!tokens || !this.controlCenter) {
      throw new PlatformClientError('no session to refresh', { code: 'ERR_CLIENT_NOT_AUTHENTICATED', fault: 'client' });
    }
    this.refreshCount++;
    try {
      const answer = await callRoute<LoginResponse>(
        this.controlCenter,
        CONTROL_CENTER_ROUTES.refresh,
        { body: { refresh_token: tokens.refreshToken } },
        { retry: false, ...(signal ? { signal } : {}) },
      );
      return this.store(answer);
    } catch (error) {
      if (isPlatformClientError(error) && (error.status === 401 || error.status === 403)) {
        // The refresh token is spent or revoked: the session is over.
        this.set(undefined);
      }
      throw error;
    }
  }

  async login(input: LoginInput, options: CallOptions = {}): Promise<SessionTokens> {
    if (this.options.type !== 'session') {
      throw invalidOptions(`login() needs auth type "session", not "${this.options.type}"`);
    }
    if (!this.controlCenter) throw invalidOptions('no control center configured');
    const body = {
      username: input.username,
      password: input.password,
      ...(input.mfaCode !== undefined ? { mfa_code: input.mfaCode } : {}),
    };
    // Login is never retried: a retry could burn a TOTP code or count twice towards lockout.
    const answer = await callRoute<LoginResponse>(
      this.controlCenter,
      CONTROL_CENTER_ROUTES.login,
      { body },
      {
        ...options,
        retry: false,
      },
    );
    return this.store(answer);
  }

  async logout(allSessions: boolean, options: CallOptions = {}): Promise<LogoutResponse | undefined> {
    const tokens = this.tokens;
    if (!tokens || !this.controlCenter) return undefined;
    try {
      return await callRoute<LogoutResponse>(
        { ...this.controlCenter, auth: this },
        CONTROL_CENTER_ROUTES.logout,
        { body: { all_sessions: allSessions, refresh_token: tokens.refreshToken } },
        options,
      );
    } finally {
      // Forget the tokens locally even if the server call failed.
      this.set(undefined);
    }
  }

  private store(answer: LoginResponse): SessionTokens {
    const tokens: SessionTokens = {
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token,
      expiresAt: this.clock.now() + answer.expires_in * 1000,
      user: answer.user,
    };
    this.set(tokens);
    return tokens;
  }

  private set(tokens: SessionTokens | undefined): void {
    this.tokens = tokens;
    if (this.options.type === 'session') this.options.onTokens?.(tokens);
  }
}
