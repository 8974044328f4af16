import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import * as vectors from 'cctv-age';
import { describe, expect, it } from 'vitest';
import { ageDecrypt } from '../src/age.js';
import { KmsError } from '../src/errors.js';

// The C2SP age test vectors (https://c2sp.org/CCTV/age), shipped on npm as `cctv-age`:
// each file is a header of `key: value` lines, a blank line, then the age file.
interface Vector {
  name: string;
  expect: string;
  payload?: string;
  identities: string[];
  passphrases: string[];
  armored: boolean;
  compressed: boolean;
  body: Uint8Array;
}

function parse(name: string, raw: Uint8Array): Vector {
  const buf = Buffer.from(raw);
  const split = buf.indexOf('\n\n');
  const v: Vector = {
    name,
    expect: '',
    identities: [],
    passphrases: [],
    armored: false,
    compressed: false,
    body: buf.subarray(split + 2),
  };
  for (const line of buf.subarray(0, split).toString('utf8').split('\n')) {
    const at = line.indexOf(': ');
    const key = line.slice(0, at);
    const value = line.slice(at + 2);
    if (key === 'expect') v.expect = value;
    else if (key === 'payload') v.payload = value;
    else if (key === 'identity') v.identities.push(value);
    else if (key === 'passphrase') v.passphrases.push(value);
    else if (key === 'armored') v.armored = value === 'yes';
    else if (key === 'compressed') v.compressed = value === 'zlib';
  }
  if (v.compressed) v.body = inflateSync(v.body);
  return v;
}

const all = Object.entries(vectors as Record<string, Uint8Array>).map(([n, raw]) => parse(n, raw));

const failureCodes: Record<string, string[]> = {
  'no match': ['ERR_KMS_NO_MATCHING_KEY'],
  'HMAC failure': ['ERR_KMS_DECRYPT_FAILED'],
  'header failure': [
    'ERR_KMS_MALFORMED_CIPHERTEXT',
    'ERR_KMS_DECRYPT_FAILED',
    'ERR_KMS_NO_MATCHING_KEY',
    'ERR_KMS_TRUNCATED',
  ],
  'armor failure': ['ERR_KMS_MALFORMED_CIPHERTEXT', 'ERR_KMS_DECRYPT_FAILED', 'ERR_KMS_TRUNCATED'],
  'payload failure': ['ERR_KMS_DECRYPT_FAILED', 'ERR_KMS_TRUNCATED', 'ERR_KMS_MALFORMED_CIPHERTEXT'],
};

describe('C2SP age vectors (cctv-age) through ageDecrypt', () => {
  it('ships all 143 vectors', () => {
    expect(all.length).toBe(143);
  });

  it.each(all.map((v) => [v.name, v] as const))('%s', async (_name, v) => {
    const run = ageDecrypt(v.body, { identities: v.identities, passphrases: v.passphrases });
    if (v.expect === 'success') {
      const out = await run;
      expect(createHash('sha256').update(out).digest('hex')).toBe(v.payload);
      return;
    }
    const codes = failureCodes[v.expect];
    expect(codes, `unknown expectation ${v.expect}`).toBeDefined();
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${v.name} must fail (${v.expect})`).toBeInstanceOf(KmsError);
    expect(codes).toContain((err as KmsError).code);
  });
});
