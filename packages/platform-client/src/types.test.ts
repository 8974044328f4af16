import { describe, expectTypeOf, it } from 'vitest';
import {
  type AdminUser,
  type ApiToken,
  CONTROL_CENTER_ROUTES,
  type ControlCenterRouteId,
  type CreatedApiToken,
  type MfaChallenge,
  type MfaVerifyResponse,
  type Operation,
  type OperationStatus,
  type Route,
  routeBuilder,
  s,
  type TaskStatus,
  type WorkflowTask,
} from './api.js';
import {
  createPlatformClient,
  type LoginStep,
  type MfaAnswer,
  type OperationHandle,
  type PlatformClient,
  type PlatformClientError,
  type PlatformClientErrorCode,
  type PlatformHealth,
  type SessionTokens,
} from './index.js';

describe('public API types', () => {
  it('createPlatformClient returns a PlatformClient with typed service methods', () => {
    const client = createPlatformClient({ baseUrl: 'http://x', fetch: (async () => new Response()) as typeof fetch });
    expectTypeOf(client).toEqualTypeOf<PlatformClient>();
    expectTypeOf(client.orchestrator.getTask).parameter(0).toEqualTypeOf<string>();
    expectTypeOf(client.orchestrator.getTask).returns.resolves.toEqualTypeOf<WorkflowTask>();
    expectTypeOf(client.orchestrator.tasks).returns.toEqualTypeOf<AsyncGenerator<WorkflowTask, void, undefined>>();
    expectTypeOf(client.apiServer.createServer).returns.resolves.toEqualTypeOf<OperationHandle>();
    expectTypeOf<OperationHandle['wait']>().returns.resolves.toEqualTypeOf<Operation>();
    expectTypeOf(client.login).returns.resolves.toEqualTypeOf<SessionTokens>();
    expectTypeOf(client.health).returns.resolves.toEqualTypeOf<PlatformHealth>();
    expectTypeOf(client.kms.decrypt).returns.resolves.toHaveProperty('plaintext').toEqualTypeOf<Uint8Array>();
  });

  it('errors narrow on a code union and say fault/retryable', () => {
    expectTypeOf<PlatformClientError['code']>().toEqualTypeOf<PlatformClientErrorCode>();
    expectTypeOf<PlatformClientError['retryable']>().toEqualTypeOf<boolean>();
    expectTypeOf<PlatformClientError['fault']>().toEqualTypeOf<'client' | 'server'>();
    expectTypeOf<PlatformClientError['status']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<'ERR_CLIENT_TIMEOUT'>().toExtend<PlatformClientErrorCode>();
  });

  it('status unions are exact', () => {
    expectTypeOf<TaskStatus>().toEqualTypeOf<'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled'>();
    expectTypeOf<OperationStatus>().toEqualTypeOf<'pending' | 'running' | 'completed' | 'failed' | 'cancelled'>();
  });

  it('rejects wrong inputs at compile time', () => {
    const client = createPlatformClient({ baseUrl: 'http://x', fetch: (async () => new Response()) as typeof fetch });
    // @ts-expect-error: workflow kinds are a closed union
    void (() => client.orchestrator.submitWorkflow('nope', { infra: 'x', params: {} }));
    // @ts-expect-error: the task status is capitalised
    void (() => client.orchestrator.listTasks({ status: 'running' }));
    // @ts-expect-error: auth types are a closed union
    void createPlatformClient({ auth: { type: 'basic' } });
  });
});

