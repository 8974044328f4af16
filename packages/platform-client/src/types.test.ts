import { describe, expectTypeOf, it } from 'vitest';
import type { Operation, OperationStatus, TaskStatus, WorkflowTask } from './api.js';
import {
  createPlatformClient,
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

describe('OCI public types', () => {
  it('returns verified bytes, descriptors and typed pages', async () => {
    const { createOciClient } = await import('./oci.js');
    type Oci = ReturnType<typeof createOciClient>;
    expectTypeOf<Oci['getBlob']>().returns.resolves.toEqualTypeOf<Uint8Array>();
    expectTypeOf<Oci['listTags']>().returns.resolves.toHaveProperty('serverPaginated').toEqualTypeOf<boolean>();
    expectTypeOf<Oci['tags']>().returns.toEqualTypeOf<AsyncGenerator<string, void, undefined>>();
    expectTypeOf<Oci['pushBlob']>()
      .returns.resolves.toHaveProperty('via')
      .toEqualTypeOf<'existing' | 'mount' | 'upload'>();
    // @ts-expect-error: credentials are username/password or a token
    void (() => createOciClient({ registry: 'http://x', credentials: { user: 'a' } }));
  });
});
