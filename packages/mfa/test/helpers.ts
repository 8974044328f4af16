import { randomBytes } from 'node:crypto';
import type { KeyValueStore, ManualClock } from '@provisioning/core';
import { createManualClock, memoryStore } from '@provisioning/core';
import { expect } from 'vitest';
import { localAesGcmEncrypter } from '../src/encrypter.js';
import { MfaError } from '../src/errors.js';
import type { MfaService, MfaServiceOptions } from '../src/service.js';
import { createMfaService } from '../src/service.js';
import type { MfaStore } from '../src/store.js';
import { memoryMfaStore } from '../src/stores/memory.js';
import { decodeBase32, generateTotp } from '../src/totp.js';

export const ORIGIN = 'https://cc.example.com';
export const RP = { id: 'example.com', name: 'Provisioning', origins: [ORIGIN] } as const;
export const START = new Date('2026-01-01T00:00:00Z');

export interface Harness {
  readonly mfa: MfaService;
  readonly store: MfaStore;
  readonly kv: KeyValueStore;
  readonly clock: ManualClock;
  readonly options: MfaServiceOptions;
}

/** A service on memory stores and a frozen clock (overridable). */
export function harness(overrides: Partial<MfaServiceOptions> & { clock?: ManualClock } = {}): Harness {
  const clock = overrides.clock ?? createManualClock(START);
  const store = overrides.store ?? memoryMfaStore();
  const kv = overrides.kv ?? memoryStore({ clock });
  const options: MfaServiceOptions = {
    store,
    kv,
    encrypter: localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] }),
    rp: RP,
    ...overrides,
    clock,
  };
  return { mfa: createMfaService(options), store, kv, clock, options };
}

/** The code an authenticator app shows for `secret` (base32) now. */
export function codeFor(secret: string, clock: ManualClock, offsetMs = 0): string {
  return generateTotp({ secret: decodeBase32(secret), atMs: clock.now() + offsetMs });
}

/** Enrolls and confirms a TOTP device; returns its id and base32 secret. The confirming step is used. */
export async function enrollTotp(
  h: Harness,
  userId: string,
): Promise<{ deviceId: string; secret: string; backupCodes?: readonly string[] }> {
  const e = await h.mfa.beginTotpEnrollment(userId, { accountName: `${userId}@example.com` });
  const r = await h.mfa.confirmTotpEnrollment(userId, e.deviceId, codeFor(e.secret, h.clock));
  return { deviceId: e.deviceId, secret: e.secret, ...(r.backupCodes ? { backupCodes: r.backupCodes } : {}) };
}

/** Awaits a rejection with an MfaError of `code`. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<MfaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(MfaError);
  expect((error as MfaError).code).toBe(code);
  return error as MfaError;
}

/** Everything an error could leak through: message, JSON view, details, cause chain. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  while (e !== undefined && e !== null) {
    parts.push(
      String((e as Error).message),
      JSON.stringify(e),
      JSON.stringify((e as { details?: unknown }).details ?? {}),
    );
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}
