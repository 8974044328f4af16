import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '@provisioning/core';
import { createEnvelope, type EncryptionContext, type Envelope, type KmsBackend } from '@provisioning/kms';
import { ageBackend } from '@provisioning/kms/age';
import { type AgeKeyInfo, type AgeKeyring, openAgeKeyring } from './keyring.js';

/** What the routes need from the KMS: base64 in, base64 out, no key material. */
export interface KmsCore {
  readonly backendName: string;
  currentKeyId(): string;
  keys(): readonly AgeKeyInfo[];
  algorithm(): Promise<string>;
  health(): Promise<{ ok: boolean }>;
  encrypt(plaintext: Uint8Array, context?: EncryptionContext): Promise<{ ciphertext: string; keyId: string }>;
  decrypt(ciphertext: string, context?: EncryptionContext): Promise<{ plaintext: Uint8Array; keyId: string }>;
  rewrap(ciphertext: string, context?: EncryptionContext): Promise<{ ciphertext: string; keyId: string }>;
  generateDataKey(
    bytes: 16 | 32,
    context?: EncryptionContext,
  ): Promise<{ plaintext: Buffer; ciphertext: string; keyId: string }>;
  rotate(): Promise<AgeKeyInfo>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A ciphertext the caller sent that is not even base64: the same answer as a malformed envelope. */
export class InvalidCiphertext extends Error {
  readonly code = 'INVALID_CIPHERTEXT';
}

/**
 * The KMS over the age backend and kms's envelope encryption. The age
 * identity is generated on first start under `<dataDir>/keys/kms-age.txt`
 * (0600, written atomically). Ciphertexts are the envelope bytes in base64;
 * the context is bound as the envelope's context (age itself has no AAD, so
 * kms binds its digest inside the payload and in every chunk's AAD).
 */
export async function createKmsCore(dataDir: string, clock: Clock): Promise<KmsCore> {
  const keyring = await openAgeKeyring(join(dataDir, 'keys', 'kms-age.txt'), clock);
  const make = async (ring: AgeKeyring): Promise<{ backend: KmsBackend; envelope: Envelope }> => {
    const current = ring.current().keyId;
    // Every identity decrypts; only the newest recipient encrypts.
    const backend = await ageBackend({ identities: [...ring.identities()], recipients: [current], keyId: current });
    return { backend, envelope: createEnvelope({ backends: [backend], cache: { maxAgeMs: 300_000 }, clock }) };
  };
  let state = await make(keyring);
  const decode = (ciphertext: string): Uint8Array => {
    if (ciphertext.length === 0 || !BASE64.test(ciphertext)) throw new InvalidCiphertext('not base64');
    return new Uint8Array(Buffer.from(ciphertext, 'base64'));
  };
  const firstKey = (bytes: Uint8Array): string => state.envelope.inspect(bytes).keys[0]?.keyId ?? state.backend.keyId;
  return {
    backendName: 'age',
    currentKeyId: () => state.backend.keyId,
    keys: () => keyring.keys(),
    algorithm: async () => (await state.backend.metadata()).algorithm,
    health: () => state.backend.health(),
    async encrypt(plaintext, context) {
      const out = await state.envelope.encrypt(plaintext, context);
      return { ciphertext: Buffer.from(out).toString('base64'), keyId: state.backend.keyId };
    },
    async decrypt(ciphertext, context) {
      const bytes = decode(ciphertext);
      const plaintext = await state.envelope.decrypt(bytes, context);
      return { plaintext, keyId: firstKey(bytes) };
    },
    async rewrap(ciphertext, context) {
      // dropUnknown: the rewrapped ciphertext carries only the current key's entry.
      const out = await state.envelope.rewrap(decode(ciphertext), context, { dropUnknown: true });
      return { ciphertext: Buffer.from(out).toString('base64'), keyId: state.backend.keyId };
    },
    async generateDataKey(bytes, context) {
      const plaintext = randomBytes(bytes);
      const out = await state.envelope.encrypt(plaintext, context);
      return { plaintext, ciphertext: Buffer.from(out).toString('base64'), keyId: state.backend.keyId };
    },
    async rotate() {
      const info = await keyring.rotate();
      const next = await make(keyring);
      state.envelope.clearCache(); // zeroes the data keys cached under the old key
      state = next;
      return info;
    },
  };
}
