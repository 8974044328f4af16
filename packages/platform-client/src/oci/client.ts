import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Clock, systemClock } from '@provisioning/core';
import { invalidOptions, isPlatformClientError, PlatformClientError } from '../errors.js';
import { DEFAULT_RETRY, defaultSleep, type Logger, type RetryOptions, type Sleep } from '../transport.js';
import {
  assertDigest,
  assertReference,
  assertRepository,
  DigestVerifier,
  digestOf,
  isDigest,
  isTag,
} from './digest.js';
import { type OciCredentials, OciHttp, type OciResponse } from './http.js';
import {
  type Descriptor,
  EMPTY_CONFIG,
  type ImageIndex,
  type ImageManifest,
  MANIFEST_ACCEPT,
  MediaTypes,
  TITLE_ANNOTATION,
} from './media-types.js';

/** Options of {@link createOciClient}. */
export interface OciClientOptions {
  /** Registry base URL, e.g. `https://registry.internal` or `http://127.0.0.1:5000`. */
  readonly registry: string;
  /** Username/password (Basic realm or token endpoint) or a pre-issued bearer token. */
  readonly credentials?: OciCredentials;
  /** Default: the built-in fetch. */
  readonly fetch?: typeof fetch;
  /** Per-request timeout in ms. Default 60 000. */
  readonly timeoutMs?: number;
  /** Retries of idempotent requests (GET, HEAD, manifest PUT, DELETE); uploads are resumed, not blindly retried. */
  readonly retry?: RetryOptions | false;
  /** Chunk size of chunked uploads in bytes. Default 5 MiB. */
  readonly chunkSize?: number;
  /** Largest manifest accepted, in bytes. Default 4 MiB (the distribution spec's suggested limit). */
  readonly maxManifestBytes?: number;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  readonly random?: () => number;
  /** Debug logger; fields are redacted (no credentials, no tokens). */
  readonly logger?: Logger;
  readonly userAgent?: string;
}

/** Per-call options. */
export interface OciCallOptions {
  readonly signal?: AbortSignal;
}

/** Progress of a transfer: bytes done out of total (when known). */
export type ProgressCallback = (done: number, total: number | undefined) => void;

/** A manifest as fetched. */
export interface ManifestResult {
  readonly mediaType: string;
  /** Digest of the exact bytes (verified). */
  readonly digest: string;
  readonly size: number;
  /** The exact bytes: re-push these, never a re-serialisation, or the digest changes. */
  readonly bytes: Uint8Array;
  readonly manifest: ImageManifest | ImageIndex;
}

/** Result of {@link OciClient.pushBlob}. */
export interface PushBlobResult {
  readonly digest: string;
  readonly size: number;
  /** How it got there: it was already present, mounted from another repository, or uploaded. */
  readonly via: 'existing' | 'mount' | 'upload';
}

/** A page of tags. */
export interface TagPage {
  readonly name: string;
  /** Lexically sorted. */
  readonly tags: readonly string[];
  /** Pass as `last` to get the next page; absent on the last page. */
  readonly next?: string;
  /** Whether the registry paginated (false: it ignored `n`/`last` and the client did it). */
  readonly serverPaginated: boolean;
}

/** An upload session: resumable, always following the registry's latest `Location`. */
export interface BlobUpload {
  readonly repository: string;
  /** The current upload URL (keeps its `_state` query). */
  readonly location: string;
  /** Bytes the registry has acknowledged. */
  readonly offset: number;
  /** Sends the next chunk (`PATCH` with `Content-Range`); checks the registry's `Range` answer. */
  write(chunk: Uint8Array, options?: OciCallOptions): Promise<void>;
  /** Asks the registry how much it has (`GET` the upload URL) and resynchronises `offset`. */
  status(options?: OciCallOptions): Promise<number>;
  /** Completes the upload (`PUT ?digest=`), optionally with a last chunk; verifies the digest the registry reports. */
  commit(digest: string, last?: Uint8Array, options?: OciCallOptions): Promise<string>;
  /** Abandons the upload (`DELETE`). */
  cancel(options?: OciCallOptions): Promise<void>;
}

