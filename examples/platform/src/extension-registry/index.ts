import type { SecurityChain } from '@provisioning/middleware';
import { openApiDocument } from '@provisioning/platform-client/api';
import { createServiceApp } from '../kit/app.js';
import { loadConfig } from '../kit/config.js';
import type { Platform } from '../kit/platform.js';
import type { ServiceInstance, ServiceModule } from '../kit/service.js';
import { createCatalog } from './catalog.js';
import { giteaBackend } from './gitea-backend.js';
import { ociBackend } from './oci-backend.js';
import { type RegistryAccess, registerRegistryRoutes } from './routes.js';
import type { ExtensionBackend } from './types.js';

/** Options of {@link createExtensionRegistry}. */
export interface ExtensionRegistryOptions {
  readonly backends: readonly ExtensionBackend[];
  /** Default `api-key`: every read needs an API key (`X-API-Key`) or a token; health stays public. */
  readonly access?: RegistryAccess;
  /** Cache freshness in seconds. Default 300. */
  readonly cacheTtlSeconds?: number;
  /** Cache size in entries. Default 256. */
  readonly cacheMaxEntries?: number;
  readonly chain?: SecurityChain;
}

/** The service's OpenAPI document (search and download are in the contract too). */
export function registryOpenApi(): Record<string, unknown> {
  return openApiDocument('extensionRegistry') as unknown as Record<string, unknown>;
}

/** Builds the registry over explicit backends (tests, embedding). */
export function createExtensionRegistry(
  platform: Platform,
  options: ExtensionRegistryOptions,
): ServiceInstance & {
  catalog: ReturnType<typeof createCatalog>;
} {
  const catalog = createCatalog({
    backends: options.backends,
    clock: platform.clock,
    ttlMs: (options.cacheTtlSeconds ?? 300) * 1000,
    maxEntries: options.cacheMaxEntries ?? 256,
  });
  const app = createServiceApp({
    service: 'extensionRegistry',
    logger: platform.logger,
    metrics: platform.metrics,
    chain: options.chain ?? platform.chain,
    openapi: registryOpenApi(),
  });
  registerRegistryRoutes(app, options.chain ?? platform.chain, catalog, options.access ?? 'api-key');
  return { app, catalog };
}

/**
 * Configuration (`config/extension-registry.toml` or the environment). The
 * Gitea token comes from the environment only, so it never sits in a file.
 */
export const EXTENSION_REGISTRY_CONFIG = {
  server: {
    host: { type: 'string', default: '127.0.0.1', env: 'PROVISIONING_HOST' },
    port: { type: 'integer', default: 8084, min: 0, max: 65_535, env: 'PROVISIONING_EXTENSION_REGISTRY_PORT' },
    public_url: { type: 'string', default: 'http://localhost:8084', env: 'PROVISIONING_EXTENSION_REGISTRY_URL' },
    access: { type: 'string', default: 'api-key', oneOf: ['api-key', 'public'], env: 'PROVISIONING_EXTENSION_ACCESS' },
  },
  oci: {
    registry: { type: 'string', default: 'http://127.0.0.1:5000', env: 'PROVISIONING_OCI_REGISTRY' },
    namespace: { type: 'string', default: 'extensions' },
    username: { type: 'string', default: '', env: 'PROVISIONING_OCI_USERNAME' },
  },
  gitea: {
    url: { type: 'string', default: '', env: 'PROVISIONING_GITEA_URL' },
    org: { type: 'string', default: 'provisioning-extensions', env: 'PROVISIONING_GITEA_ORG' },
  },
  cache: {
    ttl_seconds: { type: 'integer', default: 300, min: 1, max: 86_400 },
    max_entries: { type: 'integer', default: 256, min: 1, max: 100_000 },
  },
} as const;

/** The Extension Registry reference server (default :8084): OCI and Gitea backends behind an LRU cache. */
export const extensionRegistryService: ServiceModule = {
  name: 'extensionRegistry',
  port: 8084,
  config: EXTENSION_REGISTRY_CONFIG,
  async create(platform) {
    const config = loadConfig('extension-registry', EXTENSION_REGISTRY_CONFIG, { otherSections: ['server'] });
    const publicUrl = config.server.public_url;
    const password = process.env.PROVISIONING_OCI_PASSWORD;
    const backends: ExtensionBackend[] = [
      ociBackend({
        registry: config.oci.registry,
        namespace: config.oci.namespace,
        publicUrl,
        ...(config.oci.username !== '' && password !== undefined
          ? { credentials: { username: config.oci.username, password } }
          : {}),
      }),
    ];
    if (config.gitea.url !== '') {
      const token = process.env.PROVISIONING_GITEA_TOKEN;
      backends.unshift(
        giteaBackend({ url: config.gitea.url, org: config.gitea.org, publicUrl, ...(token ? { token } : {}) }),
      );
    }
    return createExtensionRegistry(platform, {
      backends,
      access: config.server.access as RegistryAccess,
      cacheTtlSeconds: config.cache.ttl_seconds,
      cacheMaxEntries: config.cache.max_entries,
    });
  },
};
