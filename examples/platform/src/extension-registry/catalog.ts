import type { Clock } from '@provisioning/core';
import type { Extension, ExtensionSource, ExtensionType } from '@provisioning/platform-client/api';
import { LruTtlCache } from './cache.js';
import { BackendError, compareVersionsDesc, type ExtensionArchive, type ExtensionBackend } from './types.js';

/** Options of {@link createCatalog}. */
export interface CatalogOptions {
  readonly backends: readonly ExtensionBackend[];
  readonly clock: Clock;
  /** How long a backend's listing stays fresh, in milliseconds. Default 300 000 (5 min). */
  readonly ttlMs?: number;
  /** Most cached entries (listings and archives). Default 256. */
  readonly maxEntries?: number;
  /** Archives larger than this are served but not cached, in bytes. Default 8 MiB. */
  readonly maxCachedArchiveBytes?: number;
}

/** A query of the list. */
export interface ListQuery {
  readonly type?: ExtensionType;
  readonly source?: ExtensionSource;
  readonly limit: number;
  readonly offset: number;
}

/** The extensions of every backend behind one LRU cache with a TTL. */
export interface Catalog {
  /** The latest version of each extension, sorted by type then name. A failing backend is skipped (see `errors`). */
  list(query: ListQuery): Promise<{ items: Extension[]; errors: ExtensionSource[] }>;
  /** The latest version of one extension (the newest across sources). */
  get(type: ExtensionType, name: string): Promise<Extension | undefined>;
  /** Every version, newest first. */
  versions(type: ExtensionType, name: string): Promise<Extension[]>;
  /** Latest versions whose name, description or tags contain every word of `text` (case-insensitive). */
  search(text: string, query: ListQuery): Promise<{ items: Extension[]; errors: ExtensionSource[] }>;
  /** One version's archive (`version` absent: the latest; `source` narrows it). */
  download(
    type: ExtensionType,
    name: string,
    version?: string,
    source?: ExtensionSource,
  ): Promise<{ extension: Extension; archive: ExtensionArchive } | undefined>;
  /** Per-backend health: `ok` or the reason. */
  health(): Promise<Record<string, string>>;
  readonly cache: LruTtlCache<unknown>;
  /** The configured sources. */
  readonly sources: readonly ExtensionSource[];
}

/** Builds the {@link Catalog}. */
export function createCatalog(options: CatalogOptions): Catalog {
  const cache = new LruTtlCache<unknown>({
    maxEntries: options.maxEntries ?? 256,
    ttlMs: options.ttlMs ?? 300_000,
    clock: options.clock,
  });
  const maxCached = options.maxCachedArchiveBytes ?? 8 * 1024 * 1024;

  const listing = (b: ExtensionBackend) => cache.getOrLoad(`list:${b.source}`, () => b.list()) as Promise<Extension[]>;

  async function everything(source?: ExtensionSource): Promise<{ all: Extension[]; errors: ExtensionSource[] }> {
    const chosen = options.backends.filter((b) => source === undefined || b.source === source);
    const results = await Promise.allSettled(chosen.map(listing));
    const all: Extension[] = [];
    const errors: ExtensionSource[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') all.push(...r.value);
      else errors.push((chosen[i] as ExtensionBackend).source);
    });
    return { all, errors };
  }

  function latest(all: readonly Extension[]): Extension[] {
    const best = new Map<string, Extension>();
    for (const e of all) {
      const k = `${e.type}/${e.name}`;
      const current = best.get(k);
      if (current === undefined || compareVersionsDesc(e.version, current.version) < 0) best.set(k, e);
    }
    return [...best.values()].sort((a, b) =>
      a.type === b.type ? a.name.localeCompare(b.name) : a.type.localeCompare(b.type),
    );
  }

  const page = (items: Extension[], q: ListQuery) =>
    items.filter((e) => q.type === undefined || e.type === q.type).slice(q.offset, q.offset + q.limit);

  async function versions(type: ExtensionType, name: string, source?: ExtensionSource): Promise<Extension[]> {
    const { all, errors } = await everything(source);
    const found = all
      .filter((e) => e.type === type && e.name === name)
      .sort((a, b) => compareVersionsDesc(a.version, b.version));
    // Not found while a backend is down is not "absent": say the backend failed.
    if (found.length === 0 && errors.length > 0)
      throw new BackendError(errors[0] as ExtensionSource, 'a backend is unavailable');
    return found;
  }

  return {
    cache,
    sources: options.backends.map((b) => b.source),
    async list(q) {
      const { all, errors } = await everything(q.source);
      return { items: page(latest(all), q), errors };
    },
    async get(type, name) {
      return (await versions(type, name))[0];
    },
    versions: (type, name) => versions(type, name),
    async search(text, q) {
      const words = text.toLowerCase().split(/\s+/).filter(Boolean);
      const { all, errors } = await everything(q.source);
      const hits = latest(all).filter((e) => {
        const hay = [e.name, e.description, ...e.tags].join(' ').toLowerCase();
        return words.every((w) => hay.includes(w));
      });
      return { items: page(hits, q), errors };
    },
    async download(type, name, version, source) {
      const candidates = await versions(type, name, source);
      const extension = version === undefined ? candidates[0] : candidates.find((e) => e.version === version);
      if (extension === undefined) return undefined;
      const backend = options.backends.find((b) => b.source === extension.source) as ExtensionBackend;
      const k = `archive:${extension.source}:${type}/${name}@${extension.version}:${extension.checksum}`;
      const cached = cache.get(k) as ExtensionArchive | undefined;
      if (cached !== undefined) return { extension, archive: cached };
      const archive = await backend.download(extension);
      if (archive.bytes.byteLength <= maxCached) cache.set(k, archive);
      return { extension, archive };
    },
    async health() {
      const out: Record<string, string> = {};
      const results = await Promise.allSettled(options.backends.map(listing));
      results.forEach((r, i) => {
        out[(options.backends[i] as ExtensionBackend).source] = r.status === 'fulfilled' ? 'ok' : 'unavailable';
      });
      return out;
    },
  };
}
