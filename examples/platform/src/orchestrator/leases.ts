import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock } from '@provisioning/core';
import {
  createLeaseManager,
  createTtlManager,
  type Lease,
  type LeaseEvent,
  type LeaseManager,
  type SecretProvider,
  type TtlManager,
} from '@provisioning/secrets';
import { sqlLeaseStore } from '@provisioning/secrets/sql';
import {
  createSshCertificateAuthority,
  createSshOtp,
  deployAuthorizedKey,
  generateSshKeyPair,
  removeAuthorizedKey,
  type SshCertificateAuthority,
  sshCertificateProvider,
  sshOtpProvider,
} from '@provisioning/secrets/ssh';
import type { UpCloudProviderOptions } from '@provisioning/secrets/upcloud';
import type { Platform } from '../kit/platform.js';
import { loadOrCreateSecret } from '../kit/secrets-dir.js';

/** Secret-free tags kept with a lease (its metadata): which API made it, for whom, where. */
export type LeaseTags = Readonly<Record<string, string>>;

/** A provider's request plus the tags to keep with its lease. */
export interface Tagged<R> {
  readonly request: R;
  readonly tags: LeaseTags;
}

/**
 * Wraps a provider so a lease keeps the API's tags (type, workspace, server,
 * user …) in its metadata beside the provider's own, plus anything public
 * derived from the secret (a public key). Renewal and revocation go to the
 * provider unchanged.
 */
function tagged<R, S>(
  provider: SecretProvider<R, S>,
  derive: (secret: S) => LeaseTags = () => ({}),
): SecretProvider<Tagged<R>, S> {
  return {
    name: provider.name,
    async create(input, ctx) {
      const result = await provider.create(input.request, ctx);
      return { ...result, metadata: { ...result.metadata, ...input.tags, ...derive(result.secret) } };
    },
    ...(provider.renew === undefined
      ? {}
      : {
          renew: (lease: Lease, ctx: Parameters<NonNullable<typeof provider.renew>>[1]) =>
            provider.renew?.(lease, ctx) as never,
        }),
    revoke: (lease, ctx) => provider.revoke(lease, ctx),
  };
}

/** A generated key pair, handed over once. */
interface KeyPairSecret {
  readonly publicKey: string;
  readonly privateKey: string;
  readonly fingerprint: string;
}

/** Options of {@link createLeases}. */
export interface LeasesOptions {
  /** Where `deploy` writes authorized_keys files: `<dir>/<server>/<user>`. Default `<dataDir>/ssh/authorized_keys`. */
  readonly authorizedKeysDir?: string;
  /** AWS region of the STS provider; without it, `aws_sts` is not offered. */
  readonly awsRegion?: string;
  /** Vault address and token of the Vault provider; without them, `vault` is not offered. */
  readonly vault?: { readonly address: string; readonly token: string; readonly namespace?: string };
  /** UpCloud API and main-account credentials of the subaccount provider; without them, `upcloud` is not offered. */
  readonly upcloud?: Omit<UpCloudProviderOptions, 'name' | 'fetch' | 'random'>;
  /** How often expired leases are revoked, ms. Default 300,000 (5 min, the platform's cleanup interval). */
  readonly sweepIntervalMs?: number;
}

/** The orchestrator's dynamic secrets: one lease manager, its providers and the TTL sweeper. */
export interface Leases {
  readonly manager: LeaseManager;
  readonly sweeper: TtlManager;
  readonly ca: SshCertificateAuthority;
  /** Registered providers by name (`secret-ssh-key`, `ssh-dynamic`, `ssh-ca`, `ssh-otp`, `aws-sts`, `vault`, `upcloud`). */
  readonly providers: ReadonlyMap<string, SecretProvider<Tagged<any>, any>>;
  /** The authorized_keys file of a user at a server. */
  authorizedKeysFile(server: string, user: string): string;
  close(): Promise<void>;
}

const SAFE = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Builds the lease manager over the platform's SQL database (leases survive
 * restarts and are shared by instances: a lease expired while the process was
 * down is revoked by the next sweep), with the embedded providers — SSH key
 * pairs for `/api/v1/secrets`, temporal SSH keys deployed to authorized_keys
 * files, certificates from an Ed25519 CA generated on first start
 * (`<dataDir>/keys/ssh-ca`, mode 0600), OTPs in the hot store — and AWS STS,
 * Vault and UpCloud subaccounts when configured. Every lease event goes to
 * the audit log.
 */
