import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AuditLog, createAuditLog, ed25519Signer } from '@provisioning/audit';
import { sqliteAuditStore } from '@provisioning/audit/sqlite';
import {
  type ApiKeyService,
  type Authenticator,
  createApiKeyService,
  createAuthenticator,
  createKeySet,
  createLoginThrottle,
  createPasswordHasher,
  createTokenService,
  type KeySet,
  type PasswordHasher,
  type TokenService,
  type UserStore,
} from '@provisioning/auth';
import { sqlUserStore } from '@provisioning/auth/sql';
import { type Clock, type KeyValueStore, systemClock } from '@provisioning/core';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sqliteDatabase, sqliteStore } from '@provisioning/core/sqlite';
import { createMfaService, localAesGcmEncrypter, type MfaService } from '@provisioning/mfa';
import { sqlMfaStore } from '@provisioning/mfa/sql';
import {
  type AuditRecorder,
  type Authorizer,
  createSecurityChain,
  type Principal,
  type SecurityChain,
} from '@provisioning/middleware';
import { auditRecorderFrom } from '@provisioning/middleware/provisioning';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { loadOrCreateSecret } from './secrets-dir.js';

/** Everything the services share in one process: stores, the security stack and the observability. */
export interface Platform {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly dataDir: string;
  readonly database: SqlDatabase;
  readonly kv: KeyValueStore;
  readonly keys: KeySet;
  readonly tokens: TokenService;
  readonly users: UserStore;
  readonly hasher: PasswordHasher;
  readonly login: Authenticator;
  readonly apiKeys: ApiKeyService;
  readonly mfa: MfaService;
  readonly authorizer: Authorizer;
  /** The tamper-evident audit log (SQLite, Ed25519-signed checkpoints). */
  readonly auditLog: AuditLog;
  /** The chain's audit recorder: its decision and operation events go to {@link Platform.auditLog}. */
  readonly audit: AuditRecorder;
  readonly chain: SecurityChain;
  /** The token issuer and audience every service accepts. */
  readonly issuer: string;
  readonly audience: string;
  close(): Promise<void>;
}

/** Options of {@link createPlatform}. */
export interface PlatformOptions {
  readonly dataDir: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock?: Clock;
  /** Public origin of the control center, for WebAuthn. Default http://localhost:9090. */
  readonly origin?: string;
  /** Per-IP requests per minute. Default 100 (the platform's documented limit). */
  readonly rateLimitPerMinute?: number;
  /** Trusted reverse proxies (addresses or CIDR ranges). */
  readonly trustedProxies?: readonly string[];
}

/**
 * The composition root on embedded defaults: one SQLite file under the data
 * directory, a signing key and an MFA encryption key generated on first start
 * (files with mode 0600), the security chain over them.
 */
export async function createPlatform(options: PlatformOptions): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const database = sqliteDatabase({ filename: join(options.dataDir, 'platform.db') });
  const kv = await sqliteStore({ database, clock });

  const keys = await signingKeys(join(options.dataDir, 'keys', 'signing.jwk'), clock);
  const issuer = 'provisioning-control-center';
  const audience = 'provisioning';
  const tokens = createTokenService({ keys, issuer, audience, store: kv, clock });
  const users = await sqlUserStore({ database, clock });
  const hasher = createPasswordHasher();
  const login = createAuthenticator({ users, hasher, tokens, throttle: createLoginThrottle({ store: kv }), clock });
  const apiKeys = createApiKeyService({ store: kv, clock });
  const mfaKey = loadOrCreateSecret(join(options.dataDir, 'keys', 'mfa.key'), () => randomBytes(32).toString('base64'));
  const origin = options.origin ?? 'http://localhost:9090';
  const mfa = createMfaService({
    store: await sqlMfaStore({ database }),
    kv,
    encrypter: localAesGcmEncrypter({ keys: [{ id: 'k1', key: Buffer.from(mfaKey, 'base64') }] }),
    rp: { id: new URL(origin).hostname, name: 'Provisioning', origins: [origin] },
    clock,
  });
  const checkpointKey = loadOrCreateSecret(join(options.dataDir, 'keys', 'audit-checkpoint.pem'), () =>
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  const auditLog = await createAuditLog({
    sinks: [await sqliteAuditStore({ filename: join(options.dataDir, 'audit.db') })],
    signer: ed25519Signer({ privateKey: checkpointKey }),
    clock,
    onError: (error) => options.logger.error({ err: { code: error.code } }, 'audit log failure'),
  });
  const audit = auditRecorderFrom(auditLog);
  const authorizer = roleAuthorizer();
  const chain = createSecurityChain({
    clock,
    authenticator: {
      async authenticate(credential) {
        if (credential.kind === 'api-key') {
          const key = await apiKeys.verify(credential.key);
          // An API key acts with its owner's roles, narrowed by its scopes.
          const owner = await users.findById(key.owner);
          if (owner === undefined || owner.disabled === true) throw new Error('owner gone');
          return {
            id: key.id,
            type: 'api-key',
            roles: owner.roles,
            scopes: key.scopes,
            attributes: { owner: owner.id },
          } satisfies Principal;
        }
        const claims = await tokens.verify(credential.token);
        return {
          id: claims.sub,
          type: 'user',
          roles: claims.roles ?? [],
          sessionId: claims.sid,
          amr: claims.amr ?? [],
          ...(claims.mfa_at === undefined ? {} : { mfaAt: new Date(claims.mfa_at * 1000) }),
        };
      },
    },
    authorizer,
    audit,
    rateLimit: { store: kv, perIp: options.rateLimitPerMinute ?? 100, perPrincipal: options.rateLimitPerMinute ?? 100 },
    clientIp: { trustedProxies: options.trustedProxies ?? [] },
  });
  return {
    clock,
    logger: options.logger,
    metrics: options.metrics,
    dataDir: options.dataDir,
    database,
    kv,
    keys,
    tokens,
    users,
    hasher,
    login,
    apiKeys,
    mfa,
    authorizer,
    auditLog,
    audit,
    chain,
    issuer,
    audience,
    async close() {
      await auditLog.close();
      await kv.close();
      await database.close();
    },
  };
}

/** Until the Cedar engine is wired: Admin may do anything; everyone else may read and list. Deny by default. */
function roleAuthorizer(): Authorizer {
  return {
    async authorize({ principal, action }) {
      const allowed = principal.roles.includes('Admin') || action === 'read' || action === 'list';
      return { allowed, policyIds: [allowed ? 'role-default' : 'deny-by-default'], version: 'roles-v0' };
    },
  };
}

// The signing key is generated on first start and kept (mode 0600), so
// tokens survive restarts and several processes on one data directory agree.
async function signingKeys(path: string, clock: Clock): Promise<KeySet> {
  if (existsSync(path)) return createKeySet({ keys: [{ jwk: JSON.parse(readFileSync(path, 'utf8')) }], clock });
  const generated = await createKeySet({ generate: 'RS256', extractable: true, clock });
  const kid = generated.list().find((k) => k.signing)?.kid;
  if (kid === undefined) throw new Error('no signing key was generated');
  const jwk = JSON.stringify(await generated.exportPrivateJwk(kid));
  loadOrCreateSecret(path, () => jwk);
  return createKeySet({ keys: [{ jwk: JSON.parse(readFileSync(path, 'utf8')) }], clock });
}
