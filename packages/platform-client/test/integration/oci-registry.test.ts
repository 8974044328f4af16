import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { tempDir } from '@provisioning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformClientError } from '../../src/errors.js';
import { createOciClient, digestOf, MediaTypes, type OciClient } from '../../src/oci.js';
import { failure } from '../helpers.js';
import { startRegistry, type TestRegistry } from '../registry.js';

const USER = 'ci-user';
const PASSWORD = 'ci-password-123';
const ARTIFACT = 'application/vnd.provisioning.extension.v1';

function blobPath(registry: TestRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(registry.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

describe('docker-registry 2.8.2 with htpasswd (Basic) auth', () => {
  let registry: TestRegistry;
  let oci: OciClient;
  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: { [USER]: PASSWORD } });
    oci = createOciClient({
      registry: registry.url,
      credentials: { username: USER, password: PASSWORD },
      retry: false,
    });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pings, answering the Basic challenge', async () => {
    await expect(oci.ping()).resolves.toEqual({ apiVersion: 'registry/2.0' });
  });

  it('rejects missing and wrong credentials with ERR_CLIENT_UNAUTHENTICATED', async () => {
    const anonymous = createOciClient({ registry: registry.url, retry: false });
    expect((await failure(anonymous.ping())).code).toBe('ERR_CLIENT_UNAUTHENTICATED');
    const wrong = createOciClient({
      registry: registry.url,
      credentials: { username: USER, password: 'nope' },
      retry: false,
    });
    expect((await failure(wrong.ping())).code).toBe('ERR_CLIENT_UNAUTHENTICATED');
  });

  it('pushes a blob monolithically, then HEADs, GETs (verified) and reads a range', async () => {
    const data = randomBytes(10_000);
    const pushed = await oci.pushBlob('blobs/mono', data);
    expect(pushed).toEqual({ digest: digestOf(data), size: 10_000, via: 'upload' });
    await expect(oci.headBlob('blobs/mono', pushed.digest)).resolves.toMatchObject({ size: 10_000 });
    expect(Buffer.from(await oci.getBlob('blobs/mono', pushed.digest))).toEqual(data);
    expect(Buffer.from(await oci.getBlobRange('blobs/mono', pushed.digest, 100, 199))).toEqual(data.subarray(100, 200));
    await expect(oci.headBlob('blobs/mono', digestOf(randomBytes(8)))).resolves.toBeUndefined();
    expect((await oci.pushBlob('blobs/mono', data)).via).toBe('existing');
  });

  it('uploads in chunks, following every new Location (with its _state)', async () => {
    const data = randomBytes(50_000);
    const locations: string[] = [];
    const session = await oci.startUpload('blobs/chunked');
    for (let at = 0; at < data.length; at += 8192) {
      await session.write(data.subarray(at, at + 8192));
      locations.push(session.location);
    }
    expect(new Set(locations).size).toBe(locations.length);
    expect(locations.every((l) => l.includes('_state='))).toBe(true);
    await session.commit(digestOf(data));
    expect(Buffer.from(await oci.getBlob('blobs/chunked', digestOf(data)))).toEqual(data);
    const viaPush = await oci.pushBlob('blobs/chunked2', randomBytes(20_000), { chunked: true, chunkSize: 6000 });
    expect(viaPush.via).toBe('upload');
  });

  it('resumes an interrupted upload from its Location with a fresh client', async () => {
    const data = randomBytes(30_000);
    const first = await oci.startUpload('blobs/resume');
    await first.write(data.subarray(0, 12_000));
    const other = createOciClient({ registry: registry.url, credentials: { username: USER, password: PASSWORD } });
    const resumed = await other.resumeUpload('blobs/resume', first.location);
    expect(resumed.offset).toBe(12_000);
    await resumed.write(data.subarray(12_000));
    await resumed.commit(digestOf(data));
    expect(Buffer.from(await other.getBlob('blobs/resume', digestOf(data)))).toEqual(data);
  });

  it('fails cleanly when the upload URL loses its _state (a known 2.8.2 trap)', async () => {
    const session = await oci.startUpload('blobs/state');
    const stripped = session.location.replace(/[?&]_state=[^&]*/, '');
    const error = await failure(
      (async () => {
        const resumed = await oci.resumeUpload('blobs/state', stripped);
        await resumed.write(randomBytes(10));
        await resumed.commit(digestOf(randomBytes(10)));
      })(),
    );
    expect(error).toBeInstanceOf(PlatformClientError);
    expect(error.status).toBeGreaterThanOrEqual(400);
  });

  it('mounts a blob across repositories (201)', async () => {
    const data = randomBytes(4096);
    await oci.pushBlob('mount/source', data);
    const result = await oci.pushBlob('mount/target', data, { mountFrom: 'mount/source' });
    expect(result.via).toBe('mount');
    expect(Buffer.from(await oci.getBlob('mount/target', result.digest))).toEqual(data);
  });

  it('pushes and pulls an artifact (ORAS style), into memory and into a directory', async () => {
    const a = randomBytes(3000);
    const b = Buffer.from('name = "upcloud"\n');
    const progress: number[] = [];
    const pushed = await oci.pushArtifact('extensions/upcloud', '1.0.0', {
      artifactType: ARTIFACT,
      files: [
        { name: 'provider.tar.gz', data: a, mediaType: 'application/gzip' },
        { name: 'manifest.toml', data: b },
      ],
      annotations: { 'org.opencontainers.image.version': '1.0.0' },
      onProgress: (done) => progress.push(done),
    });
    expect(progress.at(-1)).toBe(a.length + b.length);
    const pulled = await oci.pullArtifact('extensions/upcloud', '1.0.0');
    expect(pulled.digest).toBe(pushed.digest);
    expect(pulled.manifest.artifactType).toBe(ARTIFACT);
    expect(pulled.files.map((f) => f.name)).toEqual(['provider.tar.gz', 'manifest.toml']);
    expect(Buffer.from(pulled.files[0]?.data ?? [])).toEqual(a);
    const out = tempDir();
    try {
      await oci.pullArtifact('extensions/upcloud', pushed.digest, { outputDir: out.path });
      expect(readFileSync(join(out.path, 'provider.tar.gz'))).toEqual(a);
      expect(readFileSync(join(out.path, 'manifest.toml'), 'utf8')).toBe('name = "upcloud"\n');
    } finally {
      out.remove();
    }
  });

  it('negotiates manifests: OCI needs an explicit Accept on 2.8.2 (404 with Docker types only)', async () => {
    await oci.pushArtifact('accept/test', 'v1', {
      artifactType: ARTIFACT,
      files: [{ name: 'x', data: Buffer.from('x') }],
    });
    const got = await oci.getManifest('accept/test', 'v1');
    expect(got.mediaType).toBe(MediaTypes.ociManifest);
    expect(got.digest).toBe(`sha256:${createHash('sha256').update(got.bytes).digest('hex')}`);
    const dockerOnly = await failure(oci.getManifest('accept/test', 'v1', { accept: [MediaTypes.dockerManifest] }));
    expect(dockerOnly.code).toBe('ERR_CLIENT_NOT_FOUND');
    await expect(oci.headManifest('accept/test', 'v1')).resolves.toMatchObject({ digest: got.digest });
    await expect(oci.headManifest('accept/test', 'missing')).resolves.toBeUndefined();
  });

  it('lists tags sorted and paginated by the client, since 2.8.2 ignores n/last', async () => {
    const names = ['v3', 'alpha', 'v10', 'beta', 'v2', 'gamma'];
    for (const tag of names) {
      await oci.pushArtifact('tags/test', tag, {
        artifactType: ARTIFACT,
        files: [{ name: 'f', data: Buffer.from(tag) }],
      });
    }
    const sorted = [...names].sort();
    const first = await oci.listTags('tags/test', { n: 2 });
    expect(first).toMatchObject({
      name: 'tags/test',
      tags: sorted.slice(0, 2),
      next: sorted[1],
      serverPaginated: false,
    });
    const second = await oci.listTags('tags/test', { n: 2, last: first.next });
    expect(second.tags).toEqual(sorted.slice(2, 4));
    const all: string[] = [];
    for await (const tag of oci.tags('tags/test', { pageSize: 4 })) all.push(tag);
    expect(all).toEqual(sorted);
    expect((await failure(oci.listTags('tags/absent'))).code).toBe('ERR_CLIENT_NOT_FOUND');
  });

  it('lists the catalog, following Link pagination', async () => {
    for (const repo of ['catalog/a', 'catalog/b', 'catalog/c']) {
      await oci.pushArtifact(repo, 'v1', { artifactType: ARTIFACT, files: [{ name: 'f', data: Buffer.from(repo) }] });
    }
    let pages = 0;
    const counting = createOciClient({
      registry: registry.url,
      credentials: { username: USER, password: PASSWORD },
      fetch: (input, init) => {
        if (String(input).includes('/v2/_catalog')) pages++;
        return fetch(input, init);
      },
    });
    const paged: string[] = [];
    for await (const repo of counting.catalog({ pageSize: 1 })) paged.push(repo);
    // 2.8.2 honours n on the catalog: one repository per page (plus the 401 that asked for credentials).
    expect(pages).toBeGreaterThanOrEqual(paged.length);
    const whole: string[] = [];
    for await (const repo of oci.catalog()) whole.push(repo);
    expect(paged).toEqual(whole);
    expect(new Set(paged).size).toBe(paged.length);
    expect(paged).toEqual(expect.arrayContaining(['catalog/a', 'catalog/b', 'catalog/c']));
  });

  it('finds referrers through the tag-schema fallback (2.8.2 has no referrers API)', async () => {
    const subject = await oci.pushArtifact('refs/app', 'v1', {
      artifactType: ARTIFACT,
      files: [{ name: 'app', data: Buffer.from('app') }],
    });
    const descriptor = { mediaType: MediaTypes.ociManifest, digest: subject.digest, size: subject.size };
    const sig = await oci.pushArtifact('refs/app', 'sig-1', {
      artifactType: 'application/vnd.example.signature',
      files: [{ name: 'sig', data: Buffer.from('signature') }],
      subject: descriptor,
    });
    expect(sig.referrersApi).toBe(false);
    const sbom = await oci.pushArtifact('refs/app', 'sbom-1', {
      artifactType: 'application/spdx+json',
      files: [{ name: 'sbom.json', data: Buffer.from('{}') }],
      subject: descriptor,
    });
    const all = await oci.referrers('refs/app', subject.digest);
    expect(all.map((d) => d.digest).sort()).toEqual([sig.digest, sbom.digest].sort());
    const filtered = await oci.referrers('refs/app', subject.digest, { artifactType: 'application/spdx+json' });
    expect(filtered.map((d) => d.digest)).toEqual([sbom.digest]);
    await expect(oci.referrers('refs/app', sig.digest)).resolves.toEqual([]);
    const tags: string[] = [];
    for await (const t of oci.tags('refs/app')) tags.push(t);
    expect(tags).toContain(subject.digest.replace(':', '-'));
  });

  it('deletes manifests (a tag is resolved to its digest) and blobs', async () => {
    const pushed = await oci.pushArtifact('delete/test', 'gone', {
      artifactType: ARTIFACT,
      files: [{ name: 'f', data: randomBytes(64) }],
    });
    await expect(oci.deleteManifest('delete/test', 'gone')).resolves.toBe(pushed.digest);
    expect((await failure(oci.getManifest('delete/test', pushed.digest))).code).toBe('ERR_CLIENT_NOT_FOUND');
    const layer = pushed.manifest.layers[0]?.digest ?? '';
    await oci.deleteBlob('delete/test', layer);
    await expect(oci.headBlob('delete/test', layer)).resolves.toBeUndefined();
  });

  it('never returns a corrupted blob: storage tampered on disk → ERR_CLIENT_DIGEST_MISMATCH, no file written', async () => {
    const data = randomBytes(5000);
    const { digest } = await oci.pushBlob('corrupt/test', data);
    const onDisk = blobPath(registry, digest);
    const tampered = Buffer.from(readFileSync(onDisk));
    tampered[100] = (tampered[100] ?? 0) ^ 0xff;
    writeFileSync(onDisk, tampered);
    expect((await failure(oci.getBlob('corrupt/test', digest))).code).toBe('ERR_CLIENT_DIGEST_MISMATCH');
    const out = tempDir();
    try {
      const target = join(out.path, 'blob');
      expect((await failure(oci.downloadBlob('corrupt/test', digest, target))).code).toBe('ERR_CLIENT_DIGEST_MISMATCH');
      expect(existsSync(target)).toBe(false);
      expect(existsSync(`${target}.partial`)).toBe(false);
    } finally {
      out.remove();
    }
  });

  it('resumes a download from a .partial file with a Range request', async () => {
    const data = randomBytes(40_000);
    const { digest } = await oci.pushBlob('download/resume', data);
    const out = tempDir();
    try {
      const target = join(out.path, 'blob');
      writeFileSync(`${target}.partial`, data.subarray(0, 15_000));
      const seen: number[] = [];
      await oci.downloadBlob('download/resume', digest, target, { resume: true, onProgress: (d) => seen.push(d) });
      expect(readFileSync(target)).toEqual(data);
      expect(seen[0]).toBeGreaterThan(15_000);
    } finally {
      out.remove();
    }
  });
});

