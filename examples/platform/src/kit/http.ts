import { isIP } from 'node:net';
import type { AuditActor } from '@provisioning/audit';
import type { Principal, SecurityContext } from '@provisioning/middleware';
import type { SecurityVariables } from '@provisioning/middleware/hono';
import { type Schema, s } from '@provisioning/platform-client/api';
import type { Context } from 'hono';
import { RequestError, readBody } from './body.js';

/** The Hono environment of routes behind the security chain. */
export type SecuredEnv = { Variables: SecurityVariables };
/** A route handler's context. */
export type SecuredContext = Context<SecuredEnv>;

/** The security context the chain left, or a 401 (a route wired without the chain). */
export function securityOf(c: SecuredContext): SecurityContext {
  const ctx = c.get('security');
  if (ctx === undefined) throw new RequestError(401, 'UNAUTHENTICATED', 'Authentication is required.');
  return ctx;
}

/** The authenticated principal. */
export function principalOf(c: SecuredContext): Principal {
  const principal = securityOf(c).principal;
  if (principal === undefined) throw new RequestError(401, 'UNAUTHENTICATED', 'Authentication is required.');
  return principal;
}

/** Client address and user agent, for sessions, throttling and audit. */
export function clientOf(c: SecuredContext): { ip?: string; userAgent?: string } {
  const ctx = c.get('security');
  const ip = ctx?.clientIp;
  const userAgent = ctx?.userAgent ?? c.req.header('user-agent');
  return {
    ...(ip !== undefined && isIP(ip) !== 0 ? { ip } : {}),
    ...(userAgent === undefined ? {} : { userAgent: userAgent.slice(0, 512) }),
  };
}

/** The audit actor for a principal (or an anonymous caller). */
export function actorOf(c: SecuredContext, id?: string, type: AuditActor['type'] = 'user'): AuditActor {
  const principal = c.get('security')?.principal;
  const { ip, userAgent } = clientOf(c);
  const actorId = id ?? principal?.id ?? 'anonymous';
  return {
    id: actorId.slice(0, 254),
    type: principal?.type === 'api-key' ? 'api_key' : type,
    ...(principal === undefined || id !== undefined ? {} : { roles: principal.roles }),
    ...(ip === undefined ? {} : { ip }),
    ...(userAgent === undefined ? {} : { userAgent }),
  };
}

const EMPTY: Schema<Record<string, never>> = s.object({}) as unknown as Schema<Record<string, never>>;

/** Whether the request carries a body at all. */
function hasBody(c: Context): boolean {
  const length = c.req.header('content-length');
  if (length !== undefined) return length !== '0';
  return c.req.header('content-type') !== undefined || c.req.header('transfer-encoding') !== undefined;
}

/** A route without a body: nothing, or `{}` (anything else is refused, 4xx). */
export async function noBody(c: Context): Promise<void> {
  if (hasBody(c)) await readBody(c, EMPTY);
}

/** A route whose body may be omitted: `{}` then; otherwise validated strictly. */
export async function optionalBody<T>(c: Context, schema: Schema<T>): Promise<T> {
  return hasBody(c) ? readBody(c, schema) : schema.parse({});
}

/** A route parameter, bounded and printable, or a 400. */
export function param(c: Context, name: string): string {
  const value = c.req.param(name);
  if (value === undefined || !/^[\x21-\x7e]{1,200}$/.test(value)) {
    throw new RequestError(400, 'INVALID_REQUEST', `${name} is invalid`);
  }
  return value;
}
