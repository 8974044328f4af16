import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { startSshd, type TestSshd } from '@provisioning/testing/sshd';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLeaseManager } from '../../src/manager.js';
import { authorizedKeysProvider, cleanupAuthorizedKeys, deployAuthorizedKey } from '../../src/ssh/authorized-keys.js';
import { createSshCertificateAuthority } from '../../src/ssh/ca.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { sshCertificateProvider } from '../../src/ssh/providers.js';
import { memoryLeaseStore } from '../../src/stores/memory.js';

// Real OpenSSH 9.2 (Debian's openssh-server and openssh-client): sshd on
// loopback with its own config; logins through the real `ssh` client.
let sshd: TestSshd;
const caPair = generateSshKeyPair({ comment: 'test-ca' });
const ca = createSshCertificateAuthority({ privateKey: caPair.privateKey });
const USER = 'root';

beforeAll(async () => {
  // sshd presents a host certificate signed by the same CA.
  sshd = await startSshd({
    hostCertificate: (hostPublicKey) =>
      ca.issue({
        publicKey: hostPublicKey,
        type: 'host',
        principals: ['127.0.0.1', 'localhost'],
        keyId: 'test-host',
        validitySeconds: 3600,
      }).certificate,
  });
  writeFileSync(sshd.trustedCaFile, `${ca.publicKey}\n`);
});
/** Waits until sshd's log, after `mark`, says why it refused. */
async function expectLogged(mark: number, text: string): Promise<void> {
  await vi.waitFor(() => expect(sshd.log().slice(mark)).toContain(text), { timeout: 5000 });
}

afterAll(async () => {
  await sshd?.stop();
});

describe('OpenSSH accepts what the certificate authority issues', () => {
  it('a certificate we issue through the lease manager logs in', async () => {
    const certs = sshCertificateProvider({ ca });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [certs] });
    const { lease, secret } = await leases.issue(certs, { principals: [USER] }, { owner: 'alice', ttlSeconds: 300 });
    const result = await sshd.login({
      user: USER,
      privateKey: secret.keyPair?.privateKey as string,
      certificate: secret.certificate,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(USER);
    expect(result.code).toBe(0);
    // sshd logs the key id: the lease id.
    expect(sshd.log()).toContain(`ID ${lease.id}`);
  });

  it('an expired certificate is refused', async () => {
    const past = createManualClock(Date.now() - 3_600_000);
    const oldCa = createSshCertificateAuthority({ privateKey: caPair, clock: past });
    const user = generateSshKeyPair();
    const cert = oldCa.issue({ publicKey: user.publicKey, principals: [USER], keyId: 'expired', validitySeconds: 60 });
    const mark = sshd.log().length;
    const result = await sshd.login({ user: USER, privateKey: user.privateKey, certificate: cert.certificate });
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    await expectLogged(mark, 'Certificate invalid: expired');
  });

  it('a certificate for another principal is refused', async () => {
    const user = generateSshKeyPair();
    const cert = ca.issue({
      publicKey: user.publicKey,
      principals: ['someone-else'],
      keyId: 'wrong',
      validitySeconds: 300,
    });
    const mark = sshd.log().length;
    const result = await sshd.login({ user: USER, privateKey: user.privateKey, certificate: cert.certificate });
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    await expectLogged(mark, 'Certificate invalid: name is not a listed principal');
  });

  it('critical options are enforced: force-command replaces the command, source-address restricts the origin', async () => {
    const user = generateSshKeyPair();
    const forced = ca.issue({
      publicKey: user.publicKey,
      principals: [USER],
      keyId: 'forced',
      validitySeconds: 300,
      criticalOptions: { 'force-command': 'echo forced-by-certificate', 'source-address': '127.0.0.1/32' },
    });
    const ok = await sshd.login({
      user: USER,
      privateKey: user.privateKey,
      certificate: forced.certificate,
      command: 'id -un',
    });
    expect(ok.stdout.trim()).toBe('forced-by-certificate');
    const elsewhere = ca.issue({
      publicKey: user.publicKey,
      principals: [USER],
      keyId: 'elsewhere',
      validitySeconds: 300,
      criticalOptions: { 'source-address': '10.9.9.9' },
    });
    const mark = sshd.log().length;
    const refused = await sshd.login({ user: USER, privateKey: user.privateKey, certificate: elsewhere.certificate });
    expect(refused.code).toBe(255);
    await expectLogged(mark, 'not from a permitted source address');
  });

  it('ssh-keygen -L parses our certificates and shows our extensions and options', () => {
    const user = generateSshKeyPair();
    const cert = ca.issue({
      publicKey: user.publicKey,
      principals: [USER, 'deploy'],
      keyId: 'listing',
      validitySeconds: 300,
      extensions: ['permit-pty', 'permit-port-forwarding', 'permit-agent-forwarding'],
      criticalOptions: { 'force-command': '/bin/true', 'source-address': '127.0.0.1' },
    });
    const file = join(sshd.dir, 'listing-cert.pub');
    writeFileSync(file, `${cert.certificate}\n`);
    const out = execFileSync('ssh-keygen', ['-L', '-f', file], { encoding: 'utf8' });
    expect(out).toContain(`Signing CA: ED25519 ${ca.fingerprint}`);
    expect(out).toMatch(/Critical Options: \n\s+force-command \/bin\/true\n\s+source-address 127\.0\.0\.1\n/);
    expect(out).toMatch(/Extensions: \n\s+permit-agent-forwarding\n\s+permit-port-forwarding\n\s+permit-pty\n/);
  });

  it('after the CA is distrusted, its certificates are refused', async () => {
    const user = generateSshKeyPair();
    const cert = ca.issue({ publicKey: user.publicKey, principals: [USER], keyId: 'distrust', validitySeconds: 300 });
    expect((await sshd.login({ user: USER, privateKey: user.privateKey, certificate: cert.certificate })).code).toBe(0);
    const other = createSshCertificateAuthority({ privateKey: generateSshKeyPair() });
    writeFileSync(sshd.trustedCaFile, `${other.publicKey}\n`);
    const mark = sshd.log().length;
    try {
      const result = await sshd.login({ user: USER, privateKey: user.privateKey, certificate: cert.certificate });
      expect(result.code).toBe(255);
      expect(result.stdout).toBe('');
      await expectLogged(mark, `Failed publickey for ${USER}`);
      expect(sshd.log().slice(mark)).not.toContain('Accepted certificate ID "distrust"');
    } finally {
      writeFileSync(sshd.trustedCaFile, `${ca.publicKey}\n`);
    }
  });
});

