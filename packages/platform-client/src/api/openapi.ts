import { type JsonSchema, namedDefinition } from '../schema.js';
import { API_SERVER_ROUTES } from './api-server.js';
import { ApiErrorBodySchema, DEFAULT_PORTS, FailureEnvelopeSchema, type Route, type ServiceName } from './common.js';
import { CONTROL_CENTER_ROUTES } from './control-center.js';
import { EXTENSION_REGISTRY_ROUTES } from './extension-registry.js';
import { KMS_ROUTES } from './kms.js';
import { ORCHESTRATOR_ROUTES } from './orchestrator.js';

/** Every route of every service, keyed by service. */
export const ROUTES: Readonly<Record<ServiceName, Readonly<Record<string, Route>>>> = Object.freeze({
  orchestrator: ORCHESTRATOR_ROUTES,
  controlCenter: CONTROL_CENTER_ROUTES,
  kms: KMS_ROUTES,
  apiServer: API_SERVER_ROUTES,
  extensionRegistry: EXTENSION_REGISTRY_ROUTES,
});

const TITLES: Readonly<Record<ServiceName, string>> = {
  orchestrator: 'Provisioning Orchestrator',
  controlCenter: 'Provisioning Control Center',
  kms: 'Provisioning KMS Service',
  apiServer: 'Provisioning API Server',
  extensionRegistry: 'Provisioning Extension Registry',
};

/** An OpenAPI 3.1 document (plain JSON). */
export type OpenApiDocument = { readonly openapi: '3.1.0' } & { readonly [key: string]: unknown };

function collectRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) collectRefs(v, into);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') {
        const name = v.slice('#/components/schemas/'.length);
        if (!into.has(name)) {
          into.add(name);
          collectRefs(namedDefinition(name), into);
        }
      } else collectRefs(v, into);
    }
  }
}

/**
 * Builds the OpenAPI 3.1 document of one service from the same route and
 * schema definitions the client validates with; the reference servers serve
 * it (e.g. at `/openapi.json`). Designed routes are tagged `x-origin: designed`.
 *
 * @example
 * ```ts
 * const doc = openApiDocument('kms', { serverUrl: 'http://127.0.0.1:8082' });
 * ```
 */
export function openApiDocument(
  service: ServiceName,
  options: { serverUrl?: string; version?: string } = {},
): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorSchema = service === 'apiServer' ? ApiErrorBodySchema.json : FailureEnvelopeSchema.json;
  for (const route of Object.values(ROUTES[service])) {
    const item = paths[route.path] ?? {};
    paths[route.path] = item;
    const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    for (const q of route.query ?? []) {
      params.push({
        name: q.name,
        in: 'query',
        required: q.required ?? false,
        schema: q.schema.json as { type: string },
        ...(q.description ? { description: q.description } : {}),
      } as (typeof params)[number]);
    }
    const body: JsonSchema = route.envelope
      ? {
          type: 'object',
          properties: { success: { const: true }, data: route.response.json },
          required: ['success', 'data'],
        }
      : route.response.json;
    const contentType = route.contentType ?? 'application/json';
    item[route.method.toLowerCase()] = {
      operationId: route.id,
      summary: route.summary,
      'x-origin': route.origin,
      ...(route.auth === false ? { security: [] } : {}),
      ...(route.auth === 'optional' ? { security: [{}, { bearer: [] }, { apiKey: [] }] } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(route.request
        ? { requestBody: { required: true, content: { 'application/json': { schema: route.request.json } } } }
        : {}),
      responses: {
        [String(route.status ?? 200)]: {
          description: 'success',
          content: { [contentType]: { schema: contentType === 'application/json' ? body : { type: 'string' } } },
        },
        default: { description: 'error', content: { 'application/json': { schema: errorSchema } } },
      },
    };
  }
  const refs = new Set<string>();
  collectRefs(paths, refs);
  const schemas: Record<string, JsonSchema> = {};
  for (const name of [...refs].sort()) {
    const definition = namedDefinition(name);
    if (definition) schemas[name] = definition;
  }
  return {
    openapi: '3.1.0',
    info: { title: TITLES[service], version: options.version ?? '0.0.0' },
    servers: [{ url: options.serverUrl ?? `http://127.0.0.1:${DEFAULT_PORTS[service]}` }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
  };
}
