import type { Clock } from '@provisioning/core';

/** Options of {@link LruTtlCache}. */
export interface LruTtlCacheOptions {
  /** Most entries kept; the least recently used goes first. */
  readonly maxEntries: number;
  /** How long an entry stays fresh, in milliseconds. */
  readonly ttlMs: number;
  readonly clock: Clock;
}

interface Slot<V> {
  value: V;
  expiresAt: number;
}

/**
 * A bounded LRU cache whose entries expire after `ttlMs` (by the injected
 * clock). `getOrLoad` shares one load per key among concurrent callers and
 * caches only successes, so a backend outage is not remembered.
 */
export class LruTtlCache<V> {
  readonly #map = new Map<string, Slot<V>>();
  readonly #loading = new Map<string, Promise<V>>();
  readonly #o: LruTtlCacheOptions;
  hits = 0;
  misses = 0;

  constructor(options: LruTtlCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) throw new Error('maxEntries must be >= 1');
    if (!(options.ttlMs > 0)) throw new Error('ttlMs must be positive');
    this.#o = options;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt <= this.#o.clock.now()) {
      this.#map.delete(key);
      return undefined;
    }
    // Re-insert: Map iteration order is insertion order, so the first key is the least recently used.
    this.#map.delete(key);
    this.#map.set(key, slot);
    return slot.value;
  }

  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, { value, expiresAt: this.#o.clock.now() + this.#o.ttlMs });
    while (this.#map.size > this.#o.maxEntries) {
      const oldest = this.#map.keys().next().value as string;
      this.#map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  async getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    const inFlight = this.#loading.get(key);
    if (inFlight !== undefined) return inFlight;
    this.misses++;
    const promise = load()
      .then((value) => {
        this.set(key, value);
        return value;
      })
      .finally(() => this.#loading.delete(key));
    this.#loading.set(key, promise);
    return promise;
  }
}
