import type { Extension, ExtensionType } from '@provisioning/platform-client/api';
import { createOciClient, type ImageManifest, type OciClient } from '@provisioning/platform-client/oci';
import { BackendError, downloadUrl, EXTENSION_TYPES, type ExtensionBackend, isVersion } from './types.js';

/** Annotations an extension's OCI manifest carries (OCI's standard keys plus our tags list). */
export const OCI_ANNOTATIONS = {
  description: 'org.opencontainers.image.description',
  authors: 'org.opencontainers.image.authors',
  source: 'org.opencontainers.image.source',
  created: 'org.opencontainers.image.created',
  /** Comma-separated keywords. */
  tags: 'io.provisioning.extension.tags',
} as const;

/** The artifact type extensions are pushed with. */
export const EXTENSION_ARTIFACT_TYPE = 'application/vnd.provisioning.extension.v1';

/** Options of {@link ociBackend}. */
export interface OciBackendOptions {
  /** Registry base URL, e.g. `http://127.0.0.1:5000`. */
  readonly registry: string;
  /** Basic credentials (the registry's htpasswd user); the service holds them, clients never see them. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Repository prefix: extensions live at `<namespace>/<type>/<name>`. Default `extensions`. */
  readonly namespace?: string;
  /** This service's public base URL, for `download_url`. */
  readonly publicUrl: string;
  readonly fetch?: typeof fetch;
  /** Manifests read in parallel. Default 8. */
  readonly concurrency?: number;
}

/**
 * Extensions published as OCI artifacts (ORAS layout, one archive layer) in a
 * registry: repositories `extensions/<type>/<name>`, one tag per version.
 * Repositories come from the registry's catalog, tags and manifests from
 * `@provisioning/platform-client/oci` too, which answers Basic and token
 * challenges and verifies every digest.
 */
export function ociBackend(options: OciBackendOptions): ExtensionBackend {
  const namespace = options.namespace ?? 'extensions';
  const client: OciClient = createOciClient({
    registry: options.registry,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    timeoutMs: 15_000,
  });
  const base = options.registry.replace(/\/+$/, '');

  async function catalog(signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    for await (const repository of client.catalog(signal ? { signal } : {})) out.push(repository);
    return out;
  }

  async function describe(
    repository: string,
    type: ExtensionType,
    name: string,
    tag: string,
  ): Promise<Extension | undefined> {
    const { manifest } = await client.getManifest(repository, tag);
    const m = manifest as ImageManifest;
    const layer = m.layers?.[0];
    if (layer === undefined) return undefined;
    const a = m.annotations ?? {};
    const created = a[OCI_ANNOTATIONS.created];
    const extension: Extension = {
      name,
      type,
      version: tag,
      description: a[OCI_ANNOTATIONS.description] ?? '',
      author: a[OCI_ANNOTATIONS.authors] ?? '',
      repository: a[OCI_ANNOTATIONS.source] ?? `${base}/${repository}`,
      source: 'oci',
      published_at:
        created !== undefined && !Number.isNaN(Date.parse(created))
          ? new Date(created).toISOString()
          : new Date(0).toISOString(),
      download_url: '',
      checksum: layer.digest,
      size: layer.size,
      tags: (a[OCI_ANNOTATIONS.tags] ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    };
    return { ...extension, download_url: downloadUrl(options.publicUrl, extension) };
  }

  return {
    source: 'oci',
    async list(signal) {
      try {
        const jobs: (() => Promise<Extension | undefined>)[] = [];
        for (const repository of await catalog(signal)) {
          const parts = repository.split('/');
          if (parts.length !== 3 || parts[0] !== namespace) continue;
          const type = parts[1] as ExtensionType;
          const name = parts[2] as string;
          if (!EXTENSION_TYPES.includes(type)) continue;
          for await (const tag of client.tags(repository, signal ? { signal } : {})) {
            if (isVersion(tag)) jobs.push(() => describe(repository, type, name, tag));
          }
        }
        return (await runLimited(jobs, options.concurrency ?? 8)).filter((e): e is Extension => e !== undefined);
      } catch (error) {
        if (error instanceof BackendError) throw error;
        throw new BackendError('oci', 'the OCI registry could not be read', { cause: error });
      }
    },
    async download(extension, signal) {
      const repository = `${namespace}/${extension.type}/${extension.name}`;
      try {
        // getBlob verifies size and digest: the checksum we advertise is the layer digest.
        const bytes = await client.getBlob(repository, extension.checksum, {
          expectedSize: extension.size,
          ...(signal ? { signal } : {}),
        });
        return {
          bytes,
          filename: `${extension.name}-${extension.version}.tar.gz`,
          mediaType: 'application/octet-stream',
        };
      } catch (error) {
        throw new BackendError('oci', 'the extension could not be downloaded from the OCI registry', { cause: error });
      }
    },
  };
}

async function runLimited<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return out;
}
