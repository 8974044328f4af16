import { createHash, timingSafeEqual } from 'node:crypto';
import { normalizeUsername } from '@provisioning/auth';
import { randomToken } from '@provisioning/core';
import { BootstrapRequestSchema, CONTROL_CENTER_ROUTES, ok } from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import type { createAuditor, Guards } from './guards.js';
import { actorOf, type CcEnv } from './http.js';
import { adminUser, checkPassword } from './users-routes.js';

/** The key/value key holding the SHA-256 of the one-time bootstrap secret. */
export const BOOTSTRAP_KEY = 'bootstrap:secret';

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

async function hasUsers(platform: Platform): Promise<boolean> {
  return (await platform.users.list({ limit: 1 })).length > 0;
}

/**
 * When no user exists yet: generates a one-time bootstrap secret (256 bits),
 * stores only its SHA-256 under `bootstrap:secret` and returns the secret for
 * `main.ts` to print on the console. Each start replaces the previous secret.
 * Resolves `undefined` once any user exists (and drops a stale secret).
 *
 * @example
 * ```ts
 * const secret = await prepareBootstrap(platform);
 * if (secret !== undefined) console.log(`bootstrap secret: ${secret}`);
 * ```
 */
export async function prepareBootstrap(platform: Platform): Promise<string | undefined> {
  if (await hasUsers(platform)) {
    await platform.kv.delete(BOOTSTRAP_KEY);
    return undefined;
  }
  const secret = randomToken(32);
  await platform.kv.set(BOOTSTRAP_KEY, sha256(secret).toString('hex'));
  return secret;
}

/**
 * `POST /auth/bootstrap` (`CONTROL_CENTER_ROUTES.bootstrap`) `{ secret, username, password, email? }`:
 * creates the first administrator (role Admin) while no user exists. The
 * secret is compared in constant time with the stored hash and used up by an
 * atomic `consume`, so of two concurrent calls exactly one succeeds; a wrong
 * secret does not burn it. 201 with the new user; 403 `BOOTSTRAP_CLOSED` once
 * any user exists; 401 `INVALID_BOOTSTRAP_SECRET` otherwise.
 */
export function bootstrapRoutes(
  app: Hono<CcEnv>,
  platform: Platform,
  guards: Guards,
  audit: ReturnType<typeof createAuditor>,
): void {
  app.post(CONTROL_CENTER_ROUTES.bootstrap.path, guards.open, async (c) => {
    const body = await readBody(c, BootstrapRequestSchema);
    // Validate everything before the secret is spent.
    const username = normalizeUsername(body.username);
    checkPassword(body.password);
    if (await hasUsers(platform)) throw new RequestError(403, 'BOOTSTRAP_CLOSED', 'The platform already has users.');
    const stored = await platform.kv.get(BOOTSTRAP_KEY);
    const presented = sha256(body.secret);
    const refused = () => new RequestError(401, 'INVALID_BOOTSTRAP_SECRET', 'The bootstrap secret was refused.');
    if (
      stored === undefined ||
      !/^[0-9a-f]{64}$/.test(stored) ||
      !timingSafeEqual(Buffer.from(stored, 'hex'), presented)
    ) {
      throw refused();
    }
    // Single use: only the caller whose consume returns the value goes on.
    const consumed = await platform.kv.consume(BOOTSTRAP_KEY);
    if (consumed !== stored) throw refused();
    if (await hasUsers(platform)) throw new RequestError(403, 'BOOTSTRAP_CLOSED', 'The platform already has users.');
    let user: Awaited<ReturnType<typeof platform.users.create>>;
    try {
      user = await platform.users.create({
        username,
        ...(body.email === undefined ? {} : { email: body.email }),
        passwordHash: await platform.hasher.hash(body.password),
        roles: ['Admin'],
      });
    } catch (error) {
      // Nothing was created: put the secret back so the operator can retry.
      await platform.kv.setIfAbsent(BOOTSTRAP_KEY, stored);
      throw error;
    }
    await audit({
      action: 'admin.user.created',
      outcome: 'success',
      actor: actorOf(c, 'bootstrap', 'system'),
      resource: { type: 'user', id: user.id },
      metadata: { roles: ['Admin'], bootstrap: true },
    });
    return c.json(ok(await adminUser(platform, user)), 201);
  });
}