/** A file of an artifact. */
export interface ArtifactFile {
  /** File name (the layer's `org.opencontainers.image.title`); a plain name, no directories. */
  readonly name: string;
  /** Content, or a path to read it from. */
  readonly data?: Uint8Array;
  readonly path?: string;
  /** Layer media type. Default `application/octet-stream`. */
  readonly mediaType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Input of {@link OciClient.pushArtifact}. */
export interface PushArtifactInput {
  /** e.g. `application/vnd.provisioning.extension.v1`. */
  readonly artifactType: string;
  readonly files: readonly ArtifactFile[];
  readonly annotations?: Readonly<Record<string, string>>;
  /** Makes this artifact a referrer of another manifest (signature, SBOM …). */
  readonly subject?: Descriptor;
  readonly onProgress?: ProgressCallback;
  readonly signal?: AbortSignal;
}

/** Result of {@link OciClient.pushArtifact}. */
export interface PushArtifactResult {
  readonly digest: string;
  readonly manifest: ImageManifest;
  readonly size: number;
  /** Whether the registry handled `subject` itself; otherwise the referrers tag was updated. */
  readonly referrersApi?: boolean;
}

/** A pulled artifact. */
export interface PulledArtifact {
  readonly digest: string;
  readonly manifest: ImageManifest;
  readonly files: readonly {
    readonly name: string;
    readonly mediaType: string;
    readonly digest: string;
    readonly size: number;
    readonly data?: Uint8Array;
    readonly path?: string;
  }[];
}

/** The OCI distribution client. */
export interface OciClient {
  readonly registry: string;
  /** `GET /v2/`: whether the registry speaks the API (authenticating if it asks). */
  ping(options?: OciCallOptions): Promise<{ readonly apiVersion: string | undefined }>;
  /** `HEAD` a blob: its descriptor, or `undefined` when absent. */
  headBlob(repository: string, digest: string, options?: OciCallOptions): Promise<Descriptor | undefined>;
  /** Downloads a blob into memory, verifying size and digest. */
  getBlob(
    repository: string,
    digest: string,
    options?: OciCallOptions & { readonly expectedSize?: number; readonly onProgress?: ProgressCallback },
  ): Promise<Uint8Array>;
  /** Bytes `start`–`end` (inclusive) of a blob (`Range`); partial content cannot be digest-verified. */
  getBlobRange(
    repository: string,
    digest: string,
    start: number,
    end: number,
    options?: OciCallOptions,
  ): Promise<Uint8Array>;
  /**
   * Streams a blob to `path` through a `.partial` file that is renamed only
   * after verification; with `resume`, an existing `.partial` is continued
   * with a `Range` request.
   */
  downloadBlob(
    repository: string,
    digest: string,
    path: string,
    options?: OciCallOptions & {
      readonly expectedSize?: number;
      readonly resume?: boolean;
      readonly onProgress?: ProgressCallback;
    },
  ): Promise<Descriptor>;
  /** Uploads a blob unless present: cross-repo mount first when `mountFrom` is given, monolithic or chunked. */
  pushBlob(
    repository: string,
    data: Uint8Array,
    options?: OciCallOptions & {
      readonly mediaType?: string;
      readonly mountFrom?: string;
      readonly chunked?: boolean;
      readonly chunkSize?: number;
      readonly onProgress?: ProgressCallback;
    },
  ): Promise<PushBlobResult>;
  /** Opens an upload session (`POST /blobs/uploads/`). */
  startUpload(repository: string, options?: OciCallOptions): Promise<BlobUpload>;
  /** Reattaches to an upload by its `Location` and reads its offset. */
  resumeUpload(repository: string, location: string, options?: OciCallOptions): Promise<BlobUpload>;
  /** Cross-repository mount: `{ mounted: true }` (201), or an upload session to fall back on (202). */
  mountBlob(
    repository: string,
    digest: string,
    from: string,
    options?: OciCallOptions,
  ): Promise<{ readonly mounted: true } | { readonly mounted: false; readonly upload: BlobUpload }>;
  deleteBlob(repository: string, digest: string, options?: OciCallOptions): Promise<void>;
  /** Fetches a manifest with `Accept` negotiation (OCI and Docker types by default), verifying its digest. */
  getManifest(
    repository: string,
    reference: string,
    options?: OciCallOptions & { readonly accept?: readonly string[] },
  ): Promise<ManifestResult>;
  /** `HEAD` a manifest: its descriptor, or `undefined`. */
  headManifest(
    repository: string,
    reference: string,
    options?: OciCallOptions & { readonly accept?: readonly string[] },
  ): Promise<Descriptor | undefined>;
  /** Pushes a manifest (object, serialised once, or exact bytes) under a tag or its digest. */
  putManifest(
    repository: string,
    reference: string,
    manifest: ImageManifest | ImageIndex | Uint8Array,
    options?: OciCallOptions & { readonly mediaType?: string },
  ): Promise<{ readonly digest: string; readonly size: number; readonly subjectHandled: boolean }>;
  /** Deletes a manifest; a tag is resolved to its digest first (which deletes every tag of it). */
  deleteManifest(repository: string, reference: string, options?: OciCallOptions): Promise<string>;
  /** One page of tags (`n`, `last`), sorted; paginated by the client when the registry ignores `n`/`last`. */
  listTags(
    repository: string,
    options?: OciCallOptions & { readonly n?: number; readonly last?: string },
  ): Promise<TagPage>;
  /** Every tag, following `Link` pagination. */
  tags(
    repository: string,
    options?: OciCallOptions & { readonly pageSize?: number },
  ): AsyncGenerator<string, void, undefined>;
  /**
   * Every repository of the registry (`GET /v2/_catalog`, `n` and `Link`
   * pagination, token scope `registry:catalog:*`), in the registry's order.
   * Many registries allow the catalog to administrators only.
   */
  catalog(options?: OciCallOptions & { readonly pageSize?: number }): AsyncGenerator<string, void, undefined>;
  /** Referrers of a manifest: the referrers API, else the `sha256-<hex>` tag-schema fallback. */
  referrers(
    repository: string,
    digest: string,
    options?: OciCallOptions & { readonly artifactType?: string },
  ): Promise<Descriptor[]>;
  /** Pushes files as an OCI artifact (ORAS style): blobs, the empty config, then the manifest under `reference`. */
  pushArtifact(repository: string, reference: string, input: PushArtifactInput): Promise<PushArtifactResult>;
  /** Pulls an artifact: every layer verified; into memory, or into `outputDir` (atomically per file). */
  pullArtifact(
    repository: string,
    reference: string,
    options?: OciCallOptions & { readonly outputDir?: string; readonly onProgress?: ProgressCallback },
  ): Promise<PulledArtifact>;
}

const scope = (repo: string, actions: string): string => `repository:${repo}:${actions}`;
/** The token scope of `GET /v2/_catalog` (distribution's token spec). */
const CATALOG_SCOPE = 'registry:catalog:*';

/** The `repositories` of a catalog page, or `ERR_CLIENT_MALFORMED_RESPONSE`. */
function parseCatalog(body: Uint8Array): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    parsed = undefined;
  }
  const repositories = (parsed as { repositories?: unknown } | undefined)?.repositories;
  if (!Array.isArray(repositories) || !repositories.every((r) => typeof r === 'string')) {
    throw new PlatformClientError('the catalog is not { repositories: string[] }', {
      code: 'ERR_CLIENT_MALFORMED_RESPONSE',
      fault: 'server',
      service: 'oci',
    });
  }
  return repositories;
}

