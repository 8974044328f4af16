import { createHash } from 'node:crypto';
import { parseRouteResponse, EXTENSION_REGISTRY_ROUTES as R } from '@provisioning/platform-client/api';
import { createOciClient } from '@provisioning/platform-client/oci';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { giteaBackend } from './gitea-backend.js';
import { type GiteaFixture, startGiteaFixture } from './gitea-fixture.js';
import { createExtensionRegistry } from './index.js';
import { EXTENSION_ARTIFACT_TYPE, OCI_ANNOTATIONS, ociBackend } from './oci-backend.js';

type TestPlatform = Awaited<ReturnType<typeof createTestPlatform>>;
type Ext = {
  name: string;
  type: string;
  version: string;
  source: string;
  checksum: string;
  size: number;
  tags: string[];
};

// The platform-client's docker-registry helper, by relative path (outside this project's rootDir, so untyped here).
const REGISTRY_HELPER = '../../../../packages/platform-client/test/registry.ts';
interface TestRegistry {
  readonly url: string;
  stop(): Promise<void>;
}
const { startRegistry } = (await import(/* @vite-ignore */ REGISTRY_HELPER)) as {
  startRegistry(auth: { htpasswd: Record<string, string> }): Promise<TestRegistry>;
};

const PUBLIC = 'http://registry.test';
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const upcloud1 = Buffer.from('upcloud provider 1.0.0');
const upcloud2 = Buffer.from('upcloud provider 1.10.0');
const k8s = Buffer.from('kubernetes taskserv 2.0.0');
const buildkit = Buffer.from('buildkit cluster 0.3.0');