describe('docker-registry 2.8.2 with token (Bearer) auth from our own ES256/x5c token endpoint', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ token: { [USER]: PASSWORD, reader: 'reader-pass' } });
    registry.tokens?.permissions.set('reader', ['pull']);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes and pulls with scoped bearer tokens, caching one token per scope set', async () => {
    const oci = createOciClient({
      registry: registry.url,
      credentials: { username: USER, password: PASSWORD },
      retry: false,
    });
    await oci.ping();
    const data = randomBytes(2048);
    const pushed = await oci.pushArtifact('token/app', 'v1', { artifactType: ARTIFACT, files: [{ name: 'f', data }] });
    const before = registry.tokens?.requests.length ?? 0;
    const puller = createOciClient({ registry: registry.url, credentials: { username: USER, password: PASSWORD } });
    const pulled = await puller.pullArtifact('token/app', pushed.digest);
    await puller.pullArtifact('token/app', 'v1');
    expect(Buffer.from(pulled.files[0]?.data ?? [])).toEqual(data);
    const after = registry.tokens?.requests ?? [];
    // One pull token for the repository, then reused for every later request.
    expect(after.length - before).toBe(1);
    expect(after.at(-1)?.scopes).toContain('repository:token/app:pull');
  });

  it('refreshes an expired token with the refresh_token grant (no password on the wire)', async () => {
    const clock = createManualClock();
    const oci = createOciClient({
      registry: registry.url,
      credentials: { username: USER, password: PASSWORD },
      clock,
      retry: false,
    });
    const passwordGrants = (): number => (registry.tokens?.requests ?? []).filter((r) => r.grant === 'password').length;
    const before = registry.tokens?.requests.length ?? 0;
    await oci.pushBlob('token/refresh', randomBytes(100));
    // The first token comes from the password grant; later scopes already use the refresh token.
    expect(passwordGrants()).toBeGreaterThanOrEqual(1);
    const passwords = passwordGrants();
    const issued = (registry.tokens?.requests.length ?? 0) - before;
    clock.advance(600_000);
    await oci.pushBlob('token/refresh', randomBytes(100));
    const later = (registry.tokens?.requests ?? []).slice(before + issued);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((r) => r.grant === 'refresh_token')).toBe(true);
    expect(passwordGrants()).toBe(passwords);
  });

  it('a pull-only user can pull but not push (scope enforced by the registry)', async () => {
    const writer = createOciClient({ registry: registry.url, credentials: { username: USER, password: PASSWORD } });
    const pushed = await writer.pushArtifact('token/readonly', 'v1', {
      artifactType: ARTIFACT,
      files: [{ name: 'f', data: Buffer.from('x') }],
    });
    const reader = createOciClient({
      registry: registry.url,
      credentials: { username: 'reader', password: 'reader-pass' },
      retry: false,
    });
    await expect(reader.getManifest('token/readonly', pushed.digest)).resolves.toMatchObject({ digest: pushed.digest });
    const error = await failure(reader.pushBlob('token/readonly', randomBytes(10)));
    expect(error.code).toBe('ERR_CLIENT_UNAUTHENTICATED');
  });

  it('lists the catalog with a registry:catalog:* token (and not without catalog rights)', async () => {
    const writer = createOciClient({ registry: registry.url, credentials: { username: USER, password: PASSWORD } });
    await writer.pushArtifact('token/catalog', 'v1', {
      artifactType: ARTIFACT,
      files: [{ name: 'f', data: Buffer.from('c') }],
    });
    const repos: string[] = [];
    for await (const repo of writer.catalog({ pageSize: 2 })) repos.push(repo);
    expect(repos).toContain('token/catalog');
    expect(registry.tokens?.requests.at(-1)?.scopes).toContain('registry:catalog:*');
    // `reader` may pull but has no `*` action: the registry refuses the catalog.
    const reader = createOciClient({
      registry: registry.url,
      credentials: { username: 'reader', password: 'reader-pass' },
      retry: false,
    });
    const denied = await failure(
      (async () => {
        for await (const _ of reader.catalog()) void _;
      })(),
    );
    expect(denied.code).toBe('ERR_CLIENT_UNAUTHENTICATED');
  });

  it('rejects bad credentials at the token endpoint', async () => {
    const oci = createOciClient({
      registry: registry.url,
      credentials: { username: USER, password: 'wrong' },
      retry: false,
    });
    expect((await failure(oci.ping())).code).toBe('ERR_CLIENT_UNAUTHENTICATED');
  });
});
