import { createHash } from 'node:crypto';
import { security } from '@provisioning/middleware/hono';
import {
  GenerateSshKeyRequestSchema,
  ok,
  ORCHESTRATOR_ROUTES as R,
  RevokeRequestSchema,
  routePattern,
  SSH_KEY_TTL,
  type SshKey,
  type SshKeyType,
} from '@provisioning/platform-client/api';
import type { Lease } from '@provisioning/secrets';
import { Hono } from 'hono';
import { peekJson, RequestError, readBody, stringField } from '../kit/body.js';
import { noBody, principalOf, type SecuredEnv } from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { pageQuery } from '../kit/query.js';
import { ANY, resource } from '../kit/resources.js';
import { deployKey, type Leases } from './leases.js';
import { publicId, seesAll, visibleLease } from './secrets-routes.js';

const PROVIDER: Readonly<Record<SshKeyType, string>> = { dynamic: 'ssh-dynamic', ca: 'ssh-ca', otp: 'ssh-otp' };
const TYPE_OF: Readonly<Record<string, SshKeyType>> = { 'ssh-dynamic': 'dynamic', 'ssh-ca': 'ca', 'ssh-otp': 'otp' };
// Server and user names become authorized_keys paths and certificate principals.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** OTPs live at most 15 minutes (the OTP service's cap), whatever the key TTL range allows. */
const OTP_MAX_SECONDS = 900;
const DEPLOYED = 'ssh-deployed:';

/** Options of {@link sshRoutes}. */
export interface SshRoutesOptions {
  /** The SSH port `connect` names. Default 22. */
  readonly port?: number;
}

/**
 * `/api/v1/ssh/keys*` of `ORCHESTRATOR_ROUTES` (temporal SSH access, TTL 5 min
 * to 24 h, default 1 h; expired keys are revoked by the lease sweeper every 5
 * minutes): `dynamic` (an Ed25519 pair; `deploy` writes the public key to the
 * server's authorized_keys file with sshd's own `expiry-time`), `ca` (a
 * certificate for the user as principal, signed by the platform's SSH CA —
 * `GET /api/v1/ssh/ca` gives its public key for `TrustedUserCAKeys`), `otp`
 * (a one-time password, at most 15 min). Private keys, certificates and OTPs
 * exist only in the answer to `generate`; leases keep fingerprints and public
 * keys. Cedar: `ssh` on `Provisioning::Server::"<server>"` (the server's name
 * is its workspace for the environment) for generate, deploy and connect;
 * `list`/`read`/`revoke` on `Provisioning::Secret`.
 */
