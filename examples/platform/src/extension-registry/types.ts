import type { Extension, ExtensionSource, ExtensionType } from '@provisioning/platform-client/api';

/** The extension types, in the contract's order. */
export const EXTENSION_TYPES: readonly ExtensionType[] = ['provider', 'taskserv', 'cluster'];
/** The sources, in the contract's order. */
export const EXTENSION_SOURCES: readonly ExtensionSource[] = ['gitea', 'oci'];

/** A downloaded extension archive, verified against its checksum. */
export interface ExtensionArchive {
  readonly bytes: Uint8Array;
  readonly filename: string;
  readonly mediaType: string;
}

/**
 * One place extensions are published. `list` returns every version of every
 * extension (the catalog caches it); `download` fetches one version's archive
 * and verifies it against `extension.checksum` before returning it.
 */
export interface ExtensionBackend {
  readonly source: ExtensionSource;
  list(signal?: AbortSignal): Promise<Extension[]>;
  download(extension: Extension, signal?: AbortSignal): Promise<ExtensionArchive>;
}

/** A backend failure the routes answer with 502 (nothing of the upstream body is echoed). */
export class BackendError extends Error {
  readonly source: ExtensionSource;
  constructor(source: ExtensionSource, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.source = source;
  }
}

/** Builds the service's own download URL of one version (the client never needs registry credentials). */
export function downloadUrl(publicUrl: string, e: Pick<Extension, 'type' | 'name' | 'version' | 'source'>): string {
  const path = `/api/v1/extensions/${encodeURIComponent(e.type)}/${encodeURIComponent(e.name)}/download`;
  return `${publicUrl.replace(/\/+$/, '')}${path}?version=${encodeURIComponent(e.version)}&source=${e.source}`;
}

/** Orders versions newest first: numeric semver with pre-releases below their release, then text. */
export function compareVersionsDesc(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa && pb) {
    for (let i = 0; i < 3; i++) {
      const d = (pb.core[i] as number) - (pa.core[i] as number);
      if (d !== 0) return d;
    }
    if (pa.pre === pb.pre) return 0;
    if (pa.pre === '') return -1;
    if (pb.pre === '') return 1;
    return pb.pre.localeCompare(pa.pre, 'en', { numeric: true });
  }
  if (pa) return -1;
  if (pb) return 1;
  return b.localeCompare(a, 'en', { numeric: true });
}

function parseVersion(v: string): { core: number[]; pre: string } | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ?? '' };
}

/** Whether a tag or release name looks like a version (`1.2.3`, `v1.2.3-rc.1`). */
export const isVersion = (v: string): boolean => parseVersion(v) !== undefined;
