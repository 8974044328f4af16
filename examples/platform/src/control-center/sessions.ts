import { createHash } from 'node:crypto';
import type { IssuedTokens, PublicUser } from '@provisioning/auth';
import type { MfaChallenge } from '@provisioning/mfa';
import { type FailureEnvelope, fail, type LoginResponse, MFA_REQUIRED_CODE } from '@provisioning/platform-client/api';
import type { Platform } from '../kit/platform.js';
import type { CcContext } from './http.js';

/** The workspace claim of control-center tokens (the platform's single default workspace). */
export const DEFAULT_WORKSPACE = 'default';

/** `permissions_hash`: SHA-256 over the sorted roles, so a service can tell a token's permissions changed. */
export function permissionsHash(roles: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([...roles].sort()))
    .digest('base64url');
}

/** Options of {@link issueSession}. */
export interface SessionOptions {
  readonly amr: readonly string[];
  readonly mfaAt?: Date;
  readonly authTime?: Date;
  readonly ip?: string;
  readonly userAgent?: string;
  /** Keep this session (step-up) instead of starting one. */
  readonly sessionId?: string;
}

/** Issues access and refresh tokens for a user, with the contract's `workspace` and `permissions_hash` claims. */
export function issueSession(
  platform: Platform,
  user: Pick<PublicUser, 'id' | 'roles'>,
  options: SessionOptions,
): Promise<IssuedTokens> {
  return platform.tokens.issue({
    subject: user.id,
    roles: user.roles,
    amr: options.amr,
    ...(options.mfaAt === undefined ? {} : { mfaAt: options.mfaAt }),
    authTime: options.authTime ?? new Date(platform.clock.now()),
    ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
    claims: { workspace: DEFAULT_WORKSPACE, permissions_hash: permissionsHash(user.roles) },
    metadata: {
      ...(options.ip === undefined ? {} : { ip: options.ip }),
      ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
    },
  });
}

/** The contract's `LoginResponse`. */
export function loginResponse(tokens: IssuedTokens, user: PublicUser): LoginResponse {
  return {
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken ?? '',
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
    user: { id: user.id, username: user.username, email: user.email ?? '', roles: [...user.roles] },
  };
}

/**
 * The 401 `MFA_REQUIRED` answer (contract: `fail(message, 'MFA_REQUIRED')`).
 * Its `data` carries the challenge the client completes at
 * `POST /auth/login/mfa` (designed): the bearer challenge id, the methods the
 * user has, and WebAuthn request options when they have a security key.
 */
export function mfaRequired(c: CcContext, challenge: MfaChallenge, message: string): Response {
  const body: Omit<FailureEnvelope, 'data'> & { data: unknown } = {
    ...fail(message, MFA_REQUIRED_CODE),
    data: {
      challenge_id: challenge.challengeId,
      methods: challenge.methods,
      expires_at: challenge.expiresAt.toISOString(),
      ...(challenge.webauthn === undefined ? {} : { webauthn: challenge.webauthn }),
    },
  };
  c.header('cache-control', 'no-store');
  return c.json(body, 401);
}

/** Whether a code looks like a TOTP code (digits) rather than a backup code. */
export function looksLikeTotp(code: string): boolean {
  return /^[0-9]{6,8}$/.test(code.replace(/[\s-]/g, ''));
}
