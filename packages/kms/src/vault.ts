import { randomBytes } from 'node:crypto';
import type {
  BackendCiphertext,
  DataKey,
  GenerateDataKeyOptions,
  HealthStatus,
  KeyMetadata,
  KeyVersionInfo,
  KmsBackend,
} from './backend.js';
import { dataKeyBytes, frameWithContext, measureHealth, unframeWithContext } from './backend.js';
import type { EncryptionContext } from './context.js';
import { canonicalContext, hasContext } from './context.js';
import type { KmsErrorCode } from './errors.js';
import { clientError, KmsError } from './errors.js';
import type { FetchLike } from './http.js';
import { baseUrl, errorStrings, field, httpJson } from './http.js';

export type { FetchLike } from './http.js';

/** Options of {@link vaultTransitBackend}. */
export interface VaultTransitOptions {
  /** Vault's address, e.g. `https://vault.internal:8200`. */
  readonly address: string;
  /** A Vault token, or a function returning the current one (for renewal). */
  readonly token: string | (() => string | Promise<string>);
  /** The Transit key name. */
  readonly keyName: string;
  /** The Transit mount path. Default `transit`. */
  readonly mount?: string;
  /** Vault Enterprise namespace (`X-Vault-Namespace`). */
  readonly namespace?: string;
  /**
   * The key was created with `derived: true`: the encryption context is sent as
   * Transit's `context` (key derivation), so Vault itself binds it. Default
   * `false`: the context digest is bound inside the encrypted payload instead.
   */
  readonly derived?: boolean;
  /**
   * Send the encryption context as Transit's `associated_data` (Vault >= 1.13, AEAD key
   * types such as `aes256-gcm96`), so Vault authenticates it without key derivation.
   * Default `false`. Ignored when `derived` is set.
   */
  readonly associatedData?: boolean;
  /** `fetch` to use. Default: the global `fetch`. */
  readonly fetch?: FetchLike;
  /** Per-request timeout in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
}

/** One item of a batch request. */
export interface VaultBatchItem {
  readonly plaintext: Uint8Array;
  readonly context?: EncryptionContext;
}

/** A {@link KmsBackend} over Vault Transit, with batch operations. */
export interface VaultTransitBackend extends KmsBackend {
  /** Encrypts many plaintexts in one request (`batch_input`); rejects with the first item's error (`details.index`). */
  encryptBatch(items: readonly VaultBatchItem[]): Promise<BackendCiphertext[]>;
  /** Decrypts many ciphertexts in one request; rejects with the first item's error (`details.index`). */
  decryptBatch(items: readonly { ciphertext: BackendCiphertext; context?: EncryptionContext }[]): Promise<Uint8Array[]>;
}

const VAULT_CT = /^vault:v(\d+):/;

/**
 * A backend over HashiCorp Vault's Transit engine (HTTP API v1): `encrypt`,
 * `decrypt`, `rewrap`, `datakey/plaintext`, `keys/:name/rotate`, `keys/:name`
 * (versions) and `keys/:name/config` (`min_decryption_version`); batch
 * requests through `batch_input`. Ciphertexts are Vault's own `vault:vN:…`
 * strings (UTF-8 in `data`), so they stay usable with the Vault CLI.
 *
 * Errors: `ERR_KMS_ACCESS_DENIED` (401/403), `ERR_KMS_KEY_NOT_FOUND`,
 * `ERR_KMS_KEY_VERSION_TOO_OLD`, `ERR_KMS_DECRYPT_FAILED`, `ERR_KMS_BACKEND_UNAVAILABLE`
 * (retryable: network, 429, 5xx, sealed), `ERR_KMS_BACKEND_FAILURE`.
 *
 * @example
 * ```ts
 * import { vaultTransitBackend } from '@provisioning/kms/vault';
 * const kms = vaultTransitBackend({ address: 'https://vault:8200', token: () => readToken(), keyName: 'app' });
 * ```
 */
export function vaultTransitBackend(options: VaultTransitOptions): VaultTransitBackend {
  const address = baseUrl(options.address, 'address');
  const mount = (options.mount ?? 'transit').replace(/^\/+|\/+$/g, '');
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(options.keyName ?? '')) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'keyName must be 1-128 letters, digits, dots, dashes or underscores');
  }
  if (typeof options.token !== 'string' && typeof options.token !== 'function') {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'a Vault token is required');
  }
  const doFetch = options.fetch ?? (globalThis.fetch as FetchLike);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const derived = options.derived ?? false;
  const keyName = options.keyName;
  const id = 'vault';
  const url = (path: string): string => `${address}/v1/${mount}/${path}`;

  const call = async (op: string, path: string, body?: unknown): Promise<unknown> => {
    const token = typeof options.token === 'function' ? await options.token() : options.token;
    return httpJson(path.startsWith('http') ? path : url(path), {
      fetch: doFetch,
      backend: id,
      op,
      timeoutMs,
      headers: { 'x-vault-token': token, ...(options.namespace ? { 'x-vault-namespace': options.namespace } : {}) },
      ...(body !== undefined ? { body } : {}),
      classify,
    });
  };

  const associatedData = !derived && (options.associatedData ?? false);
  // Vault binds the context itself (derived keys, associated_data) or we frame it into the payload.
  const framed = !derived && !associatedData;
  const ctxField = (context: EncryptionContext | undefined): Record<string, string> => {
    if (associatedData) {
      return hasContext(context) ? { associated_data: canonicalContext(context).toString('base64') } : {};
    }
    if (!derived) return {};
    if (!hasContext(context)) {
      // Vault refuses derived-key operations without a context; fail early with a clear code.
      throw clientError('ERR_KMS_INVALID_OPTIONS', 'a derived Vault key needs a non-empty encryption context');
    }
    return { context: canonicalContext(context).toString('base64') };
  };
  const payload = (plaintext: Uint8Array, context: EncryptionContext | undefined): string =>
    Buffer.from(framed ? frameWithContext(plaintext, context) : plaintext).toString('base64');
  const unpack = (b64: string, context: EncryptionContext | undefined): Uint8Array => {
    const raw = new Uint8Array(Buffer.from(b64, 'base64'));
    return framed ? unframeWithContext(raw, context) : raw;
  };
  const toCiphertext = (ct: string): BackendCiphertext => ({
    backend: id,
    keyId: keyName,
    keyVersion: versionOf(ct),
    data: new Uint8Array(Buffer.from(ct, 'utf8')),
  });
  const ctString = (ciphertext: BackendCiphertext): string => {
    const s = Buffer.from(ciphertext.data).toString('utf8');
    if (!VAULT_CT.test(s)) throw clientError('ERR_KMS_MALFORMED_CIPHERTEXT', 'not a Vault Transit ciphertext');
    return s;
  };

  const encrypt = async (plaintext: Uint8Array, context?: EncryptionContext): Promise<BackendCiphertext> => {
    const body = await call('encrypt', `encrypt/${keyName}`, {
      plaintext: payload(plaintext, context),
      ...ctxField(context),
    });
    return toCiphertext(field<string>(body, ['data', 'ciphertext'], 'string', id));
  };
  const decrypt = async (ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<Uint8Array> => {
    const body = await call('decrypt', `decrypt/${keyName}`, {
      ciphertext: ctString(ciphertext),
      ...ctxField(context),
    });
    return unpack(field<string>(body, ['data', 'plaintext'], 'string', id), context);
  };
  const metadata = async (): Promise<KeyMetadata> => {
    const body = await call('read-key', `keys/${keyName}`);
    const data = field<Record<string, unknown>>(body, ['data'], 'object', id);
    const keys = field<Record<string, unknown>>(data, ['keys'], 'object', id);
    const min = Number(data.min_decryption_version ?? 1);
    const versions: KeyVersionInfo[] = Object.entries(keys)
      .map(([v, info]) => {
        const version = Number(v);
        // Older Vaults give a Unix time; newer ones an object with creation_time.
        const created =
          typeof info === 'number'
            ? new Date(info * 1000)
            : typeof (info as { creation_time?: unknown })?.creation_time === 'string'
              ? new Date((info as { creation_time: string }).creation_time)
              : undefined;
        return { version, ...(created ? { createdAt: created } : {}), decryptable: version >= min };
      })
      .sort((a, b) => a.version - b.version);
    return {
      backend: id,
      keyId: keyName,
      algorithm: typeof data.type === 'string' ? data.type : 'unknown',
      latestVersion: Number(data.latest_version ?? versions.at(-1)?.version ?? 0),
      minDecryptionVersion: min,
      versions,
      rotatable: true,
    };
  };

  return {
    id,
    keyId: keyName,
    maxPlaintextBytes: 24 * 1024 * 1024, // Vault's default 32 MiB request limit, after base64
    encrypt,
    decrypt,
    async generateDataKey(context?: EncryptionContext, opts?: GenerateDataKeyOptions): Promise<DataKey> {
      const bytes = dataKeyBytes(opts);
      if (!derived && hasContext(context)) {
        // Transit's datakey takes no frame or associated data: make the key here and encrypt it.
        const plaintext = new Uint8Array(randomBytes(bytes));
        return { plaintext, ciphertext: await encrypt(plaintext, context) };
      }
      if (bytes !== 32 && bytes !== 64) {
        const plaintext = new Uint8Array(randomBytes(bytes));
        return { plaintext, ciphertext: await encrypt(plaintext, context) };
      }
      const body = await call('datakey', `datakey/plaintext/${keyName}`, { bits: bytes * 8, ...ctxField(context) });
      return {
        plaintext: new Uint8Array(Buffer.from(field<string>(body, ['data', 'plaintext'], 'string', id), 'base64')),
        ciphertext: toCiphertext(field<string>(body, ['data', 'ciphertext'], 'string', id)),
      };
    },
    async rewrap(ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<BackendCiphertext> {
      // Server-side: the plaintext never leaves Vault.
      const body = await call('rewrap', `rewrap/${keyName}`, {
        ciphertext: ctString(ciphertext),
        ...ctxField(context),
      });
      return toCiphertext(field<string>(body, ['data', 'ciphertext'], 'string', id));
    },
    async rotate(): Promise<KeyMetadata> {
      await call('rotate', `keys/${keyName}/rotate`, {});
      return metadata();
    },
    metadata,
    async setMinDecryptionVersion(version: number): Promise<void> {
      if (!Number.isInteger(version) || version < 1) {
        throw clientError('ERR_KMS_INVALID_OPTIONS', 'minimum decryption version must be a positive integer');
      }
      await call('config', `keys/${keyName}/config`, { min_decryption_version: version });
    },
    health(): Promise<HealthStatus> {
      return measureHealth(id, async () => {
        await call('health', `${address}/v1/sys/health`);
        await metadata();
      });
    },
    async encryptBatch(items: readonly VaultBatchItem[]): Promise<BackendCiphertext[]> {
      const batch = items.map((i) => ({ plaintext: payload(i.plaintext, i.context), ...ctxField(i.context) }));
      const body = await call('encrypt-batch', `encrypt/${keyName}`, { batch_input: batch });
      const results = field<Record<string, unknown>[]>(body, ['data', 'batch_results'], 'array', id);
      if (results.length !== items.length) throw batchShape();
      return results.map((r, index) => {
        if (typeof r.error === 'string' && r.error !== '') throw batchError(r.error, index);
        return toCiphertext(field<string>(r, ['ciphertext'], 'string', id));
      });
    },
    async decryptBatch(items): Promise<Uint8Array[]> {
      const batch = items.map((i) => ({ ciphertext: ctString(i.ciphertext), ...ctxField(i.context) }));
      const body = await call('decrypt-batch', `decrypt/${keyName}`, { batch_input: batch });
      const results = field<Record<string, unknown>[]>(body, ['data', 'batch_results'], 'array', id);
      if (results.length !== items.length) throw batchShape();
      return results.map((r, index) => {
        if (typeof r.error === 'string' && r.error !== '') throw batchError(r.error, index);
        return unpack(field<string>(r, ['plaintext'], 'string', id), items[index]?.context);
      });
    },
  };
}

function versionOf(ct: string): number {
  const m = VAULT_CT.exec(ct);
  return m ? Number(m[1]) : 0;
}

function classifyMessage(message: string): KmsErrorCode | undefined {
  if (/too old|disallowed by policy/i.test(message)) return 'ERR_KMS_KEY_VERSION_TOO_OLD';
  if (/not found/i.test(message)) return 'ERR_KMS_KEY_NOT_FOUND';
  if (/authentication failed|invalid ciphertext|unable to decrypt|failed to decrypt/i.test(message)) {
    return 'ERR_KMS_DECRYPT_FAILED';
  }
  if (/permission denied/i.test(message)) return 'ERR_KMS_ACCESS_DENIED';
  if (/sealed/i.test(message)) return 'ERR_KMS_BACKEND_UNAVAILABLE';
  return undefined;
}

function classify(status: number, body: unknown): KmsErrorCode | undefined {
  const message = errorStrings(body);
  if (status === 400 || status === 500)
    return classifyMessage(message) ?? (status === 400 ? 'ERR_KMS_BACKEND_FAILURE' : undefined);
  return undefined;
}

function batchError(message: string, index: number): KmsError {
  const code = classifyMessage(message) ?? 'ERR_KMS_BACKEND_FAILURE';
  return new KmsError('a Vault batch item failed', {
    code,
    fault: code === 'ERR_KMS_BACKEND_FAILURE' ? 'server' : 'client',
    details: { backend: 'vault', index },
  });
}

function batchShape(): KmsError {
  return new KmsError('Vault answered a batch with the wrong number of results', {
    code: 'ERR_KMS_BACKEND_FAILURE',
    fault: 'server',
    details: { backend: 'vault' },
  });
}
