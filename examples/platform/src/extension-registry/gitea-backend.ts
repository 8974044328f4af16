import { createHash } from 'node:crypto';
import type { Extension, ExtensionType } from '@provisioning/platform-client/api';
import { BackendError, downloadUrl, EXTENSION_TYPES, type ExtensionBackend, isVersion } from './types.js';

/** Options of {@link giteaBackend}. */
export interface GiteaBackendOptions {
  /** Gitea base URL, e.g. `https://git.example.com`. */
  readonly url: string;
  /** The organization holding extension repositories. */
  readonly org: string;
  /** A Gitea access token (sent as `Authorization: token …`, only to `url`'s origin). */
  readonly token?: string;
  /** This service's public base URL, for `download_url`. */
  readonly publicUrl: string;
  readonly fetch?: typeof fetch;
  /** Largest archive downloaded, in bytes. Default 100 MiB. */
  readonly maxArchiveBytes?: number;
}

interface GiteaRepo {
  name: string;
  full_name: string;
  description?: string;
  html_url?: string;
  owner?: { login?: string };
  topics?: string[];
  archived?: boolean;
}

interface GiteaAsset {
  id: number;
  name: string;
  size: number;
  browser_download_url: string;
}

interface GiteaRelease {
  tag_name: string;
  draft: boolean;
  prerelease: boolean;
  published_at?: string;
  created_at?: string;
  author?: { login?: string };
  assets?: GiteaAsset[];
}

const ARCHIVE = /\.(tar\.gz|tgz|zip)$/;
const PAGE = 50;

/**
 * Extensions published as Gitea releases, through Gitea's documented REST API
 * (`GET /api/v1/orgs/{org}/repos`, `GET /api/v1/repos/{owner}/{repo}/releases`,
 * `page`/`limit` pagination, `Authorization: token …`). Conventions: a
 * repository is an extension when one of its topics is `extension-<type>`
 * (`extension-provider`, `extension-taskserv`, `extension-cluster`); its other
 * topics are the tags. Each non-draft, non-prerelease release whose tag is a
 * version is one version; its archive is the release asset ending in
 * `.tar.gz`/`.tgz`/`.zip`, and its checksum the asset `<archive>.sha256`
 * (`sha256sum` output). Releases without both are skipped.
 */
export function giteaBackend(options: GiteaBackendOptions): ExtensionBackend {
  const base = new URL(options.url);
  const origin = base.origin;
  const fetchImpl = options.fetch ?? fetch;
  const maxBytes = options.maxArchiveBytes ?? 100 * 1024 * 1024;

  async function request(url: string, signal?: AbortSignal): Promise<Response> {
    const target = new URL(url, origin);
    // The token goes to the configured Gitea only, never to a host a release points at.
    if (target.origin !== origin) throw new BackendError('gitea', 'a Gitea asset points to another host');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token !== undefined) headers.authorization = `token ${options.token}`;
    let res: Response;
    try {
      res = await fetchImpl(target, { headers, ...(signal ? { signal } : {}) });
    } catch (error) {
      throw new BackendError('gitea', 'Gitea is unreachable', { cause: error });
    }
    if (!res.ok) {
      await res.arrayBuffer().catch(() => undefined);
      throw new BackendError('gitea', `Gitea answered ${res.status}`);
    }
    return res;
  }

  const api = (path: string) => `${base.toString().replace(/\/+$/, '')}/api/v1${path}`;

  async function pages<T>(path: string, signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; page <= 200; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const items = (await (await request(api(`${path}${sep}page=${page}&limit=${PAGE}`), signal)).json()) as unknown;
      if (!Array.isArray(items)) throw new BackendError('gitea', 'Gitea answered an unexpected shape');
      out.push(...(items as T[]));
      if (items.length < PAGE) break;
    }
    return out;
  }

  async function checksumOf(asset: GiteaAsset, signal?: AbortSignal): Promise<string | undefined> {
    const text = await (await request(asset.browser_download_url, signal)).text();
    const hex = /^([0-9a-f]{64})\b/i.exec(text.trim())?.[1];
    return hex === undefined ? undefined : `sha256:${hex.toLowerCase()}`;
  }

  async function versions(
    repo: GiteaRepo,
    type: ExtensionType,
    into: Map<string, GiteaAsset>,
    signal?: AbortSignal,
  ): Promise<Extension[]> {
    const owner = repo.owner?.login ?? options.org;
    const releases = await pages<GiteaRelease>(
      `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo.name)}/releases?draft=false&pre-release=false`,
      signal,
    );
    const out: Extension[] = [];
    for (const release of releases) {
      if (release.draft || release.prerelease || !isVersion(release.tag_name)) continue;
      const assets = release.assets ?? [];
      const archive = assets.find((a) => ARCHIVE.test(a.name));
      const sum = archive && assets.find((a) => a.name === `${archive.name}.sha256`);
      if (archive === undefined || sum === undefined) continue;
      const checksum = await checksumOf(sum, signal);
      if (checksum === undefined) continue;
      const published = release.published_at ?? release.created_at;
      const extension: Extension = {
        name: repo.name,
        type,
        version: release.tag_name,
        description: repo.description ?? '',
        author: release.author?.login ?? owner,
        repository: repo.html_url ?? `${origin}/${repo.full_name}`,
        source: 'gitea',
        published_at:
          published !== undefined && !Number.isNaN(Date.parse(published))
            ? new Date(published).toISOString()
            : new Date(0).toISOString(),
        download_url: '',
        checksum,
        size: archive.size,
        tags: (repo.topics ?? []).filter((t) => !t.startsWith('extension-')),
      };
      out.push({ ...extension, download_url: downloadUrl(options.publicUrl, extension) });
      into.set(key(extension), archive);
    }
    return out;
  }

  // Archive assets of the last listing, swapped in whole so a download never sees a half-built map.
  let archiveUrls = new Map<string, GiteaAsset>();
  const key = (e: Pick<Extension, 'type' | 'name' | 'version'>) => `${e.type}/${e.name}@${e.version}`;

  return {
    source: 'gitea',
    async list(signal) {
      const repos = await pages<GiteaRepo>(`/orgs/${encodeURIComponent(options.org)}/repos`, signal);
      const out: Extension[] = [];
      const assets = new Map<string, GiteaAsset>();
      for (const repo of repos) {
        if (repo.archived) continue;
        const type = EXTENSION_TYPES.find((t) => repo.topics?.includes(`extension-${t}`));
        if (type === undefined) continue;
        out.push(...(await versions(repo, type, assets, signal)));
      }
      archiveUrls = assets;
      return out;
    },
    async download(extension, signal) {
      const asset = archiveUrls.get(key(extension));
      if (asset === undefined) throw new BackendError('gitea', 'the extension archive is unknown; list again');
      if (asset.size > maxBytes) throw new BackendError('gitea', 'the extension archive is too large');
      const bytes = new Uint8Array(await (await request(asset.browser_download_url, signal)).arrayBuffer());
      if (bytes.byteLength > maxBytes) throw new BackendError('gitea', 'the extension archive is too large');
      // Fail closed: what does not hash to the published checksum is never served.
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (digest !== extension.checksum)
        throw new BackendError('gitea', 'the extension archive does not match its checksum');
      return { bytes, filename: asset.name, mediaType: 'application/octet-stream' };
    },
  };
}
