import { PAGE_LIMITS } from '@provisioning/platform-client/api';
import type { Context } from 'hono';
import { RequestError } from './body.js';

/** Reads `limit` (1–1000, default 50) and `offset` (≥ 0, default 0) strictly: `10abc`, `1.5`, `-1` are 400s. */
export function pageQuery(
  c: Context,
  defaultLimit: number = PAGE_LIMITS.defaultLimit,
): { limit: number; offset: number } {
  return {
    limit: intParam(c, 'limit', 1, PAGE_LIMITS.maxLimit) ?? defaultLimit,
    offset: intParam(c, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0,
  };
}

function intParam(c: Context, name: string, min: number, max: number): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined) return undefined;
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RequestError(400, 'INVALID_QUERY', `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Reads an optional query parameter that must be one of `allowed`. */
export function enumParam<T extends string>(c: Context, name: string, allowed: readonly T[]): T | undefined {
  const raw = c.req.query(name);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new RequestError(400, 'INVALID_QUERY', `${name} must be one of ${allowed.join(', ')}`);
  }
  return raw as T;
}