describe('control center types', () => {
  const client = createPlatformClient({ baseUrl: 'http://x', fetch: (async () => new Response()) as typeof fetch });

  it('the two-step login narrows on status', () => {
    expectTypeOf(client.beginLogin).returns.resolves.toEqualTypeOf<LoginStep>();
    const handle = (step: LoginStep): string => {
      if (step.status === 'mfa_required') {
        expectTypeOf(step.challenge).toEqualTypeOf<MfaChallenge>();
        return step.challenge.challenge_id;
      }
      expectTypeOf(step.tokens).toEqualTypeOf<SessionTokens>();
      return step.tokens.accessToken;
    };
    void handle;
    expectTypeOf<{ code: string }>().toExtend<MfaAnswer>();
    expectTypeOf<{ webauthn: Record<string, unknown> }>().toExtend<MfaAnswer>();
    expectTypeOf(client.completeLogin).returns.resolves.toEqualTypeOf<SessionTokens>();
    // @ts-expect-error: a code is a string (leading zeros matter)
    void (() => client.completeLogin('c', { code: 123456 }));
    // @ts-expect-error: the answer is a code or a WebAuthn assertion
    void (() => client.completeLogin('c', { password: 'x' }));
  });

  it('designed routes have typed methods', () => {
    const cc = client.controlCenter;
    expectTypeOf(cc.bootstrap).returns.resolves.toEqualTypeOf<AdminUser>();
    expectTypeOf(cc.users.list).returns.resolves.toEqualTypeOf<AdminUser[]>();
    expectTypeOf(cc.apiTokens.create).returns.resolves.toEqualTypeOf<CreatedApiToken>();
    expectTypeOf(cc.apiTokens.list).returns.resolves.toEqualTypeOf<ApiToken[]>();
    expectTypeOf<CreatedApiToken['token']>().toEqualTypeOf<string>();
    expectTypeOf<ApiToken>().not.toHaveProperty('token');
    expectTypeOf(cc.mfa.webauthn.authenticate).returns.resolves.toEqualTypeOf<MfaVerifyResponse>();
    expectTypeOf(CONTROL_CENTER_ROUTES.bootstrap).toEqualTypeOf<Route>();
    expectTypeOf<'loginMfa' | 'reloadPolicies' | 'createApiToken'>().toExtend<ControlCenterRouteId>();
    // @ts-expect-error: bootstrap needs the one-time secret
    void (() => cc.bootstrap({ username: 'root', password: 'x' }));
    // @ts-expect-error: roles are a list
    void (() => cc.users.setRoles('u', 'Admin'));
    // @ts-expect-error: token lifetimes are a number of days
    void (() => cc.apiTokens.create({ name: 'ci', expires_in_days: '30' }));
    // @ts-expect-error: no such route
    void CONTROL_CENTER_ROUTES.deleteEverything;
  });

  it('routeBuilder keeps a service’s route ids closed and its extra fields typed', () => {
    const r = routeBuilder<'a' | 'b'>('kms', { origin: 'known', auth: 'optional', envelope: true });
    expectTypeOf(r('a', 'GET', '/a', 'A', s.string())).toEqualTypeOf<Route>();
    expectTypeOf<Route['auth']>().toEqualTypeOf<boolean | 'optional'>();
    // @ts-expect-error: 'c' is not one of the ids
    void (() => r('c', 'GET', '/c', 'C', s.string()));
    // @ts-expect-error: the service and id come from the builder, not from extra
    void (() => r('a', 'GET', '/a', 'A', s.string(), { service: 'orchestrator' }));
    // @ts-expect-error: auth is a boolean or 'optional'
    void routeBuilder<'a'>('kms', { origin: 'known', auth: 'sometimes', envelope: true });
  });
});

describe('OCI public types', () => {
  it('returns verified bytes, descriptors and typed pages', async () => {
    const { createOciClient } = await import('./oci.js');
    type Oci = ReturnType<typeof createOciClient>;
    expectTypeOf<Oci['getBlob']>().returns.resolves.toEqualTypeOf<Uint8Array>();
    expectTypeOf<Oci['listTags']>().returns.resolves.toHaveProperty('serverPaginated').toEqualTypeOf<boolean>();
    expectTypeOf<Oci['tags']>().returns.toEqualTypeOf<AsyncGenerator<string, void, undefined>>();
    expectTypeOf<Oci['catalog']>().returns.toEqualTypeOf<AsyncGenerator<string, void, undefined>>();
    expectTypeOf<Oci['pushBlob']>()
      .returns.resolves.toHaveProperty('via')
      .toEqualTypeOf<'existing' | 'mount' | 'upload'>();
    // @ts-expect-error: credentials are username/password or a token
    void (() => createOciClient({ registry: 'http://x', credentials: { user: 'a' } }));
  });
});
