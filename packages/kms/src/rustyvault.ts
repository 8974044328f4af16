import type { BackendCiphertext, HealthStatus, KeyMetadata, KmsBackend } from './backend.js';
import { clientSideKeyOps, measureHealth } from './backend.js';
import type { EncryptionContext } from './context.js';
import { canonicalContext } from './context.js';
import type { KmsErrorCode } from './errors.js';
import { clientError } from './errors.js';
import type { FetchLike } from './http.js';
import { baseUrl, errorStrings, field, httpJson } from './http.js';

export type { FetchLike } from './http.js';

/** Options of {@link rustyVaultBackend}. */
export interface RustyVaultOptions {
  /** RustyVault's address, e.g. `https://rustyvault.internal:8200`. */
  readonly address: string;
  /** A RustyVault token, or a function returning the current one. */
  readonly token: string | (() => string | Promise<string>);
  /** The key name (a key made with `<mount>/keys/generate/…`, type `aes-gcm`). */
  readonly keyName: string;
  /** The PKI mount. Default `pki`. */
  readonly mount?: string;
  /** `fetch` to use. Default: the global `fetch`. */
  readonly fetch?: FetchLike;
  /** Per-request timeout in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
}

/**
 * A backend over RustyVault, which has no Transit engine: its encryption API
 * lives under the PKI mount (`POST /v1/<mount>/keys/encrypt` and `keys/decrypt`
 * with `key_name`, hex `data` and hex `aad`; the answer's `data.result` is hex).
 * The canonical encryption context is sent as `aad`. Keys have no versions:
 * `rotate` and `setMinDecryptionVersion` throw `ERR_KMS_UNSUPPORTED`.
 *
 * @example
 * ```ts
 * import { rustyVaultBackend } from '@provisioning/kms/rustyvault';
 * const kms = rustyVaultBackend({ address: 'https://rv:8200', token, keyName: 'app-aes' });
 * ```
 */
export function rustyVaultBackend(options: RustyVaultOptions): KmsBackend {
  const address = baseUrl(options.address, 'address');
  const mount = (options.mount ?? 'pki').replace(/^\/+|\/+$/g, '');
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(options.keyName ?? '')) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'keyName must be 1-128 letters, digits, dots, dashes or underscores');
  }
  const doFetch = options.fetch ?? (globalThis.fetch as FetchLike);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const id = 'rustyvault';
  const keyName = options.keyName;

  const call = async (op: string, path: string, body?: unknown): Promise<unknown> => {
    const token = typeof options.token === 'function' ? await options.token() : options.token;
    return httpJson(`${address}/v1/${path}`, {
      fetch: doFetch,
      backend: id,
      op,
      timeoutMs,
      // RustyVault reads its own header; the Vault-compatible one is sent too.
      headers: { 'x-rustyvault-token': token, 'x-vault-token': token },
      ...(body !== undefined ? { body } : {}),
      classify: (status, b) => classify(status, b, op),
    });
  };

  const encrypt = async (plaintext: Uint8Array, context?: EncryptionContext): Promise<BackendCiphertext> => {
    const body = await call('encrypt', `${mount}/keys/encrypt`, {
      key_name: keyName,
      data: Buffer.from(plaintext).toString('hex'),
      aad: canonicalContext(context).toString('hex'),
    });
    const result = field<string>(body, ['data', 'result'], 'string', id);
    return { backend: id, keyId: keyName, keyVersion: 0, data: new Uint8Array(Buffer.from(result, 'hex')) };
  };
  const decrypt = async (ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<Uint8Array> => {
    const body = await call('decrypt', `${mount}/keys/decrypt`, {
      key_name: keyName,
      data: Buffer.from(ciphertext.data).toString('hex'),
      aad: canonicalContext(context).toString('hex'),
    });
    return new Uint8Array(Buffer.from(field<string>(body, ['data', 'result'], 'string', id), 'hex'));
  };
  const metadata = async (): Promise<KeyMetadata> => ({
    backend: id,
    keyId: keyName,
    algorithm: 'aes-gcm',
    latestVersion: 0,
    minDecryptionVersion: 0,
    versions: [],
    rotatable: false,
  });
  return {
    id,
    keyId: keyName,
    maxPlaintextBytes: 16 * 1024 * 1024,
    encrypt,
    decrypt,
    ...clientSideKeyOps(encrypt, decrypt),
    async rotate(): Promise<KeyMetadata> {
      throw clientError('ERR_KMS_UNSUPPORTED', 'RustyVault keys have no versions');
    },
    metadata,
    async setMinDecryptionVersion(): Promise<void> {
      throw clientError('ERR_KMS_UNSUPPORTED', 'RustyVault keys have no versions');
    },
    health(): Promise<HealthStatus> {
      return measureHealth(id, async () => {
        await call('health', 'sys/health');
      });
    },
  };
}

function classify(status: number, body: unknown, op: string): KmsErrorCode | undefined {
  const message = errorStrings(body);
  if (/not found|no such key/i.test(message)) return 'ERR_KMS_KEY_NOT_FOUND';
  if (op === 'decrypt' && (status === 400 || status === 500)) return 'ERR_KMS_DECRYPT_FAILED';
  return undefined;
}
