import { parseIpRange } from '@provisioning/core';
import type { Principal } from '@provisioning/middleware';
import { security } from '@provisioning/middleware/hono';
import {
  GenerateSecretRequestSchema,
  ok,
  ORCHESTRATOR_ROUTES as R,
  RenewSecretRequestSchema,
  RevokeRequestSchema,
  routePattern,
  SECRET_TTL_RANGES,
  type SecretLease,
  type SecretType,
} from '@provisioning/platform-client/api';
import type { Lease } from '@provisioning/secrets';
import { type Context, Hono } from 'hono';
import { peekJson, RequestError, readBody } from '../kit/body.js';
import { optionalBody, principalOf, type SecuredEnv } from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { pageQuery } from '../kit/query.js';
import { ANY, resource } from '../kit/resources.js';
import type { Leases } from './leases.js';

/** The provider behind each contract secret type (each offered when configured, `ssh_key` always). */
const PROVIDER_OF: Readonly<Record<SecretType, string>> = {
  ssh_key: 'secret-ssh-key',
  aws_sts: 'aws-sts',
  vault: 'vault',
  upcloud: 'upcloud',
};

/** Lease ids are `<provider>/<uuid>`; in URLs the slash is a colon. */
export const publicId = (leaseId: string): string => leaseId.replace('/', ':');
export const leaseIdOf = (id: string): string => id.replace(':', '/');

/** Whether the caller sees every lease (administrators) or only their own. */
export const seesAll = (principal: Principal): boolean => principal.roles.includes('Admin');

/** Loads a lease of `api` the caller may see, else a 404 (someone else's lease is not shown to exist). */
export async function visibleLease(leases: Leases, c: Context<SecuredEnv>, api: string): Promise<Lease> {
  const raw = c.req.param('id') ?? '';
  if (!/^[a-z0-9._-]{1,63}:[0-9a-f-]{36}$/.test(raw))
    throw new RequestError(404, 'SECRET_NOT_FOUND', 'No such secret.');
  const lease = await leases.manager.get(leaseIdOf(raw)).catch(() => undefined);
  const principal = principalOf(c);
  if (lease === undefined || lease.metadata.api !== api || (lease.owner !== principal.id && !seesAll(principal))) {
    throw new RequestError(404, 'SECRET_NOT_FOUND', 'No such secret.');
  }
  return lease;
}

const REVOKED = 'secret-revoked:';
/** What a revoked lease leaves behind: its last view and its workspace (for the policy). */
interface Tombstone {
  readonly lease: SecretLease;
  readonly workspace?: string;
}

/**
 * `/api/v1/secrets/*` of `ORCHESTRATOR_ROUTES` over the lease manager:
 * generate (201, credentials in this answer only), get, revoke (idempotent:
 * the revoked lease stays readable until it would have expired), renew, the
 * caller's list, what expires soon, and counts. TTLs follow the platform's
 * ranges (`SECRET_TTL_RANGES`). Cedar: `generate`, `read`, `renew`, `revoke`,
 * `list` on `Provisioning::Secret` in the workspace given as `params.workspace`
 * (none: production).
 */
