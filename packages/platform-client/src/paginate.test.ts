import { describe, expect, it } from 'vitest';
import { json, ok, task, testClient } from '../test/helpers.js';
import { paginate } from './paginate.js';

describe('pagination', () => {
  it('walks offset/limit pages lazily and stops at a short page', async () => {
    const all = Array.from({ length: 25 }, (_, i) => task(`t${i}`));
    const { client, seen } = testClient(
      (req) => {
        const limit = Number(req.url.searchParams.get('limit'));
        const offset = Number(req.url.searchParams.get('offset'));
        return ok(all.slice(offset, offset + limit));
      },
      { auth: { type: 'apiKey', apiKey: 'k' } },
    );
    const ids: string[] = [];
    for await (const t of client.orchestrator.tasks({ status: 'Running' }, { pageSize: 10 })) ids.push(t.id);
    expect(ids).toEqual(all.map((t) => t.id));
    expect(seen.map((r) => r.url.searchParams.get('offset'))).toEqual(['0', '10', '20']);
    expect(seen[0]?.url.searchParams.get('status')).toBe('Running');
  });

  it('fetches only what the consumer reads', async () => {
    const { client, seen } = testClient(() => ok(Array.from({ length: 10 }, (_, i) => task(`t${i}`))), {
      auth: { type: 'apiKey', apiKey: 'k' },
    });
    for await (const t of client.orchestrator.tasks({}, { pageSize: 10 })) if (t.id === 't3') break;
    expect(seen).toHaveLength(1);
  });

  it('treats a server that ignores limit as unpaginated (no duplicates, no endless loop)', async () => {
    const servers = Array.from({ length: 7 }, (_, i) => ({
      id: `srv-${i}`,
      hostname: `h${i}`,
      provider: 'upcloud',
      plan: 'p',
      zone: 'z',
      ip_address: null,
      status: 'running',
      created_at: '2026-01-01T00:00:00Z',
    }));
    const { client, seen } = testClient(() => json(servers), { auth: { type: 'apiKey', apiKey: 'k' } });
    const got = [];
    for await (const s of client.apiServer.servers({ pageSize: 5 })) got.push(s.id);
    expect(got).toHaveLength(7);
    expect(seen).toHaveLength(1);
  });

  it('honours maxItems and rejects a page size out of bounds', async () => {
    const pages = paginate(async (limit, offset) => Array.from({ length: limit }, (_, i) => offset + i), {
      pageSize: 3,
      maxItems: 5,
    });
    const got: number[] = [];
    for await (const n of pages) got.push(n);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    await expect(paginate(async () => [], { pageSize: 5000 }).next()).rejects.toMatchObject({
      code: 'ERR_CLIENT_INVALID_OPTIONS',
    });
  });
});