export function sshRoutes(platform: Platform, leases: Leases, options: SshRoutesOptions = {}): Hono<SecuredEnv> {
  const app = new Hono<SecuredEnv>();
  const chain = platform.chain;
  const port = options.port ?? 22;
  const leaseOf = async (id: string | undefined): Promise<Lease | undefined> =>
    id === undefined ? undefined : leases.manager.get(id.replace(':', '/')).catch(() => undefined);
  const server = (name: string | undefined) => resource('Server', name ?? ANY, { workspace: name ?? ANY });
  const onServer = async (_r: unknown, p: Readonly<Record<string, string>>) =>
    server((await leaseOf(p.id))?.metadata.server);
  const asSecret = async (_r: unknown, p: Readonly<Record<string, string>>) => {
    const lease = await leaseOf(p.id);
    return resource('Secret', p.id ?? ANY, { workspace: lease?.metadata.server ?? ANY, kind: 'ssh' });
  };
  const deployed = async (lease: Lease): Promise<boolean> =>
    (await platform.kv.get(`${DEPLOYED}${lease.id}`)) !== undefined;
  const view = async (lease: Lease, revoked = false): Promise<SshKey> => ({
    id: publicId(lease.id),
    type: TYPE_OF[lease.provider] ?? 'dynamic',
    user: lease.metadata.user ?? '',
    server: lease.metadata.server ?? '',
    expires_at: lease.expiresAt.toISOString(),
    fingerprint: fingerprintOf(lease),
    ...(lease.metadata.publicKey === undefined ? {} : { public_key: lease.metadata.publicKey }),
    deployed: !revoked && (await deployed(lease)),
    revoked,
  });

  app.get('/api/v1/ssh/ca', security(chain, { action: 'list', resource: () => resource('Secret', ANY) }), (c) =>
    c.json(ok({ public_key: leases.ca.publicKey, fingerprint: leases.ca.fingerprint })),
  );

  app.post(
    R.generateSshKey.path,
    security(chain, {
      action: 'ssh',
      resource: async (request) => server(stringField(await peekJson(request), 'server') ?? ANY),
    }),
    async (c) => {
      const body = await readBody(c, GenerateSshKeyRequestSchema);
      if (!NAME.test(body.server)) throw new RequestError(400, 'INVALID_REQUEST', '$.server: expected a host name');
      if (!NAME.test(body.user)) throw new RequestError(400, 'INVALID_REQUEST', '$.user: expected a user name');
      const type = body.type ?? 'dynamic';
      const ttl = body.ttl_seconds ?? (type === 'otp' ? OTP_MAX_SECONDS : SSH_KEY_TTL.defaultSeconds);
      if (type === 'otp' && ttl > OTP_MAX_SECONDS) {
        throw new RequestError(400, 'INVALID_TTL', `OTPs live at most ${OTP_MAX_SECONDS} seconds`);
      }
      const provider = leases.providers.get(PROVIDER[type]);
      if (provider === undefined) throw new Error(`no ${type} provider`);
      const request =
        type === 'ca'
          ? { principals: [body.user] }
          : type === 'otp'
            ? { user: body.user, host: body.server }
            : { comment: `${body.user}@${body.server}` };
      const { lease, secret } = await leases.manager.issue(
        provider,
        { request, tags: { api: 'ssh', server: body.server, user: body.user } },
        { owner: principalOf(c).id, ttlSeconds: ttl, renewable: false },
      );
      const s = secret as Record<string, unknown>;
      const pair = (type === 'ca' ? s.keyPair : s) as { privateKey?: string } | undefined;
      c.header('cache-control', 'no-store');
      return c.json(
        ok({
          ...(await view(lease)),
          ...(pair?.privateKey === undefined ? {} : { private_key: pair.privateKey }),
          ...(type === 'ca' ? { certificate: String(s.certificate) } : {}),
          ...(type === 'otp' ? { otp: String(s.otp) } : {}),
        }),
        201,
      );
    },
  );

  app.get(
    R.listSshKeys.path,
    security(chain, { action: 'list', resource: () => resource('Secret', ANY) }),
    async (c) => {
      const principal = principalOf(c);
      const { limit, offset } = pageQuery(c);
      const all = await leases.manager.list({ ...(seesAll(principal) ? {} : { owner: principal.id }), limit: 10_000 });
      const keys = all.filter((l) => l.metadata.api === 'ssh' && l.state === 'active').slice(offset, offset + limit);
      return c.json(ok(await Promise.all(keys.map((l) => view(l)))));
    },
  );

  app.get(routePattern(R.getSshKey), security(chain, { action: 'read', resource: asSecret }), async (c) =>
    c.json(ok(await view(await visibleLease(leases, c, 'ssh')))),
  );

  app.post(routePattern(R.deploySshKey), security(chain, { action: 'ssh', resource: onServer }), async (c) => {
    await noBody(c);
    const lease = await visibleLease(leases, c, 'ssh');
    if (lease.provider !== 'ssh-dynamic') {
      throw new RequestError(
        409,
        'NOT_DEPLOYABLE',
        'Only dynamic keys are deployed (certificates and OTPs need no deployment).',
      );
    }
    await deployKey(leases, lease);
    const keepSeconds = Math.max(1, Math.ceil((lease.expiresAt.getTime() - platform.clock.now()) / 1000));
    await platform.kv.set(`${DEPLOYED}${lease.id}`, '1', { ttlSeconds: keepSeconds });
    return c.json(ok(await view(lease)));
  });

  app.post(routePattern(R.revokeSshKey), security(chain, { action: 'revoke', resource: asSecret }), async (c) => {
    const body = await readBody(c, RevokeRequestSchema);
    if (body.reason.trim().length === 0) throw new RequestError(400, 'INVALID_REQUEST', '$.reason: expected a reason');
    const lease = await visibleLease(leases, c, 'ssh');
    // The provider takes the key out of its authorized_keys file; the lease is gone afterwards.
    await leases.manager.revoke(lease.id);
    await platform.kv.delete(`${DEPLOYED}${lease.id}`);
    void platform.auditLog
      .record({
        action: 'secrets.lease.revoked',
        outcome: 'success',
        actor: { id: principalOf(c).id, type: 'user' },
        resource: { type: 'secret_lease', id: lease.id },
        reason: body.reason.slice(0, 500),
      })
      .catch(() => undefined);
    return c.json(ok(await view(lease, true)));
  });

  app.post(routePattern(R.connectSshKey), security(chain, { action: 'ssh', resource: onServer }), async (c) => {
    await noBody(c);
    const lease = await visibleLease(leases, c, 'ssh');
    const { user = '', server: host = '' } = lease.metadata;
    const certificate = lease.provider === 'ssh-ca' ? ' -o CertificateFile=./id_ed25519-cert.pub' : '';
    const key = lease.provider === 'ssh-otp' ? '' : ' -i ./id_ed25519 -o IdentitiesOnly=yes';
    return c.json(ok({ host, port, user, command: `ssh${key}${certificate} -p ${port} ${user}@${host}` }));
  });

  return app;
}

// OTPs have no key: their fingerprint is the SHA-256 of the OTP (which the lease keeps, never the OTP).
function fingerprintOf(lease: Lease): string {
  const fp = lease.metadata.fingerprint;
  if (fp !== undefined) return fp;
  const hash = lease.metadata.otpHash;
  const digest = hash === undefined ? createHash('sha256').update(lease.id).digest() : Buffer.from(hash, 'base64url');
  return `SHA256:${digest.toString('base64').replace(/=+$/, '')}`;
}
