import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCall } from '@provisioning/testing/aws';
import { AwsFixtureError, startAwsFixture } from '@provisioning/testing/aws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { awsStsProvider, validateStsDuration } from './aws.js';
import { createLeaseManager } from './manager.js';
import { memoryLeaseStore } from './stores/memory.js';

// The real STSClient over HTTP (Query protocol, XML, SigV4 checked by the
// fixture) against an STS stand-in: no AWS here.
const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'fixture-secret-key' };
const CREDS = {
  AccessKeyId: 'ASIAEXAMPLE',
  SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  SessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN',
  Expiration: new Date('2026-01-01T01:00:00Z'),
};

let answer: (call: AwsCall) => Record<string, unknown>;
let fixture: Awaited<ReturnType<typeof startAwsFixture>>;
beforeEach(async () => {
  answer = () => {
    throw new AwsFixtureError('InvalidAction', 'not expected in this test');
  };
  fixture = await startAwsFixture({ service: 'sts', credentials: KEYS, behaviour: (call) => answer(call) });
});
afterEach(() => fixture.close());
const calls = (action: string) => fixture.calls.filter((c) => c.action === action).map((c) => c.input);

const setup = (credentials = KEYS) => {
  const client = new STSClient({ region: 'eu-west-1', endpoint: fixture.url, credentials, maxAttempts: 1 });
  const provider = awsStsProvider({ client });
  const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], maxTtlSeconds: 86_400 });
  return { provider, leases };
};

describe('AWS STS provider', () => {
  it('AssumeRole with the lease TTL as DurationSeconds and the lease id as session name', async () => {
    answer = () => ({
      Credentials: CREDS,
      AssumedRoleUser: { Arn: 'arn:aws:sts::123456789012:assumed-role/r/s', AssumedRoleId: 'x' },
    });
    const { provider, leases } = setup();
    const roleArn = 'arn:aws:iam::123456789012:role/deploy';
    const { lease, secret } = await leases.issue(
      provider,
      { kind: 'assume-role', roleArn, externalId: 'ext' },
      { owner: 'alice', ttlSeconds: 900 },
    );
    const input = calls('AssumeRole')[0];
    expect(input).toMatchObject({ RoleArn: roleArn, DurationSeconds: '900', ExternalId: 'ext' });
    expect(input?.RoleSessionName).toBe(lease.id.replace('/', '-'));
    expect(secret).toMatchObject({
      accessKeyId: 'ASIAEXAMPLE',
      sessionToken: CREDS.SessionToken,
      expiration: CREDS.Expiration,
    });
    expect(lease.metadata).toMatchObject({ kind: 'assume-role', roleArn, accessKeyId: 'ASIAEXAMPLE' });
    expect(JSON.stringify(lease)).not.toContain(CREDS.SecretAccessKey);
    expect(JSON.stringify(secret)).not.toContain(CREDS.SecretAccessKey);
    expect(lease.renewable).toBe(false);
  });

  it('GetSessionToken and GetFederationToken', async () => {
    answer = ({ action }) =>
      action === 'GetSessionToken'
        ? { Credentials: CREDS }
        : { Credentials: CREDS, FederatedUser: { Arn: 'arn:aws:sts::1:federated-user/bob', FederatedUserId: '1:bob' } };
    const { provider, leases } = setup();
    await leases.issue(
      provider,
      { kind: 'session-token', serialNumber: 'arn:aws:iam::1:mfa/a', tokenCode: '123456' },
      { owner: 'a', ttlSeconds: 43_200 },
    );
    expect(calls('GetSessionToken')[0]).toEqual({
      DurationSeconds: '43200',
      SerialNumber: 'arn:aws:iam::1:mfa/a',
      TokenCode: '123456',
    });
    const fed = await leases.issue(
      provider,
      { kind: 'federation-token', name: 'bob', policy: '{"Version":"2012-10-17"}' },
      { owner: 'a', ttlSeconds: 3600 },
    );
    expect(calls('GetFederationToken')[0]).toMatchObject({
      Name: 'bob',
      DurationSeconds: '3600',
      Policy: '{"Version":"2012-10-17"}',
    });
    expect(fed.lease.metadata.arn).toBe('arn:aws:sts::1:federated-user/bob');
  });

  it('validates durations against AWS limits (15 min to 12 h) before calling AWS', async () => {
    const { provider, leases } = setup();
    for (const ttlSeconds of [899, 43_201, 86_400]) {
      await expect(leases.issue(provider, { kind: 'session-token' }, { owner: 'a', ttlSeconds })).rejects.toMatchObject(
        {
          code: 'ERR_SECRETS_INVALID_TTL',
        },
      );
    }
    expect(fixture.calls).toHaveLength(0);
    expect(await leases.list()).toEqual([]);
    expect(validateStsDuration(900)).toBe(900);
    expect(validateStsDuration(43_200)).toBe(43_200);
  });

  it('maps an STS failure to ERR_SECRETS_PROVIDER_FAILED and keeps no lease', async () => {
    answer = () => {
      throw new AwsFixtureError('AccessDenied', 'not authorized', 403);
    };
    const { provider, leases } = setup();
    await expect(
      leases.issue(
        provider,
        { kind: 'assume-role', roleArn: 'arn:aws:iam::123456789012:role/x' },
        { owner: 'a', ttlSeconds: 900 },
      ),
    ).rejects.toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED', details: { errorName: 'AccessDenied' } });
    expect(await leases.list()).toEqual([]);
  });

  it('refuses bad requests', async () => {
    const { provider, leases } = setup();
    await expect(
      leases.issue(provider, { kind: 'assume-role', roleArn: 'nope' }, { owner: 'a', ttlSeconds: 900 }),
    ).rejects.toMatchObject({
      code: 'ERR_SECRETS_INVALID_REQUEST',
    });
    await expect(
      leases.issue(provider, { kind: 'federation-token', name: 'a b' }, { owner: 'a', ttlSeconds: 900 }),
    ).rejects.toMatchObject({
      code: 'ERR_SECRETS_INVALID_REQUEST',
    });
  });

  it('revocation only drops the lease locally (STS cannot revoke single credentials)', async () => {
    answer = () => ({ Credentials: CREDS });
    const { provider, leases } = setup();
    const { lease } = await leases.issue(provider, { kind: 'session-token' }, { owner: 'a', ttlSeconds: 900 });
    await leases.revoke(lease.id);
    expect(fixture.calls).toHaveLength(1);
    await expect(leases.get(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_FOUND' });
  });

  it('signs every request: a client with the wrong secret key is refused and no lease is kept', async () => {
    answer = () => ({ Credentials: CREDS });
    const { provider, leases } = setup({ ...KEYS, secretAccessKey: 'not-the-secret' });
    const error = await leases
      .issue(provider, { kind: 'session-token' }, { owner: 'a', ttlSeconds: 900 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'ERR_SECRETS_PROVIDER_FAILED',
      details: { errorName: 'SignatureDoesNotMatch' },
    });
    expect(JSON.stringify(error)).not.toContain('not-the-secret');
    expect(fixture.refused).toEqual(['signature mismatch']);
    expect(fixture.calls).toHaveLength(0);
    expect(await leases.list()).toEqual([]);
  });
});
