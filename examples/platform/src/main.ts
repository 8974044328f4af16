/**
 * `npm start`: the whole platform in one process on embedded defaults —
 * SQLite under ./data, generated signing, MFA, audit and KMS keys, the five
 * services on their documented ports. Configuration is optional
 * (config/*.toml, environment overrides) and validated before anything starts.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { apiServerService } from './api-server/index.js';
import * as controlCenter from './control-center/index.js';
import { extensionRegistryService } from './extension-registry/index.js';
import { ConfigError, loadConfig } from './kit/config.js';
import { createLogger } from './kit/logger.js';
import { createMetrics } from './kit/metrics.js';
import { createPlatform } from './kit/platform.js';
import { DEFAULT_ENVIRONMENT_PATTERNS } from './kit/resources.js';
import { type RunningServer, serve } from './kit/serve.js';
import type { ServiceInstance, ServiceModule } from './kit/service.js';
import { kmsService } from './kms-service/index.js';
import { orchestratorService } from './orchestrator/index.js';

const SERVICES: ReadonlyArray<[file: string, module: ServiceModule]> = [
  ['orchestrator', orchestratorService],
  ['control-center', controlCenter.controlCenterService],
  ['kms-service', kmsService],
  ['api-server', apiServerService],
  ['extension-registry', extensionRegistryService],
];

const CIDR = {
  test: /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9a-fA-F:]*:[0-9a-fA-F:.]*(?:\/\d{1,3})?)$/,
  expected: 'an IP address or CIDR range',
};
const PATTERN = {
  test: /^[A-Za-z0-9*._-]{1,128}$/,
  expected: 'a workspace name pattern (letters, digits, . _ - and *)',
};

const PLATFORM_SPEC = {
  storage: {
    data_dir: { type: 'string', default: './data', env: 'PROVISIONING_DATA_DIR' },
    postgres_url: {
      type: 'string',
      default: '',
      pattern: { test: /^postgres(?:ql)?:\/\/\S+$/, expected: 'a postgres:// URL' },
      env: 'PROVISIONING_POSTGRES_URL',
    },
    postgres_pool_size: { type: 'integer', default: 10, min: 1, max: 200, env: 'PROVISIONING_POSTGRES_POOL_SIZE' },
    redis_url: {
      type: 'string',
      default: '',
      pattern: { test: /^rediss?:\/\/\S+$/, expected: 'a redis:// or rediss:// URL' },
      env: 'PROVISIONING_REDIS_URL',
    },
    redis_prefix: {
      type: 'string',
      default: 'prov:',
      pattern: { test: /^[\x21-\x7e]{1,64}$/, expected: 'printable ASCII without spaces' },
      env: 'PROVISIONING_REDIS_PREFIX',
    },
    instance: {
      type: 'string',
      default: 'main',
      pattern: { test: /^[a-z][a-z0-9_]{0,30}$/, expected: 'a lowercase identifier of at most 31 characters' },
      env: 'PROVISIONING_INSTANCE',
    },
  },
  security: {
    rate_limit_per_minute: { type: 'integer', default: 100, min: 1, max: 1_000_000, env: 'PROVISIONING_RATE_LIMIT' },
    trusted_proxies: { type: 'strings', default: [], each: CIDR, env: 'PROVISIONING_TRUSTED_PROXIES' },
    public_origin: { type: 'string', default: 'http://localhost:9090', env: 'PROVISIONING_PUBLIC_ORIGIN' },
  },
  authorization: {
    policy_dir: { type: 'string', default: '', env: 'PROVISIONING_POLICY_DIR' },
    watch: { type: 'boolean', default: true, env: 'PROVISIONING_POLICY_WATCH' },
    trusted_networks: {
      type: 'strings',
      default: ['127.0.0.0/8', '::1/128'],
      each: CIDR,
      env: 'PROVISIONING_TRUSTED_NETWORKS',
    },
    development_workspaces: { type: 'strings', default: DEFAULT_ENVIRONMENT_PATTERNS.development, each: PATTERN },
    staging_workspaces: { type: 'strings', default: DEFAULT_ENVIRONMENT_PATTERNS.staging, each: PATTERN },
    production_workspaces: { type: 'strings', default: DEFAULT_ENVIRONMENT_PATTERNS.production, each: PATTERN },
  },
  log: {
    level: {
      type: 'string',
      default: 'info',
      oneOf: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      env: 'LOG_LEVEL',
    },
  },
} as const;

const serviceSpec = (name: string, port: number) =>
  ({
    server: {
      host: { type: 'string', default: '127.0.0.1', env: 'PROVISIONING_HOST' },
      port: {
        type: 'integer',
        default: port,
        min: 0,
        max: 65_535,
        env: `PROVISIONING_${name.toUpperCase().replace(/-/g, '_')}_PORT`,
      },
    },
  }) as const;

async function main(): Promise<void> {
  const started = performance.now();
  let config: ReturnType<typeof loadConfig<typeof PLATFORM_SPEC>>;
  let serviceConfigs: Array<{ host: string; port: number }>;
  try {
    config = loadConfig('platform', PLATFORM_SPEC);
    if (config.authorization.policy_dir !== '' && !existsSync(config.authorization.policy_dir)) {
      throw new ConfigError([`config/platform.toml [authorization] policy_dir: no such directory`]);
    }
    serviceConfigs = SERVICES.map(
      ([file, module]) => loadConfig(file, { ...module.config, ...serviceSpec(file, module.port) }).server,
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger({ level: config.log.level });
  const platform = await createPlatform({
    dataDir: config.storage.data_dir,
    logger,
    metrics: createMetrics(),
    rateLimitPerMinute: config.security.rate_limit_per_minute,
    trustedProxies: config.security.trusted_proxies,
    origin: config.security.public_origin,
    storage: {
      ...(config.storage.postgres_url === '' ? {} : { postgresUrl: config.storage.postgres_url }),
      ...(config.storage.redis_url === '' ? {} : { redisUrl: config.storage.redis_url }),
      postgresPoolSize: config.storage.postgres_pool_size,
      redisPrefix: config.storage.redis_prefix,
      instance: config.storage.instance,
    },
    authorization: {
      ...(config.authorization.policy_dir === '' ? {} : { policyDir: config.authorization.policy_dir }),
      watch: config.authorization.watch,
      trustedNetworks: config.authorization.trusted_networks,
      environments: {
        development: config.authorization.development_workspaces,
        staging: config.authorization.staging_workspaces,
        production: config.authorization.production_workspaces,
      },
    },
  });

  const running: Array<{ name: string; instance: ServiceInstance; server: RunningServer }> = [];
  for (const [index, [file, module]] of SERVICES.entries()) {
    const instance = await module.create(platform);
    const { host, port } = serviceConfigs[index] as { host: string; port: number };
    const server = await serve(instance.app, { host, port });
    instance.attach?.(server.node as Server);
    running.push({ name: file, instance, server });
  }

  const ms = Math.round(performance.now() - started);
  console.log(
    `Provisioning platform ready in ${ms} ms (${platform.storage}, keys in ${config.storage.data_dir}, policies from ${platform.authorization.policyDir}):`,
  );
  for (const { name, server } of running) console.log(`  ${name.padEnd(20)} ${server.url}`);
  const ccUrl = running.find((r) => r.name === 'control-center')?.server.url;
  if (ccUrl !== undefined) {
    const built = existsSync(join(controlCenter.DEFAULT_WEB_UI_DIR, 'index.html'));
    for (const line of controlCenter.webUiBanner(config.security.public_origin, ccUrl, built)) console.log(line);
  }
  if ('prepareBootstrap' in controlCenter && typeof controlCenter.prepareBootstrap === 'function') {
    const secret = await (controlCenter.prepareBootstrap as (p: typeof platform) => Promise<string | undefined>)(
      platform,
    );
    if (secret !== undefined) {
      const cc = running.find((r) => r.name === 'control-center')?.server.url;
      // Printed once, to the operator's console only (never to the JSON log).
      console.log('\nNo users yet. Create the first administrator with this one-time bootstrap secret:');
      console.log(`  curl -X POST ${cc}/auth/bootstrap -H 'content-type: application/json' \\`);
      console.log(`       -d '{"secret":"${secret}","username":"admin","password":"<a long password>"}'`);
      console.log(`  or in the web UI: ${config.security.public_origin}/ui/ → "Create the first administrator"\n`);
    }
  }
  console.log('Press Ctrl-C to stop.');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      // Drain HTTP first (10 s), then background work (tasks, the lease sweeper),
      // then the platform: break-glass monitor, policy watcher, the audit log
      // (flushed, a last checkpoint signed) and the stores.
      await Promise.allSettled(running.map(({ server }) => server.close(10_000)));
      await Promise.allSettled(running.map(({ instance }) => instance.close?.()));
      await platform.close();
      console.log('Stopped.');
      process.exit(0);
    } catch (error) {
      console.error('Stopped with an error:', (error as { code?: unknown })?.code ?? (error as Error)?.name);
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  await once(process, 'beforeExit');
}

main().catch((error: unknown) => {
  // Security: driver messages may quote a connection URL; never print its credentials.
  const message = (error instanceof Error ? error.message : String(error)).replace(/\/\/[^@/\s]*@/g, '//***@');
  const code = (error as { code?: unknown })?.code;
  console.error(`The platform failed to start${typeof code === 'string' ? ` (${code})` : ''}: ${message}`);
  process.exit(1);
});
