import { afterEach, describe, expect, it } from 'vitest';
import { AWS_TEST_CREDENTIALS, fakeKms as startFakeKms } from '../test/fixtures/aws-kms.js';
import { expectKmsError } from '../test/helpers.js';
import { awsKmsBackend, isMultiRegionKey } from './aws.js';
import { createEnvelope } from './envelope.js';
import { decryptSops, encryptSops, sopsAwsKms } from './sops.js';

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const MRK_US = 'arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
const MRK_EU = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
const secret = Buffer.from('aws secret plaintext');

// The real KMSClient over HTTP against a SigV4-checking KMS stand-in (no AWS here).
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});
const fakeKms = async (arns: readonly string[]) => {
  const f = await startFakeKms(arns);
  open.push(f);
  return f;
};

describe('AWS KMS backend (real KMSClient, HTTP fixture)', () => {
  it('Encrypt/Decrypt pass the EncryptionContext; a different context fails in KMS', async () => {
    const { client, calls } = await fakeKms([ARN]);
    const kms = awsKmsBackend({ client, keyId: ARN });
    const ct = await kms.encrypt(secret, { tenant: 't1' });
    expect(calls('Encrypt')[0]?.input.EncryptionContext).toEqual({ tenant: 't1' });
    expect(Buffer.from(await kms.decrypt(ct, { tenant: 't1' }))).toEqual(secret);
    expect(calls('Decrypt')[0]?.input).toMatchObject({
      KeyId: ARN,
      EncryptionContext: { tenant: 't1' },
    });
    await expectKmsError(kms.decrypt(ct, { tenant: 't2' }), 'ERR_KMS_DECRYPT_FAILED', [secret]);
    await expectKmsError(kms.decrypt(ct), 'ERR_KMS_DECRYPT_FAILED', [secret]);
  });

  it('the 4096-byte Encrypt limit: direct encrypt refuses, the envelope encrypts 1 MiB through a data key', async () => {
    const { client, calls } = await fakeKms([ARN]);
    const kms = awsKmsBackend({ client, keyId: ARN });
    await kms.encrypt(Buffer.alloc(4096));
    await expectKmsError(kms.encrypt(Buffer.alloc(4097)), 'ERR_KMS_PAYLOAD_TOO_LARGE');
    const env = createEnvelope({ backends: [kms] });
    const big = Buffer.alloc(1 << 20, 3);
    const blob = await env.encrypt(big, { app: 'x' });
    expect(calls('GenerateDataKey')[0]?.input).toMatchObject({
      KeySpec: 'AES_256',
      EncryptionContext: { app: 'x' },
    });
    expect(Buffer.from(await env.decrypt(blob, { app: 'x' })).equals(big)).toBe(true);
  });

  it('ReEncrypt rewraps inside KMS with the same context; rotation versions come from ListKeyRotations', async () => {
    const { client, calls } = await fakeKms([ARN]);
    const kms = awsKmsBackend({ client, keyId: ARN });
    const ct = await kms.encrypt(secret, { a: 'b' });
    const re = await kms.rewrap(ct, { a: 'b' });
    expect(calls('ReEncrypt')[0]?.input).toMatchObject({
      SourceEncryptionContext: { a: 'b' },
      DestinationEncryptionContext: { a: 'b' },
      DestinationKeyId: ARN,
    });
    expect(Buffer.from(await kms.decrypt(re, { a: 'b' }))).toEqual(secret);
    expect((await kms.metadata()).latestVersion).toBe(1);
    expect((await kms.rotate()).latestVersion).toBe(2);
    await expectKmsError(kms.setMinDecryptionVersion(2), 'ERR_KMS_UNSUPPORTED');
  });

  it('multi-region keys: what the us-east-1 primary encrypts, the eu-west-1 replica decrypts', async () => {
    expect(isMultiRegionKey(MRK_EU)).toBe(true);
    expect(isMultiRegionKey('mrk-1234')).toBe(true);
    expect(isMultiRegionKey(ARN)).toBe(false);
    const { client, clientFor } = await fakeKms([MRK_US, MRK_EU, ARN]);
    const us = awsKmsBackend({ client, keyId: MRK_US });
    const eu = awsKmsBackend({ client: clientFor('eu-west-1'), keyId: MRK_EU });
    // A key exists only in its own region: the us-east-1 key id means nothing to eu-west-1.
    await expectKmsError(
      awsKmsBackend({ client: clientFor('eu-west-1'), keyId: MRK_US }).encrypt(secret),
      'ERR_KMS_KEY_NOT_FOUND',
    );
    const env = createEnvelope({ backends: [us] });
    const blob = await env.encrypt(secret, { r: '1' });
    expect(Buffer.from(await createEnvelope({ backends: [eu] }).decrypt(blob, { r: '1' }))).toEqual(secret);
    // an unrelated key is told apart from a wrong context
    await expectKmsError(
      awsKmsBackend({ client, keyId: ARN }).decrypt(await us.encrypt(secret)),
      'ERR_KMS_NO_MATCHING_KEY',
    );
  });

  it('several backends at once: encrypt to AWS and local-region keys, decrypt with either', async () => {
    const { client } = await fakeKms([ARN, MRK_US]);
    const a = awsKmsBackend({ client, keyId: ARN });
    const b = awsKmsBackend({ client, keyId: MRK_US });
    const blob = await createEnvelope({ backends: [a, b] }).encrypt(secret);
    expect(Buffer.from(await createEnvelope({ backends: [b] }).decrypt(blob))).toEqual(secret);
    expect(Buffer.from(await createEnvelope({ backends: [a] }).decrypt(blob))).toEqual(secret);
  });

  it('signs every request: a client with the wrong secret key is refused, and no secret reaches the error', async () => {
    const { clientFor, calls, refused } = await fakeKms([ARN]);
    const wrong = clientFor('us-east-1', { ...AWS_TEST_CREDENTIALS, secretAccessKey: 'not-the-secret' });
    const error = await expectKmsError(
      awsKmsBackend({ client: wrong, keyId: ARN }).encrypt(secret),
      'ERR_KMS_ACCESS_DENIED',
      [secret, Buffer.from('not-the-secret')],
    );
    expect(error.details).toMatchObject({ awsError: 'InvalidSignatureException' });
    expect(refused).toEqual(['signature mismatch']);
    expect(calls('Encrypt')).toHaveLength(0);
  });

  it('maps AWS errors without secrets and works as a sops kms master key', async () => {
    const { client } = await fakeKms([ARN]);
    await expectKmsError(awsKmsBackend({ client, keyId: 'alias/missing' }).encrypt(secret), 'ERR_KMS_KEY_NOT_FOUND', [
      secret,
    ]);
    expect(await awsKmsBackend({ client, keyId: ARN }).health()).toMatchObject({ ok: true });
    const source = sopsAwsKms({ backend: awsKmsBackend({ client, keyId: ARN }), context: { app: 'api' } });
    const enc = JSON.parse(await encryptSops('{"token": "t0k"}', { keys: [source] }));
    expect(enc.sops.kms[0]).toMatchObject({ arn: ARN, context: { app: 'api' }, aws_profile: '' });
    expect(enc.sops.kms[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((await decryptSops(JSON.stringify(enc), { keys: [source] })).data).toEqual({ token: 't0k' });
    enc.sops.kms[0].context.app = 'other';
    await expectKmsError(decryptSops(JSON.stringify(enc), { keys: [source] }), 'ERR_KMS_DECRYPT_FAILED');
  });
});
