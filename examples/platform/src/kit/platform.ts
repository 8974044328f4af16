import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AuditLog, createAuditLog, ed25519Signer } from '@provisioning/audit';
import {
  type ApiKeyService,
  type Authenticator,
  type BreakGlass,
  callbackNotifier,
  createApiKeyService,
  createAuthenticator,
  createBreakGlass,
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
import { cachingSecretEncrypter, createMfaService, localAesGcmEncrypter, type MfaService } from '@provisioning/mfa';
import { sqlMfaStore } from '@provisioning/mfa/sql';
import {
  type AuditRecorder,
  type Authorizer,
  type Authenticator as ChainAuthenticator,
  createSecurityChain,
  MiddlewareError,
  type SecurityChain,
} from '@provisioning/middleware';
import { auditRecorderFrom, authenticatorFrom, breakGlassAuditFrom } from '@provisioning/middleware/provisioning';
import { type ErrorShape, refusalBody } from './app.js';
import { type AuthorizationOptions, createPlatformAuthorization, type PlatformAuthorization } from './authorization.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { loadOrCreateSecret } from './secrets-dir.js';
import { openStorage, type StorageOptions } from './storage.js';

/** Everything the services share in one process: stores, the security stack and the observability. */
export interface Platform {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly dataDir: string;
  /** The SQL database of the richer stores (users, MFA devices, tasks, leases …): SQLite or PostgreSQL. */
  readonly database: SqlDatabase;
  /** Durable key/value state (API keys, break-glass, the bootstrap secret): SQL. */
  readonly kv: KeyValueStore;
  /** Hot key/value state (sessions and revocation, login throttling, rate limits, MFA replay and challenges): SQL or Redis. */
  readonly hot: KeyValueStore;
  readonly keys: KeySet;
  readonly tokens: TokenService;
  readonly users: UserStore;
  readonly hasher: PasswordHasher;
  readonly login: Authenticator;
  readonly apiKeys: ApiKeyService;
  readonly mfa: MfaService;
  /** Break-glass emergency access (two approvers from two teams; its monitor runs until `close()`). */
  readonly breakGlass: BreakGlass;
  /** The Cedar engine, its chain adapter and its administration (`/policies`). */
  readonly authorization: PlatformAuthorization;
  /** The chain's authorizer: Cedar with the platform's resource entities. */
  readonly authorizer: Authorizer;
  /** The tamper-evident audit log (Ed25519-signed checkpoints). */
  readonly auditLog: AuditLog;
  /** The chain's audit recorder: its decision and operation events go to {@link Platform.auditLog}. */
  readonly audit: AuditRecorder;
  /** The platform chain, refusing in the envelope services' shape. */
  readonly chain: SecurityChain;
  /** A chain over the same authentication, limits and audit with another error shape or authorizer. */
  createChain(options?: { errorShape?: ErrorShape; authorizer?: Authorizer }): SecurityChain;
  /** The token issuer and audience every service accepts. */
  readonly issuer: string;
  readonly audience: string;
  /** What the stores run on (`sqlite`, `postgres`, `postgres+redis` …). */
  readonly storage: string;
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
  /** Where state lives. Default: SQLite files under `dataDir`. */
  readonly storage?: StorageOptions;
  /** The Cedar engine: policy directory, hot reload, trusted networks, environments. */
  readonly authorization?: AuthorizationOptions;
}

/**
 * The composition root: the stores (SQLite under the data directory, or
 * PostgreSQL and Redis by configuration), a signing key and an MFA encryption
 * key generated on first start (files with mode 0600), the Cedar engine, the
 * audit log, break-glass and the security chain over them.
 */
export async function createPlatform(options: PlatformOptions): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const storage = await openStorage({ dataDir: options.dataDir, clock, ...options.storage });
  const { database, kv, hot } = storage;

  const keys = await signingKeys(join(options.dataDir, 'keys', 'signing.jwk'), clock);
  const issuer = 'provisioning-control-center';
  const audience = 'provisioning';
  const tokens = createTokenService({ keys, issuer, audience, store: hot, clock });
  const users = await sqlUserStore({ database, clock });
  const hasher = createPasswordHasher();
  const login = createAuthenticator({ users, hasher, tokens, throttle: createLoginThrottle({ store: hot }), clock });
  const apiKeys = createApiKeyService({ store: kv, clock });
  const mfaKey = loadOrCreateSecret(join(options.dataDir, 'keys', 'mfa.key'), () => randomBytes(32).toString('base64'));
  const origin = options.origin ?? 'http://localhost:9090';
  const mfa = createMfaService({
    store: await sqlMfaStore({ database }),
    kv: hot,
    // Opt-in decryption cache (the AWS Encryption SDK's caching-CMM pattern):
    // a device's seed is decrypted at most once per 30 s instead of on every
    // TOTP verification, at most 10,000 seeds held, each wiped on expiry. Safe
    // because entries are keyed by ciphertext *and* encryption context (a
    // seed copied to another user or device still fails) and failures are never
    // cached. With a KMS encrypter, call encrypter.clear() on a key revocation.
    encrypter: cachingSecretEncrypter(
      localAesGcmEncrypter({ keys: [{ id: 'k1', key: Buffer.from(mfaKey, 'base64') }] }),
      { maxAgeMs: 30_000, maxEntries: 10_000, clock },
    ),
    rp: { id: new URL(origin).hostname, name: 'Provisioning', origins: [origin] },
    clock,
  });
  const checkpointKey = loadOrCreateSecret(join(options.dataDir, 'keys', 'audit-checkpoint.pem'), () =>
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  const auditLog = await createAuditLog({
    sinks: [storage.auditStore],
    signer: ed25519Signer({ privateKey: checkpointKey }),
    clock,
    onError: (error) => options.logger.error({ err: { code: error.code } }, 'audit log failure'),
  });
  const audit = auditRecorderFrom(auditLog);

  const breakGlass = createBreakGlass({
    tokens,
    store: kv,
    clock,
    audit: breakGlassAuditFrom(auditLog),
    // The alert carries ids, teams and the reason: never a token.
    notifier: callbackNotifier((alert) =>
      options.logger.warn({ event: alert.event.type, request: alert.event.requestId }, alert.summary),
    ),
    // The emergency token acts as an Operator: the shipped `emergency-access`
    // policy (which checks the session, the approval id and its expiry) is
    // what lifts production limits, not a blanket Admin role.
    emergencyRoles: ['Operator'],
    onError: (error) =>
      options.logger.error({ err: { code: (error as { code?: unknown })?.code } }, 'break-glass background failure'),
  });
  breakGlass.start();

  const authorization = await createPlatformAuthorization({
    ...options.authorization,
    clock,
    auditLog,
    logger: options.logger,
    users,
  });

  const authenticator = platformAuthenticator({ tokens, apiKeys, breakGlass, users });
  const createChain = (chainOptions: { errorShape?: ErrorShape; authorizer?: Authorizer } = {}): SecurityChain =>
    createSecurityChain({
      clock,
      authenticator,
      authorizer: chainOptions.authorizer ?? authorization.authorizer,
      audit,
      onAuditError: (error) =>
        options.logger.error({ err: { code: (error as { code?: unknown })?.code } }, 'audit record failed'),
      rateLimit: {
        store: hot,
        perIp: options.rateLimitPerMinute ?? 100,
        perPrincipal: options.rateLimitPerMinute ?? 100,
      },
      clientIp: { trustedProxies: options.trustedProxies ?? [] },
      errorBody: (refusal) => refusalBody(chainOptions.errorShape ?? 'envelope', refusal),
    });

  return {
    clock,
    logger: options.logger,
    metrics: options.metrics,
    dataDir: options.dataDir,
    database,
    kv,
    hot,
    keys,
    tokens,
    users,
    hasher,
    login,
    apiKeys,
    mfa,
    breakGlass,
    authorization,
    authorizer: authorization.authorizer,
    auditLog,
    audit,
    chain: createChain(),
    createChain,
    issuer,
    audience,
    storage: storage.description,
    async close() {
      await breakGlass.stop();
      authorization.close();
      await auditLog.close();
      await storage.close();
    },
  };
}

/**
 * The chain's authenticator: `@provisioning/middleware`'s adapter over the
 * token service (revocation checked on every call), API keys and break-glass
 * (emergency tokens only while their session lives), then the user record:
 * a disabled or deleted user's credentials stop working at once, an API key
 * acts with its owner's roles, and the principal carries the user's teams
 * (Cedar's `Team` parents; break-glass needs two teams of approvers).
 */
function platformAuthenticator(parts: {
  tokens: TokenService;
  apiKeys: ApiKeyService;
  breakGlass: BreakGlass;
  users: UserStore;
}): ChainAuthenticator {
  const base = authenticatorFrom({
    tokens: parts.tokens,
    apiKeys: parts.apiKeys,
    breakGlass: parts.breakGlass,
    // The contract's break-glass permissions are Cedar actions, `admin` meaning all of them.
    emergencyScope: (scope) => ({ actions: scope.includes('admin') ? ['*'] : [...scope] }),
  });
  return {
    async authenticate(credential, request) {
      const principal = await base.authenticate(credential, request);
      const owner = principal.type === 'api-key' ? principal.attributes?.owner : principal.id;
      const user = typeof owner === 'string' ? await parts.users.findById(owner) : undefined;
      if (user === undefined || user.disabled) {
        // Security: tokens outlive a disable by up to their lifetime; refuse them here.
        throw new MiddlewareError('the account is disabled or gone', {
          code: 'ERR_MW_INVALID_CREDENTIALS',
          fault: 'client',
        });
      }
      return {
        ...principal,
        roles: principal.type === 'api-key' ? user.roles : principal.roles,
        attributes: {
          ...principal.attributes,
          teams: user.teams,
          username: user.username,
          email: user.email ?? '',
          createdAt: user.createdAt.toISOString(),
          mfaEnabled: user.mfaEnabled,
        },
      };
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
