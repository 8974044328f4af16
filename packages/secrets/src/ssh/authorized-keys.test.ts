import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createLeaseManager } from '../manager.js';
import { memoryLeaseStore } from '../stores/memory.js';
import {
  authorizedKeysProvider,
  cleanupAuthorizedKeys,
  deployAuthorizedKey,
  expiryTimeOption,
  removeAuthorizedKey,
} from './authorized-keys.js';
import { generateSshKeyPair } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'authkeys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (content?: string): string => {
  const file = join(dir, `authorized_keys_${n++}`);
  if (content !== undefined) writeFileSync(file, content);
  return file;
};

// Lines a human or another tool wrote, with odd spacing, comments, CRLF and options.
const FOREIGN = [
  '# managed by hand',
  '',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc0xq0bZ7o2vM1kq3Hn8mJ4oB0lL8x2Z6y5Xy0dJt1a   alice@laptop  ',
  'from="10.0.0.1",no-pty ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob\r',
  'expiry-time="20200101000000Z" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc0xq0bZ7o2vM1kq3Hn8mJ4oB0lL8x2Z6y5Xy0dJt1a not-ours',
].join('\n');

describe('authorized_keys deployment', () => {
  it('formats sshd expiry-time in UTC with Z, rounded down to the minute', () => {
    expect(expiryTimeOption(new Date('2026-03-01T12:34:59.999Z'))).toBe('expiry-time="202603011234Z"');
  });

  it('adds a key with an expiry and a lease marker, leaving every other line byte-for-byte', async () => {
    const file = fresh(`${FOREIGN}\n`);
    const key = generateSshKeyPair();
    await deployAuthorizedKey({
      file,
      publicKey: key.publicKey,
      expiresAt: new Date('2026-03-01T12:00:00Z'),
      leaseId: 'k/1',
    });
    const content = readFileSync(file, 'utf8');
    expect(content.startsWith(`${FOREIGN}\n`)).toBe(true);
    const added = content.slice(FOREIGN.length + 1);
    expect(added).toBe(`expiry-time="202603011200Z" ${key.publicKey.trim()} provisioning-lease=k/1\n`);
  });

  it('cleanup removes only expired entries it wrote; everything else stays byte-for-byte', async () => {
    const file = fresh(FOREIGN); // no trailing newline on purpose
    const clock = createManualClock(new Date('2026-03-01T12:00:00Z'));
    const a = generateSshKeyPair();
    const b = generateSshKeyPair();
    await deployAuthorizedKey({
      file,
      publicKey: a.publicKey,
      expiresAt: new Date('2026-03-01T12:05:00Z'),
      leaseId: 'k/a',
    });
    await deployAuthorizedKey({
      file,
      publicKey: b.publicKey,
      expiresAt: new Date('2026-03-01T13:00:00Z'),
      leaseId: 'k/b',
    });
    expect(await cleanupAuthorizedKeys(file, clock)).toEqual([]);
    clock.advance(5 * 60_000);
    expect(await cleanupAuthorizedKeys(file, clock)).toEqual(['k/a']);
    const content = readFileSync(file, 'utf8');
    expect(content).toBe(`${FOREIGN}\nexpiry-time="202603011300Z" ${b.publicKey} provisioning-lease=k/b\n`);
    expect(await removeAuthorizedKey(file, 'k/b')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`${FOREIGN}\n`);
    expect(await removeAuthorizedKey(file, 'k/b')).toBe(false);
  });

  it('rewrites atomically, keeping mode, and leaves no temporary file', async () => {
    const file = fresh('ssh-ed25519 AAAA x\n');
    chmodSync(file, 0o640);
    await deployAuthorizedKey({
      file,
      publicKey: generateSshKeyPair().publicKey,
      expiresAt: new Date(Date.now() + 3_600_000),
      leaseId: 'k/m',
    });
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const created = fresh();
    await deployAuthorizedKey({
      file: created,
      publicKey: generateSshKeyPair().publicKey,
      expiresAt: new Date(),
      leaseId: 'k/n',
    });
    expect(statSync(created).mode & 0o777).toBe(0o600);
  });

  it('concurrent deployments to one file lose no line', async () => {
    const file = fresh('');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        deployAuthorizedKey({
          file,
          publicKey: generateSshKeyPair().publicKey,
          expiresAt: new Date(Date.now() + 60_000),
          leaseId: `k/${i}`,
        }),
      ),
    );
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(20);
  });

  it('refuses options that could inject another key or option', async () => {
    const file = fresh('');
    const publicKey = generateSshKeyPair().publicKey;
    for (const options of [['command="x" ssh-ed25519 AAAA'], ['a\nb'], ['expiry-time="209901010000Z"']]) {
      await expect(
        deployAuthorizedKey({ file, publicKey, expiresAt: new Date(), leaseId: 'k', options }),
      ).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_REQUEST' });
    }
    await expect(
      deployAuthorizedKey({ file, publicKey: 'ssh-ed25519 AAAA\nssh-rsa evil', expiresAt: new Date(), leaseId: 'k' }),
    ).rejects.toMatchObject({ code: 'ERR_SECRETS_MALFORMED_KEY' });
    await expect(deployAuthorizedKey({ file, publicKey, expiresAt: new Date(), leaseId: 'k x' })).rejects.toMatchObject(
      { code: 'ERR_SECRETS_INVALID_REQUEST' },
    );
  });

  it('as a lease provider: issue deploys, renew moves the expiry, revoke removes the line', async () => {
    const file = fresh('# keep me\n');
    const clock = createManualClock(new Date('2026-03-01T12:00:00Z'));
    const provider = authorizedKeysProvider({ file });
    const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], clock });
    const { lease, secret } = await leases.issue(provider, {}, { owner: 'alice', ttlSeconds: 600 });
    expect(secret.keyPair?.privateKey).toContain('OPENSSH PRIVATE KEY');
    expect(readFileSync(file, 'utf8')).toContain(
      `expiry-time="202603011210Z" ${secret.publicKey.split(' ').slice(0, 2).join(' ')}`,
    );
    clock.advance(300_000);
    await leases.renew(lease.id);
    expect(readFileSync(file, 'utf8')).toContain('expiry-time="202603011215Z"');
    expect(readFileSync(file, 'utf8').match(/provisioning-lease/g)).toHaveLength(1);
    await leases.revoke(lease.id);
    expect(readFileSync(file, 'utf8')).toBe('# keep me\n');
  });
});

