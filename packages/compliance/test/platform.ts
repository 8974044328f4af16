import { randomBytes } from 'node:crypto';
import type { EventSink } from '@provisioning/audit';
import {
  createAuditLog,
  createPiiPolicy,
  ed25519Signer,
  generateCheckpointKeyPair,
  memoryAuditStore,
  subjectKeyPseudonymizer,
} from '@provisioning/audit';
import { postgresAuditStore } from '@provisioning/audit/postgres';
import { sqliteAuditStore } from '@provisioning/audit/sqlite';
import {
  createApiKeyService,
  createKeySet,
  createPasswordHasher,
  createTokenService,
  memoryUserStore,
  type UserStore,
} from '@provisioning/auth';
import { sqlUserStore } from '@provisioning/auth/sql';
import type { Clock, KeyValueStore, ManualClock } from '@provisioning/core';
import { CoreError, memoryStore } from '@provisioning/core';
import { postgresStore } from '@provisioning/core/postgres';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sqliteStore } from '@provisioning/core/sqlite';
import type { MfaStore } from '@provisioning/mfa';
import { createMfaService, decodeBase32, generateTotp, localAesGcmEncrypter, memoryMfaStore } from '@provisioning/mfa';
import { sqlMfaStore } from '@provisioning/mfa/sql';
import type { LeaseStore, SecretProvider } from '@provisioning/secrets';
import { createLeaseManager, memoryLeaseStore } from '@provisioning/secrets';
import { sqlLeaseStore } from '@provisioning/secrets/sql';
import type { SshKeyPair } from '@provisioning/secrets/ssh';
import { sshKeyPairProvider } from '@provisioning/secrets/ssh';
import type { CheckResult } from '../src/assessment.js';
import { createCheckRegistry, runAssessment } from '../src/assessment.js';
import type { CheckLimits, ComplianceReaders } from '../src/checks.js';
import { builtinChecks } from '../src/checks.js';
import { auditPseudonymsProvider } from '../src/platform-audit.js';
import { apiKeysProvider, sessionsProvider, usersProvider } from '../src/platform-auth.js';
import { mfaDevicesProvider } from '../src/platform-mfa.js';
import { leasesProvider } from '../src/platform-secrets.js';
import type { DataProvider } from '../src/providers.js';

/** What a seeded user holds, to look for in exports and after erasure (none of it may leak). */
export interface SeededUser {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly password: string;
  readonly passwordHash: string;
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly apiKey: string;
  readonly totpSecret: string;
  readonly backupCodes: readonly string[];
  readonly sshPrivateKey: string;
  readonly leaseId: string;
}

/**
 * The platform's real components — auth (users, tokens, API keys), mfa,
 * secrets (a lease manager with an SSH key-pair provider) and the audit log
 * with per-subject pseudonyms — all on one store: memory, or one SQLite or
 * PostgreSQL database, as the reference servers wire them. `revocationFails`
 * makes the SSH provider's revocations fail (a provider outage).
 */
