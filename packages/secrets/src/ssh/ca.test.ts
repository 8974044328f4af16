import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import sshpk from 'sshpk';
import { afterAll, describe, expect, it } from 'vitest';
import { createSshCertificateAuthority } from './ca.js';
import { nobleEd25519 } from './ed25519.js';
import { generateSshKeyPair } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'sshca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const caPair = generateSshKeyPair({ comment: 'ca' });
const clock = createManualClock(new Date('2026-03-01T12:00:00.500Z'));
const ca = createSshCertificateAuthority({ privateKey: caPair.privateKey, clock });
const user = generateSshKeyPair({ comment: 'alice' });

function keygenL(certificate: string): string {
  const file = join(dir, `c-${Math.random().toString(36).slice(2)}-cert.pub`);
  writeFileSync(file, `${certificate}\n`);
  // ssh-keygen prints validity in local time: pin UTC.
  return execFileSync('ssh-keygen', ['-L', '-f', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
}

describe('ssh certificate authority', () => {
  it('issues a user certificate that ssh-keygen -L parses, with our principals, key id, serial, window and extensions', () => {
    const cert = ca.issue({
      publicKey: user.publicKey,
      principals: ['deploy', 'alice'],
      keyId: 'lease ssh-cert/0001',
      validitySeconds: 900,
      serial: 0x0102030405060708n,
      extensions: ['permit-pty', 'permit-port-forwarding'],
      criticalOptions: { 'source-address': '127.0.0.1,10.0.0.0/8', 'force-command': '/usr/bin/id -un' },
    });
    expect(cert.certificate.startsWith('ssh-ed25519-cert-v01@openssh.com AAAA')).toBe(true);
    expect(cert.validAfter).toEqual(new Date('2026-03-01T11:59:15Z'));
    expect(cert.validBefore).toEqual(new Date('2026-03-01T12:15:00Z'));
    expect(cert.serial).toBe(String(0x0102030405060708n));
    const out = keygenL(cert.certificate);
    expect(out).toContain('Type: ssh-ed25519-cert-v01@openssh.com user certificate');
    expect(out).toContain(`Signing CA: ED25519 ${ca.fingerprint}`);
    expect(out).toContain(`Public key: ED25519-CERT ${user.fingerprint}`);
    expect(out).toContain('Key ID: "lease ssh-cert/0001"');
    expect(out).toContain(`Serial: ${0x0102030405060708n}`);
    expect(out).toMatch(/Valid: from 2026-03-01T11:59:15 to 2026-03-01T12:15:00/);
    expect(out).toMatch(/Principals: \n\s+deploy\n\s+alice\n/);
    expect(out).toMatch(
      /Critical Options: \n\s+force-command \/usr\/bin\/id -un\n\s+source-address 127.0.0.1,10.0.0.0\/8\n/,
    );
    expect(out).toMatch(/Extensions: \n\s+permit-port-forwarding\n\s+permit-pty\n/);
  });

  it('signs verifiably with the CA key (and the same with the noble engine)', () => {
    const cert = ca.issue({
      publicKey: user.publicKey,
      principals: ['u'],
      keyId: 'k',
      validitySeconds: 60,
      serial: 7n,
    });
    const parsed = sshpk.parseCertificate(cert.certificate, 'openssh');
    expect(parsed.isSignedByKey(sshpk.parseKey(ca.publicKey, 'ssh'))).toBe(true);
    expect(parsed.isSignedByKey(sshpk.parseKey(generateSshKeyPair().publicKey, 'ssh'))).toBe(false);
    const noble = createSshCertificateAuthority({ privateKey: caPair, clock, engine: nobleEd25519 });
    const other = noble.issue({
      publicKey: user.publicKey,
      principals: ['u'],
      keyId: 'k',
      validitySeconds: 60,
      serial: 7n,
    });
    expect(
      sshpk.parseCertificate(other.certificate, 'openssh').isSignedByKey(sshpk.parseKey(ca.publicKey, 'ssh')),
    ).toBe(true);
  });

  it('issues host certificates without extensions', () => {
    const host = generateSshKeyPair();
    const cert = ca.issue({
      publicKey: host.publicKey,
      type: 'host',
      principals: ['db1.example.com'],
      keyId: 'db1',
      validitySeconds: 3600,
    });
    const out = keygenL(cert.certificate);
    expect(out).toContain('host certificate');
    expect(out).toMatch(/Extensions: \(none\)/);
    expect(() =>
      ca.issue({
        publicKey: host.publicKey,
        type: 'host',
        principals: ['h'],
        keyId: 'h',
        validitySeconds: 60,
        extensions: ['permit-pty'],
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SECRETS_INVALID_REQUEST' }));
  });

  it('defaults to permit-pty only and a random 8-byte serial', () => {
    const a = ca.issue({ publicKey: user.publicKey, principals: ['u'], keyId: 'k', validitySeconds: 60 });
    const b = ca.issue({ publicKey: user.publicKey, principals: ['u'], keyId: 'k', validitySeconds: 60 });
    expect(a.serial).not.toBe(b.serial);
    expect(keygenL(a.certificate)).toMatch(/Extensions: \n\s+permit-pty\n\s*$/);
  });

  it('reads the random serial as the big-endian uint64 of the first 8 random bytes, high bits too', () => {
    // The serial is read by byte arithmetic (no DataView): check it against
    // the certificate ssh-keygen decodes, with every byte's high bit set.
    const bytes = [0xff, 0xfe, 0x80, 0x81, 0x7f, 0x01, 0x00, 0xc3];
    const random = { bytes: (n: number) => Uint8Array.from({ length: n }, (_, i) => bytes[i % 8] as number) };
    const fixed = createSshCertificateAuthority({ privateKey: caPair.privateKey, clock, random });
    const cert = fixed.issue({ publicKey: user.publicKey, principals: ['u'], keyId: 'k', validitySeconds: 60 });
    expect(cert.serial).toBe(String(0xfffe80817f0100c3n));
    expect(keygenL(cert.certificate)).toContain(`Serial: ${0xfffe80817f0100c3n}`);
  });

  it('never issues a certificate valid for any principal (empty list refused)', () => {
    for (const principals of [[], [''], ['a b'], ['a,b']]) {
      expect(() => ca.issue({ publicKey: user.publicKey, principals, keyId: 'k', validitySeconds: 60 })).toThrow(
        expect.objectContaining({ code: 'ERR_SECRETS_INVALID_REQUEST' }),
      );
    }
  });

  it('refuses bad validity, options and keys', () => {
    const base = { publicKey: user.publicKey, principals: ['u'], keyId: 'k', validitySeconds: 60 };
    expect(() => ca.issue({ ...base, validitySeconds: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_INVALID_TTL' }),
    );
    expect(() => ca.issue({ ...base, validitySeconds: 86_401 })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_INVALID_TTL' }),
    );
    expect(() => ca.issue({ ...base, criticalOptions: { 'source-address': 'example.com' } })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_INVALID_REQUEST' }),
    );
    expect(() => ca.issue({ ...base, criticalOptions: { 'force-command': 'a\nb' } })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_INVALID_REQUEST' }),
    );
    expect(() => ca.issue({ ...base, extensions: ['permit-everything' as never] })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_INVALID_REQUEST' }),
    );
    expect(() => ca.issue({ ...base, publicKey: 'ssh-ed25519 garbage' })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_MALFORMED_KEY' }),
    );
  });

  it('refuses an RSA CA key (certificates are signed with Ed25519 only)', { timeout: 60_000 }, () => {
    const file = join(dir, 'rsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', file]);
    const rsa = execFileSync('cat', [file], { encoding: 'utf8' });
    expect(() => createSshCertificateAuthority({ privateKey: rsa })).toThrow(
      expect.objectContaining({ code: 'ERR_SECRETS_MALFORMED_KEY' }),
    );
  });

  it('accepts a CA key made by ssh-keygen', () => {
    const file = join(dir, 'edca');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ca', '-f', file]);
    const keyText = execFileSync('cat', [file], { encoding: 'utf8' });
    const pubText = execFileSync('cat', [`${file}.pub`], { encoding: 'utf8' });
    const fromFile = createSshCertificateAuthority({ privateKey: keyText });
    expect(pubText.startsWith(fromFile.publicKey.split(' ').slice(0, 2).join(' '))).toBe(true);
  });
});
