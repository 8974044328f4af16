import { AssumeRoleCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { awsStsProvider } from './aws.js';
import { createLeaseManager } from './manager.js';
import { memoryLeaseStore } from './stores/memory.js';

// aws-sdk-client-mock replaces the STSClient's send(): no HTTP, no signing
// (aws.test.ts covers those against an STS stand-in). What it adds are the
// answers a well-behaved server does not give: SDK-side errors that are not
// STS error responses, answers without credentials, and a call that never
// returns.
const sts = mockClient(STSClient);
afterEach(() => sts.reset());

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const CREDS = {
  AccessKeyId: 'ASIAEXAMPLE',
  SecretAccessKey: SECRET,
  SessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN',
  Expiration: new Date('2026-01-01T01:00:00Z'),
};
const ROLE = 'arn:aws:iam::123456789012:role/deploy';

function setup(providerTimeoutMs = 10_000) {
  const provider = awsStsProvider({ client: new STSClient({ region: 'eu-west-1' }) });
  const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [provider], providerTimeoutMs });
  return { provider, leases };
}

describe('AWS STS provider (aws-sdk-client-mock)', () => {
  it('sends exactly the validated command and keeps the secret out of the lease', async () => {
    sts.on(AssumeRoleCommand, { RoleArn: ROLE, DurationSeconds: 1800 }).resolves({ Credentials: CREDS });
    const { provider, leases } = setup();
    const { lease, secret } = await leases.issue(
      provider,
      { kind: 'assume-role', roleArn: ROLE },
      { owner: 'alice', ttlSeconds: 1800 },
    );
    const input = sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(input).toEqual({ RoleArn: ROLE, RoleSessionName: lease.id.replace('/', '-'), DurationSeconds: 1800 });
    expect(secret).toMatchObject({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: SECRET });
    expect(JSON.stringify(lease)).not.toContain(SECRET);
    expect(JSON.stringify(secret)).not.toContain(SECRET);
  });

  it('an SDK error that is no STS answer maps to ERR_SECRETS_PROVIDER_FAILED without its message, and keeps no lease', async () => {
    // e.g. a credential provider or network failure; its message may carry
    // anything, so only its name is reported.
    sts
      .on(GetSessionTokenCommand)
      .rejects(Object.assign(new Error(`socket hang up ${SECRET}`), { name: 'TimeoutError' }));
    const { provider, leases } = setup();
    const error = await leases
      .issue(provider, { kind: 'session-token' }, { owner: 'a', ttlSeconds: 900 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED', details: { errorName: 'TimeoutError' } });
    expect(JSON.stringify(error)).not.toContain(SECRET);
    expect(String((error as Error).message)).not.toContain(SECRET);
    expect(await leases.list()).toEqual([]);
  });

  it.each([
    ['no Credentials', {}],
    ['no SecretAccessKey', { Credentials: { ...CREDS, SecretAccessKey: undefined } }],
    ['no Expiration', { Credentials: { ...CREDS, Expiration: undefined } }],
  ])('an answer with %s is a provider failure, and no lease is kept', async (_, answer) => {
    sts.on(GetSessionTokenCommand).resolves(answer);
    const { provider, leases } = setup();
    await expect(
      leases.issue(provider, { kind: 'session-token' }, { owner: 'a', ttlSeconds: 900 }),
    ).rejects.toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED' });
    expect(await leases.list()).toEqual([]);
  });

  it('a call that never answers times out and aborts the SDK call; the lease is kept for revocation', async () => {
    sts.on(GetSessionTokenCommand).callsFake(() => new Promise(() => {}));
    const { provider, leases } = setup(50);
    await expect(
      leases.issue(provider, { kind: 'session-token' }, { owner: 'a', ttlSeconds: 900 }),
    ).rejects.toMatchObject({ code: 'ERR_SECRETS_PROVIDER_TIMEOUT' });
    const options = (sts.send.getCall(0).args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined;
    expect(options?.abortSignal?.aborted).toBe(true);
    // STS may have issued credentials before the answer was lost: the lease
    // stays, due for revocation now, rather than being forgotten.
    expect(await leases.list()).toMatchObject([{ provider: 'aws-sts', owner: 'a', state: 'revoking' }]);
  });
});
