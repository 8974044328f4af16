import { CONTROL_CENTER_ROUTES, ok, type PolicyReloadState } from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { issueText } from '../kit/authorization.js';
import type { Platform } from '../kit/platform.js';
import { resource } from '../kit/resources.js';
import type { Guards } from './guards.js';
import type { CcEnv } from './http.js';

const R = CONTROL_CENTER_ROUTES;
const MAX_ERRORS = 20;

/**
 * `GET /policies/status` (designed): the version and size of the Cedar set in
 * force and its last reload: `loaded` when this control center started,
 * then each reload's outcome with, for a failed one, where the new set is
 * broken (file, line, policy: never request data). A failed reload keeps the
 * last good set, so `version` is always the set that decides. Cedar `read`
 * on the policies, like listing them. Registered before `/policies/{id}`.
 */
export function policyStatusRoutes(app: Hono<CcEnv>, platform: Platform, guards: Guards): void {
  const engine = platform.authorization.engine;
  const now = () => new Date(platform.clock.now()).toISOString();
  let last: PolicyReloadState = { at: now(), outcome: 'loaded', errors: [] };
  engine.on('reloaded', () => {
    last = { at: now(), outcome: 'succeeded', errors: [] };
  });
  engine.on('reload-failed', (event) => {
    last = { at: now(), outcome: 'failed', errors: event.issues.slice(0, MAX_ERRORS).map(issueText) };
  });
  app.get(R.policyStatus.path, guards.platform({ action: 'read', resource: () => resource('Policy', '*') }), (c) =>
    c.json(ok({ version: engine.version, policies: engine.policyIds.length, last_reload: last })),
  );
}