describe('extension registry', () => {
  let registry: TestRegistry;
  let gitea: GiteaFixture;
  let platform: TestPlatform;
  let app: ReturnType<typeof createExtensionRegistry>['app'];
  let catalog: ReturnType<typeof createExtensionRegistry>['catalog'];
  let apiKey: string;

  beforeAll(async () => {
    // A real OCI registry (Debian's docker-registry 2.8.2) with htpasswd auth: the service holds the credentials.
    registry = await startRegistry({ htpasswd: { publisher: 'registry-secret-pw' } });
    const oci = createOciClient({
      registry: registry.url,
      credentials: { username: 'publisher', password: 'registry-secret-pw' },
    });
    const push = (repo: string, tag: string, data: Buffer, annotations: Record<string, string>) =>
      oci.pushArtifact(repo, tag, {
        artifactType: EXTENSION_ARTIFACT_TYPE,
        files: [{ name: 'extension.tar.gz', data }],
        annotations,
      });
    const meta = (description: string, created: string, tags: string) => ({
      [OCI_ANNOTATIONS.description]: description,
      [OCI_ANNOTATIONS.authors]: 'Platform Team',
      [OCI_ANNOTATIONS.created]: created,
      [OCI_ANNOTATIONS.tags]: tags,
    });
    await push(
      'extensions/provider/upcloud',
      '1.0.0',
      upcloud1,
      meta('UpCloud provider', '2026-01-01T00:00:00Z', 'cloud,eu'),
    );
    await push(
      'extensions/provider/upcloud',
      '1.10.0',
      upcloud2,
      meta('UpCloud provider', '2026-02-01T00:00:00Z', 'cloud,eu'),
    );
    await push(
      'extensions/taskserv/kubernetes',
      '2.0.0',
      k8s,
      meta('Kubernetes control plane', '2026-02-02T00:00:00Z', 'k8s'),
    );
    await push('extensions/taskserv/kubernetes', 'latest', k8s, meta('not a version tag', '2026-02-02T00:00:00Z', ''));
    await push('other/thing', '1.0.0', Buffer.from('not an extension'), {});

    // Gitea cannot run here: an in-process fixture following Gitea's documented API.
    gitea = await startGiteaFixture({
      org: 'exts',
      token: 'gitea-secret-token',
      repos: [
        {
          name: 'buildkit',
          description: 'BuildKit cluster',
          topics: ['extension-cluster', 'ci'],
          releases: [
            { tag: '0.3.0', archive: buildkit, publishedAt: '2026-03-01T00:00:00Z' },
            { tag: '0.4.0', archive: Buffer.from('draft'), draft: true },
            { tag: '0.5.0-rc.1', archive: Buffer.from('pre'), prerelease: true },
          ],
        },
        {
          name: 'tampered',
          description: 'A cluster whose archive does not match its checksum',
          topics: ['extension-cluster'],
          releases: [{ tag: '1.0.0', archive: Buffer.from('evil'), badChecksum: true }],
        },
        { name: 'docs', description: 'not an extension', topics: ['documentation'], releases: [] },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    await gitea?.close();
  });

  beforeEach(async () => {
    platform = await createTestPlatform();
    const built = createExtensionRegistry(platform, {
      backends: [
        giteaBackend({ url: gitea.url, org: 'exts', token: 'gitea-secret-token', publicUrl: PUBLIC }),
        ociBackend({
          registry: registry.url,
          credentials: { username: 'publisher', password: 'registry-secret-pw' },
          publicUrl: PUBLIC,
        }),
      ],
      cacheTtlSeconds: 60,
    });
    app = fromLoopback(built.app);
    catalog = built.catalog;
    const owner = await addUser(platform, 'reader', 'correct horse battery staple', ['Viewer']);
    apiKey = (await platform.apiKeys.create({ owner, name: 'ci', scopes: ['read'] })).key;
    gitea.down = false;
  });
  afterEach(() => platform.dispose());

  // `null`: no key at all.
  const get = (path: string, key: string | null = apiKey) =>
    app.request(path, { headers: key === null ? {} : { 'x-api-key': key } });
  const data = async <T>(res: Response) => ((await res.json()) as { data: T }).data;

  it('answers health without a key, with each backend checked', async () => {
    const res = await get(R.health.path, null);
    expect(res.status).toBe(200);
    expect(parseRouteResponse(R.health, await res.json())).toEqual({
      status: 'healthy',
      checks: { gitea: 'ok', oci: 'ok' },
    });
  });

  it('needs an API key for reads', async () => {
    expect((await get(R.listExtensions.path, null)).status).toBe(401);
    expect((await get(R.listExtensions.path, 'prov_forged')).status).toBe(401);
    expect((await get('/api/v1/extensions/provider/upcloud', null)).status).toBe(401);
    expect((await get('/api/v1/extensions/provider/upcloud/download', null)).status).toBe(401);
    // A revoked key stops working at once.
    const owner = (await platform.users.findByUsername('reader'))?.id as string;
    const { key, info } = await platform.apiKeys.create({ owner, name: 'short-lived', scopes: ['read'] });
    expect((await get(R.listExtensions.path, key)).status).toBe(200);
    await platform.apiKeys.revoke(info.id);
    expect((await get(R.listExtensions.path, key)).status).toBe(401);
  });

  it('lists the latest version of each extension from both backends', async () => {
    const res = await get(R.listExtensions.path);
    expect(res.status).toBe(200);
    const items = parseRouteResponse(R.listExtensions, await res.json()) as Ext[];
    expect(items.map((e) => [e.type, e.name, e.version, e.source])).toEqual([
      ['cluster', 'buildkit', '0.3.0', 'gitea'],
      ['cluster', 'tampered', '1.0.0', 'gitea'],
      ['provider', 'upcloud', '1.10.0', 'oci'],
      ['taskserv', 'kubernetes', '2.0.0', 'oci'],
    ]);
    const upcloud = items.find((e) => e.name === 'upcloud') as Ext & Record<string, unknown>;
    expect(upcloud).toMatchObject({
      checksum: sha(upcloud2),
      size: upcloud2.length,
      tags: ['cloud', 'eu'],
      author: 'Platform Team',
      description: 'UpCloud provider',
      published_at: '2026-02-01T00:00:00.000Z',
      download_url: `${PUBLIC}/api/v1/extensions/provider/upcloud/download?version=1.10.0&source=oci`,
    });
    expect(JSON.stringify(items)).not.toContain('registry-secret-pw');
    expect(JSON.stringify(items)).not.toContain('gitea-secret-token');

    const filtered = await data<Ext[]>(
      await get(`${R.listExtensions.path}?type=cluster&source=gitea&limit=1&offset=1`),
    );
    expect(filtered.map((e) => e.name)).toEqual(['tampered']);
    expect((await data<Ext[]>(await get(`${R.listExtensions.path}?source=oci`))).map((e) => e.name)).toEqual([
      'upcloud',
      'kubernetes',
    ]);
  });

  it('gets one extension, its versions newest first, and 404s the unknown', async () => {
    const one = await get('/api/v1/extensions/provider/upcloud');
    expect(parseRouteResponse(R.getExtension, await one.json())).toMatchObject({ version: '1.10.0', source: 'oci' });
    const versions = parseRouteResponse(
      R.listVersions,
      await (await get('/api/v1/extensions/provider/upcloud/versions')).json(),
    );
    expect((versions as Ext[]).map((e) => e.version)).toEqual(['1.10.0', '1.0.0']);
    const missing = await get('/api/v1/extensions/provider/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ success: false, code: 'EXTENSION_NOT_FOUND' });
  });

  it('searches names, descriptions and tags', async () => {
    const hits = await data<Ext[]>(await get('/api/v1/extensions/search?q=CLOUD%20eu'));
    expect(hits.map((e) => e.name)).toEqual(['upcloud']);
    expect(
      (await data<Ext[]>(await get('/api/v1/extensions/search?q=cluster&source=gitea'))).map((e) => e.name),
    ).toEqual(['buildkit', 'tampered']);
    expect(await data(await get('/api/v1/extensions/search?q=zzz'))).toEqual([]);
  });

  it('downloads verified archives from OCI and Gitea', async () => {
    const latest = await get('/api/v1/extensions/provider/upcloud/download');
    expect(latest.status).toBe(200);
    expect(latest.headers.get('x-checksum')).toBe(sha(upcloud2));
    expect(Buffer.from(await latest.arrayBuffer())).toEqual(upcloud2);
    const old = await get('/api/v1/extensions/provider/upcloud/download?version=1.0.0&source=oci');
    expect(Buffer.from(await old.arrayBuffer())).toEqual(upcloud1);
    const fromGitea = await get('/api/v1/extensions/cluster/buildkit/download');
    expect(fromGitea.status).toBe(200);
    expect(fromGitea.headers.get('content-disposition')).toBe('attachment; filename="buildkit-0.3.0.tar.gz"');
    expect(Buffer.from(await fromGitea.arrayBuffer())).toEqual(buildkit);
    // An archive that does not match its published checksum is never served.
    const tampered = await get('/api/v1/extensions/cluster/tampered/download');
    expect(tampered.status).toBe(502);
    expect(await tampered.json()).toMatchObject({ success: false, code: 'BACKEND_UNAVAILABLE' });
    expect((await get('/api/v1/extensions/provider/upcloud/download?version=9.9.9')).status).toBe(404);
  });

  it('serves from the LRU cache until the TTL passes', async () => {
    await get(R.listExtensions.path);
    const calls = gitea.requests.length;
    await get(R.listExtensions.path);
    await get('/api/v1/extensions/cluster/buildkit');
    expect(gitea.requests.length).toBe(calls);
    // The backend goes down: the cached listing still answers within the TTL…
    gitea.down = true;
    expect((await get('/api/v1/extensions/cluster/buildkit')).status).toBe(200);
    // …and once it expires the failure shows: partial list with a header, 502 for that source alone.
    platform.clock.advance(60_000);
    const partial = await get(R.listExtensions.path);
    expect(partial.status).toBe(200);
    expect(partial.headers.get('x-unavailable-sources')).toBe('gitea');
    expect((await data<Ext[]>(partial)).every((e) => e.source === 'oci')).toBe(true);
    expect((await get(`${R.listExtensions.path}?source=gitea`)).status).toBe(502);
    expect((await get('/api/v1/extensions/cluster/buildkit')).status).toBe(502);
    const health = await data<{ status: string; checks: Record<string, string> }>(await get(R.health.path));
    expect(health).toEqual({ status: 'degraded', checks: { gitea: 'unavailable', oci: 'ok' } });
    gitea.down = false;
    expect((await get('/api/v1/extensions/cluster/buildkit')).status).toBe(200);
    expect(catalog.cache.size).toBeLessThanOrEqual(256);
  });

  it.each([
    [`${R.listExtensions.path}?limit=1001`, 'INVALID_QUERY'],
    [`${R.listExtensions.path}?limit=0`, 'INVALID_QUERY'],
    [`${R.listExtensions.path}?limit=abc`, 'INVALID_QUERY'],
    [`${R.listExtensions.path}?offset=-5`, 'INVALID_QUERY'],
    [`${R.listExtensions.path}?type=plugin`, 'INVALID_QUERY'],
    [`${R.listExtensions.path}?source=github`, 'INVALID_QUERY'],
    ['/api/v1/extensions/search', 'INVALID_QUERY'],
    [`/api/v1/extensions/search?q=${'x'.repeat(201)}`, 'INVALID_QUERY'],
    ['/api/v1/extensions/plugin/upcloud', 'INVALID_TYPE'],
    ['/api/v1/extensions/provider/..%2Fetc', 'INVALID_NAME'],
    ['/api/v1/extensions/provider/upcloud/versions?x=1&type=1', undefined],
    ['/api/v1/extensions/provider/upcloud/download?version=1.0.0%20;rm', 'INVALID_QUERY'],
    ['/api/v1/extensions/provider/upcloud/download?source=ftp', 'INVALID_QUERY'],
  ])('rejects bad input %s with a typed 400', async (path, code) => {
    const res = await get(path);
    if (code === undefined) return expect(res.status).toBe(200); // unknown query parameters are ignored
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ success: false, code });
  });

  it('refuses writes: the registry is read-only over HTTP', async () => {
    const res = await app.request(R.listExtensions.path, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(404);
  });

  it('serves its OpenAPI document', async () => {
    const doc = (await (await get('/openapi.json', null)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        R.listExtensions.path,
        '/api/v1/extensions/search',
        '/api/v1/extensions/{type}/{name}/download',
      ]),
    );
  });
});
