import { clientError } from '../errors.js';
import type { Lease } from '../lease.js';
import type { SecretProvider } from '../provider.js';
import { synchronousLocalProvider } from '../provider.js';
import type {
  SshCertificate,
  SshCertificateAuthority,
  SshCertificateExtension,
  SshCertificateType,
  SshCriticalOptions,
} from './ca.js';
import type { Ed25519Engine } from './ed25519.js';
import { generateSshKeyPair, type SshKeyPair } from './keys.js';

/** What the SSH certificate provider takes. */
export interface SshCertificateLeaseRequest {
  /** Principals (user or host names); at least one. */
  readonly principals: readonly string[];
  /** The subject's public key. Omit to have a fresh Ed25519 pair generated. */
  readonly publicKey?: string;
  /** Default `user`. */
  readonly type?: SshCertificateType;
  readonly extensions?: readonly SshCertificateExtension[];
  readonly criticalOptions?: SshCriticalOptions;
}

/** What the SSH certificate provider returns. */
export interface SshCertificateSecret extends SshCertificate {
  /** The generated key pair, when no public key was given (its private key is only in memory). */
  readonly keyPair: SshKeyPair | undefined;
}

/** Options of {@link sshCertificateProvider}. */
export interface SshCertificateProviderOptions {
  readonly ca: SshCertificateAuthority;
  /** Provider name. Default `ssh-cert`. */
  readonly name?: string;
  /** Engine for generated key pairs. Default `nodeEd25519`. */
  readonly engine?: Ed25519Engine;
  /**
   * Called when a lease is revoked before its certificate expires, with the
   * certificate's serial and key id: add them to a KRL (`RevokedKeys` in
   * sshd) if early revocation matters. Certificates cannot be recalled
   * otherwise; they expire by themselves.
   */
  readonly onRevoke?: (revoked: {
    readonly serial: string;
    readonly keyId: string;
    readonly lease: Lease;
  }) => Promise<void>;
}

/**
 * A lease provider issuing SSH certificates valid exactly for the lease's
 * TTL (validity is fixed in the certificate: these leases are not renewable).
 * The lease id is the certificate's key id, so sshd's log names the lease.
 *
 * @example
 * ```ts
 * const certs = sshCertificateProvider({ ca });
 * const leases = createLeaseManager({ store, providers: [certs] });
 * const { secret } = await leases.issue(certs, { principals: ['deploy'] }, { owner: 'alice', ttlSeconds: 900 });
 * writeFileSync('id-cert.pub', secret.certificate);
 * ```
 */
export function sshCertificateProvider(
  options: SshCertificateProviderOptions,
): SecretProvider<SshCertificateLeaseRequest, SshCertificateSecret> {
  if (typeof options?.ca?.issue !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'sshCertificateProvider needs a certificate authority');
  }
  const { ca, engine, onRevoke } = options;
  // The key pair and the certificate are made in memory (nothing to clean up
  // after a crash) and synchronously: the manager calls createNow directly.
  return synchronousLocalProvider({
    name: options.name ?? 'ssh-cert',
    createNow(request, ctx) {
      const keyPair =
        request?.publicKey === undefined ? generateSshKeyPair({ comment: ctx.leaseId, engine }) : undefined;
      const cert = ca.issue({
        publicKey: keyPair ?? (request.publicKey as string),
        principals: request?.principals,
        type: request.type ?? 'user',
        keyId: ctx.leaseId,
        validitySeconds: ctx.ttlSeconds,
        // Absent ones (undefined or null) take the CA's defaults.
        extensions: request.extensions,
        criticalOptions: request.criticalOptions,
      });
      return {
        // Field by field: V8 gives each frozen spread copy a hidden class of its own.
        secret: Object.freeze({
          certificate: cert.certificate,
          type: cert.type,
          principals: cert.principals,
          keyId: cert.keyId,
          serial: cert.serial,
          validAfter: cert.validAfter,
          validBefore: cert.validBefore,
          keyFingerprint: cert.keyFingerprint,
          keyPair,
        } satisfies SshCertificateSecret),
        metadata: {
          serial: cert.serial,
          keyId: cert.keyId,
          fingerprint: cert.keyFingerprint,
          principals: cert.principals.join(','),
        },
      };
    },
    async revoke(lease) {
      const serial = lease.metadata.serial;
      if (onRevoke !== undefined && serial !== undefined) {
        await onRevoke({ serial, keyId: lease.metadata.keyId ?? lease.id, lease });
      }
    },
  });
}

/**
 * A lease provider that only generates Ed25519 key pairs (to deploy
 * elsewhere). Revocation forgets nothing server-side: pair it with
 * {@link authorizedKeysProvider} or certificates to grant access.
 *
 * @example
 * ```ts
 * const pairs = sshKeyPairProvider();
 * const { secret } = await leases.issue(pairs, { comment: 'ci' }, { owner: 'ci', ttlSeconds: 600 });
 * ```
 */
export function sshKeyPairProvider(
  options: { readonly name?: string; readonly engine?: Ed25519Engine } = {},
): SecretProvider<{ readonly comment?: string }, SshKeyPair> {
  // The pair is made in memory, synchronously, and lives only in the caller's hands.
  return synchronousLocalProvider({
    name: options.name ?? 'ssh-key',
    createNow(request) {
      const pair = generateSshKeyPair({
        ...(request?.comment !== undefined ? { comment: request.comment } : {}),
        ...(options.engine ? { engine: options.engine } : {}),
      });
      return { secret: pair, metadata: { fingerprint: pair.fingerprint } };
    },
    async revoke() {
      // The pair lives only in the caller's memory; nothing to take back here.
    },
  });
}
