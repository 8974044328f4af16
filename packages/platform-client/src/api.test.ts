import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { task } from '../test/helpers.js';
import {
  API_SERVER_ROUTES,
  apiError,
  CONTROL_CENTER_ROUTES,
  EXTENSION_REGISTRY_ROUTES,
  ExtensionSchema,
  fail,
  KMS_ROUTES,
  LoginResponseSchema,
  OperationSchema,
  ORCHESTRATOR_ROUTES,
  ok,
  openApiDocument,
  parseRouteResponse,
  ROUTES,
  routeBuilder,
  routePath,
  routePattern,
  SchemaError,
  SERVICE_NAMES,
  s,
  type WorkflowTask,
  WorkflowTaskSchema,
} from './api.js';

describe('the API contract', () => {
  it('keeps the known routes exactly as PLATFORM-API.md gives them', () => {
    expect(ORCHESTRATOR_ROUTES.health).toMatchObject({ method: 'GET', path: '/health', auth: false, origin: 'known' });
    expect(ORCHESTRATOR_ROUTES.listTasks.path).toBe('/tasks');
    expect(ORCHESTRATOR_ROUTES.getTask.path).toBe('/tasks/{id}');
    expect(ORCHESTRATOR_ROUTES.createServersWorkflow).toMatchObject({
      method: 'POST',
      path: '/workflows/servers/create',
    });
    expect(ORCHESTRATOR_ROUTES.generateSecret.path).toBe('/api/v1/secrets/generate');
    expect(ORCHESTRATOR_ROUTES.revokeSecret.path).toBe('/api/v1/secrets/{id}/revoke');
    expect(ORCHESTRATOR_ROUTES.listSecrets.path).toBe('/api/v1/secrets/list');
    expect(CONTROL_CENTER_ROUTES.login).toMatchObject({ method: 'POST', path: '/auth/login', auth: false });
    expect(CONTROL_CENTER_ROUTES.mfaEnroll.path).toBe('/mfa/enroll/{type}');
    expect(API_SERVER_ROUTES.login.path).toBe('/v1/auth/login');
    expect(API_SERVER_ROUTES.createServer).toMatchObject({
      method: 'POST',
      path: '/v1/servers/create',
      envelope: false,
    });
    expect(KMS_ROUTES.generateKey.path).toBe('/api/v1/kms/generate-key');
    expect(EXTENSION_REGISTRY_ROUTES.getExtension.path).toBe('/api/v1/extensions/{type}/{name}');
    expect(EXTENSION_REGISTRY_ROUTES.listExtensions.auth).toBe('optional');
    expect(EXTENSION_REGISTRY_ROUTES.health.auth).toBe(false);
  });

  it('has the control center’s designed routes: public bootstrap and MFA login, never retried; 201 for creations', () => {
    const C = CONTROL_CENTER_ROUTES;
    for (const route of [C.bootstrap, C.loginMfa]) expect(route).toMatchObject({ auth: false, idempotent: false });
    expect(C.loginMfa.path).toBe('/auth/login/mfa');
    for (const route of [C.bootstrap, C.createUser, C.createApiToken, C.webauthnRegister]) {
      expect(route.status).toBe(201);
      expect(route.idempotent).toBe(false);
    }
    expect(C.mfaRenameDevice).toMatchObject({ method: 'PATCH', path: '/mfa/devices/{id}' });
    expect(C.updateUserRoles).toMatchObject({ method: 'PUT', path: '/users/{id}/roles', idempotent: true });
    expect(C.revokeApiToken).toMatchObject({ method: 'DELETE', path: '/api-tokens/{id}' });
    const doc = openApiDocument('controlCenter') as Record<string, any>;
    expect(doc.paths['/auth/bootstrap'].post.responses['201']).toBeDefined();
    expect(doc.paths['/auth/bootstrap'].post.security).toEqual([]);
    expect(doc.components.schemas.CreatedApiToken.required).toContain('token');
  });

  it('builds a service’s routes from its defaults (idempotent unless POST, unless the service says otherwise)', () => {
    const r = routeBuilder<'a' | 'b' | 'c'>('kms', { origin: 'known', auth: true, envelope: true });
    const schema = s.string();
    expect(r('a', 'GET', '/a', 'A', schema)).toEqual({
      service: 'kms',
      id: 'a',
      method: 'GET',
      path: '/a',
      summary: 'A',
      origin: 'known',
      auth: true,
      idempotent: true,
      response: schema,
      envelope: true,
    });
    expect(r('b', 'POST', '/b', 'B', schema).idempotent).toBe(false);
    expect(r('c', 'POST', '/c', 'C', schema, { idempotent: true, auth: false, status: 201 })).toMatchObject({
      idempotent: true,
      auth: false,
      status: 201,
    });
    const always = routeBuilder<'x'>('kms', { origin: 'known', auth: true, envelope: true, idempotent: true });
    expect(always('x', 'POST', '/x', 'X', schema).idempotent).toBe(true);
    expect(KMS_ROUTES.encrypt.idempotent).toBe(true);
    expect(CONTROL_CENTER_ROUTES.createUser.idempotent).toBe(false);
    expect(API_SERVER_ROUTES.listServers).toMatchObject({ envelope: false, permission: 'server_read' });
  });

  it('gives routers the :param form of a path', () => {
    expect(routePattern(ORCHESTRATOR_ROUTES.getTask)).toBe('/tasks/:id');
    expect(routePattern(EXTENSION_REGISTRY_ROUTES.listVersions)).toBe('/api/v1/extensions/:type/:name/versions');
    expect(routePattern(ORCHESTRATOR_ROUTES.listTasks)).toBe('/tasks');
    expect(routePattern('/api/v1/kms/keys/{id}')).toBe('/api/v1/kms/keys/:id');
  });

  it('puts every designed route of the orchestrator under /api/v1', () => {
    for (const route of Object.values(ORCHESTRATOR_ROUTES)) {
      // Except the designed members of the known /workflows and /tasks families, beside their siblings.
      if (route.origin === 'designed' && !route.path.startsWith('/workflows/') && !route.path.startsWith('/tasks/'))
        expect(route.path).toMatch(/^\/api\/v1\//);
    }
  });

  it('is documented route for route in the README', () => {
    // The README's tables are the contract users read: each must list exactly the routes of ROUTES, in order.
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const service of SERVICE_NAMES) {
      const table = Object.values(ROUTES[service]).map(
        (r) =>
          `| ${r.method} | \`${r.path}\` | ${r.id} | ${r.origin} | ${r.auth === 'optional' ? 'optional' : r.auth ? 'yes' : 'no'} | ${r.idempotent ? 'yes' : 'no'} |`,
      );
      const start = readme.indexOf(
        `**${service}**\n\n| method | path | id | origin | auth | retried |\n|---|---|---|---|---|---|\n`,
      );
      expect(start, service).toBeGreaterThan(-1);
      const rows = readme.slice(start).split('\n').slice(4);
      expect(rows.slice(0, rows.indexOf('')), service).toEqual(table);
    }
  });

  it('has unique method+path pairs per service', () => {
    for (const service of SERVICE_NAMES) {
      const keys = Object.values(ROUTES[service]).map((r) => `${r.method} ${r.path}`);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('validates a task and rejects a bad one with a path', () => {
    expect(WorkflowTaskSchema.parse(task('a')).id).toBe('a');
    expect(() => WorkflowTaskSchema.parse({ ...task('a'), args: 'x' })).toThrow(SchemaError);
    try {
      WorkflowTaskSchema.parse({ ...task('a'), progress: 101 });
    } catch (error) {
      expect((error as SchemaError).issue.path).toBe('$.progress');
    }
  });

  it('checks checksums, server ids and the operation status set', () => {
    const ext = {
      name: 'upcloud',
      type: 'provider',
      version: '1.0.0',
      description: '',
      author: 'a',
      repository: 'r',
      source: 'oci',
      published_at: '2026-01-01T00:00:00Z',
      download_url: 'https://x',
      checksum: `sha256:${'a'.repeat(64)}`,
      size: 1,
      tags: [],
    };
    expect(ExtensionSchema.is(ext)).toBe(true);
    expect(ExtensionSchema.is({ ...ext, checksum: 'md5:abc' })).toBe(false);
    expect(
      OperationSchema.is({ id: 'o', status: 'done', created_at: 'x', updated_at: 'x', result: null, error: null }),
    ).toBe(false);
    expect(
      LoginResponseSchema.is({ access_token: 'a', refresh_token: 'r', token_type: 'Bearer', expires_in: 900 }),
    ).toBe(false);
  });

  it('builds bodies servers can send: ok(), fail(), apiError()', () => {
    expect(ok([1])).toEqual({ success: true, data: [1] });
    expect(fail('nope', 'TASK_NOT_FOUND')).toEqual({
      success: false,
      data: null,
      error: 'nope',
      code: 'TASK_NOT_FOUND',
    });
    expect(apiError(400, 'VALIDATION_ERROR', 'bad')).toEqual({
      error: 'VALIDATION_ERROR',
      message: 'bad',
      code: '400',
    });
  });

  it('fills path templates and refuses missing parameters', () => {
    expect(routePath(EXTENSION_REGISTRY_ROUTES.getExtension, { type: 'provider', name: 'up cloud' })).toBe(
      '/api/v1/extensions/provider/up%20cloud',
    );
    expect(() => routePath(ORCHESTRATOR_ROUTES.getTask, {})).toThrow(TypeError);
  });

  it('emits an OpenAPI 3.1 document per service whose $refs all resolve', () => {
    for (const service of SERVICE_NAMES) {
      const doc = openApiDocument(service) as Record<string, any>;
      expect(doc.openapi).toBe('3.1.0');
      const text = JSON.stringify(doc);
      for (const [, name] of text.matchAll(/"#\/components\/schemas\/(\w+)"/g)) {
        expect(doc.components.schemas[name as string], `${service}: ${name}`).toBeDefined();
      }
      expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
    }
    const orch = openApiDocument('orchestrator') as Record<string, any>;
    expect(orch.paths['/tasks'].get.operationId).toBe('listTasks');
    expect(orch.paths['/health'].get.security).toEqual([]);
    expect(orch.components.schemas.WorkflowTask.required).toContain('progress');
    const api = openApiDocument('apiServer') as Record<string, any>;
    expect(api.paths['/v1/servers/create'].post.responses.default.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/ApiErrorBody',
    );
  });

  it('declares the designed task routes: the workflow_id filter, an optional workflow_id, cancel', () => {
    expect(ORCHESTRATOR_ROUTES.cancelTask).toMatchObject({
      service: 'orchestrator',
      method: 'POST',
      path: '/tasks/{id}/cancel',
      origin: 'designed',
      auth: true,
      envelope: true,
      idempotent: false,
    });
    expect(routePattern(ORCHESTRATOR_ROUTES.cancelTask)).toBe('/tasks/:id/cancel');
    const filter = ORCHESTRATOR_ROUTES.listTasks.query?.find((q) => q.name === 'workflow_id');
    expect(filter?.schema.parse('0190a1b2-0000-7000-8000-000000000000')).toBe('0190a1b2-0000-7000-8000-000000000000');
    expect(() => filter?.schema.parse("x' OR 1=1")).toThrow(SchemaError);
    // Known servers send no workflow_id; the reference servers do.
    expect(WorkflowTaskSchema.parse(task('a')).workflow_id).toBeUndefined();
    expect(WorkflowTaskSchema.parse({ ...task('a'), workflow_id: 'w1' }).workflow_id).toBe('w1');
    expect(() => WorkflowTaskSchema.parse({ ...task('a'), workflow_id: 7 })).toThrow(SchemaError);
  });

  it('types parse results from the schemas', () => {
    expectTypeOf(WorkflowTaskSchema.parse).returns.toEqualTypeOf<WorkflowTask>();
  });
});

describe('parseRouteResponse', () => {
  it('unwraps envelopes and validates, for servers checking their own answers', () => {
    expect(parseRouteResponse(ORCHESTRATOR_ROUTES.getTask, { success: true, data: task('a') })).toMatchObject({
      id: 'a',
    });
    expect(() => parseRouteResponse(ORCHESTRATOR_ROUTES.getTask, task('a'))).toThrow(SchemaError);
    expect(() => parseRouteResponse(API_SERVER_ROUTES.login, { token: 't', refresh_token: 'r' })).toThrow(/expires_in/);
  });
});
