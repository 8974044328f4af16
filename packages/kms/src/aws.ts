import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
  ListKeyRotationsCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import type {
  BackendCiphertext,
  DataKey,
  GenerateDataKeyOptions,
  HealthStatus,
  KeyMetadata,
  KeyVersionInfo,
  KmsBackend,
} from './backend.js';
import { dataKeyBytes, measureHealth } from './backend.js';
import type { EncryptionContext } from './context.js';
import { toContextRecord } from './context.js';
import type { KmsErrorCode } from './errors.js';
import { clientError, KmsError } from './errors.js';

/** Options of {@link awsKmsBackend}. */
export interface AwsKmsOptions {
  /** A configured `KMSClient` (region, credentials) from `@aws-sdk/client-kms`. */
  readonly client: KMSClient;
  /** Key id, ARN, alias (`alias/app`) or multi-region key (`mrk-…` or its ARN in this client's region). */
  readonly keyId: string;
  /** Grant tokens passed to every call. */
  readonly grantTokens?: readonly string[];
}

/** The most AWS KMS `Encrypt` accepts, in bytes. */
export const AWS_KMS_MAX_PLAINTEXT_BYTES = 4096;

/**
 * Whether a key id names a multi-region key (`mrk-…`, bare or in an ARN).
 *
 * @example
 * ```ts
 * isMultiRegionKey('arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd'); // true
 * ```
 */
export function isMultiRegionKey(keyId: string): boolean {
  return /^mrk-/.test(keyId) || /:key\/mrk-/.test(keyId);
}

/**
 * A backend over AWS KMS: `Encrypt`, `Decrypt`, `GenerateDataKey` and
 * `ReEncrypt` with `EncryptionContext` (KMS itself binds it and refuses a
 * different one), `RotateKeyOnDemand` and `ListKeyRotations` for versions.
 * `Encrypt` takes at most 4096 bytes: larger plaintexts throw
 * `ERR_KMS_PAYLOAD_TOO_LARGE`; use `createEnvelope` (data keys) instead.
 *
 * Decrypt always names this backend's `keyId`, so a replica of a
 * multi-region (`mrk-`) key in this client's region decrypts what a related
 * key in another region encrypted. AWS KMS ciphertexts do not reveal the key
 * version (`keyVersion` is 0) and there is no minimum decryption version:
 * `setMinDecryptionVersion` throws `ERR_KMS_UNSUPPORTED`.
 *
 * AWS errors map to `ERR_KMS_DECRYPT_FAILED` (InvalidCiphertext: wrong context,
 * tampering), `ERR_KMS_NO_MATCHING_KEY` (IncorrectKey), `ERR_KMS_KEY_NOT_FOUND`,
 * `ERR_KMS_ACCESS_DENIED`, `ERR_KMS_BACKEND_UNAVAILABLE` (throttling, internal,
 * timeouts; retryable) and `ERR_KMS_BACKEND_FAILURE` (disabled keys, others).
 *
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms';
 * import { awsKmsBackend } from '@provisioning/kms/aws';
 * const kms = awsKmsBackend({ client: new KMSClient({ region: 'eu-west-1' }), keyId: 'alias/app' });
 * ```
 */
