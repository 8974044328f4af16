/**
 * UpCloud API subaccounts over HTTP (API 1.3): a short-lived API-only
 * subaccount per lease, deleted on revoke.
 *
 * @module
 */
import type { RandomSource } from '@provisioning/core';
import { randomToken, systemRandom } from '@provisioning/core';
import { clientError } from './errors.js';
import type { FetchLike } from './http.js';
import { requestJson } from './http.js';
import type { SecretProvider } from './provider.js';

/** The contact fields UpCloud requires of every subaccount (copied from a template). */
export interface UpCloudSubaccountProfile {
  readonly first_name: string;
  readonly last_name: string;
  readonly company: string;
  readonly address: string;
  readonly postal_code: string;
  readonly city: string;
  readonly email: string;
  /** International format, country code and number separated by a period: `+358.31245434`. */
  readonly phone: string;
  readonly state: string;
  /** ISO 3166-1 alpha-3, e.g. `FIN`. */
  readonly country: string;
  readonly currency: string;
  readonly language: string;
  readonly vat_number: string;
  readonly timezone: string;
}

/** Options of {@link upCloudSubaccountProvider}. */
export interface UpCloudProviderOptions {
  /** The main account's API credentials (HTTP Basic) or an API token (Bearer). */
  readonly auth: { readonly username: string; readonly password: string } | { readonly token: string };
  /** Contact details written on each subaccount. */
  readonly profile: UpCloudSubaccountProfile;
  /** API base. Default `https://api.upcloud.com/1.3`. */
  readonly baseUrl?: string;
  /** Prefix of generated usernames (letters and digits). Default `lease`. */
  readonly usernamePrefix?: string;
  /** Provider name. Default `upcloud`. */
  readonly name?: string;
  readonly fetch?: FetchLike;
  readonly random?: RandomSource;
}

/** What the UpCloud provider takes: what the subaccount may touch. */
export interface UpCloudSubaccountRequest {
  /** Server UUIDs the subaccount may manage. Default none. */
  readonly servers?: readonly string[];
  /** Storage UUIDs. Default none. */
  readonly storages?: readonly string[];
  /** Source addresses or CIDR ranges the API may be used from. Default any. */
  readonly ipFilters?: readonly string[];
}

/** Credentials of an UpCloud API subaccount. */
export interface UpCloudSubaccountCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * A lease provider of UpCloud API subaccounts: `POST /account/sub` creates an
 * API-only subaccount (`allow_api: yes`, `allow_gui: no`, role `api`) with a
 * random password and access to the listed servers and storages;
 * `DELETE /account/sub/{username}` removes it (a 404 counts as removed).
 * UpCloud has no expiry on subaccounts: the TTL manager's revocation ends them.
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_OPTIONS`.
 * @example
 * ```ts
 * import { upCloudSubaccountProvider } from '@provisioning/secrets/upcloud';
 * const upcloud = upCloudSubaccountProvider({ auth: { token }, profile });
 * const { secret } = await leases.issue(upcloud, { servers: [uuid] }, { owner: 'ci', ttlSeconds: 3600 });
 * ```
 */
export function upCloudSubaccountProvider(
  options: UpCloudProviderOptions,
): SecretProvider<UpCloudSubaccountRequest, UpCloudSubaccountCredentials> {
  const auth = options?.auth;
  let authorization: string;
  if (auth !== undefined && 'token' in auth && typeof auth.token === 'string' && auth.token !== '') {
    authorization = `Bearer ${auth.token}`;
  } else if (
    auth !== undefined &&
    'username' in auth &&
    typeof auth.username === 'string' &&
    typeof auth.password === 'string'
  ) {
    authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  } else {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'UpCloud needs API credentials or a token');
  }
  if (typeof options.profile !== 'object' || options.profile === null) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'UpCloud subaccounts need a contact profile');
  }
  const prefix = options.usernamePrefix ?? 'lease';
  if (!/^[a-zA-Z][a-zA-Z0-9]{0,20}$/.test(prefix)) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'usernamePrefix is up to 21 letters and digits');
  }
  const base = (options.baseUrl ?? 'https://api.upcloud.com/1.3').replace(/\/+$/, '');
  const name = options.name ?? 'upcloud';
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const random = options.random ?? systemRandom;
  const headers = { authorization };
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const usernameOf = (leaseId: string): string =>
    `${prefix}${leaseId.slice(leaseId.lastIndexOf('/') + 1).replace(/[^a-z0-9]/gi, '')}`.slice(0, 64);

  return {
    name,
    async create(request, ctx) {
      const servers = request?.servers ?? [];
      const storages = request?.storages ?? [];
      if (![...servers, ...storages].every((u) => typeof u === 'string' && UUID.test(u))) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'servers and storages are UUIDs');
      }
      const username = usernameOf(ctx.leaseId);
      // UpCloud wants upper, lower and digits: a fixed suffix guarantees them
      // on top of 144 random bits.
      const password = `${randomToken(18, random).replace(/[-_]/g, 'x')}Aa1`;
      await requestJson(fetchImpl, name, `${base}/account/sub`, {
        method: 'POST',
        headers,
        signal: ctx.signal,
        body: {
          sub_account: {
            ...options.profile,
            username,
            password,
            allow_api: 'yes',
            allow_gui: 'no',
            roles: { role: ['api'] },
            server_access: { server: servers.map((uuid) => ({ uuid, storage: 'yes' })) },
            storage_access: { storage: storages },
            tag_access: { tag: [] },
            network_access: { network: [] },
            ip_filters: { ip_filter: [...(request?.ipFilters ?? [])] },
          },
        },
      });
      return { secret: { username, password }, metadata: { username } };
    },
    async revoke(lease, ctx) {
      const username = lease.metadata.username ?? usernameOf(lease.id);
      await requestJson(
        fetchImpl,
        name,
        `${base}/account/sub/${encodeURIComponent(username)}`,
        { method: 'DELETE', headers, signal: ctx.signal },
        // Already deleted counts as revoked: revocation is idempotent.
        (status) => (status >= 200 && status < 300) || status === 404,
      );
    },
  };
}
