import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { base32 } from '@otplib/plugin-base32-scure';
import { crypto as nodeCrypto } from '@otplib/plugin-crypto-node';
import { generateSync } from '@otplib/totp';
import { describe, expect, it } from 'vitest';
import { codeFor, harness, START } from '../test/helpers.js';
import { MfaError } from './errors.js';
import type { TotpAlgorithm } from './totp.js';
import {
  decodeBase32,
  encodeBase32,
  generateTotp,
  generateTotpSecret,
  matchTotp,
  totpQrDataUrl,
  totpQrSvg,
  totpUri,
} from './totp.js';

interface Vectors {
  periodSeconds: number;
  digits: number;
  seeds: Record<TotpAlgorithm, string>;
  vectors: { timeSeconds: number; algorithm: TotpAlgorithm; code: string }[];
}
const rfc = JSON.parse(readFileSync(new URL('../test/vectors/rfc6238.json', import.meta.url), 'utf8')) as Vectors;

describe('RFC 6238 Appendix B vectors', () => {
  it('has all 18 vectors', () => {
    expect(rfc.vectors).toHaveLength(18);
  });

  for (const v of rfc.vectors) {
    const secret = new TextEncoder().encode(rfc.seeds[v.algorithm]);
    const p = { algorithm: v.algorithm, digits: rfc.digits, periodSeconds: rfc.periodSeconds };
    it(`${v.algorithm} at T=${v.timeSeconds} generates and matches ${v.code}`, () => {
      expect(generateTotp({ secret, atMs: v.timeSeconds * 1000, ...p })).toBe(v.code);
      const step = Math.floor(v.timeSeconds / 30);
      expect(matchTotp({ secret, code: v.code, atMs: v.timeSeconds * 1000, ...p })).toBe(step);
    });

    it(`${v.algorithm} at T=${v.timeSeconds} is accepted by the service (enrollment with the RFC seed)`, async () => {
      // The seed comes out of the injected random source the first time the
      // service asks for that many bytes: the service generates, encrypts,
      // stores, decrypts and verifies it like any other secret.
      let seedGiven = false;
      const random = {
        bytes(n: number): Uint8Array {
          if (!seedGiven && n === secret.length) {
            seedGiven = true;
            return secret.slice();
          }
          return new Uint8Array(n).map(() => Math.floor(Math.random() * 256));
        },
      };
      const h = harness({ random, totp: { ...p, secretBytes: secret.length } });
      h.clock.set(v.timeSeconds * 1000);
      const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'rfc@example.com' });
      expect(decodeBase32(e.secret)).toEqual(secret);
      const r = await h.mfa.confirmTotpEnrollment('u1', e.deviceId, v.code);
      expect(r.device.confirmed).toBe(true);
    });
  }
});

describe('our HOTP against otplib', () => {
  // Codes are computed by our own RFC 4226 truncation (otplib's per-call
  // overhead was several times the HMAC); otplib is the independent oracle.
  it('agrees with otplib on 600 random secrets, times, algorithms, digits and periods', () => {
    const algorithms: TotpAlgorithm[] = ['sha1', 'sha256', 'sha512'];
    for (let i = 0; i < 600; i++) {
      const secret = new Uint8Array(randomBytes(16 + randomInt(49)));
      const p = {
        algorithm: algorithms[i % 3] as TotpAlgorithm,
        digits: 6 + (i % 3),
        periodSeconds: [30, 60, 15][i % 3] as number,
      };
      // Up to year 10000: counters beyond 2^32 exercise the high word.
      const atMs = randomInt(0, 2 ** 47);
      const theirs = generateSync({
        secret,
        epoch: Math.floor(atMs / 1000),
        algorithm: p.algorithm,
        digits: p.digits,
        period: p.periodSeconds,
        crypto: nodeCrypto,
        base32,
      });
      expect(generateTotp({ secret, atMs, ...p })).toBe(theirs);
      expect(matchTotp({ secret, code: theirs, atMs, ...p, windowSteps: 0 })).toBe(
        Math.floor(atMs / 1000 / p.periodSeconds),
      );
    }
  });

  it('prefers the current step, then the nearest, and finds nothing outside the window', () => {
    const secret = new Uint8Array(randomBytes(20));
    const at = Date.UTC(2026, 0, 1, 0, 0, 10);
    const step = Math.floor(at / 30_000);
    for (const offset of [-2, -1, 0, 1, 2]) {
      const code = generateTotp({ secret, atMs: at + offset * 30_000 });
      const found = matchTotp({ secret, code, atMs: at });
      if (Math.abs(offset) <= 1) expect(found).toBe(step + offset);
      // A code two steps away is outside ±1 (unless it collides with one inside: one in a million).
      else if (found !== undefined) expect(generateTotp({ secret, atMs: found * 30_000 })).toBe(code);
    }
    expect(() => generateTotp({ secret: new Uint8Array(15), atMs: at })).toThrow(MfaError);
  });
});

