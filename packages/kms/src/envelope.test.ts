import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectKmsError, tempDir } from '../test/helpers.js';
import type { KmsBackend } from './backend.js';
import { createEnvelope } from './envelope.js';
import { localBackend } from './local.js';
import { secretEncrypter } from './secret-encrypter.js';

let dir: string;
let cleanup: () => Promise<void>;
let kms: KmsBackend;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  kms = await localBackend({ path: join(dir, 'k.json') });
});
afterAll(() => cleanup());

const text = (b: Uint8Array): string => Buffer.from(b).toString();
const ctx = { tenant: 't1', purpose: 'test' };

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of gen) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

function countingBackend(inner: KmsBackend): KmsBackend & { calls: number } {
  const wrapped = Object.create(inner) as KmsBackend & { calls: number };
  wrapped.calls = 0;
  wrapped.generateDataKey = async (...args) => {
    wrapped.calls++;
    return inner.generateDataKey(...args);
  };
  return wrapped;
}

describe('envelope format', () => {
  it('round-trips empty, small and multi-chunk payloads, one-shot and streaming interchangeably', async () => {
    const env = createEnvelope({ backends: [kms], chunkBytes: 16 });
    for (const size of [0, 1, 15, 16, 17, 32, 33, 100]) {
      const data = Buffer.alloc(size, 7).map((_, i) => i % 251);
      const blob = await env.encrypt(data, ctx);
      expect(Buffer.from(await env.decrypt(blob, ctx))).toEqual(data);
      expect(await collect(env.decryptStream([blob.subarray(0, 5), blob.subarray(5)], ctx))).toEqual(data);
      const streamed = await collect(env.encryptStream([data.subarray(0, 3), data.subarray(3)], ctx));
      expect(streamed.length).toBe(blob.length);
      expect(Buffer.from(await env.decrypt(streamed, ctx))).toEqual(data);
    }
  });

  it('is self-describing: inspect shows version, key id and version, context digest', async () => {
    const env = createEnvelope({ backends: [kms] });
    const info = env.inspect(await env.encrypt(Buffer.from('x'), ctx));
    expect(info).toMatchObject({ formatVersion: 1, algorithm: 'AES-256-GCM-HKDF-SHA256', chunkBytes: 65536 });
    expect(info.keys).toEqual([{ backend: 'local', keyId: 'default', keyVersion: 1, wrappedBytes: 65 }]);
    expect(info.contextDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('context binding: a wrong context is reported as a mismatch, never decrypted', async () => {
    const env = createEnvelope({ backends: [kms] });
    const blob = await env.encrypt(Buffer.from('top secret value'), ctx);
    await expectKmsError(env.decrypt(blob, { tenant: 't2', purpose: 'test' }), 'ERR_KMS_CONTEXT_MISMATCH', [
      'top secret value',
    ]);
    await expectKmsError(env.decrypt(blob), 'ERR_KMS_CONTEXT_MISMATCH');
    // Forging the digest in the header does not help: the chunks bind the header.
    const forged = Buffer.from(blob);
    Buffer.from(
      createEnvelope({ backends: [kms] }).inspect(await env.encrypt(Buffer.alloc(0))).contextDigest,
      'hex',
    ).copy(forged, 26);
    await expectKmsError(env.decrypt(forged), 'ERR_KMS_DECRYPT_FAILED', ['top secret value']);
  });

  it('tamper detection: any flipped byte in the body fails', async () => {
    const env = createEnvelope({ backends: [kms], chunkBytes: 8 });
    const blob = Buffer.from(await env.encrypt(Buffer.from('sixteen bytes!!!and more'), ctx));
    const start = env.inspect(blob).headerBytes;
    for (const at of [start, start + 10, blob.length - 1]) {
      const bad = Buffer.from(blob);
      bad[at] = (bad[at] as number) ^ 0x80;
      await expectKmsError(env.decrypt(bad, ctx), 'ERR_KMS_DECRYPT_FAILED', ['sixteen bytes']);
    }
  });

  it('truncation detection: dropping the last chunk(s) or cutting mid-chunk is refused', async () => {
    const env = createEnvelope({ backends: [kms], chunkBytes: 8 });
    const data = Buffer.from('0123456789abcdefghijklmnop'); // 26 bytes: chunks 8,8,8,2
    const blob = Buffer.from(await env.encrypt(data, ctx));
    const h = env.inspect(blob).headerBytes;
    const cutAtBoundary = blob.subarray(0, h + 2 * 24);
    await expectKmsError(env.decrypt(cutAtBoundary, ctx), 'ERR_KMS_TRUNCATED');
    await expectKmsError(collect(env.decryptStream([cutAtBoundary], ctx)), 'ERR_KMS_TRUNCATED');
    await expectKmsError(env.decrypt(blob.subarray(0, h), ctx), 'ERR_KMS_TRUNCATED');
    await expectKmsError(env.decrypt(blob.subarray(0, h - 3), ctx), 'ERR_KMS_TRUNCATED');
    await expectKmsError(env.decrypt(blob.subarray(0, blob.length - 1), ctx), 'ERR_KMS_DECRYPT_FAILED');
  });

  it('reordering detection: swapped chunks fail', async () => {
    const env = createEnvelope({ backends: [kms], chunkBytes: 8 });
    const blob = Buffer.from(await env.encrypt(Buffer.from('AAAAAAAABBBBBBBBCC'), ctx));
    const h = env.inspect(blob).headerBytes;
    const a = blob.subarray(h, h + 24);
    const b = blob.subarray(h + 24, h + 48);
    const swapped = Buffer.concat([blob.subarray(0, h), b, a, blob.subarray(h + 48)]);
    await expectKmsError(env.decrypt(swapped, ctx), 'ERR_KMS_DECRYPT_FAILED');
  });

  it('malformed input gets typed errors', async () => {
    const env = createEnvelope({ backends: [kms] });
    await expectKmsError(env.decrypt(Buffer.from('hello world, not an envelope')), 'ERR_KMS_MALFORMED_CIPHERTEXT');
    const blob = Buffer.from(await env.encrypt(Buffer.from('x')));
    const badVersion = Buffer.from(blob);
    badVersion[4] = 9;
    await expectKmsError(env.decrypt(badVersion), 'ERR_KMS_MALFORMED_CIPHERTEXT');
    expect(() => createEnvelope({ backends: [] })).toThrow(/1 to 255/);
  });

  it('wrong key: an envelope from another keyring is not decrypted', async () => {
    const other = await localBackend({ path: join(dir, 'other.json') });
    const env = createEnvelope({ backends: [kms] });
    const otherEnv = createEnvelope({ backends: [other] });
    await expectKmsError(
      otherEnv.decrypt(await env.encrypt(Buffer.from('abcd secret'), ctx), ctx),
      'ERR_KMS_DECRYPT_FAILED',
      ['abcd secret'],
    );
  });
});

describe('rotation and several backends', () => {
  it('rewrap moves the data key to the newest version and leaves the chunks byte for byte', async () => {
    const k = await localBackend({ path: join(dir, 'rot.json') });
    const env = createEnvelope({ backends: [k], chunkBytes: 10 });
    const data = Buffer.from('payload that spans several chunks');
    const blob = Buffer.from(await env.encrypt(data, ctx));
    await k.rotate();
    const rewrapped = Buffer.from(await env.rewrap(blob, ctx));
    const before = env.inspect(blob);
    const after = env.inspect(rewrapped);
    expect(after.keys[0]?.keyVersion).toBe(2);
    expect(rewrapped.subarray(after.headerBytes)).toEqual(blob.subarray(before.headerBytes));
    await k.setMinDecryptionVersion(2);
    await expectKmsError(env.decrypt(blob, ctx), 'ERR_KMS_KEY_VERSION_TOO_OLD');
    expect(Buffer.from(await env.decrypt(rewrapped, ctx))).toEqual(data);
  });

  it('encrypts to all backends and decrypts with any one of them', async () => {
    const a = await localBackend({ path: join(dir, 'a.json'), keyId: 'region-a' });
    const b = await localBackend({ path: join(dir, 'b.json'), keyId: 'region-b' });
    const both = createEnvelope({ backends: [a, b] });
    const blob = await both.encrypt(Buffer.from('multi'), ctx);
    expect(both.inspect(blob).keys.map((x) => x.keyId)).toEqual(['region-a', 'region-b']);
    expect(text(await createEnvelope({ backends: [b] }).decrypt(blob, ctx))).toBe('multi');
    expect(text(await createEnvelope({ backends: [a] }).decrypt(blob, ctx))).toBe('multi');
    // migration: rewrap with a new backend set adds the new key and can drop the old
    const c = await localBackend({ path: join(dir, 'c.json'), keyId: 'region-c' });
    const migrated = await createEnvelope({ backends: [a, c] }).rewrap(blob, ctx, { dropUnknown: true });
    expect(
      createEnvelope({ backends: [c] })
        .inspect(migrated)
        .keys.map((x) => x.keyId),
    ).toEqual(['region-a', 'region-c']);
    expect(text(await createEnvelope({ backends: [c] }).decrypt(migrated, ctx))).toBe('multi');
  });
});

describe('data-key cache', () => {
  it('reuses a data key per context until the message limit', async () => {
    const counting = countingBackend(kms);
    const env = createEnvelope({ backends: [counting], cache: { maxMessages: 3 } });
    for (let i = 0; i < 3; i++) await env.encrypt(Buffer.from('m'), ctx);
    expect(counting.calls).toBe(1);
    await env.encrypt(Buffer.from('m'), ctx);
    expect(counting.calls).toBe(2);
    await env.encrypt(Buffer.from('m'), { other: 'context' });
    expect(counting.calls).toBe(3);
  });

  it('retires a data key after max age (frozen clock) and max bytes', async () => {
    const clock = createManualClock(0);
    const counting = countingBackend(kms);
    const env = createEnvelope({ backends: [counting], clock, cache: { maxAgeMs: 1000, maxBytes: 10 } });
    await env.encrypt(Buffer.alloc(4), ctx);
    await env.encrypt(Buffer.alloc(4), ctx);
    expect(counting.calls).toBe(1);
    await env.encrypt(Buffer.alloc(4), ctx); // 12 bytes > 10
    expect(counting.calls).toBe(2);
    clock.advance(999);
    await env.encrypt(Buffer.alloc(1), ctx);
    expect(counting.calls).toBe(2);
    clock.advance(1);
    await env.encrypt(Buffer.alloc(1), ctx);
    expect(counting.calls).toBe(3);
    await env.encrypt(Buffer.alloc(11), ctx); // larger than maxBytes: never cached
    expect(counting.calls).toBe(4);
  });

  it('decrypt side: one backend unwrap per cached data key, bounded by max age', async () => {
    const clock = createManualClock(0);
    let unwraps = 0;
    const counting = Object.create(kms) as KmsBackend;
    counting.decrypt = async (...args) => {
      unwraps++;
      return kms.decrypt(...args);
    };
    const env = createEnvelope({ backends: [counting], clock, cache: { maxAgeMs: 1000 } });
    const a = await env.encrypt(Buffer.from('one'), ctx);
    const b = await env.encrypt(Buffer.from('two'), ctx);
    expect(text(await env.decrypt(a, ctx))).toBe('one');
    expect(text(await env.decrypt(b, ctx))).toBe('two');
    expect(unwraps).toBe(1);
    await expectKmsError(env.decrypt(a, { other: 'ctx' }), 'ERR_KMS_CONTEXT_MISMATCH');
    clock.advance(1000);
    expect(text(await env.decrypt(a, ctx))).toBe('one');
    expect(unwraps).toBe(2);
  });

  it('cached messages still get distinct message keys and decrypt', async () => {
    const env = createEnvelope({ backends: [kms], cache: true });
    const a = await env.encrypt(Buffer.from('same'), ctx);
    const b = await env.encrypt(Buffer.from('same'), ctx);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(text(await env.decrypt(b, ctx))).toBe('same');
    env.clearCache();
  });
});

describe('secretEncrypter', () => {
  it('round-trips printable strings bound to the context', async () => {
    const s = secretEncrypter(createEnvelope({ backends: [kms], cache: true }));
    const c = await s.encrypt(Buffer.from('JBSWY3DPEHPK3PXP'), { userId: 'u1', deviceId: 'd1', purpose: 'mfa-totp' });
    expect(c).toMatch(/^pkms1\.[A-Za-z0-9_-]+$/);
    expect(text(await s.decrypt(c, { userId: 'u1', deviceId: 'd1', purpose: 'mfa-totp' }))).toBe('JBSWY3DPEHPK3PXP');
    await expectKmsError(
      s.decrypt(c, { userId: 'u2', deviceId: 'd1', purpose: 'mfa-totp' }),
      'ERR_KMS_CONTEXT_MISMATCH',
      ['JBSWY3DPEHPK3PXP'],
    );
    await expectKmsError(s.decrypt('v1.garbage', { userId: 'u1' }), 'ERR_KMS_MALFORMED_CIPHERTEXT');
  });
});