export async function createLeases(platform: Platform, options: LeasesOptions = {}): Promise<Leases> {
  const dir = options.authorizedKeysDir ?? join(platform.dataDir, 'ssh', 'authorized_keys');
  const authorizedKeysFile = (server: string, user: string): string => {
    // Both come from validated requests; checked again here because they become a path.
    if (!SAFE.test(server) || !SAFE.test(user) || server.startsWith('.') || user.startsWith('.')) {
      throw new Error('unsafe server or user name');
    }
    return join(dir, server, user);
  };
  const caKey = loadOrCreateSecret(
    join(platform.dataDir, 'keys', 'ssh-ca'),
    () => generateSshKeyPair({ comment: 'provisioning-ssh-ca' }).privateKey,
  );
  const ca = createSshCertificateAuthority({ privateKey: caKey, clock: platform.clock });

  const keyPair = (name: string): SecretProvider<{ comment?: string }, KeyPairSecret> => ({
    name,
    async create(request) {
      const pair = generateSshKeyPair({ ...(request?.comment === undefined ? {} : { comment: request.comment }) });
      return {
        secret: { publicKey: pair.publicKey, privateKey: pair.privateKey, fingerprint: pair.fingerprint },
        metadata: { fingerprint: pair.fingerprint },
      };
    },
    async revoke(lease) {
      // A temporal key may have been deployed: take it out of its file (sshd's expiry-time would refuse it anyway).
      const { server, user } = lease.metadata;
      if (server !== undefined && user !== undefined)
        await removeAuthorizedKey(authorizedKeysFile(server, user), lease.id).catch(() => undefined);
    },
  });
  const publicKey = (secret: KeyPairSecret): LeaseTags => ({ publicKey: secret.publicKey });
  const providers: Array<SecretProvider<Tagged<any>, any>> = [
    tagged(keyPair('secret-ssh-key'), publicKey),
    tagged(keyPair('ssh-dynamic'), publicKey),
    tagged(
      sshCertificateProvider({ ca, name: 'ssh-ca' }),
      (s): LeaseTags => (s.keyPair === undefined ? {} : { publicKey: s.keyPair.publicKey }),
    ),
    tagged(sshOtpProvider(createSshOtp({ store: platform.hot, clock: platform.clock, ttlSeconds: 900 }), 'ssh-otp')),
  ];
  if (options.awsRegion !== undefined) {
    const [{ STSClient }, { awsStsProvider }] = await Promise.all([
      import('@aws-sdk/client-sts'),
      import('@provisioning/secrets/aws'),
    ]);
    providers.push(tagged(awsStsProvider({ client: new STSClient({ region: options.awsRegion }), name: 'aws-sts' })));
  }
  if (options.vault !== undefined) {
    const { vaultDynamicSecretsProvider } = await import('@provisioning/secrets/vault');
    providers.push(
      tagged(
        vaultDynamicSecretsProvider({
          address: options.vault.address,
          token: options.vault.token,
          ...(options.vault.namespace === undefined ? {} : { namespace: options.vault.namespace }),
          name: 'vault',
        }),
      ),
    );
  }
  if (options.upcloud !== undefined) {
    const { upCloudSubaccountProvider } = await import('@provisioning/secrets/upcloud');
    providers.push(tagged(upCloudSubaccountProvider({ ...options.upcloud, name: 'upcloud' })));
  }

  const audit = (event: LeaseEvent): void => {
    const action =
      event.type === 'lease.created'
        ? 'secrets.lease.created'
        : event.type === 'lease.renewed'
          ? 'secrets.lease.renewed'
          : event.type === 'lease.revoked'
            ? event.reason === 'expired'
              ? 'secrets.lease.expired'
              : 'secrets.lease.revoked'
            : undefined;
    if (action === undefined) {
      platform.logger.warn(
        { event: event.type, lease: event.leaseId, code: (event as { code?: string }).code },
        'lease failure',
      );
      return;
    }
    void platform.auditLog
      .record({
        action,
        outcome: 'success',
        actor: event.type === 'lease.created' ? { id: event.owner, type: 'user' } : { id: 'system', type: 'system' },
        resource: { type: 'secret_lease', id: event.leaseId },
        metadata: {
          provider: event.provider,
          ...('expiresAt' in event ? { expiresAt: event.expiresAt.toISOString() } : {}),
        },
      })
      .catch((error: unknown) =>
        platform.logger.error({ err: { code: (error as { code?: unknown })?.code } }, 'audit record failed'),
      );
  };

  const manager = createLeaseManager({
    store: await sqlLeaseStore({ database: platform.database }),
    providers,
    clock: platform.clock,
    maxTtlSeconds: 86_400,
    onEvent: audit,
  });
  const sweeper = createTtlManager({
    leases: manager,
    intervalMs: options.sweepIntervalMs ?? 300_000,
    onError: (error) =>
      platform.logger.error({ err: { code: (error as { code?: unknown })?.code } }, 'lease sweep failed'),
  });
  sweeper.start();
  return {
    manager,
    sweeper,
    ca,
    providers: new Map(providers.map((p) => [p.name, p])),
    authorizedKeysFile,
    close: () => sweeper.stop(),
  };
}

/** Deploys a temporal key's public key to its server's authorized_keys file until the lease expires. */
export async function deployKey(leases: Leases, lease: Lease): Promise<void> {
  const { server, user, publicKey } = lease.metadata;
  if (server === undefined || user === undefined || publicKey === undefined)
    throw new Error('the lease has no key to deploy');
  const file = leases.authorizedKeysFile(server, user);
  // One directory per server, private to the platform (sshd reads it as the file's owner or root).
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  await deployAuthorizedKey({
    file,
    publicKey,
    expiresAt: lease.expiresAt,
    leaseId: lease.id,
  });
}

export type { Clock };