describe('OpenSSH accepts our host certificates', () => {
  it('the ssh client trusts the host through its certificate (@cert-authority), and refuses another CA', async () => {
    const user = generateSshKeyPair();
    const cert = ca.issue({ publicKey: user.publicKey, principals: [USER], keyId: 'host-check', validitySeconds: 300 });
    const trusted = join(sshd.dir, 'known_hosts_ca');
    writeFileSync(trusted, `@cert-authority 127.0.0.1 ${ca.publicKey}\n`);
    const ok = await sshd.login({
      user: USER,
      privateKey: user.privateKey,
      certificate: cert.certificate,
      knownHosts: trusted,
    });
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe(USER);
    const other = join(sshd.dir, 'known_hosts_other');
    const stranger = createSshCertificateAuthority({ privateKey: generateSshKeyPair() });
    writeFileSync(other, `@cert-authority 127.0.0.1 ${stranger.publicKey}\n`);
    const refused = await sshd.login({
      user: USER,
      privateKey: user.privateKey,
      certificate: cert.certificate,
      knownHosts: other,
    });
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Host key verification failed/);
  });
});

describe('OpenSSH honours authorized_keys deployment', () => {
  it('a deployed key logs in, and after cleanup it no longer does', async () => {
    const clock = createManualClock(Date.now());
    const keys = authorizedKeysProvider({ file: sshd.authorizedKeysFile });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [keys], clock });
    const { secret } = await leases.issue(keys, {}, { owner: 'alice', ttlSeconds: 600 });
    const privateKey = secret.keyPair?.privateKey as string;
    const ok = await sshd.login({ user: USER, privateKey });
    expect(ok.stdout.trim()).toBe(USER);
    clock.advance(11 * 60_000);
    expect(await cleanupAuthorizedKeys(sshd.authorizedKeysFile, clock)).toHaveLength(1);
    const after = await sshd.login({ user: USER, privateKey });
    expect(after.code).toBe(255);
  });

  it('sshd itself refuses a deployed key past its expiry-time, even before cleanup', async () => {
    const user = generateSshKeyPair();
    await deployAuthorizedKey({
      file: sshd.authorizedKeysFile,
      publicKey: user.publicKey,
      expiresAt: new Date(Date.now() - 120_000),
      leaseId: 'expired/1',
    });
    const result = await sshd.login({ user: USER, privateKey: user.privateKey });
    expect(result.code).toBe(255);
  });

  it('revoking the lease removes the key and the login fails', async () => {
    const keys = authorizedKeysProvider({ file: sshd.authorizedKeysFile });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [keys] });
    const { lease, secret } = await leases.issue(keys, {}, { owner: 'bob', ttlSeconds: 600 });
    const privateKey = secret.keyPair?.privateKey as string;
    expect((await sshd.login({ user: USER, privateKey })).code).toBe(0);
    await leases.revoke(lease.id);
    expect((await sshd.login({ user: USER, privateKey })).code).toBe(255);
  });
});
