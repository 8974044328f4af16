import type { AuditEventInput } from '@provisioning/audit';
import type { RouteSecurity, SecurityChain } from '@provisioning/middleware';
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
 *   chain: the platform's authentication, rate limits and audit, the chain's
 *   MFA step-up for `sensitive` routes, and a decision that admits a user
 *   access token only (not an API key: a leaked key must not enroll MFA or
 *   mint more keys; not an emergency token, whose scope and expiry a new API
 *   key would outlive).
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
  // The platform's authentication, limits and audit; only the decision differs.
  const selfChain: SecurityChain = platform.createChain({
    authorizer: {
      async authorize({ principal }) {
        // Security: an API key or an emergency (break-glass) token must not
        // manage the account — enroll MFA, mint API keys — which would outlive
        // the key's scopes or the emergency session's expiry.
        const allowed = principal.type === 'user' && principal.emergency === undefined;
        return { allowed, policyIds: [allowed ? 'self-service' : 'deny-by-default'], version: 'self-service-v1' };
      },
    },
  });
  const open = security(platform.chain, { public: true }) as MiddlewareHandler<CcEnv>;
  return {
    open,
    self: (options = {}) =>
      security(selfChain, {
        action: 'update',
        resource: () => ({ type: 'Provisioning::User', id: 'self' }),
        ...(options.sensitive === true ? { sensitive: true } : {}),
      }) as MiddlewareHandler<CcEnv>,
    platform: (route) => security(platform.chain, route) as MiddlewareHandler<CcEnv>,
  };
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
