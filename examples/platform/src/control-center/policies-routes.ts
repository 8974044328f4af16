import {
  type AuthorizeRequest,
  AuthorizeRequestSchema,
  type AuthorizeResponse,
  CONTROL_CENTER_ROUTES,
  fail,
  ok,
  type Policy,
  type PolicyReload,
  type PolicyValidation,
  routePattern,
  ValidatePolicyRequestSchema,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { readBody } from '../kit/body.js';
import type { createAuditor, Guards } from './guards.js';
import { actorOf, type CcContext, type CcEnv, noBody, param } from './http.js';

const R = CONTROL_CENTER_ROUTES;

/**
 * What the policy routes need from the authorization engine. Until it is
 * given (the Cedar engine of `@provisioning/authz`), every policy route
 * answers 503 `NOT_CONFIGURED` after authentication and input validation.
 */
export interface PolicyAdmin {
  list(): Promise<Policy[]>;
  get(id: string): Promise<Policy | undefined>;
  validate(source: string): Promise<PolicyValidation>;
  authorize(request: AuthorizeRequest): Promise<AuthorizeResponse>;
  /** Reloads the policy set from its source; resolves with the new version. */
  reload(): Promise<PolicyReload>;
}

const notConfigured = (c: CcContext) => c.json(fail('The policy engine is not configured.', 'NOT_CONFIGURED'), 503);

/** `/policies`: list, get, validate, what-if authorize, reload. */
export function policyRoutes(
  app: Hono<CcEnv>,
  guards: Guards,
  policies: PolicyAdmin | undefined,
  audit: ReturnType<typeof createAuditor>,
): void {
  const resource = (_r: unknown, p: Readonly<Record<string, string>>) => ({
    type: 'Provisioning::PolicySet',
    id: p.id ?? 'policies',
  });
  app.get(R.listPolicies.path, guards.platform({ action: 'list', resource }), async (c) =>
    policies === undefined ? notConfigured(c) : c.json(ok(await policies.list())),
  );
  app.get(routePattern(R.getPolicy), guards.platform({ action: 'read', resource }), async (c) => {
    const id = param(c, 'id');
    if (policies === undefined) return notConfigured(c);
    const policy = await policies.get(id);
    return policy === undefined ? c.json(fail('No such policy.', 'POLICY_NOT_FOUND'), 404) : c.json(ok(policy));
  });
  app.post(R.validatePolicies.path, guards.platform({ action: 'read', resource }), async (c) => {
    const { source } = await readBody(c, ValidatePolicyRequestSchema);
    return policies === undefined ? notConfigured(c) : c.json(ok(await policies.validate(source)));
  });
  app.post(R.authorize.path, guards.platform({ action: 'read', resource }), async (c) => {
    const body = await readBody(c, AuthorizeRequestSchema);
    return policies === undefined ? notConfigured(c) : c.json(ok(await policies.authorize(body)));
  });
  app.post(R.reloadPolicies.path, guards.platform({ action: 'admin', resource }), async (c) => {
    await noBody(c);
    if (policies === undefined) return notConfigured(c);
    try {
      const result = await policies.reload();
      await audit({
        action: 'policy.reload.succeeded',
        outcome: 'success',
        actor: actorOf(c),
        resource: { type: 'policy_set', id: result.version },
        metadata: { policies: result.policies },
      });
      return c.json(ok(result));
    } catch (error) {
      await audit({
        action: 'policy.reload.failed',
        outcome: 'failure',
        actor: actorOf(c),
        resource: { type: 'policy_set' },
      });
      throw error;
    }
  });
}
