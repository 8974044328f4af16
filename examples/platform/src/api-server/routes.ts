import type { SecurityChain } from '@provisioning/middleware';
import { type SecurityVariables, security } from '@provisioning/middleware/hono';
import {
  API_SERVER_ROUTES,
  ApiLoginRequestSchema,
  CreateClusterRequestSchema,
  CreateServerRequestSchema,
  CreateTaskservRequestSchema,
  type OperationStatus,
  routePattern,
  type Schema,
} from '@provisioning/platform-client/api';
import type { Hono, MiddlewareHandler } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import { requirePermission } from './permissions.js';
import { enumParam, pageQuery } from './query.js';
import type { OperationRunner } from './runner.js';
import { type ApiStore, publicOperation } from './store.js';

const R = API_SERVER_ROUTES;
const STATUSES: readonly OperationStatus[] = ['pending', 'running', 'completed', 'failed', 'cancelled'];

type Env = { Variables: SecurityVariables };

/** What the routes need. */
export interface ApiRouteDeps {
  readonly platform: Platform;
  readonly chain: SecurityChain;
  readonly store: ApiStore;
  readonly runner: OperationRunner;
  readonly startedAt: number;
}

/** Registers every API server route (contract paths, bare JSON, `{ error, message, code }` errors). */
export function registerApiRoutes(app: Hono, deps: ApiRouteDeps): void {
  const { platform, chain, store, runner } = deps;
  const guard = (action: string, type: string, sensitive = false): MiddlewareHandler<Env> =>
    security(chain, {
      action,
      resource: (_request, params) => ({ type, id: params.id ?? '*' }),
      ...(sensitive ? { sensitive: true } : {}),
    });
  const health = () => ({ status: 'healthy' as const, checks: { database: 'ok' } });

  // The platform documents `GET /health`; the contract names `/v1/health`. Both answer.
  app.get('/health', security(chain, { public: true }), (c) => c.json(health()));
  app.get(R.health.path, security(chain, { public: true }), (c) => c.json(health()));

  app.post(R.login.path, security(chain, { public: true }), async (c) => {
    const body = await readBody(c, ApiLoginRequestSchema);
    const ctx = c.get('security');
    let result: Awaited<ReturnType<Platform['login']['login']>>;
    try {
      result = await platform.login.login({
        username: body.username,
        password: body.password,
        ip: ctx.clientIp,
        ...(ctx.userAgent !== undefined ? { userAgent: ctx.userAgent } : {}),
      });
    } catch (error) {
      throw authFailure(error);
    }
    const tokens = result.tokens;
    if (tokens === undefined || tokens.refreshToken === undefined) throw new Error('login issued no tokens');
    // This login has no second factor: an account with MFA must log in at the control center.
    if (await platform.mfa.isEnrolled(result.user.id)) {
      await platform.tokens.revokeSession(tokens.sessionId);
      throw new RequestError(401, 'MFA_REQUIRED', 'This account uses MFA: log in through the control center.');
    }
    return c.json({ token: tokens.accessToken, refresh_token: tokens.refreshToken, expires_in: tokens.expiresIn });
  });

  app.post(R.refresh.path, security(chain, { public: true }), async (c) => {
    const body = await readBody(c, R.refresh.request as Schema<{ refresh_token: string }>);
    try {
      const tokens = await platform.tokens.refresh(body.refresh_token);
      if (tokens.refreshToken === undefined) throw new Error('refresh issued no refresh token');
      return c.json({ token: tokens.accessToken, refresh_token: tokens.refreshToken, expires_in: tokens.expiresIn });
    } catch (error) {
      throw authFailure(error, 'INVALID_REFRESH_TOKEN', 'The refresh token is invalid or expired.');
    }
  });

  app.get(R.listServers.path, guard('list', 'Provisioning::Server'), async (c) => {
    requirePermission(c, 'server_read');
    const { limit, offset } = pageQuery(c);
    return c.json(await store.listServers(limit, offset));
  });

  app.get(routePattern(R.getServer), guard('read', 'Provisioning::Server'), async (c) => {
    requirePermission(c, 'server_read');
    const server = await store.getServer(c.req.param('id') ?? '');
    if (server === undefined) throw new RequestError(404, 'SERVER_NOT_FOUND', 'No such server.');
    return c.json(server);
  });

  app.post(R.createServer.path, guard('create', 'Provisioning::Server'), async (c) => {
    const who = requirePermission(c, 'server_create');
    const body = await readBody(c, CreateServerRequestSchema);
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(body.hostname)) {
      throw new RequestError(400, 'INVALID_REQUEST', '$.hostname: expected a DNS label');
    }
    if (!body.check_mode && (await store.findServer(body.hostname))) {
      throw new RequestError(409, 'SERVER_EXISTS', `A server named ${body.hostname} already exists.`);
    }
    const op = await runner.submit('server.create', { ...body }, who);
    return c.json(publicOperation(op), 202);
  });

  // Every DELETE needs a recent MFA (the platform's rule).
  app.delete(routePattern(R.deleteServer), guard('delete', 'Provisioning::Server', true), async (c) => {
    const who = requirePermission(c, 'server_delete');
    const id = c.req.param('id') ?? '';
    if ((await store.getServer(id)) === undefined) throw new RequestError(404, 'SERVER_NOT_FOUND', 'No such server.');
    const op = await runner.submit('server.delete', { id }, who);
    return c.json(publicOperation(op), 202);
  });

  app.post(R.createTaskserv.path, guard('create', 'Provisioning::Taskserv'), async (c) => {
    const who = requirePermission(c, 'taskserv_create');
    const body = await readBody(c, CreateTaskservRequestSchema);
    if (body.servers.length === 0)
      throw new RequestError(400, 'INVALID_REQUEST', '$.servers: expected at least one server');
    const op = await runner.submit('taskserv.create', { ...body }, who);
    return c.json(publicOperation(op), 202);
  });

  app.post(R.createCluster.path, guard('create', 'Provisioning::Cluster'), async (c) => {
    const who = requirePermission(c, 'cluster_create');
    const body = await readBody(c, CreateClusterRequestSchema);
    if (body.node_count > 1000) throw new RequestError(400, 'INVALID_REQUEST', '$.node_count: expected at most 1000');
    const op = await runner.submit('cluster.create', { ...body }, who);
    return c.json(publicOperation(op), 202);
  });

  app.get(R.listOperations.path, guard('list', 'Provisioning::Workflow'), async (c) => {
    requirePermission(c, 'operation_read');
    const status = enumParam(c, 'status', STATUSES);
    const { limit, offset } = pageQuery(c);
    const ops = await store.listOperations({ ...(status ? { status } : {}), limit, offset });
    return c.json(ops.map(publicOperation));
  });

  app.get(routePattern(R.getOperation), guard('read', 'Provisioning::Workflow'), async (c) => {
    requirePermission(c, 'operation_read');
    const op = await store.getOperation(c.req.param('id') ?? '');
    if (op === undefined) throw new RequestError(404, 'OPERATION_NOT_FOUND', 'No such operation.');
    return c.json(publicOperation(op));
  });

  app.post(routePattern(R.cancelOperation), guard('update', 'Provisioning::Workflow'), async (c) => {
    requirePermission(c, 'operation_cancel');
    if ((await c.req.text()).trim() !== '') {
      throw new RequestError(400, 'UNEXPECTED_BODY', 'Cancel takes no body.');
    }
    const outcome = await runner.cancel(c.req.param('id') ?? '');
    if (outcome === undefined) throw new RequestError(404, 'OPERATION_NOT_FOUND', 'No such operation.');
    if (outcome.kind === 'final') {
      throw new RequestError(409, 'OPERATION_FINISHED', `The operation is already ${outcome.op.status}.`);
    }
    return c.json(publicOperation(outcome.op));
  });

  app.get(R.metrics.path, guard('read', 'Provisioning::Api'), async (c) => {
    requirePermission(c, 'metrics_read');
    return c.json({
      operations_running: runner.running,
      operations_total: await store.countOperations(),
      max_concurrent_operations: runner.maxConcurrent,
      uptime_seconds: Math.max(0, (platform.clock.now() - deps.startedAt) / 1000),
    });
  });
}

// Login and refresh failures say little: one code per kind, never the reason.
function authFailure(
  error: unknown,
  code = 'INVALID_CREDENTIALS',
  message = 'The username or password is wrong.',
): RequestError {
  if (error instanceof RequestError) return error;
  const kind = (error as { code?: unknown })?.code;
  if (kind === 'ERR_AUTH_LOCKED_OUT')
    return new RequestError(429, 'LOCKED_OUT', 'Too many failed attempts; try later.');
  if (typeof kind === 'string' && kind.startsWith('ERR_AUTH_')) return new RequestError(401, code, message);
  throw error;
}
