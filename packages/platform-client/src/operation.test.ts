import { describe, expect, it } from 'vitest';
import { json, testClient } from '../test/helpers.js';
import type { Operation } from './api/api-server.js';

const op = (status: Operation['status'], extra: Partial<Operation> = {}): Operation => ({
  id: 'op-1',
  status,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  result: null,
  error: null,
  ...extra,
});

const request = {
  workspace: 'prod',
  provider: 'upcloud',
  plan: '1xCPU-2GB',
  hostname: 'web-01',
  zone: 'fi-hel1',
  check_mode: false,
  tags: ['web'],
};

function server(states: Operation[]) {
  let i = 0;
  return testClient(
    (req) => {
      if (req.url.pathname === '/v1/servers/create') return json(op('pending'), 202);
      if (req.url.pathname === '/v1/operations/op-1/cancel') return json(op('cancelled'));
      const state = states[Math.min(i++, states.length - 1)];
      return json(state);
    },
    { auth: { type: 'apiKey', apiKey: 'k' } },
  );
}

describe('operations', () => {
  it('waits until completed, reporting progress, with growing poll intervals', async () => {
    const { client, sleeps } = server([
      op('running', { progress: 10 }),
      op('running', { progress: 10 }),
      op('running', { progress: 60 }),
      op('completed', { progress: 100, result: { server_id: 'srv-1' } }),
    ]);
    const handle = await client.apiServer.createServer(request);
    expect(handle.id).toBe('op-1');
    const seen: string[] = [];
    const done = await handle.wait({ onProgress: (o) => seen.push(`${o.status}:${o.progress ?? ''}`) });
    expect(done.result).toEqual({ server_id: 'srv-1' });
    expect(seen).toEqual(['pending:', 'running:10', 'running:60', 'completed:100']);
    expect(sleeps).toEqual([1000, 1500, 2250, 3375]);
  });

  it('throws ERR_CLIENT_OPERATION_FAILED with the server’s reason when the operation fails', async () => {
    const { client } = server([op('failed', { error: 'quota exceeded' })]);
    const handle = await client.apiServer.createServer(request);
    await expect(handle.wait()).rejects.toMatchObject({
      code: 'ERR_CLIENT_OPERATION_FAILED',
      details: { operationId: 'op-1', status: 'failed' },
      message: expect.stringContaining('quota exceeded'),
    });
  });

  it('throws ERR_CLIENT_WAIT_TIMEOUT when it does not finish in time (clock, not sleeping)', async () => {
    const { client } = server([op('running')]);
    const handle = await client.apiServer.createServer(request);
    await expect(handle.wait({ timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'ERR_CLIENT_WAIT_TIMEOUT' });
  });

  it('cancel() then wait() throws ERR_CLIENT_OPERATION_CANCELLED', async () => {
    const { client } = server([op('running')]);
    const handle = await client.apiServer.createServer(request);
    await expect(handle.cancel()).resolves.toMatchObject({ status: 'cancelled' });
    await expect(handle.wait()).rejects.toMatchObject({ code: 'ERR_CLIENT_OPERATION_CANCELLED' });
  });

  it('stops waiting when the signal aborts', async () => {
    const { client } = server([op('running')]);
    const handle = await client.apiServer.createServer(request);
    await expect(handle.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_CLIENT_ABORTED' });
  });

  it('poll() fetches the current state', async () => {
    const { client } = server([op('running', { progress: 42 })]);
    const handle = await client.apiServer.createServer(request);
    await expect(handle.poll()).resolves.toMatchObject({ progress: 42 });
    expect(handle.current.progress).toBe(42);
  });
});
