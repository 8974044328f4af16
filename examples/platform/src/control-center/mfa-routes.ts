import { isSdkError } from '@provisioning/core';
import type { DeviceInfo, VerificationResult } from '@provisioning/mfa';
import {
  CONTROL_CENTER_ROUTES,
  type MfaDevice,
  type MfaStatus,
  MfaVerifyRequestSchema,
  type MfaVerifyResponse,
  ok,
  RenameDeviceRequestSchema,
  routePattern,
  type TotpEnrollment,
  WebAuthnAuthenticateRequestSchema,
  type WebAuthnChallenge,
  type WebAuthnEnrollment,
  WebAuthnRegisterRequestSchema,
  type WebAuthnRegistration,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import { bearer } from './auth-routes.js';
import type { createAuditor, Guards } from './guards.js';
import { actorOf, type CcContext, type CcEnv, clientOf, noBody, param, principalOf, securityOf } from './http.js';
import { issueSession, looksLikeTotp } from './sessions.js';

const R = CONTROL_CENTER_ROUTES;

/** How recent an MFA must be to add a factor to an already-enrolled account (the chain's step-up age). */
const STEP_UP_MAX_AGE_SECONDS = 900;
/** A pending TOTP enrollment older than this is ignored by `/mfa/verify` (codes then step up instead). */
const PENDING_TOTP_MAX_AGE_MS = 15 * 60 * 1000;

// A well-formed code that does not verify: `/mfa/verify` answers 200
// `{ verified: false }` (not 401, which a client would take for an expired
// access token and retry, burning another attempt).
const NOT_ACCEPTED = new Set(['ERR_MFA_INVALID_CODE', 'ERR_MFA_CODE_REPLAYED']);

function device(info: DeviceInfo): MfaDevice {
  return {
    id: info.id,
    type: info.type,
    name: info.name,
    created_at: info.createdAt.toISOString(),
    last_used_at: info.lastUsedAt?.toISOString() ?? null,
  };
}

/**
 * `/mfa/*`: enrollment (TOTP, WebAuthn), verification and step-up, WebAuthn
 * registration and authentication, backup codes, devices. Every route is
 * self-service (the caller's own account, with a user access token).
 */
export function mfaRoutes(
  app: Hono<CcEnv>,
  platform: Platform,
  guards: Guards,
  audit: ReturnType<typeof createAuditor>,
): void {
  const { mfa } = platform;

  const status = async (userId: string): Promise<MfaStatus> => {
    const confirmed = (await mfa.listDevices(userId)).filter((d) => d.confirmed);
    const methods = [...new Set(confirmed.map((d) => d.type))];
    return {
      enabled: methods.length > 0,
      methods,
      backup_codes_remaining: methods.length > 0 ? await mfa.remainingBackupCodes(userId) : 0,
    };
  };

  const currentUser = async (c: CcContext) => {
    const user = await platform.users.findById(principalOf(c).id);
    if (user === undefined || user.disabled)
      throw new RequestError(401, 'UNAUTHENTICATED', 'Authentication is required.');
    return user;
  };

  // A fresh access (and refresh) token in the same session, carrying the MFA
  // time and method: sensitive routes accept it for the chain's step-up window.
  const stepUp = async (c: CcContext, result: Pick<VerificationResult, 'amr' | 'verifiedAt'>) => {
    const claims = await platform.tokens.verify(bearer(c));
    const { ip, userAgent } = clientOf(c);
    const amr = [...new Set([...(claims.amr ?? ['pwd']), ...result.amr, 'mfa'])];
    const tokens = await issueSession(
      platform,
      { id: claims.sub, roles: claims.roles ?? [] },
      {
        amr,
        mfaAt: result.verifiedAt,
        authTime: new Date(claims.auth_time * 1000),
        sessionId: claims.sid,
        ...(ip === undefined ? {} : { ip }),
        ...(userAgent === undefined ? {} : { userAgent }),
      },
    );
    return { access_token: tokens.accessToken, expires_in: tokens.expiresIn, refresh_token: tokens.refreshToken };
  };

  const failed = async (c: CcContext, error: unknown): Promise<boolean> => {
    if (!isSdkError(error)) return false;
    if (error.code === 'ERR_MFA_TOO_MANY_ATTEMPTS') {
      await audit({ action: 'mfa.locked_out', outcome: 'failure', actor: actorOf(c), reason: error.code });
      return false;
    }
    if (
      !NOT_ACCEPTED.has(error.code) &&
      error.code !== 'ERR_MFA_WEBAUTHN_FAILED' &&
      error.code !== 'ERR_MFA_WEBAUTHN_COUNTER'
    ) {
      return false;
    }
    await audit({ action: 'mfa.failed', outcome: 'failure', actor: actorOf(c), reason: error.code });
    return NOT_ACCEPTED.has(error.code);
  };

  app.post(routePattern(R.mfaEnroll), guards.self(), async (c) => {
    const type = c.req.param('type');
    if (type !== 'totp' && type !== 'webauthn') {
      throw new RequestError(400, 'INVALID_MFA_TYPE', 'The MFA type is totp or webauthn.');
    }
    await noBody(c);
    const user = await currentUser(c);
    // Adding a factor to an enrolled account needs a recent MFA: otherwise a
    // stolen session could add the thief's authenticator.
    if (await mfa.isEnrolled(user.id)) {
      const age = securityOf(c).mfaAgeSeconds;
      if (age === undefined || age > STEP_UP_MAX_AGE_SECONDS) {
        throw new RequestError(403, 'MFA_REQUIRED', 'Adding a factor needs a recent MFA verification.');
      }
    }
    if (type === 'totp') {
      const e = await mfa.beginTotpEnrollment(user.id, { accountName: user.email ?? user.username });
      // Backup codes are issued when the first factor is confirmed (`/mfa/verify`
      // answers them then): codes for an unconfirmed factor would be useless.
      const data: TotpEnrollment = {
        type: 'totp',
        secret: e.secret,
        qr_code: e.qrDataUrl,
        otpauth_url: e.uri,
        backup_codes: [],
      };
      c.header('cache-control', 'no-store');
      return c.json(ok(data));
    }
    const options = await mfa.beginWebAuthnRegistration(user.id, { userName: user.username });
    const data: WebAuthnEnrollment = { type: 'webauthn', options: options as unknown as Record<string, unknown> };
    return c.json(ok(data));
  });

  app.post(R.mfaVerify.path, guards.self(), async (c) => {
    const { code } = await readBody(c, MfaVerifyRequestSchema);
    const userId = principalOf(c).id;
    const now = platform.clock.now();
    const pending = (await mfa.listDevices(userId))
      .filter((d) => d.type === 'totp' && !d.confirmed && now - d.createdAt.getTime() <= PENDING_TOTP_MAX_AGE_MS)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
    c.header('cache-control', 'no-store');
    if (pending !== undefined && looksLikeTotp(code)) {
      let enrolled: Awaited<ReturnType<typeof mfa.confirmTotpEnrollment>>;
      try {
        enrolled = await mfa.confirmTotpEnrollment(userId, pending.id, code);
      } catch (error) {
        if (await failed(c, error)) return c.json(ok({ verified: false } satisfies MfaVerifyResponse));
        throw error;
      }
      await audit({
        action: 'mfa.enrolled',
        outcome: 'success',
        actor: actorOf(c),
        resource: { type: 'mfa_device', id: enrolled.device.id },
        metadata: { type: 'totp' },
      });
      const tokens = await stepUp(c, { amr: ['otp'], verifiedAt: new Date(platform.clock.now()) });
      return c.json(
        ok({
          verified: true,
          ...tokens,
          ...(enrolled.backupCodes === undefined ? {} : { backup_codes: [...enrolled.backupCodes] }),
        }),
      );
    }
    let result: VerificationResult;
    try {
      result = looksLikeTotp(code) ? await mfa.verifyTotp(userId, code) : await mfa.verifyBackupCode(userId, code);
    } catch (error) {
      if (await failed(c, error)) return c.json(ok({ verified: false } satisfies MfaVerifyResponse));
      throw error;
    }
    await audit({ action: 'mfa.verified', outcome: 'success', actor: actorOf(c), metadata: { method: result.method } });
    if (result.method === 'backup_code') {
      await audit({
        action: 'mfa.backup_code.used',
        outcome: 'success',
        actor: actorOf(c),
        metadata: { remaining: result.remainingBackupCodes ?? 0 },
      });
    }
    return c.json(ok({ verified: true, ...(await stepUp(c, result)) }));
  });

  // Finishes a WebAuthn registration started by POST /mfa/enroll/webauthn.
  app.post(R.webauthnRegister.path, guards.self(), async (c) => {
    const body = await readBody(c, WebAuthnRegisterRequestSchema);
    const userId = principalOf(c).id;
    let enrolled: Awaited<ReturnType<typeof mfa.finishWebAuthnRegistration>>;
    try {
      enrolled = await mfa.finishWebAuthnRegistration(userId, body.response, {
        ...(body.name === undefined ? {} : { name: body.name }),
      });
    } catch (error) {
      await failed(c, error);
      throw error;
    }
    await audit({
      action: 'mfa.enrolled',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'mfa_device', id: enrolled.device.id },
      metadata: { type: 'webauthn' },
    });
    c.header('cache-control', 'no-store');
    return c.json(
      ok({
        device: device(enrolled.device),
        ...(enrolled.backupCodes === undefined ? {} : { backup_codes: [...enrolled.backupCodes] }),
      } satisfies WebAuthnRegistration),
      201,
    );
  });

  // WebAuthn request options for a step-up with a security key.
  app.post(R.webauthnChallenge.path, guards.self(), async (c) => {
    await noBody(c);
    const options = await mfa.beginWebAuthnAuthentication({ userId: principalOf(c).id });
    return c.json(ok({ options: options as unknown as Record<string, unknown> } satisfies WebAuthnChallenge));
  });

  // A WebAuthn step-up; answers like POST /mfa/verify.
  app.post(R.webauthnAuthenticate.path, guards.self(), async (c) => {
    const body = await readBody(c, WebAuthnAuthenticateRequestSchema);
    let result: VerificationResult;
    try {
      result = await mfa.finishWebAuthnAuthentication(body.response, { userId: principalOf(c).id });
    } catch (error) {
      await failed(c, error);
      throw error;
    }
    await audit({ action: 'mfa.verified', outcome: 'success', actor: actorOf(c), metadata: { method: result.method } });
    c.header('cache-control', 'no-store');
    return c.json(ok({ verified: true, ...(await stepUp(c, result)) }));
  });

  app.get(R.mfaStatus.path, guards.self(), async (c) => c.json(ok(await status(principalOf(c).id))));

  app.get(R.mfaDevices.path, guards.self(), async (c) => {
    const devices = (await mfa.listDevices(principalOf(c).id)).filter((d) => d.confirmed);
    return c.json(ok(devices.map(device)));
  });

  app.patch(routePattern(R.mfaRenameDevice), guards.self(), async (c) => {
    const id = param(c, 'id');
    const { name } = await readBody(c, RenameDeviceRequestSchema);
    return c.json(ok(device(await mfa.renameDevice(principalOf(c).id, id, name))));
  });

  app.delete(routePattern(R.mfaRemoveDevice), guards.self({ sensitive: true }), async (c) => {
    const id = param(c, 'id');
    const userId = principalOf(c).id;
    await mfa.removeDevice(userId, id);
    await audit({
      action: 'mfa.device.removed',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'mfa_device', id },
    });
    return c.json(ok(await status(userId)));
  });

  app.post(R.mfaRegenerateBackupCodes.path, guards.self({ sensitive: true }), async (c) => {
    await noBody(c);
    const codes = await mfa.generateBackupCodes(principalOf(c).id);
    await audit({
      action: 'mfa.enrolled',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'mfa_backup_codes' },
      metadata: { type: 'backup_codes', count: codes.length },
    });
    c.header('cache-control', 'no-store');
    return c.json(ok(codes));
  });
}
