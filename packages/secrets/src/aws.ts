/**
 * AWS STS temporary credentials (`@aws-sdk/client-sts` 3, an optional peer
 * dependency) as leases.
 *
 * @module
 */
import {
  AssumeRoleCommand,
  type Credentials,
  GetFederationTokenCommand,
  GetSessionTokenCommand,
  type STSClient,
} from '@aws-sdk/client-sts';
import { clientError, SecretsError } from './errors.js';
import type { SecretProvider } from './provider.js';

/** The STS operations the provider calls. */
export type StsRequest =
  /** `GetSessionToken`: temporary credentials of the calling IAM user (optionally with MFA). */
  | { readonly kind: 'session-token'; readonly serialNumber?: string; readonly tokenCode?: string }
  /** `AssumeRole`: credentials of another role. */
  | {
      readonly kind: 'assume-role';
      readonly roleArn: string;
      /** Default: derived from the lease id (so CloudTrail names the lease). */
      readonly roleSessionName?: string;
      readonly externalId?: string;
      /** An inline session policy (JSON) that narrows the role's permissions. */
      readonly policy?: string;
      readonly policyArns?: readonly string[];
    }
  /** `GetFederationToken`: credentials for a federated user, narrowed by a policy. */
  | {
      readonly kind: 'federation-token';
      readonly name: string;
      readonly policy?: string;
      readonly policyArns?: readonly string[];
    };

/** Temporary AWS credentials. */
export interface StsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** When AWS stops accepting them. */
  readonly expiration: Date;
}

/** Options of {@link awsStsProvider}. */
export interface AwsStsProviderOptions {
  /** A configured `STSClient` (region, credentials of the issuing principal). */
  readonly client: STSClient;
  /** Provider name. Default `aws-sts`. */
  readonly name?: string;
}

/** Shortest STS duration AWS accepts, in seconds (15 minutes). */
export const STS_MIN_DURATION_SECONDS = 900;
/**
 * Longest duration this provider requests, in seconds (12 hours): AWS's
 * ceiling for `AssumeRole` (a role's maximum session duration is at most
 * 12 h). `GetSessionToken` and `GetFederationToken` would allow 36 h; the
 * platform caps every STS lease at 12 h.
 */
export const STS_MAX_DURATION_SECONDS = 43_200;

/**
 * Validates an STS duration against AWS's limits (15 min to 12 h).
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_TTL`.
 */
export function validateStsDuration(seconds: number): number {
  if (!Number.isSafeInteger(seconds) || seconds < STS_MIN_DURATION_SECONDS || seconds > STS_MAX_DURATION_SECONDS) {
    throw clientError(
      'ERR_SECRETS_INVALID_TTL',
      `STS durations are ${STS_MIN_DURATION_SECONDS} to ${STS_MAX_DURATION_SECONDS} seconds (15 minutes to 12 hours)`,
      { ttlSeconds: seconds, min: STS_MIN_DURATION_SECONDS, max: STS_MAX_DURATION_SECONDS },
    );
  }
  return seconds;
}

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const FEDERATED_NAME = /^[\w+=,.@-]{2,32}$/;
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

function credentials(c: Credentials | undefined): StsCredentials {
  if (
    c?.AccessKeyId === undefined ||
    c.SecretAccessKey === undefined ||
    c.SessionToken === undefined ||
    c.Expiration === undefined
  ) {
    throw new SecretsError('STS returned no credentials', { code: 'ERR_SECRETS_PROVIDER_FAILED', fault: 'server' });
  }
  const out = {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: new Date(c.Expiration),
  };
  // Keep the secret parts out of JSON logs of the object.
  Object.defineProperty(out, 'toJSON', {
    enumerable: false,
    value: () => ({ accessKeyId: out.accessKeyId, expiration: out.expiration }),
  });
  return out;
}

