import type { SecurityChain } from '@provisioning/middleware';
import { API_SERVER_DEFAULTS, openApiDocument } from '@provisioning/platform-client/api';
import { createServiceApp } from '../kit/app.js';
import { loadConfig } from '../kit/config.js';
import type { Platform } from '../kit/platform.js';
import type { ServiceInstance, ServiceModule } from '../kit/service.js';
import { rbacThenCedar } from './permissions.js';
import { delayStep, type ProvisioningStep, simulatedProvisioner } from './provisioner.js';
import { registerApiRoutes } from './routes.js';
import { OperationRunner } from './runner.js';
import { ApiStore } from './store.js';

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  /** Operations running at once. Default 10 (`[provisioning] max_concurrent_operations`). */
  readonly maxConcurrentOperations?: number;
  /** Per-operation timeout in seconds. Default 300 (`[provisioning] timeout_seconds`). */
  readonly timeoutSeconds?: number;
  /** The simulated provisioning step. Default: wait 500 ms. */
  readonly step?: ProvisioningStep;
  /** The security chain. Default: the platform's, in the API error shape, deciding RBAC then Cedar. */
  readonly chain?: SecurityChain;
}

/** Builds the API server over the platform; `runner` is exposed for tests and shutdown. */
export async function createApiServer(
  platform: Platform,
  options: ApiServerOptions = {},
): Promise<ServiceInstance & { runner: OperationRunner; close(): Promise<void> }> {
  const store = await ApiStore.open(platform.database);
  const runner = new OperationRunner({
    store,
    clock: platform.clock,
    logger: platform.logger,
    work: simulatedProvisioner(store, platform.clock, options.step ?? delayStep(500)),
    maxConcurrent: options.maxConcurrentOperations ?? API_SERVER_DEFAULTS.maxConcurrentOperations,
    timeoutMs: (options.timeoutSeconds ?? API_SERVER_DEFAULTS.timeoutSeconds) * 1000,
  });
  const app = createServiceApp({
    service: 'apiServer',
    logger: platform.logger,
    metrics: platform.metrics,
    // `/metrics` is Cedar's `monitor` alone: it has no RBAC permission of the API.
    chain: platform.createChain({ errorShape: 'api' }),
    openapi: openApiDocument('apiServer'),
    errorShape: 'api',
  });
  registerApiRoutes(app, {
    platform,
    chain: options.chain ?? platform.createChain({ errorShape: 'api', authorizer: rbacThenCedar(platform.authorizer) }),
    store,
    runner,
    startedAt: platform.clock.now(),
  });
  await runner.start();
  return { app, runner, close: () => runner.close() };
}

/**
 * Configuration (`config/api-server.toml` or the environment): the platform's
 * known `[provisioning] timeout_seconds = 300, max_concurrent_operations = 10`.
 */
export const API_SERVER_CONFIG = {
  server: {
    host: { type: 'string', default: '127.0.0.1', env: 'PROVISIONING_HOST' },
    port: { type: 'integer', default: 8083, min: 0, max: 65_535, env: 'PROVISIONING_API_SERVER_PORT' },
  },
  provisioning: {
    timeout_seconds: {
      type: 'integer',
      default: API_SERVER_DEFAULTS.timeoutSeconds,
      min: 1,
      max: 86_400,
      env: 'PROVISIONING_API_TIMEOUT_SECONDS',
    },
    max_concurrent_operations: {
      type: 'integer',
      default: API_SERVER_DEFAULTS.maxConcurrentOperations,
      min: 1,
      max: 1000,
      env: 'PROVISIONING_API_MAX_CONCURRENT_OPERATIONS',
    },
  },
} as const;

/** The API Server reference server (default :8083). */
export const apiServerService: ServiceModule = {
  name: 'apiServer',
  port: 8083,
  config: API_SERVER_CONFIG,
  create(platform) {
    const config = loadConfig('api-server', API_SERVER_CONFIG, { otherSections: ['server'] });
    return createApiServer(platform, {
      timeoutSeconds: config.provisioning.timeout_seconds,
      maxConcurrentOperations: config.provisioning.max_concurrent_operations,
    });
  },
};
