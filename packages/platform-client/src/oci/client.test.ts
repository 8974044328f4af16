import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@provisioning/testing';
import { describe, expect, it } from 'vitest';
import { failure, fakeFetch, type Seen } from '../../test/helpers.js';
import { PlatformClientError } from '../errors.js';
import { createOciClient, parseNextLink } from './client.js';
import { digestOf } from './digest.js';
import { parseChallenge } from './http.js';
import { MediaTypes } from './media-types.js';

const REG = 'http://registry.test';
const enc = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s) as Uint8Array<ArrayBuffer>;

function client(handler: (req: Seen) => Response | Promise<Response>) {
  const { fetch, seen } = fakeFetch(handler);
  return { oci: createOciClient({ registry: REG, fetch, retry: false }), seen };
}

describe('challenge parsing', () => {
  it('parses Bearer and Basic challenges with quoted values', () => {
    expect(
      parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' },
    });
    expect(parseChallenge('Basic realm="x \\"y\\""')).toEqual({ scheme: 'basic', params: { realm: 'x "y"' } });
  });

  it('parses Link next', () => {
    expect(parseNextLink('</v2/a/tags/list?n=2&last=b>; rel="next"')).toBe('/v2/a/tags/list?n=2&last=b');
    expect(parseNextLink(null)).toBeUndefined();
  });
});

describe('blobs are verified', () => {
  it('rejects a blob whose bytes do not match the digest', async () => {
    const digest = digestOf(enc('good'));
    const { oci } = client(() => new Response(enc('evil'), { status: 200 }));
    expect((await failure(oci.getBlob('a', digest))).code).toBe('ERR_CLIENT_DIGEST_MISMATCH');
  });

  it('rejects a blob shorter than its descriptor size (truncated)', async () => {
    const data = enc('0123456789');
    const { oci } = client(() => new Response(data.subarray(0, 5), { status: 200 }));
    const error = await failure(oci.getBlob('a', digestOf(data), { expectedSize: 10 }));
    expect(error).toMatchObject({ code: 'ERR_CLIENT_TRUNCATED_RESPONSE', retryable: true });
  });

  it('rejects a stream that breaks mid-way and keeps the .partial for resume, never the target', async () => {
    const data = enc('0123456789');
    const { oci } = client(
      () =>
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(data.subarray(0, 4));
              c.error(new TypeError('terminated'));
            },
          }),
          { status: 200 },
        ),
    );
    const dir = tempDir();
    try {
      const target = join(dir.path, 'out');
      expect((await failure(oci.downloadBlob('a', digestOf(data), target))).code).toBe('ERR_CLIENT_TRUNCATED_RESPONSE');
      expect(existsSync(target)).toBe(false);
      expect(existsSync(`${target}.partial`)).toBe(true);
    } finally {
      dir.remove();
    }
  });

  it('rejects a manifest fetched by digest whose bytes do not match', async () => {
    const body = enc(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: {}, layers: [] }));
    const { oci } = client(
      () => new Response(body, { status: 200, headers: { 'content-type': MediaTypes.ociManifest } }),
    );
    expect((await failure(oci.getManifest('a', digestOf(enc('other'))))).code).toBe('ERR_CLIENT_DIGEST_MISMATCH');
  });

  it('rejects a manifest whose Docker-Content-Digest disagrees with its bytes', async () => {
    const body = enc(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] }));
    const { oci } = client(
      () =>
        new Response(body, {
          status: 200,
          headers: { 'content-type': MediaTypes.ociManifest, 'docker-content-digest': digestOf(enc('x')) },
        }),
    );
    expect((await failure(oci.getManifest('a', 'latest'))).code).toBe('ERR_CLIENT_DIGEST_MISMATCH');
  });

  it('sends an Accept naming OCI and Docker manifest types', async () => {
    const body = enc(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] }));
    const { oci, seen } = client(
      () => new Response(body, { status: 200, headers: { 'content-type': MediaTypes.dockerManifest } }),
    );
    const got = await oci.getManifest('a', 'v1');
    expect(got.mediaType).toBe(MediaTypes.dockerManifest);
    const accept = seen[0]?.headers.get('accept') ?? '';
    for (const t of [
      MediaTypes.ociManifest,
      MediaTypes.ociIndex,
      MediaTypes.dockerManifest,
      MediaTypes.dockerManifestList,
    ]) {
      expect(accept).toContain(t);
    }
  });
});

