import { generateKeyPairSync, type KeyObject, randomBytes, randomInt } from 'node:crypto';
import sshpk from 'sshpk';
import { describe, expect, it } from 'vitest';
import { nodeEd25519 } from './ed25519.js';
import { generateSshKeyPair, parseEd25519PrivateKey, parseSshpkPublicKey } from './keys.js';
import type { CertificateFields, CertificateOption } from './wire.js';
import {
  ed25519PublicBlob,
  opensshPrivateKey,
  privateScratchIsWiped,
  SshWriter,
  signedCertificate,
  stringLength,
} from './wire.js';

// The encoders write each certificate and private key into one buffer sized
// in advance. Here they are compared, over many random inputs, with the
// encoders they replaced (copied below as they were: one small writer per
// part, concatenated), which the sshpk and ssh-keygen tests had pinned down.

class ReferenceWriter {
  private parts: Buffer[] = [];
  uint32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.parts.push(b);
    return this;
  }
  uint64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(value);
    this.parts.push(b);
    return this;
  }
  raw(bytes: Uint8Array): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  string(value: Uint8Array | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.uint32(bytes.length).raw(bytes);
  }
  get length(): number {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function referenceCertificate(f: CertificateFields, sign: (m: Uint8Array) => Uint8Array): Buffer {
  const algorithm = Buffer.from(f.subjectBlob).toString('latin1', 4, 4 + Buffer.from(f.subjectBlob).readUInt32BE(0));
  const w = new ReferenceWriter()
    .string(`${algorithm}-cert-v01@openssh.com`)
    .string(f.nonce)
    .raw(f.subjectBlob.subarray(4 + algorithm.length))
    .uint64(f.serial)
    .uint32(f.type)
    .string(f.keyId);
  const principals = new ReferenceWriter();
  for (const p of f.principals) principals.string(p);
  w.string(principals.finish());
  w.uint64(BigInt(f.validAfter)).uint64(BigInt(f.validBefore));
  const list = (options: readonly CertificateOption[]) => {
    const o = new ReferenceWriter();
    for (const x of options) o.string(x.name).string(x.data);
    return o.finish();
  };
  w.string(list(f.criticalOptions)).string(list(f.extensions));
  const toBeSigned = w.string('').string(f.caBlob).finish();
  const signature = new ReferenceWriter().string('ssh-ed25519').string(sign(toBeSigned)).finish();
  return new ReferenceWriter().raw(toBeSigned).string(signature).finish();
}

function referencePrivateKey(seed: Uint8Array, publicKey: Uint8Array, comment: string, checkInt: number): string {
  const secret = Buffer.concat([seed, publicKey]);
  const priv = new ReferenceWriter()
    .uint32(checkInt)
    .uint32(checkInt)
    .string('ssh-ed25519')
    .string(publicKey)
    .string(secret)
    .string(comment);
  for (let pad = 1; priv.length % 8 !== 0; pad++) priv.raw(Uint8Array.of(pad));
  const body = new ReferenceWriter()
    .raw(Buffer.from('openssh-key-v1\0', 'latin1'))
    .string('none')
    .string('none')
    .string('')
    .uint32(1)
    .string(new ReferenceWriter().string('ssh-ed25519').string(publicKey).finish())
    .string(priv.finish())
    .finish();
  const base64 = body.toString('base64');
  const lines: string[] = ['-----BEGIN OPENSSH PRIVATE KEY-----'];
  for (let i = 0; i < base64.length; i += 70) lines.push(base64.slice(i, i + 70));
  lines.push('-----END OPENSSH PRIVATE KEY-----', '');
  return lines.join('\n');
}

const ascii = (min: number, max: number, from = 0x21, to = 0x7e): string =>
  Array.from({ length: randomInt(min, max + 1) }, () => String.fromCharCode(randomInt(from, to + 1))).join('');

// Subject blobs of all three key types: fresh RSA and ECDSA keys from node:crypto (through sshpk), fresh Ed25519 keys.
const foreignBlob = (key: KeyObject): Buffer =>
  parseSshpkPublicKey(
    sshpk.parseKey(key.export({ format: 'pem', type: 'spki' }) as string, 'pem').toString('ssh'),
  ).toBuffer('rfc4253');

function randomFields(subjectBlob: Uint8Array, caBlob: Uint8Array): CertificateFields {
  const opts = (names: string[]): CertificateOption[] =>
    names
      .filter(() => randomInt(2) === 1)
      .map((name) => ({ name, data: randomInt(2) === 1 ? new Uint8Array(0) : randomBytes(randomInt(1, 300)) }));
  return {
    subjectBlob,
    nonce: randomBytes(32),
    serial: randomBytes(8).readBigUInt64BE(0),
    type: randomInt(2) === 1 ? 1 : 2,
    // Key ids and principals are validated ASCII; the encoders also take UTF-8.
    keyId: randomInt(4) === 0 ? `${ascii(0, 10)}é✓${ascii(0, 10)}` : ascii(1, 255, 0x20),
    principals: Array.from({ length: randomInt(1, 6) }, () => ascii(1, 64)),
    // The CA writes its times as numbers; bigints are accepted too.
    validAfter: randomInt(2) === 1 ? BigInt(randomInt(2 ** 32)) : randomInt(2 ** 48 - 1),
    validBefore: randomBytes(8).readBigUInt64BE(0),
    criticalOptions: opts(['force-command', 'source-address', 'verify-required']),
    extensions: opts(['no-touch-required', 'permit-X11-forwarding', 'permit-agent-forwarding', 'permit-pty']),
    caBlob,
  };
}

describe('one-buffer encoders, against the concatenating encoders they replaced', () => {
  const ca = generateSshKeyPair({ comment: 'ca' });
  const { seed: caSeed, publicKey: caPublic } = parseEd25519PrivateKey(ca.privateKey);
  const caBlob = ed25519PublicBlob(caPublic);
  const sign = nodeEd25519.signer(caSeed);

  it('certificates: the same bytes for random fields and Ed25519, RSA and ECDSA subjects', () => {
    const subjects = [
      foreignBlob(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
      foreignBlob(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
      foreignBlob(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
      ...Array.from({ length: 8 }, () => ed25519PublicBlob(randomBytes(32))),
    ];
    for (let i = 0; i < 300; i++) {
      const f = randomFields(subjects[i % subjects.length] as Uint8Array, caBlob);
      const ours = signedCertificate(f, sign);
      expect(ours.toString('hex')).toBe(referenceCertificate(f, sign).toString('hex'));
    }
  });

  it('certificates: the CA signs exactly the bytes before the signature', () => {
    const f = randomFields(ed25519PublicBlob(randomBytes(32)), caBlob);
    let signed: Buffer | undefined;
    const blob = signedCertificate(f, (m) => {
      signed = Buffer.from(m);
      return sign(m);
    });
    // The signature field is the last 4 + 4 + 11 + 4 + 64 bytes.
    expect(signed?.toString('hex')).toBe(blob.subarray(0, blob.length - 87).toString('hex'));
    expect(blob.subarray(blob.length - 64).toString('hex')).toBe(Buffer.from(sign(signed as Buffer)).toString('hex'));
  });

  it('certificates: a signature that is not 64 bytes is refused, not written', () => {
    const f = randomFields(ed25519PublicBlob(randomBytes(32)), caBlob);
    expect(() => signedCertificate(f, () => new Uint8Array(63))).toThrow(/malformed signature/);
    expect(() => signedCertificate(f, () => new Uint8Array(65))).toThrow(/malformed signature/);
  });

  it('private keys: the same text for every comment length (all eight paddings)', () => {
    for (let length = 0; length <= 256; length++) {
      const seed = randomBytes(32);
      const publicKey = randomBytes(32);
      const comment = ascii(length, length, 0x20);
      const checkInt = randomInt(2 ** 32);
      expect(opensshPrivateKey(seed, publicKey, comment, checkInt)).toBe(
        referencePrivateKey(seed, publicKey, comment, checkInt),
      );
    }
  });

  it('private keys: the same text in any order of sizes, past the reused scratch too, which is wiped after each', () => {
    const lengths = [256, 0, 3000, 17, 255, 1, 1500, 8];
    for (const length of lengths) {
      const seed = randomBytes(32);
      const publicKey = randomBytes(32);
      const comment = ascii(length, length, 0x20);
      const checkInt = randomInt(2 ** 32);
      expect(opensshPrivateKey(seed, publicKey, comment, checkInt)).toBe(
        referencePrivateKey(seed, publicKey, comment, checkInt),
      );
      expect(privateScratchIsWiped()).toBe(true);
    }
  });
});

describe('SshWriter', () => {
  it('hands over its buffer when written exactly full, else a copy, wiping its own', () => {
    const exact = new SshWriter(stringLength('abc') + 4);
    const full = exact.string('abc').uint32(7).finish();
    expect(full.toString('hex')).toBe('0000000361626300000007');
    expect(exact.length).toBe(0);

    const roomy = new SshWriter(64);
    roomy.string(Buffer.from('secret'));
    const view = roomy.written();
    const copy = roomy.finish();
    expect(copy.toString('hex')).toBe('00000006736563726574');
    // The writer's own (larger) buffer was zeroed: the view into it now reads zeros.
    expect(view.every((b) => b === 0)).toBe(true);
  });

  it('for public data, takes a pooled buffer and still hands out only what was written', () => {
    // Dirty the pool first: unwritten bytes of a pooled buffer hold whatever was there.
    Buffer.allocUnsafe(64).fill(0xee);
    const exact = new SshWriter(8, true).uint32(1).uint32(2).finish();
    expect(exact.toString('hex')).toBe('0000000100000002');
    const short = new SshWriter(64, true).uint32(3).finish();
    expect(short.toString('hex')).toBe('00000003');
  });

  it('writes a number as the same uint64 as its bigint, high word too, and refuses what is not a safe unsigned integer', () => {
    for (const value of [
      0,
      1,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 32 + 1,
      1_733_250_000,
      2 ** 48 + 12_345,
      Number.MAX_SAFE_INTEGER,
    ]) {
      expect(new SshWriter(8, true).uint64(value).finish().toString('hex')).toBe(
        new SshWriter(8, true).uint64(BigInt(value)).finish().toString('hex'),
      );
    }
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new SshWriter(8).uint64(bad)).toThrow(RangeError);
    }
  });

  it('grows past its size hint and counts UTF-8 bytes, not characters', () => {
    const w = new SshWriter(2).string('é✓').uint64(1n);
    expect(w.length).toBe(4 + 5 + 8);
    expect(w.finish().toString('hex')).toBe(`00000005${Buffer.from('é✓').toString('hex')}0000000000000001`);
    expect(stringLength('é✓')).toBe(9);
  });
});
