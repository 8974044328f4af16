import type { AuditEventInput } from '@provisioning/audit';
import { createSecurityChain, type RouteSecurity, type SecurityChain } from '@provisioning/middleware';
import { security } from '@provisioning/middleware/hono';
import type { MiddlewareHandler } from 'hono';
import type { Platform } from '../kit/platform.js';
import type { CcEnv } from './http.js';

/**
 * The route guards of the control center.
 *
 * - `open`: public routes (health, login, refresh, bootstrap): the platform
 *   chain's per-IP rate limit only.
 * - `self(…)`: a user managing their own account (logout, sessions, MFA, API
 *   tokens). Every authenticated user may do that whatever the policy says of
 *   platform resources, so these routes are authorized by a self-service
 *   chain: a user access token (not an API key: a leaked key must not
 *   enroll MFA or mint more keys), the chain's MFA step-up for `sensitive`
 *   routes, the platform's audit recorder. The platform chain's per-IP rate
 *   limit runs first, so the configured limit applies here too.
 * - `platform(…)`: everything else goes through the platform chain and its
 *   authorizer (the Cedar engine once wired).
 */
export interface Guards {
  readonly open: MiddlewareHandler<CcEnv>;
  self(options?: { readonly sensitive?: boolean }): MiddlewareHandler<CcEnv>;
  platform(route: RouteSecurity): MiddlewareHandler<CcEnv>;
}

/** Builds the {@link Guards} over a platform. */
export function createGuards(platform: Platform): Guards {
  const selfChain: SecurityChain = createSecurityChain({
    clock: platform.clock,
    authenticator: {
      async authenticate(credential) {
        if (credential.kind !== 'bearer') throw new Error('self-service needs a user session');
        const claims = await platform.tokens.verify(credential.token);
        return {
          id: claims.sub,
          type: 'user',
          roles: claims.roles ?? [],
          sessionId: claims.sid,
          amr: claims.amr ?? [],
          ...(claims.mfa_at === undefined ? {} : { mfaAt: new Date(claims.mfa_at * 1000) }),
        };
      },
    },
    authorizer: {
      async authorize({ principal }) {
        const allowed = principal.type === 'user';
        return { allowed, policyIds: [allowed ? 'self-service' : 'deny-by-default'], version: 'self-service-v1' };
      },
    },
    audit: platform.audit,
  });
  const open = security(platform.chain, { public: true }) as MiddlewareHandler<CcEnv>;
  return {
    open,
    self: (options = {}) => {
      const guard = security(selfChain, {
        action: 'update',
        resource: () => ({ type: 'Provisioning::User', id: 'self' }),
        ...(options.sensitive === true ? { sensitive: true } : {}),
      }) as MiddlewareHandler<CcEnv>;
      // The platform's per-IP limit, then the self-service chain. A refusal
      // is a Response, but not always of the global class: under
      // @hono/node-server `Response` is its own lighter class while the chain's
      // `Response.json()` builds an undici one, so `instanceof` missed it and
      // the request fell through to a 500. Recognise it by its shape.
      return async (c, next) =>
        open(c, async () => {
          const refusal: unknown = await guard(c, next);
          if (isResponse(refusal)) c.res = refusal;
        });
    },
    platform: (route) => security(platform.chain, route) as MiddlewareHandler<CcEnv>,
  };
}

function isResponse(value: unknown): value is Response {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Response).status === 'number' &&
    (value as Response).headers !== undefined
  );
}

/** Records an audit event; a failure is logged (by code only) and never fails the request. */
export function createAuditor(platform: Platform): (event: AuditEventInput) => Promise<void> {
  return async (event) => {
    try {
      await platform.auditLog.record(event);
    } catch (error) {
      platform.logger.error(
        { err: { code: (error as { code?: unknown })?.code }, action: event.action },
        'audit record failed',
      );
    }
  };
}