function protocolError(message: string, details?: Record<string, unknown>): PlatformClientError {
  return new PlatformClientError(message, {
    code: 'ERR_CLIENT_OCI_PROTOCOL',
    fault: 'server',
    service: 'oci',
    ...(details ? { details } : {}),
  });
}

/** Appends a query parameter to a `Location` without re-encoding it (its `_state` must survive byte for byte). */
function appendQuery(location: string, name: string, value: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
}

/**
 * Parses `Range: 0-1234` of upload answers into the acknowledged size.
 * distribution sends `0-0` for an empty upload (it clamps `size - 1` at 0), so
 * `0-0` reads as 0 bytes; a 1-byte upload is indistinguishable and callers
 * accept either.
 */
function parseUploadRange(header: string | null): number | undefined {
  if (!header) return undefined;
  const m = /^(?:bytes=)?0-(\d+)$/.exec(header.trim());
  if (!m) return undefined;
  const end = Number(m[1]);
  return end === 0 ? 0 : end + 1;
}

/** Parses `Link: <url>; rel="next"`. */
export function parseNextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The layers of a pulled manifest come from the registry: each must be a
 * descriptor (digest, non-negative integer size) before anything is fetched,
 * and, written to a directory, no two may land on the same file (the second
 * would silently replace the first) or on another's `.partial` download.
 */
function checkLayers(layers: readonly unknown[], toDirectory: boolean): void {
  const names: string[] = [];
  for (const layer of layers) {
    const d = layer as Partial<Descriptor> | null;
    if (
      typeof d !== 'object' ||
      d === null ||
      typeof d.digest !== 'string' ||
      !isDigest(d.digest) ||
      typeof d.size !== 'number' ||
      !Number.isSafeInteger(d.size) ||
      d.size < 0
    ) {
      throw new PlatformClientError('a manifest layer is not a descriptor (digest, size)', {
        code: 'ERR_CLIENT_MALFORMED_RESPONSE',
        fault: 'server',
        service: 'oci',
      });
    }
    const name = d.annotations?.[TITLE_ANNOTATION];
    if (name !== undefined) assertSafeFileName(name);
    names.push(name ?? d.digest.replace(':', '-'));
  }
  const unique = new Set(names);
  if (toDirectory && (unique.size !== names.length || names.some((n) => unique.has(`${n}.partial`)))) {
    throw protocolError('two artifact files would be written to the same name');
  }
}

/** A file name that is safe to join to an output directory: no separators, no `..`, no NUL. */
function assertSafeFileName(name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 255 ||
    name === '.' ||
    name === '..' ||
    basename(name) !== name ||
    /[\\/\0]/.test(name)
  ) {
    // A registry (or whoever pushed) controls these names: never let one escape the output directory.
    throw protocolError('artifact file name is not a plain file name');
  }
}

/**
 * Creates an OCI distribution client (distribution spec v1.1): ping, the
 * auth challenge flow (Basic; Bearer tokens per scope, refreshed), blobs with
 * digest verification and ranges, monolithic/chunked/resumable uploads,
 * cross-repository mounts, manifests with `Accept` negotiation, tags with
 * `n`/`last`/`Link` pagination, deletes, referrers with the tag-schema
 * fallback, and ORAS-style artifact push/pull.
 *
 * Content is never returned unverified: a digest mismatch throws
 * `ERR_CLIENT_DIGEST_MISMATCH`, a short body `ERR_CLIENT_TRUNCATED_RESPONSE`.
 *
 * @example
 * ```ts
 * const oci = createOciClient({ registry: 'http://127.0.0.1:5000', credentials: { username, password } });
 * await oci.pushArtifact('extensions/upcloud', '1.0.0', {
 *   artifactType: 'application/vnd.provisioning.extension.v1',
 *   files: [{ name: 'extension.tar.gz', path: './extension.tar.gz' }],
 * });
 * const pulled = await oci.pullArtifact('extensions/upcloud', '1.0.0', { outputDir: './out' });
 * ```
 */
