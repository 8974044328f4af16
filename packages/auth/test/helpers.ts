import { createHmac, createPrivateKey, sign as nodeSign } from 'node:crypto';
import type { KeyValueStore, ManualClock } from '@provisioning/core';
import { createManualClock, memoryStore } from '@provisioning/core';
import { expect } from 'vitest';
import { AuthError } from '../src/errors.js';
import type { KeySet } from '../src/keys.js';
import { createKeySet } from '../src/keys.js';
import type { TokenService, TokenServiceOptions } from '../src/tokens.js';
import { createTokenService } from '../src/tokens.js';

export const ISSUER = 'https://auth.test';
export const AUDIENCE = 'provisioning';
export const T0 = new Date('2026-01-01T00:00:00Z');

export interface Fixture {
  clock: ManualClock;
  keys: KeySet;
  store: KeyValueStore;
  tokens: TokenService;
  events: Array<{ type: string }>;
}

/** A key set that counts signature checks: jose resolves the key only when it checks a signature (a cache hit needs no key). Extractable, so tests can forge with it. */
export async function countingKeySet(): Promise<{ keys: KeySet; signatureChecks(): number }> {
  const base = await createKeySet({ extractable: true });
  let checks = 0;
  const keys: KeySet = Object.assign(Object.create(base) as KeySet, {
    verificationKey: (kid: string) => {
      checks += 1;
      return base.verificationKey(kid);
    },
  });
  return { keys, signatureChecks: () => checks };
}

/** A token service on a manual clock and a memory store, with an extractable RS256 key (for forging attacks). */
export async function fixture(overrides: Partial<TokenServiceOptions> = {}): Promise<Fixture> {
  const clock = createManualClock(T0);
  const keys = overrides.keys ?? (await createKeySet({ extractable: true, clock }));
  const store = overrides.store ?? memoryStore({ clock });
  const events: Array<{ type: string }> = [];
  const tokens = createTokenService({
    keys,
    issuer: ISSUER,
    audience: AUDIENCE,
    store,
    clock,
    onEvent: (e) => events.push(e),
    ...overrides,
  });
  return { clock, keys, store, tokens, events };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs an arbitrary header and payload with the key set's RS256 signing key (bypassing jose's checks). */
export async function forge(
  keys: KeySet,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<string> {
  const jwk = await keys.exportPrivateJwk(keys.signingKey().kid);
  const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${nodeSign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** Signs with HMAC-SHA256 using `secret` (the "RSA public key as HMAC secret" attack). */
export function forgeHs256(secret: string, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Valid claims at `now` (seconds) for a forged token. */
export function claimsAt(nowMs: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    iat,
    nbf: iat,
    exp: iat + 900,
    jti: 'forged-jti',
    sid: 'forged-sid',
    roles: ['Viewer'],
    amr: ['pwd'],
    auth_time: iat,
    ...extra,
  };
}

/** Asserts that `promise` rejects with an AuthError of `code` whose message and JSON hold none of `secrets`. */
export async function expectAuthError(
  promise: Promise<unknown>,
  code: string,
  secrets: string[] = [],
): Promise<AuthError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(AuthError);
  expect((error as AuthError).code).toBe(code);
  const text = `${(error as AuthError).message} ${JSON.stringify(error)} ${JSON.stringify((error as AuthError).details)}`;
  for (const secret of secrets) expect(text.includes(secret), 'an error leaked a secret').toBe(false);
  return error as AuthError;
}
