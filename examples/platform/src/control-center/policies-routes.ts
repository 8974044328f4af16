import {
  AuthorizeRequestSchema,
  CONTROL_CENTER_ROUTES,
  fail,
  ok,
  routePattern,
  ValidatePolicyRequestSchema,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import type { PolicyAdmin } from '../kit/authorization.js';
import { readBody } from '../kit/body.js';
import { resource as cedarResource } from '../kit/resources.js';
import type { Guards } from './guards.js';
import { type CcContext, type CcEnv, clientOf, noBody, param, principalOf } from './http.js';

const R = CONTROL_CENTER_ROUTES;

export type { PolicyAdmin } from '../kit/authorization.js';

const notConfigured = (c: CcContext) => c.json(fail('The policy engine is not configured.', 'NOT_CONFIGURED'), 503);

/**
 * `/policies` (list, get, validate, what-if authorize) and the designed
 * `POST /policies/reload`, over the platform's Cedar engine. Cedar decides
 * these too (`Provisioning::Policy`): reading is for administrators, audit,
 * security and Auditors (`policy-read`); a reload is an `update`, which
 * `policy-change-mfa` allows only with an MFA of the last 5 minutes. The
 * engine writes each reload to the audit log.
 */
export function policyRoutes(app: Hono<CcEnv>, guards: Guards, policies: PolicyAdmin | undefined): void {
  const resource = (_r: unknown, p: Readonly<Record<string, string>>) => cedarResource('Policy', p.id ?? '*');
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
  app.post(R.reloadPolicies.path, guards.platform({ action: 'update', resource }), async (c) => {
    await noBody(c);
    if (policies === undefined) return notConfigured(c);
    const { ip } = clientOf(c);
    return c.json(ok(await policies.reload({ id: principalOf(c).id, ...(ip === undefined ? {} : { ip }) })));
  });
}