describe('TOTP secrets, URIs and QR codes', () => {
  it('generates at least 20 random bytes, base32 encoded', () => {
    const a = generateTotpSecret();
    const b = generateTotpSecret();
    expect(a.bytes.length).toBe(20);
    expect(a.base32).toMatch(/^[A-Z2-7]{32}$/);
    expect(decodeBase32(a.base32)).toEqual(a.bytes);
    expect(a.base32).not.toBe(b.base32);
    expect(generateTotpSecret(32).bytes.length).toBe(32);
  });

  it('refuses secrets shorter than 160 bits', () => {
    expect(() => generateTotpSecret(16)).toThrow(MfaError);
  });

  it('round-trips base32', () => {
    const bytes = new TextEncoder().encode('12345678901234567890');
    expect(encodeBase32(bytes)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(decodeBase32('gezd gnbv gy3t qojq gezd gnbv gy3t qojq')).toEqual(bytes);
    expect(() => decodeBase32('not base32!')).toThrow(MfaError);
  });

  it('builds an otpauth URI with the default issuer Provisioning', () => {
    const uri = new URL(totpUri({ secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', accountName: 'alice@example.com' }));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Provisioning:alice@example.com');
    expect(uri.searchParams.get('secret')).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(uri.searchParams.get('issuer')).toBe('Provisioning');
  });

  it('uses a configured issuer and non-default parameters', () => {
    const uri = new URL(
      totpUri({
        secret: generateTotpSecret().bytes,
        accountName: 'bob',
        issuer: 'Acme Ops',
        digits: 8,
        algorithm: 'sha256',
      }),
    );
    expect(uri.searchParams.get('issuer')).toBe('Acme Ops');
    expect(uri.searchParams.get('digits')).toBe('8');
    expect(uri.searchParams.get('algorithm')).toBe('SHA256');
  });

  it('refuses account names and issuers that would break the label', () => {
    const secret = generateTotpSecret().bytes;
    for (const bad of [
      { accountName: 'a:b' },
      { accountName: '' },
      { accountName: 'a', issuer: 'Evil:Corp' },
      { accountName: 'a', issuer: ' ' },
    ]) {
      expect(() => totpUri({ secret, ...bad })).toThrow(expect.objectContaining({ code: 'ERR_MFA_MALFORMED_INPUT' }));
    }
  });

  it('renders QR codes as SVG and as a PNG data URL', async () => {
    const uri = totpUri({ secret: generateTotpSecret().bytes, accountName: 'alice' });
    const svg = await totpQrSvg(uri);
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const png = await totpQrDataUrl(uri);
    expect(png).toMatch(/^data:image\/png;base64,/);
    const bytes = Buffer.from(png.split(',')[1] as string, 'base64');
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('enrollment returns the secret, URI and both QR codes with the configured issuer', async () => {
    const h = harness({ totp: { issuer: 'Acme' } });
    const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'alice@example.com' });
    expect(new URL(e.uri).searchParams.get('issuer')).toBe('Acme');
    expect(new URL(e.uri).searchParams.get('secret')).toBe(e.secret);
    expect(e.qrSvg.startsWith('<svg')).toBe(true);
    expect(e.qrDataUrl.startsWith('data:image/png;base64,')).toBe(true);
  });
});

describe('TOTP verification window', () => {
  const secret = new TextEncoder().encode('12345678901234567890');
  const at = START.getTime();

  it('accepts the previous, current and next step by default and nothing further', () => {
    const step = Math.floor(at / 30_000);
    for (const offset of [-1, 0, 1]) {
      const code = generateTotp({ secret, atMs: at + offset * 30_000 });
      expect(matchTotp({ secret, code, atMs: at })).toBe(step + offset);
    }
    for (const offset of [-2, 2]) {
      const code = generateTotp({ secret, atMs: at + offset * 30_000 });
      expect(matchTotp({ secret, code, atMs: at })).toBeUndefined();
    }
  });

  it('honours a configured window', async () => {
    const code = generateTotp({ secret, atMs: at - 60_000 });
    expect(matchTotp({ secret, code, atMs: at, windowSteps: 2 })).toBe(Math.floor(at / 30_000) - 2);
    const exact = generateTotp({ secret, atMs: at - 30_000 });
    expect(matchTotp({ secret, code: exact, atMs: at, windowSteps: 0 })).toBeUndefined();

    const h = harness({ totp: { windowSteps: 0 } });
    const e = await h.mfa.beginTotpEnrollment('u1', { accountName: 'a' });
    await expect(
      h.mfa.confirmTotpEnrollment('u1', e.deviceId, codeFor(e.secret, h.clock, -30_000)),
    ).rejects.toMatchObject({
      code: 'ERR_MFA_INVALID_CODE',
    });
  });

  it('rejects malformed codes before any HMAC', () => {
    for (const code of ['', '12345', '1234567', 'abcdef', '12345a', '１２３４５６', ' '.repeat(40)]) {
      expect(() => matchTotp({ secret, code, atMs: at })).toThrow(
        expect.objectContaining({ code: 'ERR_MFA_MALFORMED_INPUT' }),
      );
    }
    expect(matchTotp({ secret, code: '000 000', atMs: at })).toBeUndefined();
  });
});
