import { createNodeWebSocket } from '@hono/node-ws';
import { security } from '@provisioning/middleware/hono';
import {
  TASK_STATUSES as CONTRACT_TASK_STATUSES,
  ORCHESTRATOR_ROUTES,
  openApiDocument,
  ORCHESTRATOR_ROUTES as R,
  routePattern,
  WorkflowRequestSchema,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { createServiceApp } from '../kit/app.js';
import { peekJson, RequestError, readBody, stringField } from '../kit/body.js';
import { type Config, ConfigError, loadConfig } from '../kit/config.js';
import { param } from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { pageQuery } from '../kit/query.js';
import { ANY, resource } from '../kit/resources.js';
import type { ServiceInstance, ServiceModule } from '../kit/service.js';
import { auditRoutes } from '../security/audit.js';
import { breakGlassRoutes } from '../security/break-glass.js';
import { complianceRoutes } from './compliance.js';
import { type EngineEvent, type TaskStatus, WorkflowEngine } from './engine.js';
import { processExecutor } from './executor.js';
import { createLeases, type Leases, type LeasesOptions } from './leases.js';
import { secretRoutes } from './secrets-routes.js';
import { sshRoutes } from './ssh-routes.js';
import { DEFAULT_TEMPLATES } from './templates.js';

const ok = <T>(data: T) => ({ success: true as const, data });
const KINDS = ['servers', 'taskserv', 'cluster', 'batch'] as const;
// The contract's workflow_id query (letters, digits, dashes: a UUID).
const WORKFLOW_ID = /^[0-9A-Za-z-]{1,64}$/;

/** Options of {@link createOrchestrator} (`config/orchestrator.toml`). */
export interface OrchestratorOptions extends LeasesOptions {
  /** The SSH port `connect` names. Default 22. */
  readonly sshPort?: number;
}

/**
 * Configuration (`config/orchestrator.toml` or the environment): the dynamic
 * secrets' optional providers and the SSH deployment target. The Vault token
 * comes from `PROVISIONING_VAULT_TOKEN` only (never a file).
 */
export const ORCHESTRATOR_CONFIG = {
  secrets: {
    aws_region: {
      type: 'string',
      default: '',
      pattern: { test: /^[a-z]{2}(?:-[a-z]+)+-\d$/, expected: 'an AWS region such as eu-west-1' },
      env: 'PROVISIONING_AWS_REGION',
    },
    vault_address: {
      type: 'string',
      default: '',
      pattern: { test: /^https?:\/\/\S+$/, expected: 'an http(s) URL' },
      env: 'PROVISIONING_VAULT_ADDR',
    },
    vault_namespace: { type: 'string', default: '', env: 'PROVISIONING_VAULT_NAMESPACE' },
  },
  // UpCloud API subaccounts: offered when api_url is set; the main account's
  // credentials come from the environment only ($PROVISIONING_UPCLOUD_TOKEN,
  // or $PROVISIONING_UPCLOUD_USERNAME and $PROVISIONING_UPCLOUD_PASSWORD).
  // UpCloud requires contact details on every subaccount: the profile keys.
  upcloud: {
    api_url: {
      type: 'string',
      default: '',
      pattern: { test: /^https?:\/\/\S+$/, expected: 'an http(s) URL such as https://api.upcloud.com/1.3' },
      env: 'PROVISIONING_UPCLOUD_API_URL',
    },
    username_prefix: {
      type: 'string',
      default: 'lease',
      pattern: { test: /^[a-zA-Z][a-zA-Z0-9]{0,20}$/, expected: 'up to 21 letters and digits' },
    },
    first_name: { type: 'string', default: '' },
    last_name: { type: 'string', default: '' },
    company: { type: 'string', default: '' },
    address: { type: 'string', default: '' },
    postal_code: { type: 'string', default: '' },
    city: { type: 'string', default: '' },
    email: { type: 'string', default: '' },
    phone: { type: 'string', default: '' },
    state: { type: 'string', default: '' },
    country: { type: 'string', default: '' },
    currency: { type: 'string', default: '' },
    language: { type: 'string', default: '' },
    vat_number: { type: 'string', default: '' },
    timezone: { type: 'string', default: '' },
  },
  ssh: {
    authorized_keys_dir: { type: 'string', default: '', env: 'PROVISIONING_SSH_AUTHORIZED_KEYS_DIR' },
    port: { type: 'integer', default: 22, min: 1, max: 65_535, env: 'PROVISIONING_SSH_PORT' },
  },
} as const;

/** What UpCloud requires of a subaccount's contact details (the rest may be empty). */
const UPCLOUD_REQUIRED = [
  'first_name',
  'last_name',
  'email',
  'phone',
  'country',
  'currency',
  'language',
  'timezone',
] as const;

/** The UpCloud provider's options from `[upcloud]` and the environment, or undefined when it is not configured. */
export function upcloudOptions(section: Config<typeof ORCHESTRATOR_CONFIG>['upcloud']): LeasesOptions['upcloud'] {
  const { api_url: baseUrl, username_prefix: usernamePrefix, ...profile } = section;
  if (baseUrl === '') return undefined;
  const env = process.env;
  const auth = env.PROVISIONING_UPCLOUD_TOKEN
    ? { token: env.PROVISIONING_UPCLOUD_TOKEN }
    : env.PROVISIONING_UPCLOUD_USERNAME && env.PROVISIONING_UPCLOUD_PASSWORD
      ? { username: env.PROVISIONING_UPCLOUD_USERNAME, password: env.PROVISIONING_UPCLOUD_PASSWORD }
      : undefined;
  const problems = [
    ...(auth === undefined
      ? [
          '[upcloud] api_url needs $PROVISIONING_UPCLOUD_TOKEN, or $PROVISIONING_UPCLOUD_USERNAME and $PROVISIONING_UPCLOUD_PASSWORD',
        ]
      : []),
    ...UPCLOUD_REQUIRED.filter((key) => profile[key] === '').map(
      (key) => `[upcloud] ${key}: UpCloud requires it on every subaccount`,
    ),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return { baseUrl, usernamePrefix, auth: auth as NonNullable<typeof auth>, profile };
}

/** The Orchestrator reference server (default :8080): tasks, workflows, status events, security endpoints. */
export const orchestratorService: ServiceModule = {
  name: 'orchestrator',
  port: 8080,
  config: ORCHESTRATOR_CONFIG,
  create(platform) {
    const config = loadConfig('orchestrator', ORCHESTRATOR_CONFIG, { otherSections: ['server'] });
    const token = process.env.PROVISIONING_VAULT_TOKEN;
    if (config.secrets.vault_address !== '' && (token === undefined || token === '')) {
      throw new ConfigError(['[secrets] vault_address needs the token in $PROVISIONING_VAULT_TOKEN']);
    }
    const upcloud = upcloudOptions(config.upcloud);
    return createOrchestrator(platform, {
      ...(upcloud === undefined ? {} : { upcloud }),
      ...(config.secrets.aws_region === '' ? {} : { awsRegion: config.secrets.aws_region }),
      ...(config.secrets.vault_address === ''
        ? {}
        : {
            vault: {
              address: config.secrets.vault_address,
              token: token as string,
              ...(config.secrets.vault_namespace === '' ? {} : { namespace: config.secrets.vault_namespace }),
            },
          }),
      ...(config.ssh.authorized_keys_dir === '' ? {} : { authorizedKeysDir: config.ssh.authorized_keys_dir }),
      sshPort: config.ssh.port,
    });
  },
};

/** Builds the orchestrator over a platform: the workflow engine, the lease manager and its sweeper, the routes. */
export async function createOrchestrator(
  platform: Platform,
  options: OrchestratorOptions = {},
): Promise<ServiceInstance & { readonly leases: Leases }> {
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
    chain: platform.chain,
    openapi: openApiDocument('orchestrator'),
  });
  const { upgradeWebSocket, injectWebSocket } = createNodeWebSocket({ app: app as unknown as Hono });

  app.get(ORCHESTRATOR_ROUTES.health.path, (c) => c.json(ok('Orchestrator is healthy')));

  // Cedar: tasks are Workflows of their infrastructure's workspace; the list
  // spans every workspace, so it is decided as production (see kit/resources.ts).
  const taskResource = async (_r: unknown, p: Readonly<Record<string, string>>) =>
    resource('Workflow', p.id ?? ANY, { workspace: (await engine.infraOf(p.id ?? '')) ?? ANY });
  app.get(
    R.listTasks.path,
    security(platform.chain, { action: 'list', resource: () => resource('Workflow', ANY) }),
    async (c) => {
      const status = c.req.query('status');
      if (status !== undefined && !(CONTRACT_TASK_STATUSES as readonly string[]).includes(status)) {
        throw new RequestError(400, 'INVALID_QUERY', `status must be one of ${CONTRACT_TASK_STATUSES.join(', ')}`);
      }
      const workflowId = c.req.query('workflow_id');
      if (workflowId !== undefined && !WORKFLOW_ID.test(workflowId)) {
        throw new RequestError(400, 'INVALID_QUERY', 'workflow_id must be a workflow id');
      }
      const { limit, offset } = pageQuery(c);
      return c.json(
        ok(
          await engine.listTasks({
            status: status as TaskStatus | undefined,
            limit,
            offset,
            ...(workflowId === undefined ? {} : { workflowId }),
          }),
        ),
      );
    },
  );

  app.get(routePattern(R.getTask), security(platform.chain, { action: 'read', resource: taskResource }), async (c) =>
    c.json(ok(await engine.getTask(param(c, 'id')))),
  );

  // Designed: cancel a task, or a whole workflow by its id.
  app.post(
    routePattern(R.cancelTask),
    security(platform.chain, { action: 'update', resource: taskResource }),
    async (c) => c.json(ok(await engine.cancel(param(c, 'id')))),
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
  app.route('/', auditRoutes(platform) as unknown as Hono);
  const leases = await createLeases(platform, options);
  const { app: complianceApp } = await complianceRoutes(platform, leases);
  app.route('/', complianceApp as unknown as Hono);
  app.route('/', secretRoutes(platform, leases) as unknown as Hono);
  app.route(
    '/',
    sshRoutes(platform, leases, {
      ...(options.sshPort === undefined ? {} : { port: options.sshPort }),
    }) as unknown as Hono,
  );

  return {
    app,
    leases,
    attach: (server) => injectWebSocket(server),
    async close() {
      // Drained HTTP first (main.ts); then the sweeper and the running tasks.
      await Promise.all([leases.close(), engine.stop(10_000)]);
    },
  };
}
