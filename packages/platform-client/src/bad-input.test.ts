import { readdirSync } from 'node:fs';
import { tempDir } from '@provisioning/testing';
import { describe, expect, it } from 'vitest';
import { failure, fakeFetch, json, ok, testClient } from '../test/helpers.js';
import { base64, EncryptRequestSchema } from './api.js';
import { createOciClient, digestOf, MediaTypes } from './oci.js';

// A demanding server review: whatever a broken, hostile or misconfigured
// server sends, the client answers with a typed error and never returns (or
// writes) data that is not exactly what the server's contract promises.

const bearer = { auth: { type: 'bearer', token: 't' } } as const;

const operation = (id: string, status = 'running') => ({
  id,
  status,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  result: null,
  error: null,
});

describe('oversized answers', () => {
  it('refuses a body announced larger than maxResponseBytes, without reading it', async () => {
    const { client } = testClient(
      () =>
        new Response(JSON.stringify({ success: true, data: [] }), {
          headers: { 'content-type': 'application/json', 'content-length': String(10_000_000) },
        }),
      { ...bearer, maxResponseBytes: 1024, retry: false },
    );
    expect(await failure(client.orchestrator.listTasks())).toMatchObject({
      code: 'ERR_CLIENT_MALFORMED_RESPONSE',
      fault: 'server',
      retryable: false,
      details: { maxBytes: 1024 },
    });
  });

  it('stops reading an endless body without Content-Length once it passes the limit', async () => {
    let pulled = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(4096).fill(0x20));
      },
      cancel() {
        cancelled = true;
      },
    });
    const { client } = testClient(() => new Response(endless, { headers: { 'content-type': 'application/json' } }), {
      ...bearer,
      maxResponseBytes: 64 * 1024,
      retry: false,
    });
    expect((await failure(client.orchestrator.listTasks())).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
    expect(pulled).toBeLessThan(40);
    expect(cancelled).toBe(true);
  });

  it('refuses a bad maxResponseBytes at construction', () => {
    expect(() => testClient(() => ok([]), { maxResponseBytes: 0 })).toThrow(/maxResponseBytes/);
  });
});