export function createOciClient(options: OciClientOptions): OciClient {
  let base: URL;
  try {
    base = new URL(options.registry);
  } catch {
    throw invalidOptions('registry must be a URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw invalidOptions('registry must be http(s)');
  if (base.username || base.password)
    throw invalidOptions('registry URL must not contain credentials: use credentials');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw invalidOptions('no fetch available: pass options.fetch');
  const chunkSize = options.chunkSize ?? 5 * 1024 * 1024;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw invalidOptions('chunkSize must be a positive integer');
  const maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
  const registry = options.registry.replace(/\/+$/, '');
  const http = new OciHttp({
    baseUrl: registry,
    credentials: options.credentials,
    fetch: fetchImpl,
    timeoutMs: options.timeoutMs ?? 60_000,
    retry: options.retry === false ? false : { ...DEFAULT_RETRY, ...options.retry },
    clock: options.clock ?? systemClock,
    sleep: options.sleep ?? defaultSleep,
    random: options.random ?? Math.random,
    logger: options.logger,
    userAgent: options.userAgent ?? '@provisioning/platform-client',
  });
  const sig = (o?: OciCallOptions): { signal?: AbortSignal } => (o?.signal ? { signal: o.signal } : {});

  /** Streams a response body through a digest verifier. */
  async function readVerified(
    res: OciResponse,
    verifier: DigestVerifier,
    sink: (chunk: Uint8Array) => void | Promise<void>,
    what: string,
    expectedSize: number | undefined,
    onProgress?: ProgressCallback,
  ): Promise<void> {
    const length = res.headers.get('content-length');
    const total =
      expectedSize ?? (length !== null && /^\d+$/.test(length) ? verifier.size + Number(length) : undefined);
    const reader = res.response.body?.getReader();
    try {
      if (reader) {
        for (;;) {
          let step: ReadableStreamReadResult<Uint8Array>;
          try {
            step = await reader.read();
          } catch (error) {
            throw new PlatformClientError(`${what}: the download was cut short`, {
              code: 'ERR_CLIENT_TRUNCATED_RESPONSE',
              fault: 'server',
              retryable: true,
              service: 'oci',
              cause: error instanceof Error ? new Error(error.message) : undefined,
              details: { received: verifier.size },
            });
          }
          if (step.done) break;
          verifier.update(step.value);
          await sink(step.value);
          onProgress?.(verifier.size, total);
        }
      }
    } finally {
      res.done();
    }
    verifier.verify({ what, ...(total !== undefined ? { expectedSize: total } : {}) });
  }

  function upload(repository: string, location: string, offset: number): BlobUpload {
    let current = location;
    let acked = offset;
    const push = [scope(repository, 'pull,push')];
    const follow = (res: OciResponse): void => {
      // Always continue at the latest Location: it carries the registry's upload state.
      const next = res.headers.get('location');
      if (next) current = http.resolve(next).toString();
    };
    const session: BlobUpload = {
      repository,
      get location() {
        return current;
      },
      get offset() {
        return acked;
      },
      async write(chunk, o) {
        if (chunk.byteLength === 0) return;
        const res = await http.send({
          method: 'PATCH',
          url: current,
          headers: {
            'content-type': MediaTypes.octetStream,
            'content-range': `${acked}-${acked + chunk.byteLength - 1}`,
            'content-length': String(chunk.byteLength),
          },
          body: chunk,
          scopes: push,
          idempotent: false,
          ...sig(o),
        });
        res.done();
        await res.response.body?.cancel().catch(() => undefined);
        follow(res);
        const range = parseUploadRange(res.headers.get('range'));
        const expected = acked + chunk.byteLength;
        if (range !== undefined && range !== expected && !(expected === 1 && range === 0)) {
          // Registries (2.8.2 among them) may accept a misplaced chunk silently: check what they say they hold.
          acked = range;
          throw protocolError('registry acknowledged a different upload offset', { expected, acknowledged: range });
        }
        acked = expected;
      },
      async status(o) {
        const res = await http.send({ method: 'GET', url: current, scopes: push, idempotent: true, ...sig(o) });
        await res.read();
        follow(res);
        acked = parseUploadRange(res.headers.get('range')) ?? 0;
        return acked;
      },
      async commit(digest, last, o) {
        assertDigest(digest);
        const res = await http.send({
          method: 'PUT',
          url: appendQuery(current, 'digest', digest),
          headers: {
            'content-type': MediaTypes.octetStream,
            'content-length': String(last?.byteLength ?? 0),
            // Content-Range only when this PUT continues a chunked upload; a monolithic PUT carries the whole blob.
            ...(last && last.byteLength > 0 && acked > 0
              ? { 'content-range': `${acked}-${acked + last.byteLength - 1}` }
              : {}),
          },
          ...(last && last.byteLength > 0 ? { body: last } : {}),
          scopes: push,
          idempotent: false,
          ...sig(o),
        });
        await res.read();
        if (res.status !== 201) throw protocolError(`upload completion answered ${res.status}, expected 201`);
        const reported = res.headers.get('docker-content-digest');
        if (reported && reported !== digest) {
          throw new PlatformClientError('registry stored content under another digest', {
            code: 'ERR_CLIENT_DIGEST_MISMATCH',
            fault: 'server',
            service: 'oci',
            details: { expected: digest, actual: reported },
          });
        }
        acked += last?.byteLength ?? 0;
        return digest;
      },
      async cancel(o) {
        const res = await http.send({
          method: 'DELETE',
          url: current,
          scopes: push,
          idempotent: true,
          accept: [404],
          ...sig(o),
        });
        await res.read();
      },
    };
    return session;
  }

  async function startUpload(repository: string, o?: OciCallOptions, query = ''): Promise<OciResponse> {
    return http.send({
      method: 'POST',
      url: `/v2/${repository}/blobs/uploads/${query}`,
      headers: { 'content-length': '0' },
      scopes: [scope(repository, 'pull,push')],
      idempotent: false,
      ...sig(o),
    });
  }

  function locationOf(res: OciResponse): string {
    const location = res.headers.get('location');
    if (!location) throw protocolError('upload answer without Location');
    return http.resolve(location).toString();
  }

  async function fetchManifest(
    repository: string,
    reference: string,
    method: 'GET' | 'HEAD',
    accept: readonly string[],
    o?: OciCallOptions,
  ): Promise<OciResponse | undefined> {
    const res = await http.send({
      method,
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: accept.join(', ') },
      scopes: [scope(repository, 'pull')],
      idempotent: true,
      accept: [404],
      ...sig(o),
    });
    if (res.status === 404) {
      await res.read().catch(() => undefined);
      return undefined;
    }
    return res;
  }

  const client: OciClient = {
    registry,

    async ping(o) {
      const res = await http.send({ method: 'GET', url: '/v2/', scopes: [], idempotent: true, ...sig(o) });
      await res.read();
      return { apiVersion: res.headers.get('docker-distribution-api-version') ?? undefined };
    },

    async headBlob(repository, digest, o) {
      assertRepository(repository);
      assertDigest(digest);
      const res = await http.send({
        method: 'HEAD',
        url: `/v2/${repository}/blobs/${digest}`,
        scopes: [scope(repository, 'pull')],
        idempotent: true,
        accept: [404],
        ...sig(o),
      });
      res.done();
      if (res.status === 404) return undefined;
      const size = Number(res.headers.get('content-length') ?? Number.NaN);
      return {
        mediaType: res.headers.get('content-type') ?? MediaTypes.octetStream,
        digest,
        size: Number.isFinite(size) ? size : -1,
      };
    },

    async getBlob(repository, digest, o = {}) {
      assertRepository(repository);
      const verifier = new DigestVerifier(digest);
      const res = await http.send({
        method: 'GET',
        url: `/v2/${repository}/blobs/${digest}`,
        scopes: [scope(repository, 'pull')],
        idempotent: true,
        ...sig(o),
      });
      const chunks: Uint8Array[] = [];
      await readVerified(res, verifier, (c) => void chunks.push(c), `blob ${digest}`, o.expectedSize, o.onProgress);
      return new Uint8Array(Buffer.concat(chunks));
    },

    async getBlobRange(repository, digest, start, end, o) {
      assertRepository(repository);
      assertDigest(digest);
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
        throw invalidOptions('range must be integers with 0 <= start <= end');
      }
      const res = await http.send({
        method: 'GET',
        url: `/v2/${repository}/blobs/${digest}`,
        headers: { range: `bytes=${start}-${end}` },
        scopes: [scope(repository, 'pull')],
        idempotent: true,
        ...sig(o),
      });
      const body = await res.read();
      if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\//.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== start || Number(m[2]) - Number(m[1]) + 1 !== body.byteLength) {
          throw protocolError('partial content does not match the requested range');
        }
        return body;
      }
      // A server that ignores Range sends the whole blob: verify it, then cut the range out.
      const verifier = new DigestVerifier(digest);
      verifier.update(body);
      verifier.verify({ what: `blob ${digest}` });
      if (end >= body.byteLength) throw protocolError('range beyond the end of the blob');
      return body.slice(start, end + 1);
    },

    async downloadBlob(repository, digest, path, o = {}) {
      assertRepository(repository);
      assertDigest(digest);
      const partial = `${path}.partial`;
      let verifier = new DigestVerifier(digest);
      if (o.resume) {
        const existing = await stat(partial).catch(() => undefined);
        if (existing?.isFile()) {
          // Hash what we already have so the final digest still covers every byte.
          for await (const chunk of createReadStream(partial)) verifier.update(chunk as Buffer);
        }
      }
      const get = (from: number): Promise<OciResponse> =>
        http.send({
          method: 'GET',
          url: `/v2/${repository}/blobs/${digest}`,
          ...(from > 0 ? { headers: { range: `bytes=${from}-` } } : {}),
          scopes: [scope(repository, 'pull')],
          idempotent: true,
          ...sig(o),
        });
      let res: OciResponse;
      try {
        res = await get(verifier.size);
      } catch (error) {
        // 416: the partial file is not a prefix we can continue: start over.
        if (!(isPlatformClientError(error) && error.status === 416)) throw error;
        verifier = new DigestVerifier(digest);
        res = await get(0);
      }
      let append = verifier.size > 0;
      if (append && res.status === 206) {
        const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== verifier.size) {
          res.done();
          await res.response.body?.cancel().catch(() => undefined);
          throw protocolError('partial content does not continue the download');
        }
      } else if (append) {
        // The registry ignored the Range and sent the whole blob: start over with it.
        verifier = new DigestVerifier(digest);
        append = false;
      }
      const file = await open(partial, append ? 'a' : 'w');
      try {
        await readVerified(
          res,
          verifier,
          async (c) => void (await file.write(c)),
          `blob ${digest}`,
          o.expectedSize,
          o.onProgress,
        );
        await file.sync();
      } catch (error) {
        await file.close();
        // Keep a truncated .partial for resume; delete anything that failed verification.
        if (!(isPlatformClientError(error) && error.code === 'ERR_CLIENT_TRUNCATED_RESPONSE')) {
          await rm(partial, { force: true });
        }
        throw error;
      }
      await file.close();
      await rename(partial, path);
      return { mediaType: MediaTypes.octetStream, digest, size: verifier.size };
    },

    async pushBlob(repository, data, o = {}) {
      assertRepository(repository);
      const digest = digestOf(data);
      const size = data.byteLength;
      if (await client.headBlob(repository, digest, o)) {
        o.onProgress?.(size, size);
        return { digest, size, via: 'existing' };
      }
      let session: BlobUpload | undefined;
      if (o.mountFrom !== undefined) {
        assertRepository(o.mountFrom);
        const mount = await client.mountBlob(repository, digest, o.mountFrom, o);
        if (mount.mounted) {
          o.onProgress?.(size, size);
          return { digest, size, via: 'mount' };
        }
        session = mount.upload;
      }
      session ??= await client.startUpload(repository, o);
      const chunk = o.chunkSize ?? chunkSize;
      if (o.chunked || size > chunk) {
        for (let at = session.offset; at < size; at += chunk) {
          await session.write(data.subarray(at, Math.min(size, at + chunk)), o);
          o.onProgress?.(session.offset, size);
        }
        await session.commit(digest, undefined, o);
      } else {
        // Monolithic: POST then one PUT with the body (2.8.2 answers a single POST with 202 anyway).
        await session.commit(digest, data, o);
        o.onProgress?.(size, size);
      }
      return { digest, size, via: 'upload' };
    },

    async startUpload(repository, o) {
      assertRepository(repository);
      const res = await startUpload(repository, o);
      await res.read();
      if (res.status !== 202) throw protocolError(`upload start answered ${res.status}, expected 202`);
      // A new upload session is empty, whatever its `Range: 0-0` says.
      return upload(repository, locationOf(res), 0);
    },

    async resumeUpload(repository, location, o) {
      assertRepository(repository);
      const target = http.resolve(location);
      if (target.origin !== new URL(registry).origin) throw invalidOptions('upload location is not on this registry');
      const session = upload(repository, target.toString(), 0);
      await session.status(o);
      return session;
    },

    async mountBlob(repository, digest, from, o) {
      assertRepository(repository);
      assertRepository(from);
      assertDigest(digest);
      const res = await http.send({
        method: 'POST',
        url: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
        headers: { 'content-length': '0' },
        scopes: [scope(repository, 'pull,push'), scope(from, 'pull')],
        idempotent: false,
        ...sig(o),
      });
      await res.read();
      if (res.status === 201) return { mounted: true };
      if (res.status === 202) return { mounted: false, upload: upload(repository, locationOf(res), 0) };
      throw protocolError(`mount answered ${res.status}`);
    },

    async deleteBlob(repository, digest, o) {
      assertRepository(repository);
      assertDigest(digest);
      const res = await http.send({
        method: 'DELETE',
        url: `/v2/${repository}/blobs/${digest}`,
        scopes: [scope(repository, 'delete')],
        idempotent: true,
        ...sig(o),
      });
      await res.read();
    },

    async getManifest(repository, reference, o = {}) {
      assertRepository(repository);
      assertReference(reference);
      const res = await fetchManifest(repository, reference, 'GET', o.accept ?? MANIFEST_ACCEPT, o);
      if (!res) {
        throw new PlatformClientError(`manifest ${repository}:${reference} not found`, {
          code: 'ERR_CLIENT_NOT_FOUND',
          fault: 'client',
          status: 404,
          service: 'oci',
          serverCode: 'MANIFEST_UNKNOWN',
        });
      }
      const length = Number(res.headers.get('content-length') ?? 0);
      if (length > maxManifestBytes) {
        res.done();
        await res.response.body?.cancel().catch(() => undefined);
        throw protocolError('manifest larger than maxManifestBytes', { size: length });
      }
      // Bounded while reading: a manifest without Content-Length cannot grow without end.
      const bytes = await res.read(maxManifestBytes);
      const digest = digestOf(bytes, isDigest(reference) && reference.startsWith('sha512:') ? 'sha512' : 'sha256');
      const header = res.headers.get('docker-content-digest');
      // By digest: the bytes must hash to it. By tag: they must hash to what the registry says they are.
      const expected = isDigest(reference)
        ? reference
        : header?.startsWith('sha256:') && isDigest(header)
          ? header
          : undefined;
      if (expected !== undefined && expected !== digest) {
        throw new PlatformClientError(`manifest ${repository}:${reference} does not match its digest`, {
          code: 'ERR_CLIENT_DIGEST_MISMATCH',
          fault: 'server',
          service: 'oci',
          details: { expected, actual: digest },
        });
      }
      let manifest: ImageManifest | ImageIndex;
      try {
        manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as ImageManifest | ImageIndex;
      } catch {
        throw new PlatformClientError('manifest is not JSON', {
          code: 'ERR_CLIENT_MALFORMED_RESPONSE',
          fault: 'server',
          service: 'oci',
        });
      }
      if (typeof manifest !== 'object' || manifest === null || manifest.schemaVersion !== 2) {
        throw new PlatformClientError('manifest is not schemaVersion 2', {
          code: 'ERR_CLIENT_MALFORMED_RESPONSE',
          fault: 'server',
          service: 'oci',
        });
      }
      const mediaType =
        manifest.mediaType ?? res.headers.get('content-type')?.split(';')[0]?.trim() ?? MediaTypes.ociManifest;
      return { mediaType, digest, size: bytes.byteLength, bytes, manifest };
    },

    async headManifest(repository, reference, o = {}) {
      assertRepository(repository);
      assertReference(reference);
      const res = await fetchManifest(repository, reference, 'HEAD', o.accept ?? MANIFEST_ACCEPT, o);
      if (!res) return undefined;
      res.done();
      const digest = res.headers.get('docker-content-digest');
      if (!digest || !isDigest(digest)) throw protocolError('manifest HEAD without Docker-Content-Digest');
      return {
        mediaType: res.headers.get('content-type')?.split(';')[0]?.trim() ?? MediaTypes.ociManifest,
        digest,
        size: Number(res.headers.get('content-length') ?? -1),
      };
    },

    async putManifest(repository, reference, manifest, o = {}) {
      assertRepository(repository);
      assertReference(reference);
      const bytes = manifest instanceof Uint8Array ? manifest : new TextEncoder().encode(JSON.stringify(manifest));
      const parsed =
        manifest instanceof Uint8Array ? (JSON.parse(new TextDecoder().decode(bytes)) as ImageManifest) : manifest;
      const mediaType = o.mediaType ?? parsed.mediaType ?? MediaTypes.ociManifest;
      const digest = digestOf(bytes);
      if (isDigest(reference) && reference !== digest)
        throw invalidOptions('reference digest does not match the manifest');
      const res = await http.send({
        method: 'PUT',
        url: `/v2/${repository}/manifests/${reference}`,
        headers: { 'content-type': mediaType },
        body: bytes,
        scopes: [scope(repository, 'pull,push')],
        idempotent: true,
        ...sig(o),
      });
      await res.read();
      const reported = res.headers.get('docker-content-digest');
      if (reported && reported !== digest) {
        throw new PlatformClientError('registry stored the manifest under another digest', {
          code: 'ERR_CLIENT_DIGEST_MISMATCH',
          fault: 'server',
          service: 'oci',
          details: { expected: digest, actual: reported },
        });
      }
      return { digest, size: bytes.byteLength, subjectHandled: res.headers.has('oci-subject') };
    },

    async deleteManifest(repository, reference, o = {}) {
      assertRepository(repository);
      assertReference(reference);
      let digest = reference;
      if (isTag(reference)) {
        const head = await client.headManifest(repository, reference, o);
        if (!head) {
          throw new PlatformClientError(`manifest ${repository}:${reference} not found`, {
            code: 'ERR_CLIENT_NOT_FOUND',
            fault: 'client',
            status: 404,
            service: 'oci',
          });
        }
        digest = head.digest;
      }
      const res = await http.send({
        method: 'DELETE',
        url: `/v2/${repository}/manifests/${digest}`,
        scopes: [scope(repository, 'delete')],
        idempotent: true,
        ...sig(o),
      });
      await res.read();
      return digest;
    },

    async listTags(repository, o = {}) {
      assertRepository(repository);
      if (o.n !== undefined && (!Number.isInteger(o.n) || o.n < 1))
        throw invalidOptions('n must be a positive integer');
      const params = new URLSearchParams();
      if (o.n !== undefined) params.set('n', String(o.n));
      if (o.last !== undefined) params.set('last', o.last);
      const query = params.size > 0 ? `?${params}` : '';
      return tagPage(repository, `/v2/${repository}/tags/list${query}`, o.n, o.last, o);
    },

    async *tags(repository, o = {}) {
      assertRepository(repository);
      const n = o.pageSize ?? 100;
      let page = await tagPage(repository, `/v2/${repository}/tags/list?n=${n}`, n, undefined, o);
      for (;;) {
        if (page.complete) {
          // The registry sent everything at once: yield it all rather than refetching the whole list per page.
          yield* page.complete;
          return;
        }
        yield* page.tags;
        if (!page.nextUrl) return;
        page = await tagPage(repository, page.nextUrl, n, page.next, o);
      }
    },

    async *catalog(o = {}) {
      const n = o.pageSize ?? 1000;
      if (!Number.isInteger(n) || n < 1) throw invalidOptions('pageSize must be a positive integer');
      let url: string | undefined = `/v2/_catalog?n=${n}`;
      const visited = new Set<string>();
      while (url !== undefined) {
        // A Link that leads back to a page already read would loop forever.
        const key = http.resolve(url).href;
        if (visited.has(key)) throw protocolError('the catalog pagination links back to a page already read');
        visited.add(key);
        const res = await http.send({
          method: 'GET',
          url,
          scopes: [CATALOG_SCOPE],
          idempotent: true,
          ...sig(o),
        });
        const repositories = parseCatalog(await res.read());
        yield* repositories;
        url = repositories.length === 0 ? undefined : parseNextLink(res.headers.get('link'));
      }
    },

    async referrers(repository, digest, o = {}) {
      assertRepository(repository);
      assertDigest(digest);
      const query = o.artifactType ? `?artifactType=${encodeURIComponent(o.artifactType)}` : '';
      let url: string | undefined = `/v2/${repository}/referrers/${digest}${query}`;
      const found: Descriptor[] = [];
      let filtered = false;
      let supported = true;
      while (url) {
        const res = await http.send({
          method: 'GET',
          url,
          headers: { accept: MediaTypes.ociIndex },
          scopes: [scope(repository, 'pull')],
          idempotent: true,
          accept: [404],
          ...sig(o),
        });
        const body = await res.read();
        if (res.status === 404) {
          supported = false;
          break;
        }
        const index = parseIndex(body);
        if (!index) {
          throw new PlatformClientError('referrers answer is not an image index', {
            code: 'ERR_CLIENT_MALFORMED_RESPONSE',
            fault: 'server',
            service: 'oci',
          });
        }
        found.push(...index.manifests);
        filtered = (res.headers.get('oci-filters-applied') ?? '').includes('artifactType');
        url = parseNextLink(res.headers.get('link'));
      }
      if (!supported) {
        // Referrers tag schema (distribution spec 1.1 fallback): an index tagged `<alg>-<hex>`.
        const fallback = await fetchManifest(repository, fallbackTag(digest), 'GET', [MediaTypes.ociIndex], o);
        if (fallback) {
          const index = parseIndex(await fallback.read());
          if (index) found.push(...index.manifests);
        }
      }
      return o.artifactType && !filtered ? found.filter((d) => d.artifactType === o.artifactType) : found;
    },

    async pushArtifact(repository, reference, input) {
      assertRepository(repository);
      assertReference(reference);
      const call = sig(input);
      const blobs: { file: ArtifactFile; data: Uint8Array }[] = [];
      for (const file of input.files) {
        assertSafeFileName(file.name);
        const data = file.data ?? (file.path ? new Uint8Array(await readFile(file.path)) : undefined);
        if (!data) throw invalidOptions(`file ${file.name} has neither data nor path`);
        blobs.push({ file, data });
      }
      const total = blobs.reduce((n, b) => n + b.data.byteLength, 0);
      let done = 0;
      const layers: Descriptor[] = [];
      for (const { file, data } of blobs) {
        const base = done;
        const pushed = await client.pushBlob(repository, data, {
          ...call,
          onProgress: (d) => input.onProgress?.(base + d, total),
        });
        done += data.byteLength;
        layers.push({
          mediaType: file.mediaType ?? MediaTypes.octetStream,
          digest: pushed.digest,
          size: pushed.size,
          annotations: { ...file.annotations, [TITLE_ANNOTATION]: file.name },
        });
      }
      await client.pushBlob(repository, new TextEncoder().encode('{}'), call);
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        artifactType: input.artifactType,
        config: {
          mediaType: EMPTY_CONFIG.mediaType,
          digest: EMPTY_CONFIG.digest,
          size: EMPTY_CONFIG.size,
          data: EMPTY_CONFIG.data,
        },
        layers,
        ...(input.subject ? { subject: input.subject } : {}),
        ...(input.annotations ? { annotations: input.annotations } : {}),
      };
      const put = await client.putManifest(repository, reference, manifest, call);
      let referrersApi: boolean | undefined;
      if (input.subject) {
        referrersApi = put.subjectHandled;
        if (!put.subjectHandled) {
          await addToFallbackIndex(
            repository,
            input.subject.digest,
            {
              mediaType: MediaTypes.ociManifest,
              digest: put.digest,
              size: put.size,
              artifactType: input.artifactType,
              ...(input.annotations ? { annotations: input.annotations } : {}),
            },
            input,
          );
        }
      }
      return { digest: put.digest, manifest, size: put.size, ...(referrersApi !== undefined ? { referrersApi } : {}) };
    },

    async pullArtifact(repository, reference, o = {}) {
      const got = await client.getManifest(repository, reference, {
        accept: [MediaTypes.ociManifest, MediaTypes.dockerManifest],
        ...sig(o),
      });
      const manifest = got.manifest as ImageManifest;
      if (!Array.isArray(manifest.layers)) throw protocolError('not an image manifest (no layers)');
      checkLayers(manifest.layers, o.outputDir !== undefined);
      const total = manifest.layers.reduce((n, l) => n + l.size, 0);
      let done = 0;
      const files: PulledArtifact['files'][number][] = [];
      if (o.outputDir) await mkdir(o.outputDir, { recursive: true });
      for (const layer of manifest.layers) {
        const name = layer.annotations?.[TITLE_ANNOTATION] ?? layer.digest.replace(':', '-');
        const base = done;
        const progress: ProgressCallback = (d) => o.onProgress?.(base + d, total);
        if (o.outputDir) {
          const path = join(o.outputDir, name);
          await client.downloadBlob(repository, layer.digest, path, {
            expectedSize: layer.size,
            onProgress: progress,
            ...sig(o),
          });
          files.push({ name, mediaType: layer.mediaType, digest: layer.digest, size: layer.size, path });
        } else {
          const data = await client.getBlob(repository, layer.digest, {
            expectedSize: layer.size,
            onProgress: progress,
            ...sig(o),
          });
          files.push({ name, mediaType: layer.mediaType, digest: layer.digest, size: layer.size, data });
        }
        done += layer.size;
      }
      return { digest: got.digest, manifest, files };
    },
  };

  async function tagPage(
    repository: string,
    url: string,
    n: number | undefined,
    last: string | undefined,
    o?: OciCallOptions,
  ): Promise<TagPage & { nextUrl?: string; complete?: readonly string[] }> {
    const res = await http.send({
      method: 'GET',
      url,
      scopes: [scope(repository, 'pull')],
      idempotent: true,
      ...sig(o),
    });
    const body = await res.read();
    let parsed: { name?: unknown; tags?: unknown };
    try {
      parsed = JSON.parse(new TextDecoder().decode(body)) as { name?: unknown; tags?: unknown };
    } catch {
      throw new PlatformClientError('tag list is not JSON', {
        code: 'ERR_CLIENT_MALFORMED_RESPONSE',
        fault: 'server',
        service: 'oci',
      });
    }
    const raw = parsed.tags ?? [];
    if (!Array.isArray(raw) || !raw.every((t) => typeof t === 'string')) {
      throw new PlatformClientError('tag list has no tags array', {
        code: 'ERR_CLIENT_MALFORMED_RESPONSE',
        fault: 'server',
        service: 'oci',
      });
    }
    const name = typeof parsed.name === 'string' ? parsed.name : repository;
    const link = parseNextLink(res.headers.get('link'));
    // The spec wants lexical order; 2.8.2 sends the whole list unsorted and ignores n/last.
    const ignoredN = n !== undefined && raw.length > n;
    const ignoredLast = last !== undefined && raw.some((t) => t <= last);
    if (ignoredN || ignoredLast || (n === undefined && !link)) {
      const sorted = [...raw].sort(compareTags).filter((t) => last === undefined || compareTags(t, last) > 0);
      const tags = n === undefined ? sorted : sorted.slice(0, n);
      const more = n !== undefined && sorted.length > n;
      const next = more ? tags[tags.length - 1] : undefined;
      return { name, tags, serverPaginated: false, complete: sorted, ...(next ? { next } : {}) };
    }
    const tags = [...raw].sort(compareTags);
    const next = link ? (new URL(link, `${registry}/`).searchParams.get('last') ?? tags[tags.length - 1]) : undefined;
    return {
      name,
      tags,
      serverPaginated: true,
      ...(next ? { next } : {}),
      ...(link ? { nextUrl: link } : {}),
    };
  }

  async function addToFallbackIndex(
    repository: string,
    subject: string,
    descriptor: Descriptor,
    o: OciCallOptions,
  ): Promise<void> {
    // Read-modify-write of the `<alg>-<hex>` index. Two concurrent pushers can
    // race here; the spec accepts this for registries without the API.
    const tag = fallbackTag(subject);
    const existing = await fetchManifest(repository, tag, 'GET', [MediaTypes.ociIndex], o);
    const index = existing ? parseIndex(await existing.read()) : undefined;
    const manifests = (index?.manifests ?? []).filter((d) => d.digest !== descriptor.digest);
    await client.putManifest(
      repository,
      tag,
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [...manifests, descriptor] },
      o,
    );
  }

  return client;
}

function compareTags(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fallbackTag(digest: string): string {
  // Tags allow 128 characters: sha512 hex is truncated per the spec.
  return digest.replace(':', '-').slice(0, 128);
}

function parseIndex(bytes: Uint8Array): ImageIndex | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as ImageIndex;
    return value && Array.isArray(value.manifests) ? value : undefined;
  } catch {
    return undefined;
  }
}