export function secretRoutes(platform: Platform, leases: Leases): Hono<SecuredEnv> {
  const app = new Hono<SecuredEnv>();
  const chain = platform.chain;
  const leaseResource = async (_r: unknown, p: Readonly<Record<string, string>>) => {
    const lease = await leases.manager.get(leaseIdOf(p.id ?? '')).catch(() => undefined);
    // A revoked lease is gone from the manager; its tombstone remembers the workspace.
    const tombstone = lease === undefined ? await platform.kv.get(`${REVOKED}${p.id}`) : undefined;
    const workspace =
      lease?.metadata.workspace ??
      (tombstone === undefined ? undefined : (JSON.parse(tombstone) as Tombstone).workspace);
    return resource('Secret', p.id ?? ANY, { workspace: workspace ?? ANY, kind: lease?.metadata.secretType ?? '' });
  };
  const view = (lease: Lease, revoked = false): SecretLease => ({
    id: publicId(lease.id),
    type: (lease.metadata.secretType ?? 'ssh_key') as SecretType,
    created_at: lease.createdAt.toISOString(),
    expires_at: lease.expiresAt.toISOString(),
    renewable: lease.renewable,
    revoked,
    owner: lease.owner,
  });
  // A revoked lease stays readable (to its owner and administrators) until it would have expired.
  const tombstoneOf = async (c: Context<SecuredEnv>): Promise<SecretLease | undefined> => {
    const raw = await platform.kv.get(`${REVOKED}${c.req.param('id')}`);
    if (raw === undefined) return undefined;
    const { lease: revoked } = JSON.parse(raw) as Tombstone;
    const principal = principalOf(c);
    return revoked.owner === principal.id || seesAll(principal) ? revoked : undefined;
  };
  const mine = async (principal: Principal): Promise<Lease[]> =>
    (await leases.manager.list({ ...(seesAll(principal) ? {} : { owner: principal.id }), limit: 10_000 })).filter(
      (l) => l.metadata.api === 'secrets' && l.state === 'active',
    );

  app.post(
    R.generateSecret.path,
    security(chain, {
      action: 'generate',
      resource: async (request) => {
        const body = await peekJson(request);
        const params = body.params as Record<string, unknown> | undefined;
        const workspace = typeof params?.workspace === 'string' ? params.workspace : ANY;
        return resource('Secret', ANY, { workspace, kind: typeof body.type === 'string' ? body.type : '' });
      },
    }),
    async (c) => {
      const body = await readBody(c, GenerateSecretRequestSchema);
      const range = SECRET_TTL_RANGES[body.type];
      if (body.ttl_seconds < range.minSeconds || body.ttl_seconds > range.maxSeconds) {
        throw new RequestError(
          400,
          'INVALID_TTL',
          `${body.type} TTLs are ${range.minSeconds} to ${range.maxSeconds} seconds`,
        );
      }
      const provider = leases.providers.get(PROVIDER_OF[body.type]);
      if (provider === undefined) {
        throw new RequestError(
          400,
          'PROVIDER_NOT_CONFIGURED',
          `${body.type} secrets are not configured on this server.`,
        );
      }
      const params = body.params ?? {};
      const text = (name: string): string | undefined =>
        typeof params[name] === 'string' ? (params[name] as string) : undefined;
      const workspace = text('workspace');
      if (workspace !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(workspace)) {
        throw new RequestError(400, 'INVALID_REQUEST', '$.params.workspace: expected a workspace name');
      }
      let request: unknown;
      switch (body.type) {
        case 'ssh_key':
          request = { comment: text('comment') ?? `provisioning ${principalOf(c).id}` };
          break;
        case 'aws_sts': {
          const roleArn = text('role_arn');
          request =
            roleArn === undefined
              ? { kind: 'session-token' }
              : { kind: 'assume-role', roleArn, roleSessionName: text('session_name') ?? 'provisioning' };
          break;
        }
        case 'upcloud': {
          // What the subaccount may touch; the provider checks the UUIDs.
          const list = (name: string): string[] | undefined => {
            const value = params[name];
            if (value === undefined) return undefined;
            if (!Array.isArray(value) || value.length > 100 || !value.every((v) => typeof v === 'string'))
              throw new RequestError(400, 'INVALID_REQUEST', `$.params.${name}: expected up to 100 strings`);
            return value;
          };
          const servers = list('servers');
          const storages = list('storages');
          const ipFilters = list('ip_filters');
          if (ipFilters?.some((f) => !isAddressOrRange(f)))
            throw new RequestError(400, 'INVALID_REQUEST', '$.params.ip_filters: expected IP addresses or CIDR ranges');
          request = {
            ...(servers === undefined ? {} : { servers }),
            ...(storages === undefined ? {} : { storages }),
            ...(ipFilters === undefined ? {} : { ipFilters }),
          };
          break;
        }
        default: {
          const vaultPath = text('path');
          if (vaultPath === undefined)
            throw new RequestError(400, 'INVALID_REQUEST', '$.params.path: expected the Vault path to read');
          request = { path: vaultPath };
        }
      }
      const owner = principalOf(c).id;
      const { lease, secret } = await leases.manager.issue(
        provider,
        {
          request,
          tags: {
            api: 'secrets',
            secretType: body.type,
            ...(workspace === undefined ? {} : { workspace }),
            ...(body.reason === undefined ? {} : { reason: body.reason.slice(0, 500) }),
          },
        },
        {
          owner,
          ttlSeconds: body.ttl_seconds,
          maxTtlSeconds: range.maxSeconds,
          renewable: range.renewable && provider.renew !== undefined,
        },
      );
      c.header('cache-control', 'no-store');
      return c.json(ok({ ...view(lease), credentials: credentials(body.type, secret) }), 201);
    },
  );

  app.get(
    R.listSecrets.path,
    security(chain, { action: 'list', resource: () => resource('Secret', ANY) }),
    async (c) => {
      const { limit, offset } = pageQuery(c);
      return c.json(ok((await mine(principalOf(c))).slice(offset, offset + limit).map((l) => view(l))));
    },
  );

  app.get(
    R.expiringSecrets.path,
    security(chain, { action: 'list', resource: () => resource('Secret', ANY) }),
    async (c) => {
      const raw = c.req.query('within_seconds') ?? '3600';
      const within = /^\d{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(within >= 1 && within <= 7 * 86_400))
        throw new RequestError(400, 'INVALID_QUERY', 'within_seconds must be an integer from 1 to 604800');
      const until = platform.clock.now() + within * 1000;
      return c.json(ok((await mine(principalOf(c))).filter((l) => l.expiresAt.getTime() <= until).map((l) => view(l))));
    },
  );

  app.get(
    R.secretStats.path,
    security(chain, { action: 'list', resource: () => resource('Secret', ANY) }),
    async (c) => {
      const active = await mine(principalOf(c));
      const soon = platform.clock.now() + 3600_000;
      const byType: Record<string, number> = {};
      for (const l of active)
        byType[l.metadata.secretType ?? 'unknown'] = (byType[l.metadata.secretType ?? 'unknown'] ?? 0) + 1;
      const revoked = (await platform.kv.list(REVOKED, { limit: 10_000 })).length;
      return c.json(
        ok({
          active: active.length,
          expiring_soon: active.filter((l) => l.expiresAt.getTime() <= soon).length,
          revoked,
          by_type: byType,
        }),
      );
    },
  );

  app.get(routePattern(R.getSecret), security(chain, { action: 'read', resource: leaseResource }), async (c) => {
    const revoked = await tombstoneOf(c);
    return c.json(ok(revoked ?? view(await visibleLease(leases, c, 'secrets'))));
  });

  app.post(routePattern(R.revokeSecret), security(chain, { action: 'revoke', resource: leaseResource }), async (c) => {
    const body = await readBody(c, RevokeRequestSchema);
    if (body.reason.trim().length === 0) throw new RequestError(400, 'INVALID_REQUEST', '$.reason: expected a reason');
    // Revoking twice leaves the same state.
    const already = await tombstoneOf(c);
    if (already !== undefined) return c.json(ok(already));
    const lease = await visibleLease(leases, c, 'secrets');
    await leases.manager.revoke(lease.id);
    const revoked = view(lease, true);
    const keepSeconds = Math.max(60, Math.ceil((lease.expiresAt.getTime() - platform.clock.now()) / 1000));
    const tombstone: Tombstone = {
      lease: revoked,
      ...(lease.metadata.workspace === undefined ? {} : { workspace: lease.metadata.workspace }),
    };
    await platform.kv.set(`${REVOKED}${c.req.param('id')}`, JSON.stringify(tombstone), { ttlSeconds: keepSeconds });
    void platform.auditLog
      .record({
        action: 'secrets.lease.revoked',
        outcome: 'success',
        actor: { id: principalOf(c).id, type: 'user' },
        resource: { type: 'secret_lease', id: lease.id },
        reason: body.reason.slice(0, 500),
      })
      .catch(() => undefined);
    return c.json(ok(revoked));
  });

  app.post(routePattern(R.renewSecret), security(chain, { action: 'renew', resource: leaseResource }), async (c) => {
    const body = await optionalBody(c, RenewSecretRequestSchema);
    const lease = await visibleLease(leases, c, 'secrets');
    const type = (lease.metadata.secretType ?? 'ssh_key') as SecretType;
    const max = SECRET_TTL_RANGES[type].maxSeconds;
    const renewed = await leases.manager.renew(lease.id, {
      ttlSeconds: Math.min(body.ttl_seconds ?? lease.ttlSeconds, max),
    });
    return c.json(ok(view(renewed)));
  });

  return app;
}

/** `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32`. */
function isAddressOrRange(value: string): boolean {
  return parseIpRange(value) !== undefined;
}

/** The contract's `credentials`: strings only, snake_case, handed over once. */
function credentials(type: SecretType, secret: unknown): Record<string, string> {
  const s = secret as Record<string, unknown>;
  switch (type) {
    case 'ssh_key':
      return { private_key: String(s.privateKey), public_key: String(s.publicKey), fingerprint: String(s.fingerprint) };
    case 'aws_sts':
      return {
        access_key_id: String(s.accessKeyId),
        secret_access_key: String(s.secretAccessKey),
        session_token: String(s.sessionToken),
        expiration: (s.expiration as Date).toISOString(),
      };
    case 'upcloud':
      return { username: String(s.username), password: String(s.password) };
    default: {
      const data = (s.data ?? {}) as Record<string, unknown>;
      return Object.fromEntries(
        Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
      );
    }
  }
}
