import type { BreakGlassActor, BreakGlassRequest as StoredRequest } from '@provisioning/auth';
import type { Principal, RouteSecurity } from '@provisioning/middleware';
import { security } from '@provisioning/middleware/hono';
import {
  BreakGlassDecisionSchema,
  type BreakGlassRequest,
  BreakGlassRequestInputSchema,
  type BreakGlassStatus,
  ok,
  ORCHESTRATOR_ROUTES as R,
  routePattern,
} from '@provisioning/platform-client/api';
import { Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import {
  noBody,
  optionalBody,
  param,
  principalOf,
  type SecuredContext,
  type SecuredEnv,
  securityOf,
} from '../kit/http.js';
import type { Platform } from '../kit/platform.js';
import { enumParam, pageQuery } from '../kit/query.js';
import { resource } from '../kit/resources.js';

/** The Cedar actions a break-glass request may ask for; `admin` stands for all of them. */
export const EMERGENCY_PERMISSIONS: readonly string[] = Object.freeze([
  'admin',
  'read',
  'list',
  'monitor',
  'create',
  'update',
  'delete',
  'deploy',
  'rollback',
  'ssh',
  'execute',
  'generate',
  'renew',
  'revoke',
  'encrypt',
  'decrypt',
  'rotate',
  'lockdown',
]);

const STATUSES: readonly BreakGlassStatus[] = ['pending', 'approved', 'denied', 'active', 'expired', 'revoked'];
const INDEX = 'breakglass-index:';
// Longer than break-glass keeps a request (its TTL, the longest session and a day).
const INDEX_TTL_SECONDS = 2 * 86_400;

/** Every break-glass request still kept (at most 1,000), newest first. */
export async function listBreakGlassRequests(platform: Platform): Promise<StoredRequest[]> {
  const keys = await platform.kv.list(INDEX, { limit: 1000 });
  const found = await Promise.all(keys.map((k) => platform.breakGlass.get(k.slice(INDEX.length))));
  // Newest first (ids are UUIDv7).
  return found.filter((r): r is StoredRequest => r !== undefined).reverse();
}

/** The contract's view of a stored request. */
export function toContract(r: StoredRequest): BreakGlassRequest {
  const status: BreakGlassStatus =
    r.status === 'ended' ? (r.ended?.reason === 'revoked' ? 'revoked' : 'expired') : r.status;
  return {
    id: r.id,
    requester: r.requester.id,
    // The contract's `reason` is why access is needed (break-glass's
    // justification); its `incident_id` is break-glass's short reason.
    reason: r.justification,
    incident_id: r.reason,
    permissions: [...r.scope],
    status,
    approvals: r.approvals.map((a) => a.approver.id),
    created_at: r.createdAt.toISOString(),
    expires_at: r.expiresAt?.toISOString() ?? null,
  };
}

/**
 * The break-glass routes of `ORCHESTRATOR_ROUTES` as a mountable sub-app
 * (`app.route('/', breakGlassRoutes(platform))`), over the platform's
 * `@provisioning/auth` break-glass service: a request needs two approvers
 * from two teams (never the requester), the requester activates it once and
 * gets an emergency token that the chain limits to the approved actions and
 * that dies at its expiry, after 30 minutes unused, or when revoked. Every
 * step is in the audit log's 7-year `break_glass` class.
 *
 * Cedar decides each step on `Provisioning::BreakGlassSession` (shipped
 * policies: `break-glass-request`, `break-glass-approve` with a fresh MFA and
 * the two-person rule, `break-glass-revoke`, `break-glass-read`): the lists
 * hold the requests the caller may `read` (each decided by Cedar), so a
 * requester sees their own and an approver every one; answers name people by
 * username too (`usernames`). Deny is approve's counterpart: the
 * same right. Emergency tokens cannot take part at all (an emergency must not
 * extend itself).
 */
export function breakGlassRoutes(platform: Platform): Hono<SecuredEnv> {
  const app = new Hono<SecuredEnv>();
  const bg = platform.breakGlass;
  const chain = platform.chain;
  const guard = (action: string, resolve: NonNullable<RouteSecurity['resource']>) =>
    security(chain, { action, resource: resolve });

  // The request's facts for the policy: who filed it, whether it is approved, until when.
  const sessionOf = (id: string, r: StoredRequest | undefined) =>
    resource('BreakGlassSession', id, {
      requester: r?.requester.id ?? '',
      approved: r !== undefined && (r.status === 'approved' || r.status === 'active'),
      reason: r?.reason ?? '',
      ...(r?.expiresAt === undefined ? {} : { expiresAt: Math.floor(r.expiresAt.getTime() / 1000) }),
    });
  const session = async (_r: unknown, p: Readonly<Record<string, string>>) => {
    const id = p.id ?? '*';
    return sessionOf(id, /^[\x21-\x7e]{1,128}$/.test(id) ? await bg.get(id) : undefined);
  };
  // A list is the caller's view of the requests (the collection as its requester):
  // Cedar lets the requesters and approvers list, and `visible` keeps the items each may read.
  const collection = guard('list', (_r, _p, principal) =>
    resource('BreakGlassSession', '*', { requester: principal.id }),
  );
  /**
   * The requests the caller may read: Cedar `read` on each, with the context
   * the chain built for this request (deny by default: an error hides the item).
   */
  const visible = async (c: SecuredContext, list: readonly StoredRequest[]): Promise<StoredRequest[]> => {
    const sec = securityOf(c);
    const principal = principalOf(c);
    const context = {
      mfa: {
        present: sec.mfaAgeSeconds !== undefined,
        ageSeconds: sec.mfaAgeSeconds === undefined ? -1 : Math.floor(sec.mfaAgeSeconds),
      },
      ip: sec.clientIp,
      time: new Date(platform.clock.now()).toISOString(),
      emergency: false,
    };
    const allowed = await Promise.all(
      list.map((r) =>
        platform.authorizer.authorize({ principal, action: 'read', resource: sessionOf(r.id, r), context }).then(
          (d) => d.allowed === true && (d.errors?.length ?? 0) === 0,
          () => false,
        ),
      ),
    );
    return list.filter((_, i) => allowed[i]);
  };
  /** The contract's view with the usernames of the people named (one directory lookup per person). */
  const named = async (list: readonly StoredRequest[]): Promise<BreakGlassRequest[]> => {
    const ids = [...new Set(list.flatMap((r) => [r.requester.id, ...r.approvals.map((a) => a.approver.id)]))];
    const users = await Promise.all(ids.map((id) => platform.users.findById(id)));
    const names = new Map(ids.flatMap((id, i) => (users[i] === undefined ? [] : [[id, users[i].username] as const])));
    return list.map((r) => {
      const contract = toContract(r);
      const usernames = Object.fromEntries(
        [contract.requester, ...contract.approvals].flatMap((id) => {
          const name = names.get(id);
          return name === undefined ? [] : [[id, name]];
        }),
      );
      return { ...contract, usernames };
    });
  };

  const actor = (principal: Principal): BreakGlassActor => {
    if (principal.emergency !== undefined) {
      throw new RequestError(403, 'EMERGENCY_TOKEN', 'An emergency token cannot take part in break-glass.');
    }
    const teams = principal.attributes?.teams;
    const team = Array.isArray(teams) && typeof teams[0] === 'string' ? teams[0] : undefined;
    // Approvals count teams: someone outside any team cannot vouch for one.
    if (team === undefined)
      throw new RequestError(409, 'NO_TEAM', 'Break-glass needs your team in the user directory.');
    return { id: principal.id, team };
  };
  const load = async (id: string): Promise<StoredRequest> => {
    const r = await bg.get(id);
    if (r === undefined) throw new RequestError(404, 'BREAK_GLASS_NOT_FOUND', 'No such break-glass request.');
    return r;
  };
  const all = () => listBreakGlassRequests(platform);

  app.post(
    R.requestBreakGlass.path,
    security(chain, {
      action: 'request_break_glass',
      // Filed by the caller for themselves (the policy compares the requester with the principal).
      resource: (_r, _p, principal) => resource('BreakGlassSession', 'new', { requester: principal.id }),
    }),
    async (c) => {
      const body = await readBody(c, BreakGlassRequestInputSchema);
      const unknown = body.permissions.filter((p) => !EMERGENCY_PERMISSIONS.includes(p));
      if (
        body.permissions.length === 0 ||
        unknown.length > 0 ||
        new Set(body.permissions).size !== body.permissions.length
      ) {
        throw new RequestError(
          400,
          'INVALID_PERMISSIONS',
          `permissions are distinct Cedar actions (${EMERGENCY_PERMISSIONS.join(', ')})`,
        );
      }
      if (body.incident_id.length < 1 || body.incident_id.length > 200) {
        throw new RequestError(400, 'INVALID_REQUEST', '$.incident_id: expected 1-200 characters');
      }
      if (body.reason.length < 10 || body.reason.length > 4000) {
        throw new RequestError(400, 'INVALID_REQUEST', '$.reason: expected 10-4000 characters');
      }
      const filed = await bg.request({
        requester: actor(principalOf(c)),
        reason: body.incident_id,
        justification: body.reason,
        scope: body.permissions,
        durationSeconds: body.duration_seconds,
      });
      await platform.kv.set(`${INDEX}${filed.id}`, '1', { ttlSeconds: INDEX_TTL_SECONDS });
      return c.json(ok(toContract(filed)), 201);
    },
  );

  app.get(R.listBreakGlass.path, collection, async (c) => {
    const status = enumParam(c, 'status', STATUSES);
    const { limit, offset } = pageQuery(c);
    const list = (await visible(c, await all())).filter((r) => status === undefined || toContract(r).status === status);
    return c.json(ok(await named(list.slice(offset, offset + limit))));
  });

  app.get(R.activeBreakGlass.path, collection, async (c) => {
    const active = (await visible(c, await all())).filter((r) => toContract(r).status === 'active');
    return c.json(ok(await named(active)));
  });

  app.get(routePattern(R.getBreakGlass), guard('read', session), async (c) => {
    const [one] = await named([await load(param(c, 'id'))]);
    return c.json(ok(one));
  });

  app.post(routePattern(R.approveBreakGlass), guard('approve_break_glass', session), async (c) => {
    const body = await optionalBody(c, BreakGlassDecisionSchema);
    const id = param(c, 'id');
    await load(id);
    return c.json(ok(toContract(await bg.approve(id, actor(principalOf(c)), body.comment))));
  });

  app.post(routePattern(R.denyBreakGlass), guard('approve_break_glass', session), async (c) => {
    const body = await optionalBody(c, BreakGlassDecisionSchema);
    const id = param(c, 'id');
    await load(id);
    return c.json(ok(toContract(await bg.deny(id, actor(principalOf(c)), body.comment ?? 'denied'))));
  });

  app.post(routePattern(R.activateBreakGlass), guard('request_break_glass', session), async (c) => {
    await noBody(c);
    const id = param(c, 'id');
    await load(id);
    const principal = principalOf(c);
    // The emergency token carries how the requester authenticated (from their
    // verified token), so the chain's MFA step-up sees their real MFA.
    const access = await bg.activate(id, actor(principal), {
      ...(principal.amr === undefined ? {} : { amr: principal.amr }),
      ...(principal.mfaAt === undefined ? {} : { mfaAt: principal.mfaAt }),
    });
    // The token is in this answer only: never stored, logged or audited.
    c.header('cache-control', 'no-store');
    return c.json(ok({ request_id: id, token: access.token, expires_at: access.expiresAt.toISOString() }));
  });

  app.post(routePattern(R.revokeBreakGlass), guard('revoke_break_glass', session), async (c) => {
    const body = await optionalBody(c, BreakGlassDecisionSchema);
    const id = param(c, 'id');
    await load(id);
    await bg.revoke(id, actor(principalOf(c)), body.comment ?? 'revoked');
    return c.json(ok(toContract(await load(id))));
  });

  return app;
}
