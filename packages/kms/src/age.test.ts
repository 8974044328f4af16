import { describe, expect, it } from 'vitest';
import { expectKmsError } from '../test/helpers.js';
import { ageBackend, ageDecrypt, ageEncrypt, generateAgeIdentity } from './age.js';
import { createEnvelope } from './envelope.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();

describe('age backend', () => {
  it('round-trips binary and armored files with X25519 identities', async () => {
    const { identity, recipient } = await generateAgeIdentity();
    expect(recipient).toMatch(/^age1/);
    const bin = await ageEncrypt(Buffer.from('hello'), { recipients: [recipient] });
    expect(text(bin.subarray(0, 21))).toBe('age-encryption.org/v1');
    const arm = await ageEncrypt(Buffer.from('hello'), { recipients: [recipient], armor: true });
    expect(text(arm)).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    expect(text(await ageDecrypt(bin, { identities: [identity] }))).toBe('hello');
    expect(text(await ageDecrypt(arm, { identities: [identity] }))).toBe('hello');
  });

  it('passphrases round-trip; a wrong passphrase is no match', async () => {
    const f = await ageEncrypt(Buffer.from('pw data'), { passphrase: 'correct horse', scryptWorkFactor: 10 });
    expect(text(await ageDecrypt(f, { passphrases: ['correct horse'] }))).toBe('pw data');
    await expectKmsError(ageDecrypt(f, { passphrases: ['wrong horse'] }), 'ERR_KMS_NO_MATCHING_KEY', [
      'pw data',
      'correct horse',
    ]);
  });

  it('wrong key, tampering and bad options map to typed errors without secrets', async () => {
    const a = await generateAgeIdentity();
    const b = await generateAgeIdentity();
    const f = Buffer.from(await ageEncrypt(Buffer.from('the plaintext'), { recipients: [a.recipient] }));
    await expectKmsError(ageDecrypt(f, { identities: [b.identity] }), 'ERR_KMS_NO_MATCHING_KEY', [
      b.identity,
      'the plaintext',
    ]);
    const tampered = Buffer.from(f);
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] as number) ^ 1;
    await expectKmsError(ageDecrypt(tampered, { identities: [a.identity] }), 'ERR_KMS_DECRYPT_FAILED', [a.identity]);
    await expectKmsError(ageDecrypt(f.subarray(0, 40), { identities: [a.identity] }), 'ERR_KMS_MALFORMED_CIPHERTEXT');
    await expectKmsError(ageDecrypt(f, { identities: ['AGE-SECRET-KEY-1NOTAKEY'] }), 'ERR_KMS_INVALID_OPTIONS', [
      'AGE-SECRET-KEY-1NOTAKEY',
    ]);
    await expectKmsError(ageEncrypt(Buffer.from('x'), { recipients: ['age1nope'] }), 'ERR_KMS_INVALID_OPTIONS');
    await expectKmsError(
      ageEncrypt(Buffer.from('x'), { recipients: [a.recipient], passphrase: 'p' }),
      'ERR_KMS_INVALID_OPTIONS',
      ['p'],
    );
  });

  it('binds the encryption context and works under the envelope, several recipients each decrypting', async () => {
    const a = await generateAgeIdentity();
    const b = await generateAgeIdentity();
    const enc = await ageBackend({ recipients: [a.recipient, b.recipient] });
    const onlyB = await ageBackend({ identities: [b.identity] });
    expect(onlyB.keyId).toBe(b.recipient);
    const ct = await enc.encrypt(Buffer.from('ctx bound'), { app: 'x' });
    expect(text(await onlyB.decrypt(ct, { app: 'x' }))).toBe('ctx bound');
    await expectKmsError(onlyB.decrypt(ct, { app: 'y' }), 'ERR_KMS_CONTEXT_MISMATCH', ['ctx bound']);
    await expectKmsError(onlyB.decrypt(ct), 'ERR_KMS_CONTEXT_MISMATCH');
    const env = createEnvelope({ backends: [await ageBackend({ identities: [a.identity] })] });
    const blob = await env.encrypt(Buffer.from('big'.repeat(1000)), { app: 'x' });
    expect(text(await env.decrypt(blob, { app: 'x' }))).toBe('big'.repeat(1000));
    await expectKmsError(enc.rotate(), 'ERR_KMS_UNSUPPORTED');
    expect(await onlyB.health()).toMatchObject({ ok: true });
    expect((await enc.metadata()).rotatable).toBe(false);
  });
});
