import type { SecurityChain } from '@provisioning/middleware';
import { security } from '@provisioning/middleware/hono';
import {
  EXTENSION_PAGE_LIMITS,
  EXTENSION_VERSION_PATTERN,
  type ExtensionSource,
  type ExtensionType,
  ok,
  EXTENSION_REGISTRY_ROUTES as R,
  routePattern,
} from '@provisioning/platform-client/api';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { errorBody } from '../kit/app.js';
import { RequestError } from '../kit/body.js';
import { enumParam, pageQuery } from '../kit/query.js';
import { resource } from '../kit/resources.js';
import type { Catalog } from './catalog.js';
import { BackendError, EXTENSION_SOURCES, EXTENSION_TYPES } from './types.js';

const EXTENSIONS = resource('Workspace', 'extensions', { environment: 'platform' });
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/i;

/** Who may read: API keys (or tokens) through the security chain, or anyone. */
export type RegistryAccess = 'api-key' | 'public';

/** Registers the registry's routes. */
export function registerRegistryRoutes(
  app: Hono,
  chain: SecurityChain,
  catalog: Catalog,
  access: RegistryAccess,
): void {
  const read: MiddlewareHandler =
    access === 'public'
      ? security(chain, { public: true })
      : // Cedar: the catalog is the `extensions` workspace of the platform
        // environment, which every role may read (`read-only-baseline`).
        security(chain, { action: 'read', resource: () => EXTENSIONS });
  const listQuery = (c: Context) => ({
    ...optional('type', enumParam(c, 'type', EXTENSION_TYPES)),
    ...optional('source', enumParam(c, 'source', EXTENSION_SOURCES)),
    ...pageQuery(c, EXTENSION_PAGE_LIMITS.defaultLimit),
  });
  const target = (c: Context): { type: ExtensionType; name: string } => {
    const type = c.req.param('type') ?? '';
    const name = c.req.param('name') ?? '';
    if (!(EXTENSION_TYPES as readonly string[]).includes(type)) {
      throw new RequestError(400, 'INVALID_TYPE', `type must be one of ${EXTENSION_TYPES.join(', ')}`);
    }
    if (!NAME.test(name)) throw new RequestError(400, 'INVALID_NAME', 'name is not a valid extension name');
    return { type: type as ExtensionType, name };
  };
  const backendDown = (c: Context, error: unknown): Response => {
    if (!(error instanceof BackendError)) throw error;
    return c.json(
      errorBody('envelope', 502, 'BACKEND_UNAVAILABLE', `The ${error.source} backend is unavailable.`),
      502,
    );
  };
  const partial = (
    c: Context,
    errors: readonly ExtensionSource[],
    wanted: ExtensionSource | undefined,
  ): Response | undefined => {
    const asked = catalog.sources.filter((source) => wanted === undefined || source === wanted).length;
    if (errors.length > 0 && errors.length >= asked) {
      return c.json(errorBody('envelope', 502, 'BACKEND_UNAVAILABLE', 'No extension backend is available.'), 502);
    }
    // Some sources answered: serve them, and say which did not.
    if (errors.length > 0) c.header('x-unavailable-sources', errors.join(','));
    return undefined;
  };

  app.get(R.health.path, security(chain, { public: true }), async (c) => {
    const checks = await catalog.health();
    const up = Object.values(checks).filter((v) => v === 'ok').length;
    const status = up === Object.keys(checks).length ? 'healthy' : up > 0 ? 'degraded' : 'unhealthy';
    return c.json(ok({ status, checks }), status === 'unhealthy' ? 503 : 200);
  });

  app.get(R.listExtensions.path, read, async (c) => {
    const q = listQuery(c);
    const { items, errors } = await catalog.list(q);
    return partial(c, errors, q.source) ?? c.json(ok(items));
  });

  app.get(R.searchExtensions.path, read, async (c) => {
    const text = c.req.query('q') ?? '';
    if (text.trim() === '' || text.length > 200)
      throw new RequestError(400, 'INVALID_QUERY', 'q must be 1 to 200 characters');
    const q = listQuery(c);
    const { items, errors } = await catalog.search(text, q);
    return partial(c, errors, q.source) ?? c.json(ok(items));
  });

  app.get(routePattern(R.getExtension), read, async (c) => {
    const { type, name } = target(c);
    try {
      const found = await catalog.get(type, name);
      if (found === undefined) throw new RequestError(404, 'EXTENSION_NOT_FOUND', 'No such extension.');
      return c.json(ok(found));
    } catch (error) {
      if (error instanceof RequestError) throw error;
      return backendDown(c, error);
    }
  });

  app.get(routePattern(R.listVersions), read, async (c) => {
    const { type, name } = target(c);
    try {
      const all = await catalog.versions(type, name);
      if (all.length === 0) throw new RequestError(404, 'EXTENSION_NOT_FOUND', 'No such extension.');
      return c.json(ok(all));
    } catch (error) {
      if (error instanceof RequestError) throw error;
      return backendDown(c, error);
    }
  });

  app.get(routePattern(R.downloadExtension), read, async (c) => {
    const { type, name } = target(c);
    const version = c.req.query('version');
    if (version !== undefined && !EXTENSION_VERSION_PATTERN.test(version)) {
      throw new RequestError(400, 'INVALID_QUERY', 'version is not a valid version');
    }
    const source = enumParam(c, 'source', EXTENSION_SOURCES);
    try {
      const found = await catalog.download(type, name, version, source);
      if (found === undefined) throw new RequestError(404, 'EXTENSION_NOT_FOUND', 'No such extension or version.');
      const { archive, extension } = found;
      c.header('content-type', archive.mediaType);
      c.header('content-disposition', `attachment; filename="${archive.filename.replace(/[^\w.-]/g, '_')}"`);
      c.header('x-checksum', extension.checksum);
      c.header('x-extension-version', extension.version);
      return c.body(archive.bytes as Uint8Array<ArrayBuffer>);
    } catch (error) {
      if (error instanceof RequestError) throw error;
      return backendDown(c, error);
    }
  });
}

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
