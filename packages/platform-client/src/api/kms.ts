import { type NamedSchema, s } from '../schema.js';
import { base64, type Route, routeBuilder } from './common.js';

/**
 * Encryption context: additional authenticated data bound to the ciphertext.
 * Decryption must present the same context.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

/** Body of `POST /api/v1/kms/encrypt` (field names designed: base64 `plaintext` plus `context`). */
export interface EncryptRequest {
  /** Base64 of the bytes to encrypt. Never logged. */
  readonly plaintext: string;
  readonly context?: EncryptionContext;
  /** Key to use; the backend's default when absent. */
  readonly key_id?: string;
}
/** Answer of encrypt. */
export interface EncryptResponse {
  /** Opaque ciphertext (backend-specific, ASCII). */
  readonly ciphertext: string;
  readonly key_id: string;
}
/** Body of `POST /api/v1/kms/decrypt`. */
export interface DecryptRequest {
  readonly ciphertext: string;
  readonly context?: EncryptionContext;
}
/** Answer of decrypt. */
export interface DecryptResponse {
  /** Base64 of the decrypted bytes. Never logged. */
  readonly plaintext: string;
  readonly key_id: string;
}
/** Data key specs of `generate-key`. */
export type DataKeySpec = 'AES_256' | 'AES_128';
/** Body of `POST /api/v1/kms/generate-key`. */
export interface GenerateKeyRequest {
  readonly spec: DataKeySpec;
  readonly context?: EncryptionContext;
}
/** Answer of generate-key: the data key in the clear (base64) and wrapped. */
export interface GenerateKeyResponse {
  /** Base64 data key: use it, then drop it. Never logged. */
  readonly plaintext: string;
  /** The same key encrypted under the master key: store this. */
  readonly ciphertext: string;
  readonly key_id: string;
}
/** `GET /api/v1/kms/status`. */
export interface KmsStatus {
  /** `age`, `aws`, `vault`, `cosmian`, `local` … */
  readonly backend: string;
  readonly key_id: string;
  readonly healthy: boolean;
  readonly version?: string;
}
/** `GET /api/v1/kms/health`. */
export interface KmsHealth {
  readonly status: 'healthy' | 'degraded' | 'unhealthy';
  readonly backend: string;
}

const context = s.optional(s.record(s.string()));

/** Schema of {@link EncryptRequest}. */
export const EncryptRequestSchema: NamedSchema<EncryptRequest> = s.named(
  'EncryptRequest',
  s.object({ plaintext: base64, context, key_id: s.optional(s.string()) }),
);
/** Schema of {@link EncryptResponse}. */
export const EncryptResponseSchema: NamedSchema<EncryptResponse> = s.named(
  'EncryptResponse',
  s.object({ ciphertext: s.string(), key_id: s.string() }),
);
/** Schema of {@link DecryptRequest}. */
export const DecryptRequestSchema: NamedSchema<DecryptRequest> = s.named(
  'DecryptRequest',
  s.object({ ciphertext: s.string(), context }),
);
/** Schema of {@link DecryptResponse}. */
export const DecryptResponseSchema: NamedSchema<DecryptResponse> = s.named(
  'DecryptResponse',
  s.object({ plaintext: base64, key_id: s.string() }),
);
/** Schema of {@link GenerateKeyRequest}. */
export const GenerateKeyRequestSchema: NamedSchema<GenerateKeyRequest> = s.named(
  'GenerateKeyRequest',
  s.object({ spec: s.literal('AES_256', 'AES_128'), context }),
);
/** Schema of {@link GenerateKeyResponse}. */
export const GenerateKeyResponseSchema: NamedSchema<GenerateKeyResponse> = s.named(
  'GenerateKeyResponse',
  s.object({ plaintext: base64, ciphertext: s.string(), key_id: s.string() }),
);
/** Schema of {@link KmsStatus}. */
export const KmsStatusSchema: NamedSchema<KmsStatus> = s.named(
  'KmsStatus',
  s.object({ backend: s.string(), key_id: s.string(), healthy: s.boolean(), version: s.optional(s.string()) }),
);
/** Schema of {@link KmsHealth}. */
export const KmsHealthSchema: NamedSchema<KmsHealth> = s.named(
  'KmsHealth',
  s.object({ status: s.literal('healthy', 'degraded', 'unhealthy'), backend: s.string() }),
);

/** Names of the KMS service's routes. */
export type KmsRouteId = 'encrypt' | 'decrypt' | 'generateKey' | 'status' | 'health';

const r = routeBuilder<KmsRouteId>('kms', {
  origin: 'known',
  auth: true,
  envelope: true,
  // encrypt/decrypt/generate-key have no side effect beyond their answer: safe to retry.
  idempotent: true,
});

/** Every KMS service route (paths known; bodies designed). */
export const KMS_ROUTES: Readonly<Record<KmsRouteId, Route>> = Object.freeze({
  encrypt: r('encrypt', 'POST', '/api/v1/kms/encrypt', 'Encrypt with context as AAD', EncryptResponseSchema, {
    request: EncryptRequestSchema,
  }),
  decrypt: r('decrypt', 'POST', '/api/v1/kms/decrypt', 'Decrypt with the same context', DecryptResponseSchema, {
    request: DecryptRequestSchema,
  }),
  generateKey: r('generateKey', 'POST', '/api/v1/kms/generate-key', 'Generate a data key', GenerateKeyResponseSchema, {
    request: GenerateKeyRequestSchema,
  }),
  status: r('status', 'GET', '/api/v1/kms/status', 'Backend and key status', KmsStatusSchema),
  health: r('health', 'GET', '/api/v1/kms/health', 'Liveness', KmsHealthSchema, { auth: false }),
});