export async function platformUnderTest(options: { readonly clock: ManualClock; readonly database?: SqlDatabase }) {
  const { clock, database } = options;
  let kv: KeyValueStore;
  let users: UserStore;
  let mfaStore: MfaStore;
  let leaseStore: LeaseStore;
  let auditSink: EventSink;
  if (database === undefined) {
    kv = memoryStore({ clock });
    users = memoryUserStore({ clock });
    mfaStore = memoryMfaStore();
    leaseStore = memoryLeaseStore();
    auditSink = memoryAuditStore();
  } else {
    const pg = database.dialect === 'postgres';
    kv = pg ? await postgresStore({ database, clock }) : await sqliteStore({ database, clock });
    users = await sqlUserStore({ database, clock });
    mfaStore = await sqlMfaStore({ database });
    leaseStore = await sqlLeaseStore({ database });
    auditSink = pg ? await postgresAuditStore({ database }) : await sqliteAuditStore({ database });
  }
  // Low Argon2id cost: the tests hash a few passwords; the hashing check reads a hasher of its own.
  const hasher = createPasswordHasher({ memoryCost: 7168, timeCost: 1 });
  const tokens = createTokenService({
    keys: await createKeySet({ generate: 'EdDSA', clock }),
    issuer: 'https://auth.test',
    audience: 'provisioning',
    store: kv,
    clock,
  });
  const apiKeys = createApiKeyService({ store: kv, clock });
  const mfa = createMfaService({
    store: mfaStore,
    kv,
    encrypter: localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] }),
    rp: { id: 'cc.test', name: 'Provisioning', origins: ['https://cc.test'] },
    clock,
  });
  const state = { revocationFails: false };
  const ssh = sshKeyPairProvider();
  const flakySsh: SecretProvider<{ readonly comment?: string }, SshKeyPair> = {
    ...ssh,
    async revoke(lease, context) {
      if (state.revocationFails) throw new Error('the SSH host is unreachable');
      return ssh.revoke(lease, context);
    },
  };
  const leases = createLeaseManager({ store: leaseStore, providers: [flakySsh], clock });
  const subjects = subjectKeyPseudonymizer({ store: kv, secret: randomBytes(32) });
  const log = await createAuditLog({
    sinks: [auditSink],
    signer: ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey }),
    transform: createPiiPolicy({
      fields: { 'actor.id': 'pseudonymize', 'actor.ip': 'mask', 'metadata.email': 'drop' },
      pseudonymizer: subjects,
    }).apply,
    clock,
  });
  const providers: DataProvider[] = [
    usersProvider({ users }),
    sessionsProvider({ tokens }),
    apiKeysProvider({ apiKeys }),
    mfaDevicesProvider({ mfa }),
    leasesProvider({ leases }),
    auditPseudonymsProvider({ log, subjects }),
  ];

  /** A user with a password, two sessions, an API key, TOTP and backup codes, an SSH key lease and audit events. */
  async function seedUser(username: string, roles: readonly string[] = ['Developer']): Promise<SeededUser> {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const passwordHash = await hasher.hash(password);
    const email = `${username}@example.test`;
    const user = await users.create({ username, email, passwordHash, roles, teams: ['platform'] });
    const first = await tokens.issue({
      subject: user.id,
      roles,
      metadata: { ip: '203.0.113.7', userAgent: 'Firefox/140.0' },
    });
    await tokens.issue({ subject: user.id, roles, metadata: { label: 'cli' } });
    const { key } = await apiKeys.create({ owner: user.id, name: `${username}'s laptop`, scopes: ['read'] });
    const enrollment = await mfa.beginTotpEnrollment(user.id, { accountName: email });
    const confirmed = await mfa.confirmTotpEnrollment(
      user.id,
      enrollment.deviceId,
      generateTotp({ secret: decodeBase32(enrollment.secret), atMs: clock.now() }),
    );
    const { lease, secret } = await leases.issue(flakySsh, { comment: username }, { owner: user.id, ttlSeconds: 900 });
    for (const action of ['auth.login.succeeded', 'mfa.verified', 'secrets.lease.created'] as const) {
      await log.record(
        {
          action,
          outcome: 'success',
          actor: { id: user.id, type: 'user', ip: '203.0.113.7' },
          metadata: { email },
        },
        { durable: true },
      );
    }
    return {
      id: user.id,
      username: user.username,
      email,
      password,
      passwordHash,
      accessToken: first.accessToken,
      refreshToken: first.refreshToken as string,
      apiKey: key,
      totpSecret: enrollment.secret,
      backupCodes: confirmed.backupCodes ?? [],
      sshPrivateKey: secret.privateKey,
      leaseId: lease.id,
    };
  }

  return {
    kv,
    users,
    hasher,
    tokens,
    apiKeys,
    mfa,
    leases,
    sshKeys: flakySsh,
    subjects,
    log,
    auditSink,
    providers,
    state,
    seedUser,
  };
}

/** Every secret a seeded user holds: none may appear in an export, a record, an event or an error. */
export function secretsOf(user: SeededUser): string[] {
  return [
    user.password,
    user.passwordHash,
    user.accessToken,
    user.refreshToken,
    user.apiKey,
    user.totpSecret,
    ...user.backupCodes,
    user.sshPrivateKey,
  ];
}

/** Runs one built-in check through `runAssessment` (so a reader that throws fails the check, as in production). */
export async function runCheck(
  id: string,
  readers: ComplianceReaders,
  options: { readonly clock?: Clock; readonly limits?: CheckLimits } = {},
): Promise<CheckResult> {
  const registry = createCheckRegistry(builtinChecks(options.limits));
  const { checks } = await runAssessment(registry, {
    readers,
    only: [id],
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return checks[0] as CheckResult;
}

/**
 * A real store that can be taken down: while `down`, every call rejects the
 * way a lost database connection does (`ERR_STORE_UNAVAILABLE`).
 */
export function withOutage<T extends object>(store: T): { readonly store: T; down: boolean } {
  const control = { store, down: false };
  control.store = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (control.down) {
          return Promise.reject(
            new CoreError('the store is unreachable', {
              code: 'ERR_STORE_UNAVAILABLE',
              fault: 'server',
              retryable: true,
            }),
          );
        }
        return value.apply(target, args);
      };
    },
  });
  return control;
}
