import type { BackendCiphertext, HealthStatus, KeyMetadata, KmsBackend } from './backend.js';
import { clientSideKeyOps, measureHealth } from './backend.js';
import type { EncryptionContext } from './context.js';
import { canonicalContext } from './context.js';
import type { KmsErrorCode } from './errors.js';
import { clientError, serverError } from './errors.js';
import type { FetchLike } from './http.js';
import { baseUrl, httpJson } from './http.js';

export type { FetchLike } from './http.js';

/** Options of {@link cosmianBackend}. */
export interface CosmianOptions {
  /** The KMS server, e.g. `https://kms.internal:9998`. */
  readonly url: string;
  /** UniqueIdentifier of the AES key (version 1). */
  readonly keyId: string;
  /**
   * UniqueIdentifiers of later versions, oldest first, if the key was already re-keyed
   * (KMIP ReKey makes a new object). Default none.
   */
  readonly laterVersions?: readonly string[];
  /** Bearer token (`Authorization: Bearer …`) when the server requires one. */
  readonly accessToken?: string | (() => string | Promise<string>);
  /** `fetch` to use. Default: the global `fetch`. */
  readonly fetch?: FetchLike;
  /** Per-request timeout in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
}

interface Ttlv {
  tag: string;
  type: string;
  value: unknown;
}

/**
 * A backend over Cosmian KMS through KMIP 2.1 in JSON (`POST /kmip/2_1`):
 * `Encrypt`/`Decrypt` with hex `Data`, `IVCounterNonce`, `AuthenticatedEncryptionTag`
 * and the canonical encryption context as `AuthenticatedEncryptionAdditionalData`;
 * rotation is `ReKey`, which creates a new key object: this client keeps the chain
 * of UniqueIdentifiers as versions 1, 2, … (pass `laterVersions` to resume it) and
 * enforces the minimum decryption version itself.
 *
 * Ciphertext `data`: `u16 uid length | uid | u8 iv length | iv | u8 tag length | tag | ciphertext`.
 *
 * @example
 * ```ts
 * import { cosmianBackend } from '@provisioning/kms/cosmian';
 * const kms = cosmianBackend({ url: 'https://kms:9998', keyId: '0d9b…' });
 * ```
 */
export function cosmianBackend(options: CosmianOptions): KmsBackend {
  const url = baseUrl(options.url, 'url');
  if (typeof options.keyId !== 'string' || options.keyId.length === 0 || options.keyId.length > 1024) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'keyId (a KMIP UniqueIdentifier) is required');
  }
  const doFetch = options.fetch ?? (globalThis.fetch as FetchLike);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const id = 'cosmian';
  const chain = [options.keyId, ...(options.laterVersions ?? [])];
  let minVersion = 1;

  const auth = async (): Promise<Record<string, string>> => {
    const token = typeof options.accessToken === 'function' ? await options.accessToken() : options.accessToken;
    return token ? { authorization: `Bearer ${token}` } : {};
  };
  const kmip = async (op: string, request: Ttlv): Promise<Ttlv[]> => {
    const body = await httpJson(`${url}/kmip/2_1`, {
      fetch: doFetch,
      backend: id,
      op,
      timeoutMs,
      body: request,
      headers: await auth(),
      classify: (status) => classify(status, op),
    });
    const r = body as Partial<Ttlv> | undefined;
    if (!r || r.tag !== `${request.tag}Response` || !Array.isArray(r.value)) {
      throw serverError('ERR_KMS_BACKEND_FAILURE', 'Cosmian answered in an unexpected shape', {
        details: { backend: id, op },
      });
    }
    return r.value as Ttlv[];
  };
  const get = (items: Ttlv[], tag: string): string => {
    const v = items.find((i) => i.tag === tag)?.value;
    if (typeof v !== 'string') {
      throw serverError('ERR_KMS_BACKEND_FAILURE', 'Cosmian answered in an unexpected shape', {
        details: { backend: id, field: tag },
      });
    }
    return v;
  };
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

  const encrypt = async (plaintext: Uint8Array, context?: EncryptionContext): Promise<BackendCiphertext> => {
    const uid = chain[chain.length - 1] as string;
    const res = await kmip('encrypt', {
      tag: 'Encrypt',
      type: 'Structure',
      value: [
        { tag: 'UniqueIdentifier', type: 'TextString', value: uid },
        { tag: 'Data', type: 'ByteString', value: hex(plaintext) },
        { tag: 'AuthenticatedEncryptionAdditionalData', type: 'ByteString', value: hex(canonicalContext(context)) },
      ],
    });
    const iv = Buffer.from(get(res, 'IVCounterNonce'), 'hex');
    const tag = Buffer.from(get(res, 'AuthenticatedEncryptionTag'), 'hex');
    const data = Buffer.from(get(res, 'Data'), 'hex');
    const u = Buffer.from(uid, 'utf8');
    const head = Buffer.alloc(2);
    head.writeUInt16BE(u.length);
    return {
      backend: id,
      keyId: options.keyId,
      keyVersion: chain.length,
      data: new Uint8Array(
        Buffer.concat([head, u, Buffer.from([iv.length]), iv, Buffer.from([tag.length]), tag, data]),
      ),
    };
  };

  const decrypt = async (ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<Uint8Array> => {
    const b = Buffer.from(ciphertext.data);
    const bad = () => clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'not a Cosmian backend ciphertext');
    if (b.length < 4) throw bad();
    const ul = b.readUInt16BE(0);
    let o = 2 + ul;
    if (b.length < o + 1) throw bad();
    const uid = b.toString('utf8', 2, o);
    const ivl = b.readUInt8(o);
    const iv = b.subarray(o + 1, o + 1 + ivl);
    o += 1 + ivl;
    if (b.length < o + 1) throw bad();
    const tl = b.readUInt8(o);
    const tag = b.subarray(o + 1, o + 1 + tl);
    o += 1 + tl;
    if (b.length < o || iv.length !== ivl || tag.length !== tl) throw bad();
    const version = chain.indexOf(uid) + 1;
    if (version === 0)
      throw clientError('ERR_KMS_NO_MATCHING_KEY', 'the ciphertext was made with a key outside this chain');
    if (version < minVersion) {
      throw clientError('ERR_KMS_KEY_VERSION_TOO_OLD', 'the key version is below the minimum decryption version', {
        version,
        minDecryptionVersion: minVersion,
      });
    }
    const res = await kmip('decrypt', {
      tag: 'Decrypt',
      type: 'Structure',
      value: [
        { tag: 'UniqueIdentifier', type: 'TextString', value: uid },
        { tag: 'Data', type: 'ByteString', value: hex(b.subarray(o)) },
        { tag: 'IVCounterNonce', type: 'ByteString', value: hex(iv) },
        { tag: 'AuthenticatedEncryptionTag', type: 'ByteString', value: hex(tag) },
        { tag: 'AuthenticatedEncryptionAdditionalData', type: 'ByteString', value: hex(canonicalContext(context)) },
      ],
    });
    return new Uint8Array(Buffer.from(get(res, 'Data'), 'hex'));
  };

  const metadata = async (): Promise<KeyMetadata> => ({
    backend: id,
    keyId: options.keyId,
    algorithm: 'AES-GCM',
    latestVersion: chain.length,
    minDecryptionVersion: minVersion,
    versions: chain.map((_, i) => ({ version: i + 1, decryptable: i + 1 >= minVersion })),
    rotatable: true,
  });

  return {
    id,
    keyId: options.keyId,
    maxPlaintextBytes: 16 * 1024 * 1024,
    encrypt,
    decrypt,
    // KMIP has no re-encrypt: on rewrap the data key passes through this process briefly.
    ...clientSideKeyOps(encrypt, decrypt),
    async rotate(): Promise<KeyMetadata> {
      const res = await kmip('rekey', {
        tag: 'ReKey',
        type: 'Structure',
        value: [{ tag: 'UniqueIdentifier', type: 'TextString', value: chain[chain.length - 1] as string }],
      });
      const next = get(res, 'UniqueIdentifier');
      if (!chain.includes(next)) chain.push(next);
      return metadata();
    },
    metadata,
    async setMinDecryptionVersion(version: number): Promise<void> {
      if (!Number.isInteger(version) || version < 1 || version > chain.length) {
        throw clientError('ERR_KMS_INVALID_OPTIONS', 'minimum decryption version must be from 1 to the latest version');
      }
      minVersion = version;
    },
    health(): Promise<HealthStatus> {
      return measureHealth(id, async () => {
        await httpJson(`${url}/version`, {
          fetch: doFetch,
          backend: id,
          op: 'version',
          timeoutMs,
          headers: await auth(),
        });
      });
    },
  };
}

function classify(status: number, op: string): KmsErrorCode | undefined {
  // Cosmian answers KMIP failures with 4xx and a text reason; decryption failures are the caller's.
  if (op === 'decrypt' && (status === 400 || status === 422)) return 'ERR_KMS_DECRYPT_FAILED';
  if (status === 422) return 'ERR_KMS_BACKEND_FAILURE';
  return undefined;
}
