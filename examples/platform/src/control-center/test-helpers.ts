import { decodeBase32, generateTotp } from '@provisioning/mfa';
import type { Hono } from 'hono';
import { expect } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { createControlCenterApp } from './index.js';

export type TestPlatform = Awaited<ReturnType<typeof createTestPlatform>>;

/** Everything every error body of a test was, to check that none carries a secret. */
export const errorBodies: string[] = [];
/** Secrets the tests handled (TOTP secrets, backup codes …). */
export const handledSecrets: Set<string> = new Set();

/** No error body of this test file carries a password, secret, code or token. */
export function expectNoSecretsInErrors(): void {
  for (const body of errorBodies) {
    for (const secret of [PASSWORD, ...handledSecrets]) expect(body).not.toContain(secret);
    expect(body).not.toMatch(/eyJ[\w-]+\.[\w-]+\./); // no JWT
    expect(body).not.toContain('prt_'); // no refresh token
    expect(body).not.toContain('argon2');
  }
}

/** A control center on a fresh test platform, with JSON helpers. */
export async function controlCenter() {
  const platform = await createTestPlatform();
  const app: Hono = fromLoopback(createControlCenterApp(platform));
  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    if (res.status >= 400) errorBodies.push(text);
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  const login = async (username: string, password: string, mfaCode?: string) =>
    call('POST', '/auth/login', {
      body: { username, password, ...(mfaCode === undefined ? {} : { mfa_code: mfaCode }) },
    });
  /** The TOTP code now for a base32 secret. */
  const totp = (secret: string) => generateTotp({ secret: decodeBase32(secret), atMs: platform.clock.now() });
  /** Logs in, enrolls TOTP and confirms it; returns the secret, backup codes and a stepped-up token. */
  const enrollTotp = async (username: string, password: string) => {
    const session = await login(username, password);
    const token = session.json.data.access_token as string;
    const enrolled = await call('POST', '/mfa/enroll/totp', { token });
    const secret = enrolled.json.data.secret as string;
    handledSecrets.add(secret);
    const verified = await call('POST', '/mfa/verify', { token, body: { code: totp(secret) } });
    for (const code of verified.json.data.backup_codes as string[]) handledSecrets.add(code);
    // The next code must be in another time step (replay protection).
    platform.clock.advance(30_000);
    return {
      secret,
      backupCodes: verified.json.data.backup_codes as string[],
      token: verified.json.data.access_token as string,
      enrolled,
      verified,
    };
  };
  return {
    platform,
    app,
    call,
    login,
    totp,
    enrollTotp,
    addUser: (u: string, p: string, r: string[]) => addUser(platform, u, p, r),
  };
}

export const PASSWORD = 'correct horse battery staple';
