import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createSshCertificateAuthority } from './ca.js';
import { nobleEd25519, nodeEd25519 } from './ed25519.js';
import { generateSshKeyPair, parseEd25519PrivateKey, parseSshPublicKey, publicBlobOf } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'sshkeys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ssh key pairs', () => {
  it('generates an Ed25519 pair in OpenSSH formats that ssh-keygen reads back', () => {
    const pair = generateSshKeyPair({ comment: 'deploy@ci' });
    expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} deploy@ci$/);
    expect(pair.privateKey).toMatch(
      /^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+-----END OPENSSH PRIVATE KEY-----\n?$/,
    );
    expect(pair.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const file = join(dir, 'id');
    writeFileSync(file, pair.privateKey, { mode: 0o600 });
    // ssh-keygen derives the public key from our private key file, and fingerprints it the same way.
    expect(execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim()).toBe(pair.publicKey);
    writeFileSync(`${file}.pub`, `${pair.publicKey}\n`);
    expect(execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' })).toContain(pair.fingerprint);
  });

  it('noble and node:crypto derive the same keys from the same seed', () => {
    const seed = new Uint8Array(32).map((_, i) => i * 7);
    const random = { bytes: () => seed.slice() };
    const a = generateSshKeyPair({ engine: nobleEd25519, random });
    const b = generateSshKeyPair({ engine: nodeEd25519, random });
    expect(a.publicKey).toBe(b.publicKey);
    const message = new TextEncoder().encode('certificate blob');
    expect(Buffer.from(nobleEd25519.signer(seed)(message))).toEqual(Buffer.from(nodeEd25519.signer(seed)(message)));
  });

  it("node:crypto's fast generate() returns a seed and its public key, as noble derives them", () => {
    for (let i = 0; i < 20; i++) {
      const { seed, publicKey } = nodeEd25519.generate?.() ?? { seed: new Uint8Array(), publicKey: new Uint8Array() };
      expect(seed).toHaveLength(32);
      expect(Buffer.from(publicKey)).toEqual(Buffer.from(nobleEd25519.publicKey(seed)));
    }
  });

  // Exporting a freshly generated KeyObject (as a JWK) deadlocked Node 20 now
  // and then: a GC during the export ran the keygen job's destructor, which
  // waits for the key mutex the export holds. The main thread blocks for good,
  // so only another process can notice: three children each generate 5,000
  // pairs under GC pressure and report progress; one silent for 20 s is hung.
  it('generates thousands of key pairs under GC pressure without hanging', async () => {
    const { spawn } = await import('node:child_process');
    const script = `
      import { generateSshKeyPair } from './src/ssh/keys.ts';
      let junk = [];
      for (let i = 1; i <= 5000; i++) {
        generateSshKeyPair({ comment: 'x' });
        junk.push('x'.repeat(100) + i);
        if (junk.length > 1000) junk = [];
        if (i % 250 === 0) process.stdout.write('.');
      }
    `;
    const run = () =>
      new Promise<string>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            '--max-semi-space-size=1',
            '--import',
            'tsx',
            '--conditions=@provisioning/source',
            '--input-type=module',
            '-e',
            script,
          ],
          { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let watchdog: NodeJS.Timeout;
        const arm = () => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => {
            child.kill('SIGKILL');
            resolve('hung');
          }, 20_000);
        };
        arm();
        child.stdout.on('data', arm);
        child.on('close', (code) => {
          clearTimeout(watchdog);
          resolve(code === 0 ? 'finished' : `exit ${code}`);
        });
      });
    expect(await Promise.all([run(), run(), run()])).toEqual(['finished', 'finished', 'finished']);
  }, 180_000);

  it('private keys stay out of JSON, inspection and enumeration', () => {
    const pair = generateSshKeyPair();
    const body = pair.privateKey.split('\n')[1] as string;
    expect(JSON.stringify(pair)).not.toContain(body);
    expect(inspect(pair, { showHidden: true, depth: 5 })).not.toContain(body);
    expect(Object.keys(pair)).not.toContain('privateKey');
    expect(`${pair}`).not.toContain(body);
    // Copies carry the public fields only.
    expect(JSON.stringify(structuredClone(pair))).not.toContain(body);
    expect({ ...pair }).toEqual({
      type: 'ssh-ed25519',
      publicKey: pair.publicKey,
      fingerprint: pair.fingerprint,
      comment: '',
    });
    expect(Object.isFrozen(pair)).toBe(true);
    // Formatted once: the same text (and the same random check integers) every time it is read.
    expect(pair.privateKey).toBe(pair.privateKey);
  });

  it('a copy of a pair is not mistaken for a generated one: the CA parses its key and fingerprints it', () => {
    const pair = generateSshKeyPair({ comment: 'copy' });
    const other = generateSshKeyPair();
    // Spread (public fields only), then given another key's line: its fingerprint field is now stale.
    const copy = { ...pair, publicKey: other.publicKey } as unknown as typeof pair;
    expect(publicBlobOf(pair)).toBeDefined();
    expect(publicBlobOf(copy)).toBeUndefined();
    expect(publicBlobOf(null)).toBeUndefined();
    const ca = createSshCertificateAuthority({ privateKey: generateSshKeyPair() });
    const request = { principals: ['u'], keyId: 'k', validitySeconds: 60 };
    expect(ca.issue({ ...request, publicKey: pair }).keyFingerprint).toBe(pair.fingerprint);
    expect(ca.issue({ ...request, publicKey: copy }).keyFingerprint).toBe(other.fingerprint);
  });

  it('parses a private key back to its seed', () => {
    const pair = generateSshKeyPair();
    const parsed = parseEd25519PrivateKey(pair.privateKey);
    const again = generateSshKeyPair({ random: { bytes: () => parsed.seed } });
    expect(again.publicKey).toBe(pair.publicKey);
  });

  it('refuses malformed keys with ERR_SECRETS_MALFORMED_KEY without echoing them', () => {
    for (const bad of [
      '',
      'ssh-ed25519 AAAA',
      'hello',
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\nssh-rsa x',
      42 as never,
    ]) {
      let error: unknown;
      try {
        parseSshPublicKey(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'ERR_SECRETS_MALFORMED_KEY' });
      if (typeof bad === 'string' && bad.length > 0) expect((error as Error).message).not.toContain(bad);
    }
    expect(() =>
      parseEd25519PrivateKey('-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n-----END OPENSSH PRIVATE KEY-----'),
    ).toThrow(expect.objectContaining({ code: 'ERR_SECRETS_MALFORMED_KEY' }));
  });

  it('refuses a private key where a public key is expected', () => {
    const pair = generateSshKeyPair();
    expect(() => parseSshPublicKey(pair.privateKey)).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_MALFORMED_KEY' }),
    );
    expect(parseSshPublicKey(pair.publicKey).type).toBe('ed25519');
  });
});
