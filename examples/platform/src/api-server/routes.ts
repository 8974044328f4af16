import type { ResourceRef, SecurityChain } from '@provisioning/middleware';
import { type SecurityVariables, security } from '@provisioning/middleware/hono';
import {
  API_SERVER_ROUTES,
  ApiLoginRequestSchema,
  type ApiPermission,
  CreateClusterRequestSchema,
  CreateServerRequestSchema,
  CreateTaskservRequestSchema,
  type OperationStatus,
  routePattern,
  type Schema,
} from '@provisioning/platform-client/api';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { peekJson, RequestError, readBody, stringField } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import { enumParam, pageQuery } from '../kit/query.js';
import { ANY, PLATFORM_RESOURCE, resource } from '../kit/resources.js';
import { PERMISSION_KEY } from './permissions.js';
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
  // Each route names its permission (RBAC) and its Cedar action and resource;
  // the chain's authorizer decides both (permissions.ts: rbacThenCedar).
  type Resolve = (request: unknown, params: Readonly<Record<string, string>>) => ResourceRef | Promise<ResourceRef>;
  const guard = (
    permission: ApiPermission,
    action: string,
    resolve: Resolve,
    sensitive = false,
  ): MiddlewareHandler<Env> =>
    security(chain, {
      action,
      resource: resolve,
      context: () => ({ [PERMISSION_KEY]: permission }),
      ...(sensitive ? { sensitive: true } : {}),
    });
  const fromBody =
    (type: string): Resolve =>
    async (request) =>
      resource(type, ANY, { workspace: stringField(await peekJson(request), 'workspace') ?? ANY });
  const server: Resolve = async (_r, p) =>
    resource('Server', p.id ?? ANY, { workspace: (await store.serverWorkspace(p.id ?? '')) ?? ANY });
  const operation: Resolve = async (_r, p) => {
    const workspace = (await store.getOperation(p.id ?? ''))?.params.workspace;
    return resource('Workflow', p.id ?? ANY, { workspace: typeof workspace === 'string' ? workspace : ANY });
  };
  const anyServer: Resolve = () => resource('Server', ANY);
  const anyOperation: Resolve = () => resource('Workflow', ANY);
  const who = (c: Context<Env>): string => c.get('security').principal?.id ?? 'unknown';
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

  app.get(R.listServers.path, guard('server_read', 'list', anyServer), async (c) => {
    const { limit, offset } = pageQuery(c);
    return c.json(await store.listServers(limit, offset));
  });

  app.get(routePattern(R.getServer), guard('server_read', 'read', server), async (c) => {
    const server = await store.getServer(c.req.param('id') ?? '');
    if (server === undefined) throw new RequestError(404, 'SERVER_NOT_FOUND', 'No such server.');
    return c.json(server);
  });

  app.post(R.createServer.path, guard('server_create', 'create', fromBody('Server')), async (c) => {
    const body = await readBody(c, CreateServerRequestSchema);
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(body.hostname)) {
      throw new RequestError(400, 'INVALID_REQUEST', '$.hostname: expected a DNS label');
    }
    if (!body.check_mode && (await store.findServer(body.hostname))) {
      throw new RequestError(409, 'SERVER_EXISTS', `A server named ${body.hostname} already exists.`);
    }
    const op = await runner.submit('server.create', { ...body }, who(c));
    return c.json(publicOperation(op), 202);
  });

  // Every DELETE needs a recent MFA (the platform's rule).
  app.delete(routePattern(R.deleteServer), guard('server_delete', 'delete', server, true), async (c) => {
    const id = c.req.param('id') ?? '';
    if ((await store.getServer(id)) === undefined) throw new RequestError(404, 'SERVER_NOT_FOUND', 'No such server.');
    const op = await runner.submit(
      'server.delete',
      { id, workspace: (await store.serverWorkspace(id)) ?? ANY },
      who(c),
    );
    return c.json(publicOperation(op), 202);
  });

  app.post(R.createTaskserv.path, guard('taskserv_create', 'create', fromBody('Taskserv')), async (c) => {
    const body = await readBody(c, CreateTaskservRequestSchema);
    if (body.servers.length === 0)
      throw new RequestError(400, 'INVALID_REQUEST', '$.servers: expected at least one server');
    const op = await runner.submit('taskserv.create', { ...body }, who(c));
    return c.json(publicOperation(op), 202);
  });

  app.post(R.createCluster.path, guard('cluster_create', 'create', fromBody('Cluster')), async (c) => {
    const body = await readBody(c, CreateClusterRequestSchema);
    if (body.node_count > 1000) throw new RequestError(400, 'INVALID_REQUEST', '$.node_count: expected at most 1000');
    const op = await runner.submit('cluster.create', { ...body }, who(c));
    return c.json(publicOperation(op), 202);
  });

  app.get(R.listOperations.path, guard('operation_read', 'list', anyOperation), async (c) => {
    const status = enumParam(c, 'status', STATUSES);
    const { limit, offset } = pageQuery(c);
    const ops = await store.listOperations({ ...(status ? { status } : {}), limit, offset });
    return c.json(ops.map(publicOperation));
  });

  app.get(routePattern(R.getOperation), guard('operation_read', 'read', operation), async (c) => {
    const op = await store.getOperation(c.req.param('id') ?? '');
    if (op === undefined) throw new RequestError(404, 'OPERATION_NOT_FOUND', 'No such operation.');
    return c.json(publicOperation(op));
  });

  app.post(routePattern(R.cancelOperation), guard('operation_cancel', 'update', operation), async (c) => {
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

  app.get(
    R.metrics.path,
    guard('metrics_read', 'monitor', () => PLATFORM_RESOURCE),
    async (c) => {
      return c.json({
        operations_running: runner.running,
        operations_total: await store.countOperations(),
        max_concurrent_operations: runner.maxConcurrent,
        uptime_seconds: Math.max(0, (platform.clock.now() - deps.startedAt) / 1000),
      });
    },
  );
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
