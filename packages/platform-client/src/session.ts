import type { Clock } from '@provisioning/core';
import { FailureEnvelopeSchema } from './api/common.js';
import {
  CONTROL_CENTER_ROUTES,
  type LoginResponse,
  type LogoutResponse,
  MFA_REQUIRED_CODE,
  type MfaChallenge,
  MfaChallengeSchema,
  type MfaVerifyResponse,
  type PasskeyOptions,
  type User,
} from './api/control-center.js';
import { callRoute, decodeRoute, type ServiceContext, sendRoute } from './call.js';
import { invalidOptions, isPlatformClientError, PlatformClientError } from './errors.js';
import { type Authenticator, type CallOptions, errorForStatus, parseServerError } from './transport.js';

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

/**
 * Outcome of {@link PlatformClient.beginLogin}: a session, or the MFA
 * challenge to complete with `completeLogin()`.
 */
export type LoginStep =
  | { readonly status: 'authenticated'; readonly tokens: SessionTokens }
  | {
      readonly status: 'mfa_required';
      /** Its `challenge_id` is a bearer secret of the half-finished login: never log it. */
      readonly challenge: MfaChallenge;
    };

/** The second factor for `completeLogin()`: a TOTP or backup code, or a WebAuthn assertion. */
export type MfaAnswer =
  | { readonly code: string }
  | {
      /** The browser's `AuthenticationResponseJSON` for the challenge's `webauthn` options. */
      readonly webauthn: Readonly<Record<string, unknown>>;
    };

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
    const cc = this.sessionControlCenter('login');
    // Login is never retried: a retry could burn a TOTP code or count twice towards lockout.
    const answer = await callRoute<LoginResponse>(
      cc,
      CONTROL_CENTER_ROUTES.login,
      { body: loginBody(input) },
      { ...options, retry: false },
    );
    return this.store(answer);
  }

  /**
   * `POST /auth/login` that answers an MFA-required account with its
   * challenge (the 401 `MFA_REQUIRED` body's `data`) instead of an error.
   */
  async beginLogin(input: LoginInput, options: CallOptions = {}): Promise<LoginStep> {
    const cc = this.sessionControlCenter('beginLogin');
    const route = CONTROL_CENTER_ROUTES.login;
    // Never retried, like login().
    const response = await sendRoute(cc, route, { body: loginBody(input) }, { ...options, retry: false }, [401]);
    if (response.status !== 401) {
      return { status: 'authenticated', tokens: this.store(decodeRoute<LoginResponse>(route, response)) };
    }
    const challenge = mfaChallenge(response.body);
    if (challenge !== undefined) return { status: 'mfa_required', challenge };
    throw errorForStatus(401, parseServerError(response.body, response.headers.get('content-type')), {
      service: route.service,
      request: `${route.method} ${route.path}`,
    });
  }

  /** `POST /auth/login/mfa`: completes a challenge of {@link beginLogin}. Never retried. */
  async completeLogin(challengeId: string, answer: MfaAnswer, options: CallOptions = {}): Promise<SessionTokens> {
    const cc = this.sessionControlCenter('completeLogin');
    if (typeof challengeId !== 'string' || challengeId === '') throw invalidOptions('challengeId must be a string');
    const factor =
      'webauthn' in answer ? { webauthn: answer.webauthn } : 'code' in answer ? { code: answer.code } : undefined;
    if (factor === undefined) throw invalidOptions('the MFA answer is { code } or { webauthn }');
    const tokens = await callRoute<LoginResponse>(
      cc,
      CONTROL_CENTER_ROUTES.loginMfa,
      { body: { challenge_id: challengeId, ...factor } },
      { ...options, retry: false },
    );
    return this.store(tokens);
  }

  /** `POST /auth/passkey/options`: the request options of a username-less passkey sign-in. */
  async passkeyOptions(options: CallOptions = {}): Promise<PasskeyOptions> {
    const cc = this.sessionControlCenter('passkeyOptions');
    return callRoute<PasskeyOptions>(cc, CONTROL_CENTER_ROUTES.passkeyOptions, {}, { ...options, retry: false });
  }

  /** `POST /auth/passkey/login`: signs in with a discoverable credential's assertion and keeps the session. Never retried. */
  async passkeyLogin(response: Readonly<Record<string, unknown>>, options: CallOptions = {}): Promise<SessionTokens> {
    const cc = this.sessionControlCenter('passkeyLogin');
    if (typeof response !== 'object' || response === null) throw invalidOptions('the passkey response is an object');
    // An assertion answers one challenge: a retry could only fail.
    const tokens = await callRoute<LoginResponse>(
      cc,
      CONTROL_CENTER_ROUTES.passkeyLogin,
      { body: { response } },
      { ...options, retry: false },
    );
    return this.store(tokens);
  }

  /**
   * Adopts the tokens a successful MFA step-up answered (`/mfa/verify`,
   * `/mfa/webauthn/authenticate`): the new access token carries the MFA
   * claim and the session's refresh token was rotated with it.
   */
  stepUp(answer: MfaVerifyResponse): void {
    if (this.options.type !== 'session' || this.tokens === undefined || !answer.verified) return;
    if (answer.access_token === undefined || answer.expires_in === undefined) return;
    this.set({
      ...this.tokens,
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token ?? this.tokens.refreshToken,
      expiresAt: this.clock.now() + answer.expires_in * 1000,
    });
  }

  private sessionControlCenter(method: string): ServiceContext {
    if (this.options.type !== 'session') {
      throw invalidOptions(`${method}() needs auth type "session", not "${this.options.type}"`);
    }
    if (!this.controlCenter) throw invalidOptions('no control center configured');
    return this.controlCenter;
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

function loginBody(input: LoginInput): Record<string, string> {
  return {
    username: input.username,
    password: input.password,
    ...(input.mfaCode !== undefined ? { mfa_code: input.mfaCode } : {}),
  };
}

/** The challenge of a 401 `MFA_REQUIRED` failure envelope, or `undefined` for any other 401. */
function mfaChallenge(body: Uint8Array): MfaChallenge | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (!FailureEnvelopeSchema.is(value) || value.code !== MFA_REQUIRED_CODE) return undefined;
  const data = (value as { data?: unknown }).data;
  return MfaChallengeSchema.is(data) ? MfaChallengeSchema.parse(data) : undefined;
}
