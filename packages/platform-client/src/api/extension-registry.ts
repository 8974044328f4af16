import { type NamedSchema, s } from '../schema.js';
import { HealthStatusSchema, type QueryParam, type Route, routeBuilder, timestamp } from './common.js';

/** Extension types (known). */
export type ExtensionType = 'provider' | 'taskserv' | 'cluster';
/** Where an extension is published (known). */
export type ExtensionSource = 'gitea' | 'oci';
/** Every {@link ExtensionType}. */
export const EXTENSION_TYPES: readonly ExtensionType[] = Object.freeze(['provider', 'taskserv', 'cluster'] as const);
/** Every {@link ExtensionSource}. */
export const EXTENSION_SOURCES: readonly ExtensionSource[] = Object.freeze(['gitea', 'oci'] as const);

/** One extension (known item shape). */
export interface Extension {
  readonly name: string;
  readonly type: ExtensionType;
  readonly version: string;
  readonly description: string;
  readonly author: string;
  readonly repository: string;
  readonly source: ExtensionSource;
  readonly published_at: string;
  readonly download_url: string;
  /** `sha256:<hex>`. */
  readonly checksum: string;
  /** Bytes. */
  readonly size: number;
  readonly tags: readonly string[];
}
/** Schema of {@link Extension}. */
export const ExtensionSchema: NamedSchema<Extension> = s.named(
  'Extension',
  s.object({
    name: s.string(),
    type: s.literal(...EXTENSION_TYPES),
    version: s.string(),
    description: s.string(),
    author: s.string(),
    repository: s.string(),
    source: s.literal(...EXTENSION_SOURCES),
    published_at: timestamp,
    download_url: s.string(),
    checksum: s.string({ pattern: /^sha256:[0-9a-f]{64}$/ }),
    size: s.number({ integer: true, minimum: 0 }),
    tags: s.array(s.string()),
  }),
);

/** Query of `GET /api/v1/extensions` (known): `limit` default 100, max 1000. */
export interface ListExtensionsQuery {
  readonly type?: ExtensionType;
  readonly source?: ExtensionSource;
  readonly limit?: number;
  readonly offset?: number;
}

/** Default and maximum page size of the extension list (known). */
export const EXTENSION_PAGE_LIMITS: Readonly<{ defaultLimit: number; maxLimit: number }> = Object.freeze({
  defaultLimit: 100,
  maxLimit: 1000,
});

/** Query of `GET /api/v1/extensions/search` (designed): the list's filters plus `q`, 1-200 characters. */
export interface SearchExtensionsQuery extends ListExtensionsQuery {
  readonly q: string;
}

/** What an extension version may look like in a download query: 1-128 letters, digits and `. + _ -` (designed). */
export const EXTENSION_VERSION_PATTERN: RegExp = /^[0-9A-Za-z.+_-]{1,128}$/;

/** Query of `GET /api/v1/extensions/{type}/{name}/download` (designed). Default: the latest version, any source. */
export interface DownloadExtensionQuery {
  readonly version?: string;
  readonly source?: ExtensionSource;
}

/** A downloaded extension archive whose bytes matched the checksum the registry announced. */
export interface ExtensionArchive {
  readonly bytes: Uint8Array;
  /** `sha256:<hex>` of `bytes` (checked). */
  readonly checksum: string;
  readonly version: string;
  readonly mediaType: string;
  /** The file name the registry suggests (`Content-Disposition`), if any. */
  readonly filename?: string;
}

/** Names of the extension registry's routes. */
export type ExtensionRegistryRouteId =
  | 'listExtensions'
  | 'getExtension'
  | 'listVersions'
  | 'searchExtensions'
  | 'downloadExtension'
  | 'health';

const r = routeBuilder<ExtensionRegistryRouteId>('extensionRegistry', {
  origin: 'known',
  // The platform's reads need no auth (the server holds the Gitea/OCI
  // credentials); our reference server asks for an API key or a token by
  // default. The client sends its credentials when it has them.
  auth: 'optional',
  envelope: true,
});

const listQuery: readonly QueryParam[] = [
  { name: 'type', schema: s.literal(...EXTENSION_TYPES) },
  { name: 'source', schema: s.literal(...EXTENSION_SOURCES) },
  { name: 'limit', schema: s.number({ integer: true, minimum: 1, maximum: 1000 }), description: 'default 100' },
  { name: 'offset', schema: s.number({ integer: true, minimum: 0 }) },
];

/** Every extension registry route (base `/api/v1`). */
export const EXTENSION_REGISTRY_ROUTES: Readonly<Record<ExtensionRegistryRouteId, Route>> = Object.freeze({
  listExtensions: r('listExtensions', 'GET', '/api/v1/extensions', 'List extensions', s.array(ExtensionSchema), {
    query: listQuery,
  }),
  getExtension: r(
    'getExtension',
    'GET',
    '/api/v1/extensions/{type}/{name}',
    'Latest version of one extension',
    ExtensionSchema,
  ),
  listVersions: r(
    'listVersions',
    'GET',
    '/api/v1/extensions/{type}/{name}/versions',
    'Every version, newest first',
    s.array(ExtensionSchema),
    {
      origin: 'designed',
    },
  ),
  searchExtensions: r(
    'searchExtensions',
    'GET',
    '/api/v1/extensions/search',
    'Search names, descriptions and tags (latest version of each)',
    s.array(ExtensionSchema),
    {
      origin: 'designed',
      query: [{ name: 'q', schema: s.string({ pattern: /^[\s\S]{1,200}$/ }), required: true }, ...listQuery],
    },
  ),
  downloadExtension: r(
    'downloadExtension',
    'GET',
    '/api/v1/extensions/{type}/{name}/download',
    'The archive of one version (not enveloped; X-Checksum: sha256 of the bytes)',
    s.string(),
    {
      origin: 'designed',
      envelope: false,
      contentType: 'application/octet-stream',
      query: [
        {
          name: 'version',
          schema: s.string({ pattern: EXTENSION_VERSION_PATTERN }),
          description: 'default: the latest',
        },
        { name: 'source', schema: s.literal(...EXTENSION_SOURCES) },
      ],
    },
  ),
  health: r('health', 'GET', '/api/v1/health', 'Liveness', HealthStatusSchema, { auth: false }),
});
