import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One release of the fixture: a version and its archive bytes (the `.sha256` asset is derived). */
export interface FixtureRelease {
  readonly tag: string;
  readonly archive: Buffer;
  readonly draft?: boolean;
  readonly prerelease?: boolean;
  readonly publishedAt?: string;
  /** Serve a wrong `.sha256` (tamper test). */
  readonly badChecksum?: boolean;
}

/** One repository of the fixture. */
export interface FixtureRepo {
  readonly name: string;
  readonly description: string;
  readonly topics: readonly string[];
  readonly releases: readonly FixtureRelease[];
}

/** A running fixture. */
export interface GiteaFixture {
  readonly url: string;
  /** Paths requested, in order (without the query). */
  readonly requests: string[];
  /** Makes every request fail with 503 while true. */
  down: boolean;
  close(): Promise<void>;
}

/**
 * A minimal Gitea on 127.0.0.1 following Gitea's documented REST API (no
 * Gitea can run here): `GET /api/v1/orgs/{org}/repos` and
 * `GET /api/v1/repos/{owner}/{repo}/releases` with `page`/`limit` pagination
 * and an `X-Total-Count` header, `Authorization: token …`, release assets
 * with `browser_download_url` at `/{owner}/{repo}/releases/download/{tag}/{file}`.
 * Field names follow Gitea's swagger (`Repository`, `Release`, `Attachment`).
 */
export async function startGiteaFixture(options: {
  org: string;
  token: string;
  repos: readonly FixtureRepo[];
}): Promise<GiteaFixture> {
  const state = { requests: [] as string[], down: false };
  let base = '';
  const assetsOf = (repo: FixtureRepo, r: FixtureRelease) => {
    const file = `${repo.name}-${r.tag}.tar.gz`;
    const url = (name: string) => `${base}/${options.org}/${repo.name}/releases/download/${r.tag}/${name}`;
    return [
      { id: 1, name: file, size: r.archive.length, download_count: 0, browser_download_url: url(file) },
      { id: 2, name: `${file}.sha256`, size: 90, download_count: 0, browser_download_url: url(`${file}.sha256`) },
    ];
  };
  const page = <T>(items: readonly T[], url: URL): T[] => {
    const limit = Number(url.searchParams.get('limit') ?? '30');
    const p = Number(url.searchParams.get('page') ?? '1');
    return items.slice((p - 1) * limit, p * limit);
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    state.requests.push(url.pathname);
    const json = (status: number, body: unknown, total?: number) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(total !== undefined ? { 'x-total-count': String(total) } : {}),
      });
      res.end(JSON.stringify(body));
    };
    if (state.down) return json(503, { message: 'maintenance' });
    if (req.headers.authorization !== `token ${options.token}`) return json(401, { message: 'token is required' });
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'orgs' && parts[4] === 'repos' && parts.length === 5) {
      if (parts[3] !== options.org) return json(404, { message: 'org not found' });
      const repos = options.repos.map((r) => ({
        id: r.name.length,
        name: r.name,
        full_name: `${options.org}/${r.name}`,
        description: r.description,
        html_url: `${base}/${options.org}/${r.name}`,
        owner: { login: options.org },
        topics: r.topics,
        archived: false,
      }));
      return json(200, page(repos, url), repos.length);
    }
    if (parts[0] === 'api' && parts[2] === 'repos' && parts[5] === 'releases' && parts.length === 6) {
      const repo = options.repos.find((r) => r.name === parts[4]);
      if (repo === undefined || parts[3] !== options.org) return json(404, { message: 'repo not found' });
      const releases = repo.releases.map((r) => ({
        id: 1,
        tag_name: r.tag,
        name: r.tag,
        body: '',
        draft: r.draft ?? false,
        prerelease: r.prerelease ?? false,
        created_at: r.publishedAt ?? '2026-01-01T00:00:00Z',
        published_at: r.publishedAt ?? '2026-01-01T00:00:00Z',
        author: { login: 'maintainer' },
        assets: assetsOf(repo, r),
      }));
      return json(200, page(releases, url), releases.length);
    }
    if (parts[2] === 'releases' && parts[3] === 'download' && parts.length === 6) {
      const repo = options.repos.find((r) => r.name === parts[1]);
      const release = repo?.releases.find((r) => r.tag === parts[4]);
      if (repo === undefined || release === undefined) return json(404, { message: 'not found' });
      const file = parts[5] as string;
      const archiveName = `${repo.name}-${release.tag}.tar.gz`;
      if (file === archiveName) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(release.archive);
      }
      if (file === `${archiveName}.sha256`) {
        const bytes = release.badChecksum ? Buffer.from('tampered') : release.archive;
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(`${createHash('sha256').update(bytes).digest('hex')}  ${archiveName}\n`);
      }
    }
    return json(404, { message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url: base,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
