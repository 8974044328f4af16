import { createNodeWebSocket } from '@hono/node-ws';
import { security } from '@provisioning/middleware/hono';
import {
  TASK_STATUSES as CONTRACT_TASK_STATUSES,
  ORCHESTRATOR_ROUTES,
  openApiDocument,
  WorkflowRequestSchema,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { createServiceApp } from '../kit/app.js';
import { peekJson, RequestError, readBody, stringField } from '../kit/body.js';
import { pageQuery } from '../kit/query.js';
import { ANY, resource } from '../kit/resources.js';
import type { ServiceModule } from '../kit/service.js';
import { breakGlassRoutes } from '../security/break-glass.js';
import { type EngineEvent, type TaskStatus, WorkflowEngine } from './engine.js';
import { processExecutor } from './executor.js';
import { DEFAULT_TEMPLATES } from './templates.js';

const ok = <T>(data: T) => ({ success: true as const, data });
const KINDS = ['servers', 'taskserv', 'cluster', 'batch'] as const;

/** The Orchestrator reference server (default :8080): tasks, workflows, status events. */
export const orchestratorService: ServiceModule = {
  name: 'orchestrator',
  port: 8080,
  async create(platform) {
    const engine = new WorkflowEngine({
      database: platform.database,
      executor: processExecutor({ timeoutMs: 300_000 }),
      templates: DEFAULT_TEMPLATES,
      clock: platform.clock,
      maxConcurrent: 4,
    });
    await engine.start();
    const app = createServiceApp({
      service: 'orchestrator',
      logger: platform.logger,
      metrics: platform.metrics,
      openapi: openApiDocument('orchestrator'),
    });
    const { upgradeWebSocket, injectWebSocket } = createNodeWebSocket({ app: app as unknown as Hono });

    app.get(ORCHESTRATOR_ROUTES.health.path, (c) => c.json(ok('Orchestrator is healthy')));

    // Cedar: tasks are Workflows of their infrastructure's workspace; the list
    // spans every workspace, so it is decided as production (see kit/resources.ts).
    const taskResource = async (_r: unknown, p: Readonly<Record<string, string>>) =>
      resource('Workflow', p.id ?? ANY, { workspace: (await engine.infraOf(p.id ?? '')) ?? ANY });
    app.get(
      '/tasks',
      security(platform.chain, { action: 'list', resource: () => resource('Workflow', ANY) }),
      async (c) => {
        const status = c.req.query('status');
        if (status !== undefined && !(CONTRACT_TASK_STATUSES as readonly string[]).includes(status)) {
          throw new RequestError(400, 'INVALID_QUERY', `status must be one of ${CONTRACT_TASK_STATUSES.join(', ')}`);
        }
        const { limit, offset } = pageQuery(c);
        return c.json(ok(await engine.listTasks({ status: status as TaskStatus | undefined, limit, offset })));
      },
    );

    app.get('/tasks/:id', security(platform.chain, { action: 'read', resource: taskResource }), async (c) =>
      c.json(ok(await engine.getTask(c.req.param('id')))),
    );

    // Designed: cancel a task, or a whole workflow by its id.
    app.post('/tasks/:id/cancel', security(platform.chain, { action: 'update', resource: taskResource }), async (c) =>
      c.json(ok(await engine.cancel(c.req.param('id')))),
    );

    for (const kind of KINDS) {
      app.post(
        `/workflows/${kind}/create`,
        security(platform.chain, {
          action: 'create',
          // The workspace is the body's `infra` (read leniently here; the handler validates it).
          resource: async (request) =>
            resource('Workflow', ANY, { workspace: stringField(await peekJson(request), 'infra') ?? ANY, kind }),
        }),
        async (c) => {
          const body = await readBody(c, WorkflowRequestSchema);
          const { workflow_id } = await engine.submit(kind, body);
          return c.json(ok(workflow_id));
        },
      );
    }

    // Status events: /ws?token=…&events=task,batch,system. The token is the
    // same JWT as in the Authorization header (browsers cannot set headers on
    // WebSockets): the whole chain checks it before the upgrade — revocation,
    // break-glass session, rate limits, Cedar (`list` on every workflow) and audit.
    app.get(
      '/ws',
      async (c, next) => {
        const token = c.req.query('token');
        const probe = new Request(new URL('/ws', c.req.url), {
          headers: {
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            ...Object.fromEntries(
              ['user-agent', 'x-forwarded-for', 'forwarded'].flatMap((h) => {
                const v = c.req.header(h);
                return v === undefined ? [] : [[h, v]];
              }),
            ),
          },
        });
        const checked = await platform.chain.check(
          probe,
          { action: 'list', resource: () => resource('Workflow', ANY) },
          {
            clientAddress: (c.env as { incoming?: { socket?: { remoteAddress?: string } } })?.incoming?.socket
              ?.remoteAddress,
          },
        );
        if (!checked.ok) return platform.chain.toResponse(checked);
        await next();
      },
      upgradeWebSocket((c) => {
        const wanted = new Set((c.req.query('events') ?? 'task,batch,system').split(',').map((e) => e.trim()));
        let listener: ((event: EngineEvent) => void) | undefined;
        return {
          onOpen(_evt, ws) {
            listener = (event) => {
              if (!wanted.has(event.type)) return;
              const message =
                event.type === 'task' && typeof event.data === 'object' && event.data !== null && 'status' in event.data
                  ? { event_type: event.type, timestamp: event.timestamp, task: event.data }
                  : {
                      event_type: event.type,
                      timestamp: event.timestamp,
                      data: { event: event.event, ...(event.data as object) },
                    };
              ws.send(JSON.stringify(message));
            };
            engine.on('event', listener);
          },
          onClose() {
            if (listener) engine.off('event', listener);
          },
        };
      }),
    );

    // The platform's security endpoints (shared route modules; the control
    // center mounts break-glass and audit too, same-origin for its UI).
    app.route('/', breakGlassRoutes(platform) as unknown as Hono);

    return {
      app,
      attach: (server) => injectWebSocket(server),
      close: () => engine.stop(10_000),
    };
  },
};