export function awsKmsBackend(options: AwsKmsOptions): KmsBackend {
  if (!options.client || typeof options.client.send !== 'function') {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'a KMSClient is required');
  }
  if (typeof options.keyId !== 'string' || options.keyId.length === 0) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'keyId is required');
  }
  const { client, keyId } = options;
  const grants = options.grantTokens ? { GrantTokens: [...options.grantTokens] } : {};
  const id = 'aws';
  const ctx = (context: EncryptionContext | undefined) => {
    const record = toContextRecord(context);
    return Object.keys(record).length > 0 ? { EncryptionContext: record } : {};
  };
  const wrap = (blob: Uint8Array | undefined): BackendCiphertext => {
    if (!blob) throw kmsFailure('missing CiphertextBlob');
    return { backend: id, keyId, keyVersion: 0, data: new Uint8Array(blob) };
  };

  const encrypt = async (plaintext: Uint8Array, context?: EncryptionContext): Promise<BackendCiphertext> => {
    if (plaintext.byteLength > AWS_KMS_MAX_PLAINTEXT_BYTES) {
      throw clientError('ERR_KMS_PAYLOAD_TOO_LARGE', 'AWS KMS encrypts at most 4096 bytes: use envelope encryption', {
        bytes: plaintext.byteLength,
        max: AWS_KMS_MAX_PLAINTEXT_BYTES,
      });
    }
    const out = await send('encrypt', () =>
      client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, ...ctx(context), ...grants })),
    );
    return wrap(out.CiphertextBlob);
  };
  const decrypt = async (ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<Uint8Array> => {
    const out = await send('decrypt', () =>
      client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ciphertext.data, ...ctx(context), ...grants })),
    );
    if (!out.Plaintext) throw kmsFailure('missing Plaintext');
    return new Uint8Array(out.Plaintext);
  };
  const metadata = async (): Promise<KeyMetadata> => {
    const described = await send('describe', () => client.send(new DescribeKeyCommand({ KeyId: keyId, ...grants })));
    const meta = described.KeyMetadata;
    const rotations: Date[] = [];
    let marker: string | undefined;
    do {
      const page = await send('list-rotations', () =>
        client.send(new ListKeyRotationsCommand({ KeyId: keyId, ...(marker ? { Marker: marker } : {}) })),
      );
      for (const r of page.Rotations ?? []) if (r.RotationDate) rotations.push(r.RotationDate);
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    const versions: KeyVersionInfo[] = [
      { version: 1, ...(meta?.CreationDate ? { createdAt: meta.CreationDate } : {}), decryptable: true },
      ...rotations
        .sort((a, b) => a.getTime() - b.getTime())
        .map((d, i) => ({ version: i + 2, createdAt: d, decryptable: true })),
    ];
    return {
      backend: id,
      keyId: meta?.Arn ?? keyId,
      algorithm: meta?.KeySpec ?? 'SYMMETRIC_DEFAULT',
      latestVersion: versions.length,
      minDecryptionVersion: 1,
      versions,
      rotatable: true,
    };
  };

  return {
    id,
    keyId,
    maxPlaintextBytes: AWS_KMS_MAX_PLAINTEXT_BYTES,
    encrypt,
    decrypt,
    async generateDataKey(context?: EncryptionContext, opts?: GenerateDataKeyOptions): Promise<DataKey> {
      const bytes = dataKeyBytes(opts);
      const out = await send('generate-data-key', () =>
        client.send(
          new GenerateDataKeyCommand({
            KeyId: keyId,
            ...(bytes === 32 ? { KeySpec: 'AES_256' as const } : { NumberOfBytes: bytes }),
            ...ctx(context),
            ...grants,
          }),
        ),
      );
      if (!out.Plaintext) throw kmsFailure('missing Plaintext');
      return { plaintext: new Uint8Array(out.Plaintext), ciphertext: wrap(out.CiphertextBlob) };
    },
    async rewrap(ciphertext: BackendCiphertext, context?: EncryptionContext): Promise<BackendCiphertext> {
      // ReEncrypt runs inside KMS: the plaintext never reaches this process.
      const c = ctx(context).EncryptionContext;
      const out = await send('re-encrypt', () =>
        client.send(
          new ReEncryptCommand({
            CiphertextBlob: ciphertext.data,
            SourceKeyId: keyId,
            DestinationKeyId: keyId,
            ...(c ? { SourceEncryptionContext: c, DestinationEncryptionContext: c } : {}),
            ...grants,
          }),
        ),
      );
      return wrap(out.CiphertextBlob);
    },
    async rotate(): Promise<KeyMetadata> {
      await send('rotate', () => client.send(new RotateKeyOnDemandCommand({ KeyId: keyId })));
      return metadata();
    },
    metadata,
    async setMinDecryptionVersion(): Promise<void> {
      throw clientError('ERR_KMS_UNSUPPORTED', 'AWS KMS has no minimum decryption version');
    },
    health(): Promise<HealthStatus> {
      return measureHealth(id, async () => {
        const out = await send('describe', () => client.send(new DescribeKeyCommand({ KeyId: keyId, ...grants })));
        if (out.KeyMetadata?.Enabled === false) throw clientError('ERR_KMS_BACKEND_FAILURE', 'the key is disabled');
      });
    },
  };
}

function kmsFailure(reason: string): KmsError {
  return new KmsError('AWS KMS answered in an unexpected shape', {
    code: 'ERR_KMS_BACKEND_FAILURE',
    fault: 'server',
    details: { reason },
  });
}

async function send<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KmsError) throw err;
    const name = (err as { name?: unknown }).name;
    const awsError = typeof name === 'string' ? name : 'Error';
    const code = mapAwsError(awsError);
    // No `cause`: SDK errors carry request metadata we do not want in logs; the name says enough.
    throw new KmsError(`AWS KMS ${op} failed`, {
      code,
      fault: code === 'ERR_KMS_BACKEND_UNAVAILABLE' || code === 'ERR_KMS_BACKEND_FAILURE' ? 'server' : 'client',
      retryable: code === 'ERR_KMS_BACKEND_UNAVAILABLE',
      details: { backend: 'aws', op, awsError },
    });
  }
}

function mapAwsError(name: string): KmsErrorCode {
  switch (name) {
    case 'InvalidCiphertextException':
      return 'ERR_KMS_DECRYPT_FAILED';
    case 'IncorrectKeyException':
      return 'ERR_KMS_NO_MATCHING_KEY';
    case 'NotFoundException':
      return 'ERR_KMS_KEY_NOT_FOUND';
    case 'AccessDeniedException':
    // The caller's credentials: a wrong secret key, an unknown access key, an expired session.
    case 'InvalidSignatureException':
    case 'UnrecognizedClientException':
    case 'IncompleteSignatureException':
    case 'ExpiredTokenException':
      return 'ERR_KMS_ACCESS_DENIED';
    case 'InvalidKeyUsageException':
    case 'ValidationException':
    case 'InvalidGrantTokenException':
      return 'ERR_KMS_INVALID_OPTIONS';
    case 'ThrottlingException':
    case 'LimitExceededException':
    case 'KMSInternalException':
    case 'DependencyTimeoutException':
    case 'KeyUnavailableException':
    case 'TimeoutError':
    case 'RequestTimeout':
      return 'ERR_KMS_BACKEND_UNAVAILABLE';
    default:
      return 'ERR_KMS_BACKEND_FAILURE';
  }
}
