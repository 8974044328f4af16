import {
  type Authenticator,
  createAuthenticator,
  createLoginThrottle,
  normalizeUsername,
  type PublicUser,
} from '@provisioning/auth';
import { isSdkError } from '@provisioning/core';
import type { ChallengeAnswer, VerificationResult } from '@provisioning/mfa';
import {
  CONTROL_CENTER_ROUTES,
  LoginMfaRequestSchema,
  LoginRequestSchema,
  LogoutRequestSchema,
  ok,
  RefreshRequestSchema,
  routePattern,
  type Session,
  type TokenClaims,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import type { createAuditor, Guards } from './guards.js';
import { actorOf, type CcContext, type CcEnv, clientOf, optionalBody, param, principalOf } from './http.js';
import { issueSession, loginResponse, looksLikeTotp, mfaRequired } from './sessions.js';

type Audit = ReturnType<typeof createAuditor>;

const R = CONTROL_CENTER_ROUTES;

// The codes that mean "this second factor was not accepted" during a login:
// the answer is then MFA_REQUIRED again, with the (still usable) challenge.
const REJECTED_FACTOR = new Set([
  'ERR_MFA_INVALID_CODE',
  'ERR_MFA_CODE_REPLAYED',
  'ERR_MFA_MALFORMED_INPUT',
  'ERR_MFA_NOT_ENROLLED',
]);

/**
 * `/auth/*`: password (+ MFA) login, the MFA challenge completion, refresh
 * rotation, logout, verify and sessions.
 */
export function authRoutes(app: Hono<CcEnv>, platform: Platform, guards: Guards, audit: Audit): void {
  // The password check: the same users, Argon2id hasher and throttle counters
  // (same store and key prefix) as `platform.login`, but without a token
  // service, so that no token is minted for an MFA account before its second
  // factor. Unknown users cost the same Argon2id work as real ones.
  const passwords: Authenticator = createAuthenticator({
    users: platform.users,
    hasher: platform.hasher,
    throttle: createLoginThrottle({ store: platform.kv }),
    clock: platform.clock,
  });

  const finishLogin = async (c: CcContext, user: PublicUser, verification?: VerificationResult) => {
    const { ip, userAgent } = clientOf(c);
    const tokens = await issueSession(platform, user, {
      amr: verification === undefined ? ['pwd'] : ['pwd', ...verification.amr, 'mfa'],
      ...(verification === undefined ? {} : { mfaAt: verification.verifiedAt }),
      ...(ip === undefined ? {} : { ip }),
      ...(userAgent === undefined ? {} : { userAgent }),
    });
    await audit({
      action: 'auth.login.succeeded',
      outcome: 'success',
      actor: actorOf(c, user.id),
      sessionId: tokens.sessionId,
      metadata: {
        mfa: verification !== undefined,
        ...(verification === undefined ? {} : { method: verification.method }),
      },
    });
    return c.json(ok(loginResponse(tokens, user)));
  };

  const recordVerification = async (c: CcContext, result: VerificationResult) => {
    await audit({
      action: 'mfa.verified',
      outcome: 'success',
      actor: actorOf(c, result.userId),
      metadata: { method: result.method },
    });
    if (result.method === 'backup_code') {
      await audit({
        action: 'mfa.backup_code.used',
        outcome: 'success',
        actor: actorOf(c, result.userId),
        metadata: { remaining: result.remainingBackupCodes ?? 0 },
      });
    }
  };

  const recordFactorFailure = async (c: CcContext, userId: string, error: unknown) => {
    const code = isSdkError(error) ? error.code : 'unknown';
    await audit({
      action: code === 'ERR_MFA_TOO_MANY_ATTEMPTS' ? 'mfa.locked_out' : 'mfa.failed',
      outcome: 'failure',
      actor: actorOf(c, userId),
      reason: code,
    });
  };

  app.post(R.login.path, guards.open, async (c) => {
    const body = await readBody(c, LoginRequestSchema);
    const { ip, userAgent } = clientOf(c);
    let user: PublicUser;
    try {
      ({ user } = await passwords.login({
        username: body.username,
        password: body.password,
        ...(ip === undefined ? {} : { ip }),
        ...(userAgent === undefined ? {} : { userAgent }),
      }));
    } catch (error) {
      if (
        isSdkError(error) &&
        (error.code === 'ERR_AUTH_INVALID_CREDENTIALS' || error.code === 'ERR_AUTH_LOCKED_OUT')
      ) {
        await audit({
          action: 'auth.login.failed',
          outcome: 'failure',
          // The attempted name (normalised), never the password.
          actor: actorOf(c, safeUsername(body.username), 'anonymous'),
          reason: error.code === 'ERR_AUTH_LOCKED_OUT' ? 'locked_out' : 'invalid_credentials',
        });
      }
      throw error;
    }
    if (!(await platform.mfa.isEnrolled(user.id))) return finishLogin(c, user);

    const challenge = await platform.mfa.createChallenge(user.id);
    if (body.mfa_code === undefined) return mfaRequired(c, challenge, 'An MFA code is required.');
    const answer: ChallengeAnswer = looksLikeTotp(body.mfa_code)
      ? { method: 'totp', code: body.mfa_code }
      : { method: 'backup_code', code: body.mfa_code };
    let verification: VerificationResult;
    try {
      verification = await platform.mfa.completeChallenge(challenge.challengeId, answer);
    } catch (error) {
      await recordFactorFailure(c, user.id, error);
      if (isSdkError(error) && REJECTED_FACTOR.has(error.code)) {
        return mfaRequired(c, challenge, 'The MFA code was not accepted.');
      }
      throw error;
    }
    await recordVerification(c, verification);
    return finishLogin(c, user, verification);
  });

  // Completes the MFA challenge of a 401 MFA_REQUIRED login answer (TOTP,
  // backup code or WebAuthn assertion) without sending the password again.
  app.post(R.loginMfa.path, guards.open, async (c) => {
    const body = await readBody(c, LoginMfaRequestSchema);
    const answer = challengeAnswer(body);
    let verification: VerificationResult;
    try {
      verification = await platform.mfa.completeChallenge(body.challenge_id, answer);
    } catch (error) {
      if (isSdkError(error) && error.code !== 'ERR_MFA_CHALLENGE_INVALID' && error.code !== 'ERR_MFA_MALFORMED_INPUT') {
        await audit({
          action: 'mfa.failed',
          outcome: 'failure',
          actor: actorOf(c, 'anonymous', 'anonymous'),
          reason: error.code,
        });
      }
      throw error;
    }
    const user = await platform.users.findById(verification.userId);
    if (user === undefined || user.disabled) {
      throw new RequestError(401, 'INVALID_CREDENTIALS', 'Invalid username or password.');
    }
    await recordVerification(c, verification);
    const { passwordHash: _hash, ...publicUser } = user;
    return finishLogin(c, publicUser, verification);
  });

  app.post(R.refresh.path, guards.open, async (c) => {
    const body = await readBody(c, RefreshRequestSchema);
    let tokens: Awaited<ReturnType<typeof platform.tokens.refresh>>;
    try {
      tokens = await platform.tokens.refresh(body.refresh_token);
    } catch (error) {
      if (isSdkError(error) && error.code === 'ERR_AUTH_REFRESH_REUSED') {
        await audit({
          action: 'auth.refresh.reuse_detected',
          outcome: 'failure',
          actor: actorOf(c, 'anonymous', 'anonymous'),
          reason: 'a rotated refresh token was presented again; its session was revoked',
        });
      }
      throw error;
    }
    const claims = await platform.tokens.verify(tokens.accessToken);
    const user = await platform.users.findById(claims.sub);
    if (user === undefined || user.disabled) {
      await platform.tokens.revokeSession(claims.sid);
      throw new RequestError(401, 'INVALID_REFRESH_TOKEN', 'The refresh token was refused.');
    }
    const { passwordHash: _hash, ...publicUser } = user;
    return c.json(ok(loginResponse(tokens, publicUser)));
  });

  app.post(R.logout.path, guards.self(), async (c) => {
    const body = await optionalBody(c, LogoutRequestSchema);
    const principal = principalOf(c);
    let revoked: number;
    if (body.all_sessions === true) {
      revoked = (await platform.tokens.listSessions(principal.id)).length;
      await platform.tokens.revokeUser(principal.id);
    } else {
      if (principal.sessionId !== undefined) await platform.tokens.revokeSession(principal.sessionId);
      revoked = 1;
    }
    if (body.refresh_token !== undefined) await platform.tokens.revokeRefreshToken(body.refresh_token);
    await audit({
      action: 'auth.logout',
      outcome: 'success',
      actor: actorOf(c),
      ...(principal.sessionId === undefined ? {} : { sessionId: principal.sessionId }),
      metadata: { all_sessions: body.all_sessions === true, revoked },
    });
    return c.json(ok({ revoked }));
  });

  app.get(R.verify.path, guards.self(), async (c) => {
    const token = bearer(c);
    const claims = await platform.tokens.verify(token);
    const roles = claims.roles ?? [];
    const contract: TokenClaims & Record<string, unknown> = {
      ...claims,
      jti: claims.jti,
      sub: claims.sub,
      workspace: typeof claims.workspace === 'string' ? claims.workspace : 'default',
      permissions_hash: typeof claims.permissions_hash === 'string' ? claims.permissions_hash : '',
      iat: claims.iat,
      exp: claims.exp,
      iss: claims.iss,
      aud: claims.aud,
      mfa: claims.mfa_at !== undefined,
      roles,
    };
    return c.json(ok({ valid: true, claims: contract }));
  });

  app.get(R.sessions.path, guards.self(), async (c) => {
    const principal = principalOf(c);
    const sessions = await platform.tokens.listSessions(principal.id);
    const data: Session[] = sessions.map((s) => ({
      id: s.sessionId,
      created_at: s.createdAt.toISOString(),
      last_used_at: s.lastUsedAt.toISOString(),
      expires_at: s.expiresAt.toISOString(),
      ip_address: s.ip ?? null,
      user_agent: s.userAgent ?? null,
      current: s.sessionId === principal.sessionId,
    }));
    return c.json(ok(data));
  });

  // Revoking one of one's own sessions is a safety action: it needs no MFA
  // step-up (logout can end every session without one anyway).
  app.delete(routePattern(R.revokeSession), guards.self(), async (c) => {
    const id = param(c, 'id');
    const principal = principalOf(c);
    const sessions = await platform.tokens.listSessions(principal.id);
    if (!sessions.some((s) => s.sessionId === id)) throw new RequestError(404, 'SESSION_NOT_FOUND', 'No such session.');
    await platform.tokens.revokeSession(id);
    await audit({
      action: 'auth.token.revoked',
      outcome: 'success',
      actor: actorOf(c),
      sessionId: id,
      metadata: { session: true },
    });
    return c.json(ok({ revoked: 1 }));
  });
}

function challengeAnswer(body: { code?: string; webauthn?: Record<string, unknown> }): ChallengeAnswer {
  if ((body.code === undefined) === (body.webauthn === undefined)) {
    throw new RequestError(400, 'INVALID_REQUEST', 'Give exactly one of code and webauthn.');
  }
  if (body.webauthn !== undefined) return { method: 'webauthn', response: body.webauthn };
  const code = body.code as string;
  return looksLikeTotp(code) ? { method: 'totp', code } : { method: 'backup_code', code };
}

function bearer(c: CcContext): string {
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match?.[1] === undefined) throw new RequestError(401, 'UNAUTHENTICATED', 'Authentication is required.');
  return match[1];
}

/** The attempted username for the audit trail: normalised, or a placeholder when it is not a valid name. */
function safeUsername(username: string): string {
  try {
    return normalizeUsername(username).slice(0, 254);
  } catch {
    return 'invalid-username';
  }
}

export { bearer };
