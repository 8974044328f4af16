import { createAuthenticator, createLoginThrottle } from '@provisioning/auth';
import { isSdkError } from '@provisioning/core';
import type { VerificationResult } from '@provisioning/mfa';
import {
  ChangePasswordRequestSchema,
  CONTROL_CENTER_ROUTES,
  ok,
  PasskeyLoginRequestSchema,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import type { createAuditor, Guards } from './guards.js';
import { actorOf, type CcEnv, clientOf, noBody, principalOf } from './http.js';
import { issueSession, loginResponse } from './sessions.js';
import { checkPassword } from './users-routes.js';

const R = CONTROL_CENTER_ROUTES;

/**
 * The routes the web UI needs beyond the contract's first set:
 *
 * - `POST /auth/passkey/options` and `POST /auth/passkey/login`: sign-in
 *   with a passkey and no password (a discoverable-credential ceremony).
 * - `POST /auth/password`: change one's password (the current one required;
 *   every other session ends).
 */
export function accountRoutes(
  app: Hono<CcEnv>,
  platform: Platform,
  guards: Guards,
  audit: ReturnType<typeof createAuditor>,
): void {
  // The current-password check uses the login's throttle counters (same store
  // and key prefix), so guessing through this route locks like the login does.
  const passwords = createAuthenticator({
    users: platform.users,
    hasher: platform.hasher,
    throttle: createLoginThrottle({ store: platform.kv }),
    clock: platform.clock,
  });

  // Request options with no allowed credentials: the authenticator offers the
  // passkeys it holds for this RP and names the account (user handle).
  // `@provisioning/mfa` demands user verification for username-less sign-in.
  app.post(R.passkeyOptions.path, guards.open, async (c) => {
    await noBody(c);
    const options = await platform.mfa.beginWebAuthnAuthentication();
    c.header('cache-control', 'no-store');
    return c.json(ok({ options: options as unknown as Record<string, unknown> }));
  });

  app.post(R.passkeyLogin.path, guards.open, async (c) => {
    const { response } = await readBody(c, PasskeyLoginRequestSchema);
    let result: VerificationResult;
    try {
      result = await platform.mfa.finishWebAuthnAuthentication(response);
    } catch (error) {
      if (isSdkError(error) && error.code !== 'ERR_MFA_MALFORMED_INPUT') {
        await audit({
          action: 'auth.login.failed',
          outcome: 'failure',
          actor: actorOf(c, 'anonymous', 'anonymous'),
          reason: error.code,
          metadata: { method: 'passkey' },
        });
      }
      throw error;
    }
    const user = await platform.users.findById(result.userId);
    if (user === undefined || user.disabled) {
      throw new RequestError(401, 'WEBAUTHN_FAILED', 'The WebAuthn response was refused.');
    }
    const { ip, userAgent } = clientOf(c);
    // A passkey verified with user verification (PIN or biometrics) is a
    // multi-factor authenticator on its own (possession + the user's
    // verification): the session counts as MFA-verified, like password + key.
    const tokens = await issueSession(platform, user, {
      amr: [...result.amr, 'mfa'],
      mfaAt: result.verifiedAt,
      ...(ip === undefined ? {} : { ip }),
      ...(userAgent === undefined ? {} : { userAgent }),
    });
    await audit({
      action: 'auth.login.succeeded',
      outcome: 'success',
      actor: actorOf(c, user.id),
      sessionId: tokens.sessionId,
      metadata: { mfa: true, method: 'passkey' },
    });
    const { passwordHash: _hash, ...publicUser } = user;
    return c.json(ok(loginResponse(tokens, publicUser)));
  });

  app.post(R.changePassword.path, guards.self(), async (c) => {
    const body = await readBody(c, ChangePasswordRequestSchema);
    // Input first: nothing is checked or changed for a password we would refuse.
    checkPassword(body.new_password);
    if (body.new_password === body.current_password) {
      throw new RequestError(400, 'PASSWORD_UNCHANGED', 'The new password must differ from the current one.');
    }
    const principal = principalOf(c);
    const user = await platform.users.findById(principal.id);
    if (user === undefined || user.disabled) {
      throw new RequestError(401, 'UNAUTHENTICATED', 'Authentication is required.');
    }
    try {
      await passwords.login({ username: user.username, password: body.current_password, ...clientOf(c) });
    } catch (error) {
      if (isSdkError(error) && error.code === 'ERR_AUTH_INVALID_CREDENTIALS') {
        await audit({
          action: 'admin.user.updated',
          outcome: 'failure',
          actor: actorOf(c),
          resource: { type: 'user', id: user.id },
          reason: 'current password incorrect',
          metadata: { change: 'password' },
        });
        // 403, not 401: the request's token is fine (a 401 would make a client refresh and retry).
        throw new RequestError(403, 'INVALID_CURRENT_PASSWORD', 'The current password is not correct.');
      }
      throw error;
    }
    await passwords.setPassword(user.id, body.new_password, { revokeSessions: false });
    // Every other session ends (a thief's session among them); this one stays.
    const others = (await platform.tokens.listSessions(user.id)).filter((s) => s.sessionId !== principal.sessionId);
    for (const session of others) await platform.tokens.revokeSession(session.sessionId);
    await audit({
      action: 'admin.user.updated',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'user', id: user.id },
      ...(principal.sessionId === undefined ? {} : { sessionId: principal.sessionId }),
      metadata: { change: 'password', sessions_revoked: others.length },
    });
    return c.json(ok({ changed: true, sessions_revoked: others.length }));
  });
}
