import { CONTROL_CENTER_ROUTES, ok, openApiDocument } from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { createServiceApp } from '../kit/app.js';
import type { Platform } from '../kit/platform.js';
import type { ServiceModule } from '../kit/service.js';
import { auditRoutes } from '../security/audit.js';
import { breakGlassRoutes } from '../security/break-glass.js';
import { complianceSummaryRoutes } from '../security/compliance-summary.js';
import { accountRoutes } from './account-routes.js';
import { authRoutes } from './auth-routes.js';
import { bootstrapRoutes } from './bootstrap.js';
import { createAuditor, createGuards } from './guards.js';
import type { CcEnv } from './http.js';
import { mfaRoutes } from './mfa-routes.js';
import { type PolicyAdmin, policyRoutes } from './policies-routes.js';
import { policyStatusRoutes } from './policy-status-routes.js';
import { userRoutes } from './users-routes.js';
import { DEFAULT_WEB_UI_DIR, webUiRoutes } from './web-ui.js';

export { BOOTSTRAP_KEY, prepareBootstrap } from './bootstrap.js';
export type { PolicyAdmin } from './policies-routes.js';
export { DEFAULT_WEB_UI_DIR, webUiBanner } from './web-ui.js';

/** Options of {@link createControlCenterApp}. */
export interface ControlCenterOptions {
  /** The policy engine behind `/policies`. Default: the platform's Cedar engine; `null`: 503 `NOT_CONFIGURED`. */
  readonly policies?: PolicyAdmin | null;
  /** The built web UI (`examples/control-center-ui`), served under `/ui/`; without it no UI is served. */
  readonly uiDir?: string;
}

/**
 * The Control Center's Hono app over a platform: health, authentication
 * (login with MFA, refresh, logout, verify, sessions), the one-time
 * bootstrap, MFA, users and roles, API tokens and policies. Routes and shapes
 * are `CONTROL_CENTER_ROUTES` of the shared contract (this folder's README).
 *
 * @example
 * ```ts
 * const app = createControlCenterApp(platform);
 * const res = await app.request('/health');
 * ```
 */
export function createControlCenterApp(platform: Platform, options: ControlCenterOptions = {}): Hono {
  const frame = createServiceApp({
    service: 'controlCenter',
    logger: platform.logger,
    metrics: platform.metrics,
    chain: platform.chain,
    openapi: openApiDocument('controlCenter'),
  });
  const app = frame as unknown as Hono<CcEnv>;
  const guards = createGuards(platform);
  const audit = createAuditor(platform);
  app.get(CONTROL_CENTER_ROUTES.health.path, (c) => c.json(ok({ status: 'healthy' as const })));
  authRoutes(app, platform, guards, audit);
  bootstrapRoutes(app, platform, guards, audit);
  mfaRoutes(app, platform, guards, audit);
  userRoutes(app, platform, guards, audit);
  // Before policyRoutes: `/policies/status` must not be taken for a policy id.
  policyStatusRoutes(app, platform, guards);
  policyRoutes(
    app,
    guards,
    options.policies === undefined ? platform.authorization.policies : (options.policies ?? undefined),
  );
  accountRoutes(app, platform, guards, audit);
  // Break-glass and the audit viewer for the web UI, same origin: the
  // orchestrator's modules over the same platform state.
  app.route('/', breakGlassRoutes(platform) as unknown as Hono<CcEnv>);
  app.route('/', auditRoutes(platform) as unknown as Hono<CcEnv>);
  // The dashboard's compliance summary, over the checks the control center's own state answers.
  app.route('/', complianceSummaryRoutes(platform) as unknown as Hono<CcEnv>);
  if (options.uiDir !== undefined) webUiRoutes(app, options.uiDir);
  return frame;
}

/** The Control Center reference server (default :9090). */
export const controlCenterService: ServiceModule = {
  name: 'controlCenter',
  port: 9090,
  async create(platform) {
    return { app: createControlCenterApp(platform, { uiDir: DEFAULT_WEB_UI_DIR }) };
  },
};