/**
 * A lease provider of AWS STS temporary credentials: `GetSessionToken`,
 * `AssumeRole` or `GetFederationToken` with `DurationSeconds` = the lease TTL
 * (validated: 15 minutes to 12 hours).
 *
 * **Revocation is local only.** STS credentials cannot be revoked one by one
 * (AWS only offers a deny-by-issue-time policy on a whole role); revoking the
 * lease forgets it, and the credentials stay valid until their expiration.
 * Keep STS TTLs short. Leases are not renewable: issue new credentials.
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_OPTIONS` without a client.
 * @example
 * ```ts
 * import { STSClient } from '@aws-sdk/client-sts';
 * import { awsStsProvider } from '@provisioning/secrets/aws';
 * const sts = awsStsProvider({ client: new STSClient({ region: 'eu-west-1' }) });
 * const { secret } = await leases.issue(sts, { kind: 'assume-role', roleArn }, { owner: 'alice', ttlSeconds: 900 });
 * ```
 */
export function awsStsProvider(options: AwsStsProviderOptions): SecretProvider<StsRequest, StsCredentials> {
  const client = options?.client;
  if (client === undefined || typeof client.send !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'awsStsProvider needs an STSClient');
  }
  return {
    name: options.name ?? 'aws-sts',
    async create(request, ctx) {
      const DurationSeconds = validateStsDuration(ctx.ttlSeconds);
      const send = { abortSignal: ctx.signal };
      switch (request?.kind) {
        case 'session-token': {
          const out = await client.send(
            new GetSessionTokenCommand({
              DurationSeconds,
              ...(request.serialNumber ? { SerialNumber: request.serialNumber } : {}),
              ...(request.tokenCode ? { TokenCode: request.tokenCode } : {}),
            }),
            send,
          );
          const secret = credentials(out.Credentials);
          return { secret, metadata: { kind: request.kind, accessKeyId: secret.accessKeyId } };
        }
        case 'assume-role': {
          if (typeof request.roleArn !== 'string' || !ROLE_ARN.test(request.roleArn)) {
            throw clientError('ERR_SECRETS_INVALID_REQUEST', 'roleArn is an IAM role ARN');
          }
          const RoleSessionName = request.roleSessionName ?? ctx.leaseId.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
          if (!SESSION_NAME.test(RoleSessionName)) {
            throw clientError('ERR_SECRETS_INVALID_REQUEST', 'roleSessionName is 2-64 characters of [\\w+=,.@-]');
          }
          const out = await client.send(
            new AssumeRoleCommand({
              RoleArn: request.roleArn,
              RoleSessionName,
              DurationSeconds,
              ...(request.externalId ? { ExternalId: request.externalId } : {}),
              ...(request.policy ? { Policy: request.policy } : {}),
              ...(request.policyArns ? { PolicyArns: request.policyArns.map((arn) => ({ arn })) } : {}),
            }),
            send,
          );
          const secret = credentials(out.Credentials);
          return {
            secret,
            metadata: {
              kind: request.kind,
              accessKeyId: secret.accessKeyId,
              roleArn: request.roleArn,
              roleSessionName: RoleSessionName,
              ...(out.AssumedRoleUser?.Arn ? { arn: out.AssumedRoleUser.Arn } : {}),
            },
          };
        }
        case 'federation-token': {
          if (typeof request.name !== 'string' || !FEDERATED_NAME.test(request.name)) {
            throw clientError('ERR_SECRETS_INVALID_REQUEST', 'federated user names are 2-32 characters of [\\w+=,.@-]');
          }
          const out = await client.send(
            new GetFederationTokenCommand({
              Name: request.name,
              DurationSeconds,
              ...(request.policy ? { Policy: request.policy } : {}),
              ...(request.policyArns ? { PolicyArns: request.policyArns.map((arn) => ({ arn })) } : {}),
            }),
            send,
          );
          const secret = credentials(out.Credentials);
          return {
            secret,
            metadata: {
              kind: request.kind,
              accessKeyId: secret.accessKeyId,
              ...(out.FederatedUser?.Arn ? { arn: out.FederatedUser.Arn } : {}),
            },
          };
        }
        default:
          throw clientError('ERR_SECRETS_INVALID_REQUEST', 'kind is session-token, assume-role or federation-token');
      }
    },
    async revoke() {
      // STS credentials cannot be revoked individually: the lease is dropped
      // locally and the credentials expire at their `expiration` (see PITFALLS).
    },
  };
}
