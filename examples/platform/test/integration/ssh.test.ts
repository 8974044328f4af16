import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { ORCHESTRATOR_ROUTES as R } from '@provisioning/platform-client/api';
import { tempDir } from '@provisioning/testing';
import { startSshd, type TestSshd } from '@provisioning/testing/sshd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestratorHarness } from '../orchestrator-fixture.js';

/**
 * The orchestrator's SSH routes against Debian's OpenSSH server on loopback:
 * sshd trusts the platform's CA (`GET /api/v1/ssh/ca`) and reads the
 * authorized_keys files the platform deploys to (`<dir>/<server>/<user>`).
 * sshd logs in real local accounts: the tests run as root (as CI does).
 */
const USER = 'root';
const SERVER = 'dev-loopback';

let sshd: TestSshd;
let keys: ReturnType<typeof tempDir>;
beforeAll(async () => {
  keys = tempDir('platform-ssh-keys-');
  sshd = await startSshd({ authorizedKeysFile: join(keys.path, SERVER, '%u') });
});
afterAll(async () => {
  await sshd?.stop();
  keys?.remove();
});

async function setup() {
  // Certificates and expiry-time markers are checked by sshd against the real time.
  const harness = await orchestratorHarness({
    platform: { clock: createManualClock(new Date()) },
    orchestrator: { authorizedKeysDir: keys.path, sshPort: sshd.port },
  });
  const admin = (await harness.user('root', ['Admin'])).token;
  const generate = async (body: Record<string, unknown>) => {
    const res = await harness.call('POST', R.generateSshKey.path, admin, { server: SERVER, ...body });
    expect(res.status, res.text).toBe(201);
    return res.json.data as { id: string; private_key: string; certificate?: string };
  };
  return { ...harness, admin, generate };
}

describe('SSH keys and certificates from the orchestrator log in to a real sshd', () => {
  it('a certificate of the platform CA logs in for its principal only, once sshd trusts the CA', async () => {
    const { call, admin, generate } = await setup();
    const cert = await generate({ user: USER, type: 'ca', ttl_seconds: 600 });
    const login = () =>
      sshd.login({ user: USER, privateKey: cert.private_key, certificate: cert.certificate as string });

    writeFileSync(sshd.trustedCaFile, '');
    expect((await login()).code).toBe(255);

    const ca = (await call('GET', '/api/v1/ssh/ca', admin)).json.data as { public_key: string };
    writeFileSync(sshd.trustedCaFile, `${ca.public_key}\n`);
    const ok = await login();
    expect([ok.code, ok.stdout.trim()], ok.stderr + sshd.log()).toEqual([0, USER]);

    // A certificate for another principal does not log in as root.
    const other = await generate({ user: 'deploy', type: 'ca', ttl_seconds: 600 });
    expect(
      (await sshd.login({ user: USER, privateKey: other.private_key, certificate: other.certificate as string })).code,
    ).toBe(255);
  });

  it('a dynamic key logs in once deployed, and no longer after it is revoked', async () => {
    const { call, admin, at, generate } = await setup();
    const key = await generate({ user: USER, ttl_seconds: 600 });
    const login = () => sshd.login({ user: USER, privateKey: key.private_key });

    expect((await login()).code).toBe(255);
    expect((await call('POST', at(R.deploySshKey, key.id), admin)).status).toBe(200);
    const ok = await login();
    expect([ok.code, ok.stdout.trim()], ok.stderr + sshd.log()).toEqual([0, USER]);

    expect((await call('POST', at(R.revokeSshKey, key.id), admin, { reason: 'done' })).status).toBe(200);
    expect((await login()).code).toBe(255);
  });
});
