import { isIP } from 'node:net';
import type { AuditActor } from '@provisioning/audit';
import { isSdkError } from '@provisioning/core';
import type { Principal, SecurityContext } from '@provisioning/middleware';
import type { SecurityVariables } from '@provisioning/middleware/hono';
import { fail, type Schema, s } from '@provisioning/platform-client/api';
import type { Context, Hono } from 'hono';
import { RequestError, readBody } from '../kit/body.js';
import type { Logger } from '../kit/logger.js';

/** The Hono environment of the control center's routes. */
export type CcEnv = { Variables: SecurityVariables };
/** A route handler's context. */
export type CcContext = Context<CcEnv>;

interface Mapped {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

// SDK error codes → the HTTP answer. Messages are fixed here (never the
// error's own message): nothing a store or library put in an error reaches
// the client.
const SDK_ERRORS: Readonly<Record<string, Mapped>> = {
  ERR_AUTH_INVALID_CREDENTIALS: { status: 401, code: 'INVALID_CREDENTIALS', message: 'Invalid username or password.' },
  ERR_AUTH_LOCKED_OUT: { status: 429, code: 'LOCKED_OUT', message: 'Too many failed logins; retry later.' },
  ERR_AUTH_REFRESH_INVALID: { status: 401, code: 'INVALID_REFRESH_TOKEN', message: 'The refresh token was refused.' },
  ERR_AUTH_REFRESH_REUSED: { status: 401, code: 'INVALID_REFRESH_TOKEN', message: 'The refresh token was refused.' },
  ERR_AUTH_TOKEN_REVOKED: { status: 401, code: 'INVALID_REFRESH_TOKEN', message: 'The refresh token was refused.' },
  ERR_AUTH_WRONG_TOKEN_TYPE: { status: 401, code: 'INVALID_REFRESH_TOKEN', message: 'The refresh token was refused.' },
  ERR_AUTH_USER_EXISTS: { status: 409, code: 'USER_EXISTS', message: 'A user with this username already exists.' },
  ERR_AUTH_USER_NOT_FOUND: { status: 404, code: 'USER_NOT_FOUND', message: 'No such user.' },
  ERR_AUTH_INVALID_INPUT: { status: 400, code: 'INVALID_REQUEST', message: 'The request is invalid.' },
  ERR_AUTH_WEAK_PASSWORD: { status: 400, code: 'WEAK_PASSWORD', message: 'The password is not acceptable.' },
  ERR_MFA_MALFORMED_INPUT: { status: 400, code: 'INVALID_MFA_INPUT', message: 'The MFA input is malformed.' },
  ERR_MFA_INVALID_CODE: { status: 401, code: 'INVALID_MFA_CODE', message: 'The MFA code was not accepted.' },
  ERR_MFA_CODE_REPLAYED: { status: 401, code: 'INVALID_MFA_CODE', message: 'The MFA code was not accepted.' },
  ERR_MFA_TOO_MANY_ATTEMPTS: { status: 429, code: 'MFA_LOCKED', message: 'Too many MFA attempts; retry later.' },
  ERR_MFA_NOT_ENROLLED: { status: 409, code: 'MFA_NOT_ENROLLED', message: 'No MFA factor of this kind is enrolled.' },
  ERR_MFA_DEVICE_NOT_FOUND: { status: 404, code: 'DEVICE_NOT_FOUND', message: 'No such MFA device.' },
  ERR_MFA_ALREADY_CONFIRMED: {
    status: 409,
    code: 'ALREADY_CONFIRMED',
    message: 'The enrollment is already confirmed.',
  },
  ERR_MFA_LAST_FACTOR: { status: 409, code: 'LAST_FACTOR', message: 'The last MFA factor cannot be removed.' },
  ERR_MFA_CHALLENGE_INVALID: {
    status: 401,
    code: 'MFA_CHALLENGE_INVALID',
    message: 'The MFA challenge is unknown, expired or used.',
  },
  ERR_MFA_WEBAUTHN_FAILED: { status: 401, code: 'WEBAUTHN_FAILED', message: 'The WebAuthn response was refused.' },
  ERR_MFA_WEBAUTHN_COUNTER: { status: 401, code: 'WEBAUTHN_FAILED', message: 'The WebAuthn response was refused.' },
  ERR_MFA_CREDENTIAL_NOT_FOUND: { status: 401, code: 'WEBAUTHN_FAILED', message: 'The WebAuthn response was refused.' },
  ERR_MFA_CREDENTIAL_EXISTS: {
    status: 409,
    code: 'CREDENTIAL_EXISTS',
    message: 'This credential is already registered.',
  },
  ERR_STORE_UNAVAILABLE: { status: 503, code: 'SERVICE_UNAVAILABLE', message: 'A backing store is unavailable.' },
};

/** The HTTP answer for an error, or `undefined` for an unexpected one (a 500). */
export function mapError(error: unknown): (Mapped & { retryAfterSeconds?: number }) | undefined {
  if (isSdkError(error)) {
    const mapped = SDK_ERRORS[error.code];
    if (mapped === undefined) return undefined;
    const retry = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    return typeof retry === 'number' ? { ...mapped, retryAfterSeconds: retry } : mapped;
  }
  const status = (error as { status?: unknown })?.status;
  const code = (error as { code?: unknown })?.code;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      status,
      code: typeof code === 'string' ? code : 'BAD_REQUEST',
      message: error instanceof Error ? error.message : 'Bad request.',
    };
  }
  return undefined;
}

/**
 * Error bodies exactly as the contract's `FailureEnvelope` (`fail(message, code)`:
 * `error` the message, `code` the machine code), which is what the client reads
 * (`MFA_REQUIRED` → `ERR_CLIENT_MFA_REQUIRED`). Replaces the frame's handlers.
 */
export function installErrorHandling(app: Hono, logger: Logger): void {
  app.notFound((c) => c.json(fail('No such route.', 'NOT_FOUND'), 404));
  app.onError((error, c) => {
    const mapped = mapError(error);
    if (mapped !== undefined) {
      if (mapped.retryAfterSeconds !== undefined) c.header('retry-after', String(mapped.retryAfterSeconds));
      c.header('cache-control', 'no-store');
      return c.json(fail(mapped.message, mapped.code), mapped.status as 400);
    }
    logger.error(
      { err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code } },
      'unhandled error',
    );
    return c.json(fail('The request could not be processed.', 'INTERNAL_ERROR'), 500);
  });
}

/** The security context the chain left, or a 401 (a route wired without the chain). */
export function securityOf(c: CcContext): SecurityContext {
  const ctx = c.get('security');
  if (ctx === undefined) throw new RequestError(401, 'UNAUTHENTICATED', 'Authentication is required.');
  return ctx;
}

/** The authenticated principal. */
export function principalOf(c: CcContext): Principal {
  const principal = securityOf(c).principal;
  if (principal === undefined) throw new RequestError(401, 'UNAUTHENTICATED', 'Authentication is required.');
  return principal;
}

/** Client address and user agent, for sessions, throttling and audit. */
export function clientOf(c: CcContext): { ip?: string; userAgent?: string } {
  const ctx = c.get('security');
  const ip = ctx?.clientIp;
  const userAgent = ctx?.userAgent ?? c.req.header('user-agent');
  return {
    ...(ip !== undefined && isIP(ip) !== 0 ? { ip } : {}),
    ...(userAgent === undefined ? {} : { userAgent: userAgent.slice(0, 512) }),
  };
}

/** The audit actor for a principal (or an anonymous caller). */
export function actorOf(c: CcContext, id?: string, type: AuditActor['type'] = 'user'): AuditActor {
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
