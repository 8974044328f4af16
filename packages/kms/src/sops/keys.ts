import { ageDecrypt, ageEncrypt } from '../age.js';
import type { KmsBackend } from '../backend.js';
import { clientError } from '../errors.js';

/** One master-key entry of the `sops` metadata block (`age`, `kms` or `hc_vault` item), as sops writes it. */
export type SopsKeyEntry = Readonly<Record<string, unknown>>;

/** The sections of the `sops` block this package reads and writes. */
export type SopsKeySection = 'age' | 'kms' | 'hc_vault';

/**
 * A source of master keys for SOPS files: wraps the data key into metadata
 * entries and unwraps entries it recognises.
 */
export interface SopsKeySource {
  /** The metadata section its entries go to. */
  readonly section: SopsKeySection;
  /** Wraps `dataKey` into new entries (one per recipient/key). */
  wrap(dataKey: Uint8Array, now: Date): Promise<SopsKeyEntry[]>;
  /** Unwraps an entry of its section, or resolves `null` when it cannot (not its key). */
  unwrap(entry: SopsKeyEntry): Promise<Uint8Array | null>;
  /** Whether `entry` belongs to this source (used by `rotate` to re-wrap and by `updatekeys`). */
  matches(entry: SopsKeyEntry): boolean;
}

/** Options of {@link sopsAge}. */
export interface SopsAgeOptions {
  /** Recipients to encrypt the data key to (`age1…`). */
  readonly recipients?: readonly string[];
  /** Identities to decrypt with (`AGE-SECRET-KEY-1…`). */
  readonly identities?: readonly string[];
}

/** Go's `time.RFC3339` in UTC, as sops writes `created_at` and `lastmodified`. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * age master keys: each recipient gets an entry `{ recipient, enc }` where
 * `enc` is an armored age file holding the raw 32-byte data key, as sops does.
 *
 * @example
 * ```ts
 * const keys = [sopsAge({ recipients: ['age1…'], identities: [process.env.SOPS_AGE_KEY!] })];
 * ```
 */
export function sopsAge(options: SopsAgeOptions): SopsKeySource {
  const recipients = [...(options.recipients ?? [])];
  const identities = [...(options.identities ?? [])];
  return {
    section: 'age',
    async wrap(dataKey: Uint8Array): Promise<SopsKeyEntry[]> {
      const entries: SopsKeyEntry[] = [];
      for (const recipient of recipients) {
        const enc = Buffer.from(await ageEncrypt(dataKey, { recipients: [recipient], armor: true })).toString('utf8');
        entries.push({ recipient, enc });
      }
      return entries;
    },
    async unwrap(entry: SopsKeyEntry): Promise<Uint8Array | null> {
      if (identities.length === 0 || typeof entry.enc !== 'string') return null;
      try {
        return await ageDecrypt(Buffer.from(entry.enc, 'utf8'), { identities });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_KMS_NO_MATCHING_KEY') return null;
        throw err;
      }
    },
    matches(entry: SopsKeyEntry): boolean {
      return typeof entry.recipient === 'string' && recipients.includes(entry.recipient);
    },
  };
}

/** Options of {@link sopsAwsKms}. */
export interface SopsAwsKmsOptions {
  /** A backend from `@provisioning/kms/aws` for this key. */
  readonly backend: KmsBackend;
  /** The key ARN written into the entry (default: the backend's key id). */
  readonly arn?: string;
  /** Encryption context (sops `context`), bound by KMS. */
  readonly context?: Readonly<Record<string, string>>;
  /** sops `role` (written, not assumed: give the backend a client with the right credentials). */
  readonly role?: string;
  /** sops `aws_profile` (written as is). */
  readonly awsProfile?: string;
}

/**
 * AWS KMS master keys: `{ arn, context?, role?, created_at, enc, aws_profile }`
 * where `enc` is the base64 CiphertextBlob of the data key.
 *
 * @example
 * ```ts
 * sopsAwsKms({ backend: awsKmsBackend({ client, keyId: arn }), context: { app: 'api' } });
 * ```
 */
export function sopsAwsKms(options: SopsAwsKmsOptions): SopsKeySource {
  const arn = options.arn ?? options.backend.keyId;
  const context = options.context && Object.keys(options.context).length > 0 ? { ...options.context } : undefined;
  return {
    section: 'kms',
    async wrap(dataKey: Uint8Array, now: Date): Promise<SopsKeyEntry[]> {
      const ct = await options.backend.encrypt(dataKey, context);
      return [
        {
          arn,
          ...(options.role ? { role: options.role } : {}),
          ...(context ? { context } : {}),
          created_at: rfc3339(now),
          enc: Buffer.from(ct.data).toString('base64'),
          aws_profile: options.awsProfile ?? '',
        },
      ];
    },
    async unwrap(entry: SopsKeyEntry): Promise<Uint8Array | null> {
      if (entry.arn !== arn || typeof entry.enc !== 'string') return null;
      const ctx =
        entry.context && typeof entry.context === 'object' ? (entry.context as Record<string, string>) : undefined;
      return options.backend.decrypt(
        { backend: options.backend.id, keyId: arn, keyVersion: 0, data: Buffer.from(entry.enc, 'base64') },
        ctx,
      );
    },
    matches(entry: SopsKeyEntry): boolean {
      return entry.arn === arn;
    },
  };
}

/** Options of {@link sopsVault}. */
export interface SopsVaultOptions {
  /** A Vault Transit backend from `@provisioning/kms/vault`. */
  readonly backend: KmsBackend;
  /** `vault_address` written into the entry, e.g. `https://vault.example:8200`. */
  readonly address: string;
  /** `engine_path`, the Transit mount. Default `transit`. */
  readonly enginePath?: string;
  /** `key_name`. Default: the backend's key id. */
  readonly keyName?: string;
}

/**
 * Vault Transit master keys: `{ vault_address, engine_path, key_name, created_at, enc }`
 * where `enc` is the Transit ciphertext (`vault:vN:…`) of the data key.
 *
 * @example
 * ```ts
 * sopsVault({ backend: vaultTransitBackend({ address, token, keyName: 'sops' }), address });
 * ```
 */
export function sopsVault(options: SopsVaultOptions): SopsKeySource {
  const enginePath = options.enginePath ?? 'transit';
  const keyName = options.keyName ?? options.backend.keyId;
  if (!options.address) throw clientError('ERR_KMS_INVALID_OPTIONS', 'sopsVault needs the vault address');
  const mine = (entry: SopsKeyEntry): boolean =>
    entry.key_name === keyName && entry.engine_path === enginePath && entry.vault_address === options.address;
  return {
    section: 'hc_vault',
    async wrap(dataKey: Uint8Array, now: Date): Promise<SopsKeyEntry[]> {
      const ct = await options.backend.encrypt(dataKey);
      return [
        {
          vault_address: options.address,
          engine_path: enginePath,
          key_name: keyName,
          created_at: rfc3339(now),
          enc: Buffer.from(ct.data).toString('utf8'),
        },
      ];
    },
    async unwrap(entry: SopsKeyEntry): Promise<Uint8Array | null> {
      if (!mine(entry) || typeof entry.enc !== 'string') return null;
      return options.backend.decrypt({
        backend: options.backend.id,
        keyId: keyName,
        keyVersion: 0,
        data: Buffer.from(entry.enc, 'utf8'),
      });
    },
    matches: mine,
  };
}
