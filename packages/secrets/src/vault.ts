/**
 * HashiCorp Vault (or OpenBao) dynamic secrets over HTTP: a lease-backed read
 * of a secrets-engine path, renewed and revoked through Vault's lease API.
 *
 * @module
 */
import { clientError, SecretsError } from './errors.js';
import type { FetchLike } from './http.js';
import { requestJson } from './http.js';
import type { SecretProvider } from './provider.js';

/** Options of {@link vaultDynamicSecretsProvider}. */
export interface VaultProviderOptions {
  /** Vault's address, e.g. `https://vault.internal:8200`. */
  readonly address: string;
  /** A Vault token allowed to read the paths and use `sys/leases/renew` and `sys/leases/revoke`; or a function returning one. */
  readonly token: string | (() => Promise<string>);
  /** Vault Enterprise namespace (`X-Vault-Namespace`). */
  readonly namespace?: string;
  /** Provider name. Default `vault`. */
  readonly name?: string;
  /** Default: the global `fetch`. */
  readonly fetch?: FetchLike;
}

/** What the Vault provider takes: the path to read, e.g. `database/creds/readonly`. */
export interface VaultReadRequest {
  readonly path: string;
}

/** A Vault dynamic secret. */
export interface VaultSecret {
  /** The secret's data (e.g. `{ username, password }`). */
  readonly data: Readonly<Record<string, unknown>>;
  /** Vault's own lease id (e.g. `database/creds/readonly/abc…`). */
  readonly vaultLeaseId: string;
  /** Vault's lease duration, in seconds. */
  readonly leaseDurationSeconds: number;
  readonly renewable: boolean;
}

const PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.@=:-]+)*$/;

interface VaultLeaseResponse {
  lease_id?: unknown;
  lease_duration?: unknown;
  renewable?: unknown;
  data?: unknown;
}

/**
 * A lease provider of Vault dynamic secrets: `GET /v1/<path>` (a lease-backed
 * read, e.g. `database/creds/<role>`, `aws/creds/<role>`), renewed with
 * `PUT /v1/sys/leases/renew` (`{ lease_id, increment }`) and revoked with
 * `PUT /v1/sys/leases/revoke` (`{ lease_id }`). The platform lease never
 * outlives Vault's lease: it is shortened to Vault's `lease_duration`.
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_OPTIONS` for a bad address or token.
 * @example
 * ```ts
 * import { vaultDynamicSecretsProvider } from '@provisioning/secrets/vault';
 * const vault = vaultDynamicSecretsProvider({ address: 'https://vault:8200', token });
 * const { secret } = await leases.issue(vault, { path: 'database/creds/readonly' }, { owner: 'alice', ttlSeconds: 3600 });
 * ```
 */
export function vaultDynamicSecretsProvider(
  options: VaultProviderOptions,
): SecretProvider<VaultReadRequest, VaultSecret> {
  let base: URL;
  try {
    base = new URL(options?.address);
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error('protocol');
  } catch {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'address must be an http(s) URL');
  }
  if (typeof options.token !== 'string' && typeof options.token !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'a Vault token is required');
  }
  const name = options.name ?? 'vault';
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const root = base.toString().replace(/\/+$/, '');
  const headers = async (): Promise<Record<string, string>> => ({
    'x-vault-token': typeof options.token === 'string' ? options.token : await options.token(),
    ...(options.namespace ? { 'x-vault-namespace': options.namespace } : {}),
  });
  const malformed = () =>
    new SecretsError('Vault answered without a lease', {
      code: 'ERR_SECRETS_PROVIDER_FAILED',
      fault: 'server',
      details: { provider: name },
    });

  return {
    name,
    async create(request, ctx) {
      const path = request?.path;
      if (typeof path !== 'string' || !PATH.test(path) || path.split('/').includes('..') || path.startsWith('sys/')) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'path is a Vault secrets path like database/creds/<role>');
      }
      const { body } = await requestJson(fetchImpl, name, `${root}/v1/${path}`, {
        method: 'GET',
        headers: await headers(),
        signal: ctx.signal,
      });
      const b = (body ?? {}) as VaultLeaseResponse;
      if (typeof b.lease_id !== 'string' || b.lease_id === '' || typeof b.lease_duration !== 'number')
        throw malformed();
      const secret: VaultSecret = {
        data: (b.data ?? {}) as Record<string, unknown>,
        vaultLeaseId: b.lease_id,
        leaseDurationSeconds: b.lease_duration,
        renewable: b.renewable === true,
      };
      return {
        secret,
        metadata: { vaultLeaseId: b.lease_id, path },
        expiresAt: new Date(ctx.clock.now() + b.lease_duration * 1000),
      };
    },
    async renew(lease, ctx) {
      const leaseId = lease.metadata.vaultLeaseId;
      if (leaseId === undefined) throw clientError('ERR_SECRETS_LEASE_NOT_RENEWABLE', 'no Vault lease id');
      const { body } = await requestJson(fetchImpl, name, `${root}/v1/sys/leases/renew`, {
        method: 'PUT',
        headers: await headers(),
        body: { lease_id: leaseId, increment: ctx.ttlSeconds },
        signal: ctx.signal,
      });
      const b = (body ?? {}) as VaultLeaseResponse;
      if (typeof b.lease_duration !== 'number') throw malformed();
      // Vault may grant less than asked (its max TTL): the lease follows Vault.
      return { expiresAt: new Date(ctx.expiresAt.getTime() - (ctx.ttlSeconds - b.lease_duration) * 1000) };
    },
    async revoke(lease, ctx) {
      const leaseId = lease.metadata.vaultLeaseId;
      if (leaseId === undefined) return; // the read never returned a lease: nothing to revoke
      await requestJson(fetchImpl, name, `${root}/v1/sys/leases/revoke`, {
        method: 'PUT',
        headers: await headers(),
        body: { lease_id: leaseId },
        signal: ctx.signal,
      });
    },
  };
}
