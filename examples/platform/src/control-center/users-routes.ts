import type { ApiKeyInfo, User } from '@provisioning/auth';
import {
  type AdminUser,
  type ApiToken,
  CONTROL_CENTER_ROUTES,
  CreateApiTokenRequestSchema,
  type CreatedApiToken,
  CreateUserRequestSchema,
  ok,
  ROLES,
  routePattern,
  UpdateRolesRequestSchema,
  UpdateTeamsRequestSchema,
} from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import { PLATFORM_RESOURCE } from '../kit/resources.js';
import type { createAuditor, Guards } from './guards.js';
import { actorOf, type CcEnv, noBody, param, principalOf } from './http.js';

/** Shortest accepted password for users created here (NIST SP 800-63B asks for 8; we ask for 12). */
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;

/** Refuses a too short or too long password (400 `WEAK_PASSWORD`), before anything is stored. */
export function checkPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new RequestError(
      400,
      'WEAK_PASSWORD',
      `Passwords are ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`,
    );
  }
}

const R = CONTROL_CENTER_ROUTES;

/** Maps a stored user to the contract's `AdminUser` (never the password hash). */
export async function adminUser(platform: Platform, user: User): Promise<AdminUser> {
  return {
    id: user.id,
    username: user.username,
    email: user.email ?? '',
    roles: [...user.roles],
    teams: [...user.teams],
    disabled: user.disabled,
    mfa_enabled: await platform.mfa.isEnrolled(user.id),
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}

function checkRoles(roles: readonly string[]): string[] {
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) throw new RequestError(400, 'INVALID_ROLE', `Roles are ${ROLES.join(', ')}.`);
  return [...new Set(roles)];
}

/** An API token as listed: the secret only ever at creation. */
function apiToken(info: ApiKeyInfo): ApiToken {
  return {
    id: info.id,
    name: info.name,
    prefix: info.visiblePrefix,
    owner: info.owner,
    scopes: [...info.scopes],
    created_at: info.createdAt.toISOString(),
    expires_at: info.expiresAt?.toISOString() ?? null,
    last_used_at: info.lastUsedAt?.toISOString() ?? null,
    revoked_at: info.revokedAt?.toISOString() ?? null,
  };
}

/**
 * Users and roles (admin only: the Cedar action `admin`), and API tokens
 * (self-service: a user's own tokens).
 */
