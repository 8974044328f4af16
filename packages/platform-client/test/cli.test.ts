import { statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@provisioning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, formatTable, parseOciReference, progressBar } from '../src/cli.js';
import { type FakePlatform, startFakePlatform } from './fake-platform.js';
import { runCliProcess } from './run-cli.js';

const PASSWORD = 'correct horse';

describe('provisioning CLI against an in-process fake platform (real HTTP, spawned process)', {
  timeout: 180_000,
}, () => {
  let platform: FakePlatform;
  let home: { path: string; remove(): void };
  let env: Record<string, string>;
  beforeAll(async () => {
    platform = await startFakePlatform();
    home = tempDir();
    env = { ...platform.env, PROVISIONING_SESSION_FILE: join(home.path, 'session.json') };
  });
  afterAll(async () => {
    await platform?.close();
    home?.remove();
  });
  const cli = (args: string[], extra: { env?: Record<string, string>; input?: string } = {}) =>
    runCliProcess(args, {
      env: { ...env, ...extra.env },
      ...(extra.input !== undefined ? { input: extra.input } : {}),
    });

  it('health: a table by default, JSON with --json, exit 0 when all are healthy', async () => {
    const human = await cli(['health']);
    expect(human.code).toBe(EXIT_CODES.ok);
    expect(human.stdout).toMatch(/^service\s+url\s+health/m);
    expect(human.stdout).toMatch(/orchestrator\s+http:\/\/127\.0\.0\.1:\d+\s+healthy/);
    const machine = await cli(['health', '--json']);
    const parsed = JSON.parse(machine.stdout);
    expect(parsed.healthy).toBe(true);
    expect(Object.keys(parsed.services)).toEqual([
      'orchestrator',
      'controlCenter',
      'kms',
      'apiServer',
      'extensionRegistry',
    ]);
  });

  it('health exits 10 when a service is unhealthy', async () => {
    platform.down.add('kms');
    try {
      const result = await cli(['health', '--json']);
      expect(result.code).toBe(EXIT_CODES.unhealthy);
      expect(JSON.parse(result.stdout).services.kms).toMatchObject({
        healthy: false,
        error: { code: 'ERR_CLIENT_SERVER_ERROR' },
      });
    } finally {
      platform.down.delete('kms');
    }
  });

  it('login without the MFA code exits 3 with ERR_CLIENT_MFA_REQUIRED and leaks no password', async () => {
    const result = await cli(['login', '--username', 'ada', '--password-stdin'], { input: `${PASSWORD}\n` });
    expect(result.code).toBe(EXIT_CODES.auth);
    expect(result.stderr).toContain('ERR_CLIENT_MFA_REQUIRED');
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it('logs in with password (stdin) and MFA, saves an owner-only session, then runs workflow, kms and audit commands', async () => {
    const login = await cli(['login', '--username', 'ada', '--password-stdin', '--mfa-code', '123456'], {
      input: `${PASSWORD}\n`,
    });
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('logged in as ada');
    expect(statSync(env.PROVISIONING_SESSION_FILE as string).mode & 0o777).toBe(0o600);

    const status = await cli(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('logged in as ada (Admin)');

    const list = await cli(['workflow', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((t: { status: string }) => t.status)).toEqual(['Running', 'Completed']);
    expect(platform.requests.at(-1)?.headers.authorization).toMatch(/^Bearer tok-/);

    const table = await cli(['workflow', 'list', '--status', 'Running']);
    expect(table.stdout).toMatch(/Running\s+40%/);

    const submit = await cli(['workflow', 'submit', 'servers', '--infra', 'prod', '--param', 'plan=small', '--json']);
    expect(submit.code).toBe(0);
    const id = JSON.parse(submit.stdout).workflow_id as string;
    expect(platform.requests.at(-1)?.body).toEqual({ infra: 'prod', params: { plan: 'small' } });

    const one = await cli(['workflow', 'status', id]);
    expect(one.stdout).toMatch(/status\s+Pending/);

    const missing = await cli(['workflow', 'status', 'nope']);
    expect(missing.code).toBe(EXIT_CODES.notFound);

    const encrypted = await cli(['kms', 'encrypt', '--context', 'tenant=a'], { input: 'top secret' });
    expect(encrypted.code).toBe(0);
    const ciphertext = encrypted.stdout.trim();
    expect(ciphertext).toMatch(/^fake:/);
    const decrypted = await cli(['kms', 'decrypt', '--context', 'tenant=a'], { input: ciphertext });
    expect(decrypted.stdout).toBe('top secret');
    const wrongContext = await cli(['kms', 'decrypt', '--context', 'tenant=b'], { input: ciphertext });
    expect(wrongContext.code).toBe(EXIT_CODES.rejected);
    expect(wrongContext.stderr).not.toContain('top secret');

    const audit = await cli(['audit', 'query', '--actor', 'bob']);
    expect(audit.stdout).toMatch(/bob\s+kms\.decrypt\s+Key::"k1"\s+denied/);
    const exported = await cli(['audit', 'export', '--format', 'csv']);
    expect(exported.stdout).toBe('id,actor,action,outcome\ne1,ada,auth.login,success\n');
    // query and export send the same filters, resource included.
    const filters = ['--actor', 'bob', '--outcome', 'denied', '--resource-type', 'Key', '--resource-id', 'k1'];
    const sent = {
      actor: 'bob',
      outcome: 'denied',
      resource_type: 'Key',
      resource_id: 'k1',
    };
    expect((await cli(['audit', 'query', ...filters])).code).toBe(0);
    expect(Object.fromEntries(platform.requests.at(-1)?.query ?? [])).toMatchObject(sent);
    expect((await cli(['audit', 'export', '--format', 'csv', ...filters])).code).toBe(0);
    expect(platform.requests.at(-1)?.path).toBe('/api/v1/audit/export');
    expect(Object.fromEntries(platform.requests.at(-1)?.query ?? [])).toMatchObject({ ...sent, format: 'csv' });
    const before = platform.requests.length;
    const badOutcome = await cli(['audit', 'query', '--outcome', 'maybe']);
    expect([badOutcome.code, badOutcome.stderr]).toEqual([EXIT_CODES.usage, expect.stringContaining('--outcome')]);
    expect(platform.requests.length).toBe(before);

    const logout = await cli(['logout', '--all', '--json']);
    expect(JSON.parse(logout.stdout)).toEqual({ revoked: 2 });
    const after = await cli(['workflow', 'list']);
    expect(after.code).toBe(EXIT_CODES.auth);
    expect(after.stderr).toContain('ERR_CLIENT_NOT_AUTHENTICATED');
  });

  it('API-key mode from the environment', async () => {
    const result = await cli(['workflow', 'list', '--json'], { env: { PROVISIONING_API_KEY: 'test-api-key' } });
    expect(result.code).toBe(0);
    expect(platform.requests.at(-1)?.headers['x-api-key']).toBe('test-api-key');
  });

  it('usage errors exit 2 with help', async () => {
    expect((await cli(['frobnicate'])).code).toBe(EXIT_CODES.usage);
    expect((await cli(['health', '--no-such-flag'])).code).toBe(EXIT_CODES.usage);
    const bad = await cli(['workflow', 'submit', 'rocket', '--infra', 'x', '--json']);
    expect(bad.code).toBe(EXIT_CODES.usage);
    expect(JSON.parse(bad.stderr).error.code).toBe('USAGE');
  });
});

describe('CLI helpers', () => {
  it('formats aligned tables', () => {
    expect(formatTable(['a', 'bb'], [['xxx', null]])).toBe('a    bb\n---  --\nxxx  -\n');
  });
  it('draws a progress bar', () => {
    expect(progressBar(512 * 1024, 1024 * 1024, 10)).toBe('[#####.....]  50%  0.5 MiB/1.0 MiB');
  });
  it('parses OCI references', () => {
    expect(parseOciReference('127.0.0.1:5000/ext/app:v1', true)).toEqual({
      registry: 'http://127.0.0.1:5000',
      repository: 'ext/app',
      reference: 'v1',
    });
    expect(parseOciReference('reg.example/app@sha256:abc', false)).toEqual({
      registry: 'https://reg.example',
      repository: 'app',
      reference: 'sha256:abc',
    });
    expect(parseOciReference('https://reg.example:5000/a/b', false)).toMatchObject({
      repository: 'a/b',
      reference: 'latest',
    });
  });
});
