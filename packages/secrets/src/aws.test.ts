import {
  AssumeRoleCommand,
  GetFederationTokenCommand,
  GetSessionTokenCommand,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { awsStsProvider, validateStsDuration } from './aws.js';
import { createLeaseManager } from './manager.js';
import { memoryLeaseStore } from './stores/memory.js';

const sts = mockClient(STSClient);
afterEach(() => sts.reset());

const CREDS = {
  AccessKeyId: 'ASIAEXAMPLE',
  SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  SessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN',
  Expiration: new Date('2026-01-01T01:00:00Z'),
};

const setup = () => {
  const provider = awsStsProvider({ client: new STSClient({ region: 'eu-west-1' }) });
  const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], maxTtlSeconds: 86_400 });
  return { provider, leases };
};

describe('AWS STS provider', () => {
  it('AssumeRole with the lease TTL as DurationSeconds and the lease id as session name', async () => {
    sts.on(AssumeRoleCommand).resolves({
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
    const input = sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ RoleArn: roleArn, DurationSeconds: 900, ExternalId: 'ext' });
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
    sts.on(GetSessionTokenCommand).resolves({ Credentials: CREDS });
    sts.on(GetFederationTokenCommand).resolves({
      Credentials: CREDS,
      FederatedUser: { Arn: 'arn:aws:sts::1:federated-user/bob', FederatedUserId: '1:bob' },
    });
    const { provider, leases } = setup();
    await leases.issue(
      provider,
      { kind: 'session-token', serialNumber: 'arn:aws:iam::1:mfa/a', tokenCode: '123456' },
      { owner: 'a', ttlSeconds: 43_200 },
    );
    expect(sts.commandCalls(GetSessionTokenCommand)[0]?.args[0].input).toEqual({
      DurationSeconds: 43_200,
      SerialNumber: 'arn:aws:iam::1:mfa/a',
      TokenCode: '123456',
    });
    const fed = await leases.issue(
      provider,
      { kind: 'federation-token', name: 'bob', policy: '{"Version":"2012-10-17"}' },
      { owner: 'a', ttlSeconds: 3600 },
    );
    expect(sts.commandCalls(GetFederationTokenCommand)[0]?.args[0].input).toMatchObject({
      Name: 'bob',
      DurationSeconds: 3600,
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
    expect(sts.calls()).toHaveLength(0);
    expect(await leases.list()).toEqual([]);
    expect(validateStsDuration(900)).toBe(900);
    expect(validateStsDuration(43_200)).toBe(43_200);
  });

  it('maps an STS failure to ERR_SECRETS_PROVIDER_FAILED and keeps no lease', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejects(
        new STSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: {}, message: 'not authorized' }),
      );
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
    sts.on(GetSessionTokenCommand).resolves({ Credentials: CREDS });
    const { provider, leases } = setup();
    const { lease } = await leases.issue(provider, { kind: 'session-token' }, { owner: 'a', ttlSeconds: 900 });
    await leases.revoke(lease.id);
    expect(sts.calls()).toHaveLength(1);
    await expect(leases.get(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_FOUND' });
  });
});