export function userRoutes(
  app: Hono<CcEnv>,
  platform: Platform,
  guards: Guards,
  audit: ReturnType<typeof createAuditor>,
): void {
  const admin = () =>
    // User administration is platform administration: `admin` on the platform environment (Admins).
    guards.platform({ action: 'admin', resource: () => PLATFORM_RESOURCE });
  const findUser = async (id: string): Promise<User> => {
    const user = await platform.users.findById(id);
    if (user === undefined) throw new RequestError(404, 'USER_NOT_FOUND', 'No such user.');
    return user;
  };

  app.get(R.listUsers.path, admin(), async (c) => {
    const users: User[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await platform.users.list({ limit: 1000, ...(after === undefined ? {} : { after }) });
      users.push(...page);
      if (page.length < 1000) break;
      after = page[page.length - 1]?.id;
    }
    return c.json(ok(await Promise.all(users.map((u) => adminUser(platform, u)))));
  });

  app.post(R.createUser.path, admin(), async (c) => {
    const body = await readBody(c, CreateUserRequestSchema);
    checkPassword(body.password);
    const roles = checkRoles(body.roles ?? ['Viewer']);
    const user = await platform.users.create({
      username: body.username,
      ...(body.email === undefined ? {} : { email: body.email }),
      passwordHash: await platform.hasher.hash(body.password),
      roles,
    });
    await audit({
      action: 'admin.user.created',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'user', id: user.id },
      metadata: { roles },
    });
    return c.json(ok(await adminUser(platform, user)), 201);
  });

  app.put(routePattern(R.updateUserRoles), admin(), async (c) => {
    const id = param(c, 'id');
    const body = await readBody(c, UpdateRolesRequestSchema);
    const roles = checkRoles(body.roles);
    const before = await findUser(id);
    if (id === principalOf(c).id && !roles.includes('Admin')) {
      throw new RequestError(409, 'SELF_DEMOTION', 'An administrator cannot remove their own Admin role.');
    }
    const user = await platform.users.update(id, { roles });
    // Tokens carry roles: end the user's sessions so no token keeps the old ones.
    await platform.tokens.revokeUser(id);
    await audit({
      action: 'admin.user.updated',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'user', id },
      metadata: { roles_before: [...before.roles], roles },
    });
    return c.json(ok(await adminUser(platform, user)));
  });

  // Teams are Cedar `Team` parents (platform-admin, sre, developers, audit,
  // security …) and what break-glass counts: two approvers from two teams.
  app.put(routePattern(R.updateUserTeams), admin(), async (c) => {
    const id = param(c, 'id');
    const body = await readBody(c, UpdateTeamsRequestSchema);
    const before = await findUser(id);
    const teams = [...new Set(body.teams)];
    const user = await platform.users.update(id, { teams });
    await audit({
      action: 'admin.user.updated',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'user', id },
      metadata: { teams_before: [...before.teams], teams },
    });
    return c.json(ok(await adminUser(platform, user)));
  });

  app.post(routePattern(R.disableUser), admin(), async (c) => {
    const id = param(c, 'id');
    await noBody(c);
    await findUser(id);
    if (id === principalOf(c).id)
      throw new RequestError(409, 'SELF_DISABLE', 'An administrator cannot disable themselves.');
    const user = await platform.users.update(id, { disabled: true });
    await platform.tokens.revokeUser(id);
    await audit({
      action: 'admin.user.updated',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'user', id },
      metadata: { disabled: true },
    });
    return c.json(ok(await adminUser(platform, user)));
  });

  app.post(R.createApiToken.path, guards.self(), async (c) => {
    const body = await readBody(c, CreateApiTokenRequestSchema);
    const principal = principalOf(c);
    const name = body.name.trim();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (name === '' || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) {
      throw new RequestError(400, 'INVALID_REQUEST', 'name is 1-100 printable characters');
    }
    const scopes = body.scopes ?? [];
    if (scopes.some((scope) => !/^[\x21-\x7e]{1,100}$/.test(scope))) {
      throw new RequestError(400, 'INVALID_REQUEST', 'scopes are 1-100 printable ASCII characters');
    }
    const expiresAt =
      body.expires_in_days === undefined
        ? undefined
        : new Date(platform.clock.now() + body.expires_in_days * 86_400_000);
    const { key, info } = await platform.apiKeys.create({
      owner: principal.id,
      name,
      scopes,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    await audit({
      action: 'auth.api_key.created',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'api_key', id: info.id },
      metadata: { name, scopes: [...scopes] },
    });
    // The secret is shown here, once; it is stored only as a hash.
    return c.json(ok({ ...apiToken(info), token: key } satisfies CreatedApiToken), 201);
  });

  app.get(R.listApiTokens.path, guards.self(), async (c) => {
    const keys = await platform.apiKeys.list(principalOf(c).id);
    return c.json(ok(keys.map(apiToken)));
  });

  // Revoking a token is a safety action: no MFA step-up (a user without MFA
  // must be able to kill a leaked token at once).
  app.delete(routePattern(R.revokeApiToken), guards.self(), async (c) => {
    const id = param(c, 'id');
    const principal = principalOf(c);
    const info = await platform.apiKeys.get(id);
    if (info === undefined || (info.owner !== principal.id && !principal.roles.includes('Admin'))) {
      throw new RequestError(404, 'API_TOKEN_NOT_FOUND', 'No such API token.');
    }
    const revoked = await platform.apiKeys.revoke(id);
    await audit({
      action: 'auth.api_key.revoked',
      outcome: 'success',
      actor: actorOf(c),
      resource: { type: 'api_key', id },
      metadata: { owner: info.owner },
    });
    return c.json(ok({ revoked: revoked ? 1 : 0 }));
  });
}