describe('input validation keeps paths safe', () => {
  it('rejects invalid repository names, tags and digests before any request', async () => {
    const { oci, seen } = client(() => new Response(null, { status: 200 }));
    await expect(oci.getManifest('../etc', 'v1')).rejects.toMatchObject({ code: 'ERR_CLIENT_INVALID_OPTIONS' });
    await expect(oci.getManifest('a', 'v1/../../x')).rejects.toMatchObject({ code: 'ERR_CLIENT_INVALID_OPTIONS' });
    await expect(oci.getBlob('a', 'sha256:xyz')).rejects.toMatchObject({ code: 'ERR_CLIENT_INVALID_OPTIONS' });
    expect(seen).toHaveLength(0);
  });

  it('refuses artifact file names that would escape the output directory', async () => {
    const layer = enc('x');
    const manifest = enc(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: {},
        layers: [
          {
            mediaType: 'application/octet-stream',
            digest: digestOf(layer),
            size: 1,
            annotations: { 'org.opencontainers.image.title': '../../evil' },
          },
        ],
      }),
    );
    const { oci } = client((req) =>
      req.url.pathname.includes('/manifests/')
        ? new Response(manifest, { status: 200, headers: { 'content-type': MediaTypes.ociManifest } })
        : new Response(layer),
    );
    const dir = tempDir();
    try {
      expect((await failure(oci.pullArtifact('a', 'v1', { outputDir: dir.path }))).code).toBe(
        'ERR_CLIENT_OCI_PROTOCOL',
      );
    } finally {
      dir.remove();
    }
  });
});

describe('uploads', () => {
  it('falls back to uploading when a mount answers 202', async () => {
    const data = enc('payload');
    const { oci, seen } = client((req) => {
      if (req.method === 'HEAD') return new Response(null, { status: 404 });
      if (req.method === 'POST')
        return new Response(null, { status: 202, headers: { location: '/v2/t/blobs/uploads/u1?_state=abc%3D%3D' } });
      if (req.method === 'PUT')
        return new Response(null, { status: 201, headers: { 'docker-content-digest': digestOf(data) } });
      return new Response(null, { status: 500 });
    });
    const result = await oci.pushBlob('t', data, { mountFrom: 's' });
    expect(result.via).toBe('upload');
    expect(seen[1]?.url.searchParams.get('mount')).toBe(digestOf(data));
    expect(seen[1]?.url.searchParams.get('from')).toBe('s');
    // The PUT keeps _state byte for byte and adds the digest.
    expect(seen[2]?.url.search).toBe(`?_state=abc%3D%3D&digest=${encodeURIComponent(digestOf(data))}`);
  });

  it('detects a registry that acknowledges the wrong offset for a chunk', async () => {
    const { oci } = client((req) => {
      if (req.method === 'POST')
        return new Response(null, { status: 202, headers: { location: '/v2/t/blobs/uploads/u1' } });
      return new Response(null, { status: 202, headers: { location: '/v2/t/blobs/uploads/u2', range: '0-2' } });
    });
    const session = await oci.startUpload('t');
    await expect(session.write(enc('0123456789'))).rejects.toMatchObject({ code: 'ERR_CLIENT_OCI_PROTOCOL' });
    expect(session.offset).toBe(3);
    expect(session.location).toBe(`${REG}/v2/t/blobs/uploads/u2`);
  });

  it('refuses to resume an upload on another origin', async () => {
    const { oci } = client(() => new Response(null, { status: 204 }));
    await expect(oci.resumeUpload('t', 'http://evil.test/v2/t/blobs/uploads/x')).rejects.toMatchObject({
      code: 'ERR_CLIENT_INVALID_OPTIONS',
    });
  });
});

describe('tags and referrers on a spec-compliant registry', () => {
  it('follows Link pagination when the registry paginates', async () => {
    const pages: Record<string, { tags: string[]; link?: string }> = {
      '': { tags: ['a', 'b'], link: '</v2/r/tags/list?n=2&last=b>; rel="next"' },
      b: { tags: ['c', 'd'], link: '</v2/r/tags/list?n=2&last=d>; rel="next"' },
      d: { tags: ['e'] },
    };
    const { oci, seen } = client((req) => {
      const page = pages[req.url.searchParams.get('last') ?? ''] ?? { tags: [] };
      return new Response(JSON.stringify({ name: 'r', tags: page.tags }), {
        headers: { 'content-type': 'application/json', ...(page.link ? { link: page.link } : {}) },
      });
    });
    const all: string[] = [];
    for await (const t of oci.tags('r', { pageSize: 2 })) all.push(t);
    expect(all).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(seen).toHaveLength(3);
    const first = await oci.listTags('r', { n: 2 });
    expect(first).toMatchObject({ tags: ['a', 'b'], next: 'b', serverPaginated: true });
  });

  it('uses the referrers API when present, filtering client-side when the server did not', async () => {
    const subject = digestOf(enc('subject'));
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [
        { mediaType: MediaTypes.ociManifest, digest: digestOf(enc('s1')), size: 1, artifactType: 'sig' },
        { mediaType: MediaTypes.ociManifest, digest: digestOf(enc('s2')), size: 1, artifactType: 'sbom' },
      ],
    };
    const { oci, seen } = client(
      () => new Response(JSON.stringify(index), { headers: { 'content-type': MediaTypes.ociIndex } }),
    );
    const refs = await oci.referrers('r', subject, { artifactType: 'sbom' });
    expect(refs.map((d) => d.artifactType)).toEqual(['sbom']);
    expect(seen[0]?.url.pathname).toBe(`/v2/r/referrers/${subject}`);
    expect(seen[0]?.url.searchParams.get('artifactType')).toBe('sbom');
  });
});