describe('bytes that are not what they claim', () => {
  it('refuses invalid UTF-8 instead of decoding it to replacement characters', async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"success":true,"data":"'), 0xff, 0xfe, 0x22, 0x7d]);
    const { client } = testClient(() => new Response(bytes, { headers: { 'content-type': 'application/json' } }), {
      retry: false,
    });
    expect((await failure(client.orchestrator.health())).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
  });

  it('refuses a decrypt answer whose base64 is not whole 4-character groups (it would decode short)', async () => {
    for (const plaintext of ['aGVsbG8', 'aGV=sbG8=', 'aGVsbG8===', 'aGVs bG8=']) {
      const { client } = testClient(() => ok({ plaintext, key_id: 'k1' }), bearer);
      expect((await failure(client.kms.decrypt('ct'))).code, plaintext).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
    }
    const { client } = testClient(() => ok({ plaintext: 'aGVsbG8=', key_id: 'k1' }), bearer);
    expect(new TextDecoder().decode((await client.kms.decrypt('ct')).plaintext)).toBe('hello');
  });

  it('the same schema makes the KMS service refuse damaged base64 in requests', () => {
    expect(base64.is('')).toBe(true);
    expect(base64.is('YQ==')).toBe(true);
    expect(base64.is('YWI=')).toBe(true);
    expect(base64.is('YQ=')).toBe(false);
    expect(EncryptRequestSchema.is({ plaintext: 'YQ' })).toBe(false);
  });

  it('refuses the state of another operation while waiting on one', async () => {
    const { client } = testClient(
      (req) => (req.method === 'POST' ? json(operation('op-1', 'pending'), 202) : json(operation('op-2', 'completed'))),
      bearer,
    );
    const op = await client.apiServer.createCluster({
      workspace: 'w',
      cluster: 'c',
      node_count: 1,
      check_mode: true,
    });
    expect((await failure(op.wait({ intervalMs: 1 }))).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
    expect(op.current.status).toBe('pending');
  });
});

describe('audit exports are the format asked for', () => {
  it('accepts the format’s content type and refuses another one', async () => {
    const csv = 'id,actor\ne1,ada\n';
    const good = testClient(
      () => new Response(csv, { headers: { 'content-type': 'text/csv; charset=utf-8' } }),
      bearer,
    );
    expect(await good.client.orchestrator.audit.export('csv')).toBe(csv);
    // A JSON error page answered with 200 must not be saved as the CSV export.
    const wrong = testClient(() => json({ success: false, error: 'oops' }), { ...bearer, retry: false });
    expect((await failure(wrong.client.orchestrator.audit.export('csv'))).code).toBe(
      'ERR_CLIENT_UNEXPECTED_CONTENT_TYPE',
    );
    const none = testClient(() => new Response(csv, { headers: { 'content-type': '' } }), bearer);
    expect((await failure(none.client.orchestrator.audit.export('csv'))).code).toBe(
      'ERR_CLIENT_UNEXPECTED_CONTENT_TYPE',
    );
    const jsonExport = testClient(() => json([{ id: 'e1' }]), bearer);
    expect(JSON.parse(await jsonExport.client.orchestrator.audit.export('json'))).toEqual([{ id: 'e1' }]);
  });
});

describe('OCI artifacts from a registry that lies', () => {
  const layer = new TextEncoder().encode('layer-bytes');
  const pull = async (layers: unknown[]) => {
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: {}, layers });
    const { fetch, seen } = fakeFetch((req) =>
      req.url.pathname.includes('/manifests/')
        ? new Response(manifest, { headers: { 'content-type': MediaTypes.ociManifest } })
        : new Response(layer),
    );
    const oci = createOciClient({ registry: 'http://registry.test', fetch, retry: false });
    const dir = tempDir();
    try {
      const error = await failure(oci.pullArtifact('a', 'v1', { outputDir: dir.path }));
      return {
        error,
        files: readdirSync(dir.path),
        blobRequests: seen.filter((r) => r.url.pathname.includes('/blobs/')),
      };
    } finally {
      dir.remove();
    }
  };
  const descriptor = (title: string, extra: Record<string, unknown> = {}) => ({
    mediaType: 'application/octet-stream',
    digest: digestOf(layer),
    size: layer.byteLength,
    annotations: { 'org.opencontainers.image.title': title },
    ...extra,
  });

  it('refuses layers that are not descriptors before fetching anything', async () => {
    for (const bad of [
      null,
      'x',
      descriptor('a', { size: -1 }),
      descriptor('a', { size: 1.5 }),
      descriptor('a', { digest: 'md5:x' }),
    ]) {
      const { error, files, blobRequests } = await pull([bad]);
      expect(error.code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
      expect(error.fault).toBe('server');
      expect(files).toEqual([]);
      expect(blobRequests).toEqual([]);
    }
  });

  it('refuses two layers written to one file name (the second would replace the first)', async () => {
    for (const layers of [
      [descriptor('app.tar.gz'), descriptor('app.tar.gz')],
      [descriptor('app.tar.gz.partial'), descriptor('app.tar.gz')],
    ]) {
      const { error, files, blobRequests } = await pull(layers);
      expect(error.code).toBe('ERR_CLIENT_OCI_PROTOCOL');
      expect(files).toEqual([]);
      expect(blobRequests).toEqual([]);
    }
  });

  it('bounds a manifest without Content-Length while reading it', async () => {
    const big = JSON.stringify({ schemaVersion: 2, layers: [], pad: 'x'.repeat(10_000) });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const { fetch } = fakeFetch(() => new Response(stream, { headers: { 'content-type': MediaTypes.ociManifest } }));
    const oci = createOciClient({ registry: 'http://registry.test', fetch, retry: false, maxManifestBytes: 1000 });
    expect((await failure(oci.getManifest('a', 'v1'))).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
  });
});
