import { describe, expect, it } from 'vitest';
import { loginAnswer, ok, task, testClient } from '../test/helpers.js';
import type { WebSocketLike } from './events.js';

type Listener = (event: { data?: unknown; code?: number }) => void;

class FakeSocket implements WebSocketLike {
  static last: FakeSocket | undefined;
  readonly listeners = new Map<string, Listener[]>();
  closedWith: number | undefined;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  emit(type: string, event: { data?: unknown } = {}): void {
    for (const l of this.listeners.get(type) ?? []) l(event);
  }
  close(code?: number): void {
    this.closedWith = code;
    this.emit('close');
  }
}

const event = (id: string) => JSON.stringify({ event_type: 'task', timestamp: '2026-01-01T00:00:00Z', task: task(id) });

describe('orchestrator events', () => {
  it('opens /ws with the access token and the event classes, and yields validated events', async () => {
    const { client } = testClient(() => ok(loginAnswer(1)));
    await client.login({ username: 'ada', password: 'pw' });
    const stream = client.orchestrator.events({ events: ['task'], WebSocket: FakeSocket });
    const first = stream.next();
    await new Promise((r) => setTimeout(r, 0));
    const socket = FakeSocket.last as FakeSocket;
    const url = new URL(socket.url);
    expect(url.protocol).toBe('ws:');
    expect(url.pathname).toBe('/ws');
    expect(url.searchParams.get('token')).toBe('access-1');
    expect(url.searchParams.get('events')).toBe('task');
    socket.emit('message', { data: event('a') });
    socket.emit('message', { data: event('b') });
    expect((await first).value?.task?.id).toBe('a');
    expect((await stream.next()).value?.task?.id).toBe('b');
    socket.close(1000);
    expect((await stream.next()).done).toBe(true);
  });

  it('fails with ERR_CLIENT_MALFORMED_RESPONSE on an event that breaks the contract', async () => {
    const { client } = testClient(() => ok(loginAnswer(1)));
    await client.login({ username: 'ada', password: 'pw' });
    const stream = client.orchestrator.events({ WebSocket: FakeSocket });
    const next = stream.next();
    await new Promise((r) => setTimeout(r, 0));
    FakeSocket.last?.emit('message', { data: '{"event_type":"nope"}' });
    await expect(next).rejects.toMatchObject({ code: 'ERR_CLIENT_MALFORMED_RESPONSE' });
    expect(FakeSocket.last?.closedWith).toBe(1003);
  });

  it('needs a bearer token: API keys cannot open the stream', async () => {
    const { client } = testClient(() => ok(null), { auth: { type: 'apiKey', apiKey: 'k' } });
    await expect(client.orchestrator.events({ WebSocket: FakeSocket }).next()).rejects.toMatchObject({
      code: 'ERR_CLIENT_NOT_AUTHENTICATED',
    });
  });

  it('closes the socket when the signal aborts', async () => {
    const { client } = testClient(() => ok(loginAnswer(1)));
    await client.login({ username: 'ada', password: 'pw' });
    const controller = new AbortController();
    const stream = client.orchestrator.events({ WebSocket: FakeSocket, signal: controller.signal });
    const next = stream.next();
    await new Promise((r) => setTimeout(r, 0));
    controller.abort();
    expect((await next).done).toBe(true);
    expect(FakeSocket.last?.closedWith).toBe(1000);
  });
});