describe('registry auth', () => {
  it('never sends credentials to a token realm that downgrades https to http', async () => {
    const { fetch, seen } = fakeFetch(
      () =>
        new Response(null, {
          status: 401,
          headers: { 'www-authenticate': 'Bearer realm="http://evil.test/token",service="r"' },
        }),
    );
    const oci = createOciClient({
      registry: 'https://registry.test',
      fetch,
      credentials: { username: 'u', password: 'p' },
      retry: false,
    });
    expect((await failure(oci.ping())).code).toBe('ERR_CLIENT_OCI_AUTH');
    expect(seen.every((r) => r.url.host !== 'evil.test')).toBe(true);
  });

  it('sends a pre-issued bearer token as is', async () => {
    const { fetch, seen } = fakeFetch(
      () => new Response('{}', { status: 200, headers: { 'docker-distribution-api-version': 'registry/2.0' } }),
    );
    const oci = createOciClient({ registry: REG, fetch, credentials: { token: 'tok-123' } });
    await oci.ping();
    expect(seen[0]?.headers.get('authorization')).toBe('Bearer tok-123');
  });

  it('rejects a registry URL with embedded credentials', () => {
    expect(() => createOciClient({ registry: 'https://u:p@registry.test' })).toThrow(PlatformClientError);
  });
});

describe('registry credentials stay out of logs', () => {
  it('redacts Basic credentials and bearer tokens from debug lines', async () => {
    const lines: string[] = [];
    const { fetch } = fakeFetch((req) =>
      req.headers.get('authorization')
        ? new Response('{}', { status: 200 })
        : new Response(null, { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } }),
    );
    const oci = createOciClient({
      registry: REG,
      fetch,
      credentials: { username: 'alice', password: 's3cret-registry-password' },
      logger: { debug: (m, f) => lines.push(m + JSON.stringify(f)) },
    });
    await oci.ping();
    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(2);
    expect(log).not.toContain('s3cret-registry-password');
    expect(log).not.toContain(Buffer.from('alice:s3cret-registry-password').toString('base64'));
  });
});

describe('catalog', () => {
  const page = (repositories: unknown, link?: string): Response =>
    new Response(JSON.stringify({ repositories }), {
      status: 200,
      headers: { 'content-type': 'application/json', ...(link ? { link } : {}) },
    });

  it('follows Link pages and asks for the registry:catalog:* scope', async () => {
    const { oci, seen } = client((req) =>
      req.url.searchParams.get('last') === 'b'
        ? page(['c'])
        : page(['a', 'b'], '</v2/_catalog?n=2&last=b>; rel="next"'),
    );
    const all: string[] = [];
    for await (const repo of oci.catalog({ pageSize: 2 })) all.push(repo);
    expect(all).toEqual(['a', 'b', 'c']);
    expect(seen.map((r) => r.url.search)).toEqual(['?n=2', '?n=2&last=b']);
  });

  it('refuses a malformed page, a looping Link and a Link to another origin', async () => {
    const collect = async (oci: ReturnType<typeof createOciClient>) => {
      for await (const _ of oci.catalog()) void _;
    };
    expect((await failure(collect(client(() => page('nope')).oci))).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
    expect((await failure(collect(client(() => page([1])).oci))).code).toBe('ERR_CLIENT_MALFORMED_RESPONSE');
    const loop = client(() => page(['a'], '</v2/_catalog?n=1000>; rel="next"'));
    expect((await failure(collect(loop.oci))).code).toBe('ERR_CLIENT_OCI_PROTOCOL');
    expect(loop.seen).toHaveLength(1);
    const away = client(() => page(['a'], '<https://evil.test/v2/_catalog?last=a>; rel="next"'));
    expect((await failure(collect(away.oci))).code).toBe('ERR_CLIENT_OCI_PROTOCOL');
    expect(away.seen.map((r) => r.url.host)).toEqual(['registry.test']);
  });
});

describe('credentials stay on the registry', () => {
  it('never sends credentials to an upload Location on another origin', async () => {
    const { fetch, seen } = fakeFetch((req) => {
      if (req.method === 'HEAD') return new Response(null, { status: 404 });
      if (!req.headers.get('authorization')) {
        return new Response(null, { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } });
      }
      return new Response(null, { status: 202, headers: { location: 'https://evil.test/upload/1' } });
    });
    const oci = createOciClient({ registry: REG, fetch, retry: false, credentials: { username: 'u', password: 'pw' } });
    const error = await failure(oci.pushBlob('a', enc('data')));
    expect(error.code).toBe('ERR_CLIENT_OCI_PROTOCOL');
    expect(seen.every((r) => r.url.host === 'registry.test')).toBe(true);
  });
});
