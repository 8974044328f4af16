import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { decodeBase32, generateTotp } from '@provisioning/mfa';
import { integrationServers, usePostgresDatabase } from '@provisioning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlCenterApp } from '../../src/control-center/index.js';
import { type RunningServer, serve } from '../../src/kit/serve.js';
import { addUser, createTestPlatform } from '../platform-fixture.js';

/**
 * Two control center instances, each its own process state, sharing one
 * PostgreSQL database (users, MFA devices, durable state) and one Redis
 * (sessions and revocation, rate limits, MFA replay guards), over real HTTP
 * on loopback. They share the data directory's keys (signing, MFA
 * encryption), as instances behind one load balancer share mounted secrets.
 */
const pg = usePostgresDatabase();
const PASSWORD = 'correct horse battery staple';
const LIMIT = 20;

let dataDir: string;
let a: { url: string; server: RunningServer; platform: Awaited<ReturnType<typeof createTestPlatform>> };
let b: typeof a;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'platform-multi-'));
  const { redisUrl } = integrationServers();
  const redisPrefix = `multi-${randomBytes(4).toString('hex')}:`;
  const start = async (instance: string) => {
    // The same start time on both: TOTP codes are computed from it.
    const platform = await createTestPlatform({
      dataDir,
      clock: createManualClock(new Date('2026-03-02T10:00:00Z')),
      rateLimitPerMinute: LIMIT,
      storage: { postgresUrl: pg.url, redisUrl, redisPrefix, instance },
    });
    const server = await serve(createControlCenterApp(platform), { host: '127.0.0.1', port: 0 });
    return { url: server.url, server, platform };
  };
  // One after the other: the first creates the keys the second reads.
  a = await start('a');
  b = await start('b');
});

afterAll(async () => {
  for (const x of [a, b]) {
    await x?.server.close(1000);
    await x?.platform.close();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const post = async (base: string, path: string, body: unknown, token?: string) => {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
};
const get = async (base: string, path: string, token: string) => {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as any };
};

describe('two control centers on a shared PostgreSQL and Redis', () => {
  it('run on the configured stores', () => {
    expect([a.platform.storage, b.platform.storage]).toEqual(['postgres+redis', 'postgres+redis']);
  });

  it('a session revoked on one instance is refused by the other', async () => {
    await addUser(a.platform, 'rev', PASSWORD, ['Viewer']);
    const login = await post(a.url, '/auth/login', { username: 'rev', password: PASSWORD });
    expect(login.status).toBe(200);
    const token = login.json.data.access_token as string;
    expect((await get(b.url, '/auth/verify', token)).status).toBe(200);
    expect((await post(a.url, '/auth/logout', {}, token)).json.data).toEqual({ revoked: 1 });
    const refused = await get(b.url, '/auth/verify', token);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ success: false, code: 'INVALID_TOKEN' });
  });

  it('a TOTP code accepted by one instance is refused by the other (replay)', async () => {
    await addUser(a.platform, 'otp', PASSWORD, ['Viewer']);
    const session = (await post(a.url, '/auth/login', { username: 'otp', password: PASSWORD })).json.data;
    const enrolled = await post(a.url, '/mfa/enroll/totp', {}, session.access_token);
    const secret = decodeBase32(enrolled.json.data.secret as string);
    const code = (offsetMs: number) => generateTotp({ secret, atMs: a.platform.clock.now() + offsetMs });
    // Confirmed on B: the enrollment is in the shared database.
    expect((await post(b.url, '/mfa/verify', { code: code(0) }, session.access_token)).json.data.verified).toBe(true);
    for (const p of [a.platform, b.platform]) p.clock.advance(30_000);
    const next = code(0);
    const first = await post(a.url, '/auth/login', { username: 'otp', password: PASSWORD, mfa_code: next });
    expect(first.status).toBe(200);
    const replayed = await post(b.url, '/auth/login', { username: 'otp', password: PASSWORD, mfa_code: next });
    expect(replayed.status).toBe(401);
    expect(replayed.json.code).toBe('MFA_REQUIRED');
  });

  it('holds one rate limit across both instances', async () => {
    const statuses: number[] = [];
    // Without a token: 401 until the limit, then 429. Per-IP limit on the shared store: loopback is one client for both.
    for (let i = 0; i < LIMIT + 4; i++) {
      const res = await fetch(`${i % 2 === 0 ? a.url : b.url}/auth/verify`);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const allowed = statuses.filter((s) => s === 401).length;
    // Earlier tests of this file spent part of the same window.
    expect(allowed).toBeLessThanOrEqual(LIMIT);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    const res = await fetch(`${b.url}/auth/verify`);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await res.json()) as { code: string }).code).toBe('RATE_LIMITED');
  });
});
