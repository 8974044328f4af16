import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock, type RandomSource } from '@provisioning/core';
import sshpk from 'sshpk';
import { afterAll, describe, expect, it } from 'vitest';
import type { SshCertificateRequest } from './ca.js';
import { createSshCertificateAuthority } from './ca.js';
import { nodeEd25519 } from './ed25519.js';
import { generateSshKeyPair, parseEd25519PrivateKey } from './keys.js';
import { readUint32 } from './wire.js';

// The formats we write ourselves, byte for byte against sshpk writing the same
// inputs (the implementation before ours). Ed25519 signatures are
// deterministic, so equal inputs give equal certificates.

interface OpensshCertFormat {
  signAsync(
    cert: sshpk.Certificate,
    signer: (blob: Buffer, done: (err: Error | null, signature?: sshpk.Signature) => void) => void,
    done: (err?: Error) => void,
  ): void;
}
const opensshCert = createRequire(import.meta.url)('sshpk/lib/formats/openssh-cert.js') as OpensshCertFormat;

const dir = mkdtempSync(join(tmpdir(), 'ssh-wire-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const caPair = generateSshKeyPair({ comment: 'ca' });
const { seed: caSeed } = parseEd25519PrivateKey(caPair.privateKey);
const caSshpk = sshpk.parsePrivateKey(caPair.privateKey, 'openssh');
const clock = createManualClock(new Date('2026-03-01T12:00:00.500Z'));

/** A random source that hands out `nonce` for the 32-byte request, random bytes otherwise. */
const withNonce = (nonce: Buffer): RandomSource => ({
  bytes: (n) => (n === 32 ? new Uint8Array(nonce) : new Uint8Array(randomBytes(n))),
});

function keygen(type: 'rsa' | 'ecdsa' | 'ed25519'): string {
  const file = join(dir, `${type}-${randomBytes(4).toString('hex')}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
    '-N',
    '',
    '-C',
    '',
    '-f',
    file,
  ]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

/** What sshpk writes for the same certificate: its Certificate object signed by the same key. */
function sshpkCertificate(request: SshCertificateRequest, nonce: Buffer): string {
  const now = Math.floor(clock.now() / 1000);
  const serial = Buffer.alloc(8);
  serial.writeBigUInt64BE(request.serial as bigint);
  const exts = [
    ...(request.extensions ?? []).map((name) => ({ critical: false, name, data: Buffer.alloc(0) })),
    ...Object.entries(request.criticalOptions ?? {}).map(([name, value]) => {
      const data = Buffer.alloc(4 + String(value).length);
      data.writeUInt32BE(String(value).length);
      data.write(String(value), 4);
      return { critical: true, name, data };
    }),
  ].sort((a, b) => (a.name < b.name ? -1 : 1));
  const cert = new sshpk.Certificate({
    subjects: request.principals.map((p) =>
      request.type === 'host' ? sshpk.identityForHost(p) : sshpk.identityForUser(p),
    ),
    issuer: sshpk.identityForHost('provisioning-ca'),
    subjectKey: sshpk.parseKey(request.publicKey as string, 'ssh'),
    issuerKey: caSshpk.toPublic(),
    signatures: { openssh: { keyId: request.keyId, exts, nonce } },
    serial,
    validFrom: new Date((now - 45) * 1000),
    validUntil: new Date((now + request.validitySeconds) * 1000),
  } as never);
  const sign = nodeEd25519.signer(caSeed);
  opensshCert.signAsync(
    cert,
    (blob, done) => done(null, sshpk.parseSignature(Buffer.from(sign(blob)), 'ed25519', 'raw')),
    (err) => {
      if (err) throw err;
    },
  );
  return cert.toString('openssh');
}

describe('OpenSSH wire formats, byte for byte against sshpk', () => {
  it('reads big-endian uint32s as a DataView does, at any offset and with the high bit set', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(randomBytes(12));
      if (i < 4) bytes.fill([0xff, 0x80, 0x00, 0x7f][i] as number);
      const at = i % 9;
      expect(readUint32(bytes, at)).toBe(new DataView(bytes.buffer).getUint32(at, false));
    }
  });

  const cases: Array<[string, () => SshCertificateRequest]> = [
    [
      'Ed25519 user certificate with extensions and critical options',
      () => ({
        publicKey: generateSshKeyPair({ comment: 'alice' }).publicKey,
        principals: ['deploy', 'alice'],
        keyId: 'ssh-cert/0192f0c4-lease',
        validitySeconds: 900,
        serial: 0xfedcba9876543210n,
        extensions: ['permit-pty', 'permit-port-forwarding', 'permit-agent-forwarding'],
        criticalOptions: { 'source-address': '10.0.0.0/8,127.0.0.1', 'force-command': '/usr/bin/id -un' },
      }),
    ],
    [
      'RSA user certificate (ssh-keygen key)',
      () => ({
        publicKey: keygen('rsa'),
        principals: ['ops'],
        keyId: 'rsa-key',
        validitySeconds: 60,
        serial: 1n,
        extensions: ['permit-pty'],
      }),
    ],
    [
      'ECDSA host certificate (ssh-keygen key)',
      () => ({
        publicKey: keygen('ecdsa'),
        type: 'host',
        principals: ['db-1.internal', 'db-1'],
        keyId: 'host db-1',
        validitySeconds: 86_400,
        serial: 0n,
        extensions: [],
      }),
    ],
  ];

  it.each(cases)('%s', { timeout: 60_000 }, (_, make) => {
    const request = make();
    const nonce = randomBytes(32);
    const ca = createSshCertificateAuthority({ privateKey: caPair, clock, random: withNonce(nonce) });
    const ours = ca.issue(request).certificate.split(' ');
    const theirs = sshpkCertificate(request, nonce).split(' ');
    expect(ours[0]).toBe(theirs[0]);
    expect(Buffer.from(ours[1] as string, 'base64').toString('hex')).toBe(
      Buffer.from(theirs[1] as string, 'base64').toString('hex'),
    );
    expect(ours[2]).toBe(request.keyId.split(' ')[0]);
  });

  it('writes public key lines and fingerprints as sshpk and ssh-keygen do', () => {
    const pair = generateSshKeyPair({ comment: 'deploy@ci' });
    const parsed = sshpk.parseKey(pair.publicKey, 'ssh');
    expect(pair.publicKey).toBe(parsed.toString('ssh'));
    expect(pair.fingerprint).toBe(parsed.fingerprint('sha256').toString());
    const file = join(dir, 'fp.pub');
    execFileSync('sh', ['-c', `cat > ${file}`], { input: `${pair.publicKey}\n` });
    expect(execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' })).toContain(pair.fingerprint);
    // No comment: no trailing space.
    expect(generateSshKeyPair().publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
  });

  it('writes the OpenSSH private key as sshpk does, but for its two random check integers', () => {
    const pair = generateSshKeyPair({ comment: 'key comment' });
    const { seed, publicKey } = parseEd25519PrivateKey(pair.privateKey);
    const theirs = new sshpk.PrivateKey({
      type: 'ed25519',
      parts: [
        { name: 'A', data: Buffer.from(publicKey) },
        { name: 'k', data: Buffer.from(seed) },
      ],
    } as never);
    theirs.comment = 'key comment';
    const theirText = theirs.toString('openssh');
    const body = (pem: string): Buffer => Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64');
    const ourBytes = body(pair.privateKey);
    const theirBytes = body(theirText);
    // magic 15, "none" 8, "none" 8, "" 4, nkeys 4, public blob 4 + 51, section length 4: the check integers follow.
    const at = 15 + 8 + 8 + 4 + 4 + 55 + 4;
    expect(ourBytes.readUInt32BE(at)).toBe(ourBytes.readUInt32BE(at + 4));
    ourBytes.copy(theirBytes, at, at, at + 8);
    expect(ourBytes.toString('hex')).toBe(theirBytes.toString('hex'));
    // Same armour and 70-character lines.
    expect(pair.privateKey.split('\n').map((l) => l.length)).toEqual(theirText.split('\n').map((l) => l.length));
    expect(pair.privateKey.startsWith('-----BEGIN OPENSSH PRIVATE KEY-----\n')).toBe(true);
    expect(pair.privateKey.endsWith('\n-----END OPENSSH PRIVATE KEY-----\n')).toBe(true);
  });

  it('ssh-keygen derives our public key and fingerprint from our private key', () => {
    const pair = generateSshKeyPair({ comment: 'x' });
    const file = join(dir, `id-${createHash('sha256').update(pair.fingerprint).digest('hex').slice(0, 8)}`);
    execFileSync('sh', ['-c', `umask 077; cat > ${file}`], { input: pair.privateKey });
    expect(execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim()).toBe(pair.publicKey);
  });
});