describe('authorized_keys across processes', () => {
  it('two processes deploying to one file at once lose no line (lock file)', async () => {
    const { spawn } = await import('node:child_process');
    const file = fresh('# shared\n');
    const script = `
      import { deployAuthorizedKey } from './src/ssh/authorized-keys.ts';
      import { generateSshKeyPair } from './src/ssh/keys.ts';
      const [file, tag] = process.argv.slice(-2);
      await Promise.all(Array.from({ length: 15 }, (_, i) =>
        deployAuthorizedKey({ file, publicKey: generateSshKeyPair().publicKey, expiresAt: new Date(Date.now() + 600000), leaseId: tag + '/' + i })));
    `;
    const run = (tag: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--conditions=@provisioning/source', '--input-type=module', '-e', script, file, tag],
          {
            cwd: join(import.meta.dirname, '..', '..'),
            stdio: 'inherit',
          },
        );
        child.on('close', resolve);
      });
    expect(await Promise.all([run('a'), run('b')])).toEqual([0, 0]);
    const content = readFileSync(file, 'utf8');
    expect(content.startsWith('# shared\n')).toBe(true);
    expect(content.match(/provisioning-lease=/g)).toHaveLength(30);
    expect(readdirSync(dir).filter((f) => f.endsWith('-lock'))).toEqual([]);
  }, 60_000);
});
