import { type Clock, systemClock } from '@provisioning/core';
import {
  API_SERVER_ROUTES,
  type ApiLoginRequest,
  type ApiMetrics,
  type ApiTokenResponse,
  type CreateClusterRequest,
  type CreateServerRequest,
  type CreateTaskservRequest,
  type Operation,
  type OperationStatus,
  type Server,
} from './api/api-server.js';
import { DEFAULT_PORTS, type HealthStatus, type Route, SERVICE_NAMES, type ServiceName } from './api/common.js';
import {
  type AdminUser,
  type ApiToken,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type BootstrapRequest,
  type ChangePasswordResponse,
  CONTROL_CENTER_ROUTES,
  type ComplianceSummary,
  type CreateApiTokenRequest,
  type CreatedApiToken,
  type CreateUserRequest,
  type LogoutResponse,
  type MfaDevice,
  type MfaEnrollment,
  type MfaStatus,
  type MfaType,
  type MfaVerifyResponse,
  type PasskeyOptions,
  type Policy,
  type PolicyReload,
  type PolicyStatus,
  type PolicyValidation,
  type Session,
  type VerifyResponse,
  type WebAuthnChallenge,
  type WebAuthnRegistration,
} from './api/control-center.js';
import {
  type DownloadExtensionQuery,
  EXTENSION_PAGE_LIMITS,
  EXTENSION_REGISTRY_ROUTES,
  EXTENSION_VERSION_PATTERN,
  type Extension,
  type ExtensionArchive,
  type ExtensionType,
  type ListExtensionsQuery,
  type SearchExtensionsQuery,
} from './api/extension-registry.js';
import {
  type DataKeySpec,
  type DecryptResponse,
  type EncryptionContext,
  type EncryptResponse,
  type GenerateKeyResponse,
  KMS_ROUTES,
  type KmsHealth,
  type KmsStatus,
} from './api/kms.js';
import {
  AUDIT_EXPORT_CONTENT_TYPES,
  type AuditEvent,
  type AuditExportFormat,
  type AuditExportQuery,
  type AuditQuery,
  type AuditStats,
  type AuditVerification,
  type BreakGlassActivation,
  type BreakGlassRequest,
  type BreakGlassRequestInput,
  type ComplianceControl,
  type ComplianceFramework,
  type ComplianceReport,
  type DataSubjectRequest,
  type DataSubjectRequestInput,
  type DynamicSecret,
  type GenerateSecretRequest,
  type GenerateSshKeyRequest,
  type Incident,
  type IncidentInput,
  type ListTasksQuery,
  ORCHESTRATOR_ROUTES,
  type OrchestratorEvent,
  type SecretLease,
  type SecretStats,
  type SshConnectInfo,
  type SshKey,
  type WorkflowKind,
  type WorkflowRequest,
  type WorkflowTask,
} from './api/orchestrator.js';
import { callRoute, decodeRoute, type RouteInput, type ServiceContext, sendRoute } from './call.js';
import { invalidOptions, isPlatformClientError, PlatformClientError } from './errors.js';
import { type EventStreamOptions, orchestratorEvents } from './events.js';
import { digestOf } from './oci/digest.js';
import { type OperationHandle, operationHandle } from './operation.js';
import { type PageOptions, paginate } from './paginate.js';
import {
  type AuthOptions,
  type LoginInput,
  type LoginStep,
  type MfaAnswer,
  SessionAuth,
  type SessionTokens,
} from './session.js';
import {
  type CallOptions,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_RETRY,
  defaultSleep,
  type Logger,
  type RetryOptions,
  type Sleep,
  Transport,
} from './transport.js';

/** Options of {@link createPlatformClient}. */
export interface PlatformClientOptions {
  /**
   * One URL for every service (a gateway, or one process serving them all).
   * Per-service `baseUrls` win over it.
   */
  readonly baseUrl?: string;
  /** Base URL per service. Services without one use `baseUrl`, else `http://<host>:<default port>`. */
  readonly baseUrls?: Partial<Readonly<Record<ServiceName, string>>>;
  /** Host for services with no URL configured. Default `127.0.0.1`. */
  readonly host?: string;
  /** How to authenticate. Default `{ type: 'session' }` (call `login()`). */
  readonly auth?: AuthOptions;
  /** The `fetch` to use. Default: the built-in `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Per-attempt timeout in ms. Default 30 000. */
  readonly timeoutMs?: number;
  /** Retry policy, or `false` for none. Default {@link DEFAULT_RETRY}. */
  readonly retry?: RetryOptions | false;
  /** Debug logger; everything it receives is redacted. */
  readonly logger?: Logger;
  /** Time source (token expiry, waits). Default the system clock. */
  readonly clock?: Clock;
  /** Sleep used between retries and polls (tests inject a fake). */
  readonly sleep?: Sleep;
  /** Random source in [0, 1) for backoff jitter. Default `Math.random` (jitter needs no CSPRNG). */
  readonly random?: () => number;
  /** `User-Agent` header. */
  readonly userAgent?: string;
  /**
   * Largest response body the client reads, in bytes; a larger one is
   * `ERR_CLIENT_MALFORMED_RESPONSE` (never half-read). Default 32 MiB.
   */
  readonly maxResponseBytes?: number;
}

/** Health of one service as seen by {@link PlatformClient.health}. */
export interface ServiceHealth {
  readonly service: ServiceName;
  readonly url: string;
  readonly healthy: boolean;
  /** Round-trip time in ms. */
  readonly latencyMs: number;
  /** What the service said (its health `data`). */
  readonly detail?: unknown;
  /** Why it is unhealthy (code and message, no secrets). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** Health of every service. */
export interface PlatformHealth {
  /** Whether every service answered healthy. */
  readonly healthy: boolean;
  readonly services: Readonly<Record<ServiceName, ServiceHealth>>;
}

/** Orchestrator: tasks, workflows, dynamic secrets, SSH keys, break-glass, audit, compliance. */
export interface OrchestratorClient {
  readonly baseUrl: string;
  /** `GET /health` (public): `"Orchestrator is healthy"`. */
  health(options?: CallOptions): Promise<string>;
  /** One page of tasks (`limit` 1–1000, default 50). */
  listTasks(query?: ListTasksQuery, options?: CallOptions): Promise<WorkflowTask[]>;
  /** Every task matching `status` (and `workflow_id`), page by page. */
  tasks(
    query?: Pick<ListTasksQuery, 'status' | 'workflow_id'>,
    page?: PageOptions,
  ): AsyncGenerator<WorkflowTask, void, undefined>;
  /** `GET /tasks/{id}`; `ERR_CLIENT_NOT_FOUND` for an unknown id. */
  getTask(id: string, options?: CallOptions): Promise<WorkflowTask>;
  /**
   * `POST /tasks/{id}/cancel` (designed): cancels a task, or every unfinished
   * task of a workflow when given a workflow id, and answers the cancelled
   * tasks. `ERR_CLIENT_NOT_FOUND` for an unknown id, `ERR_CLIENT_CONFLICT`
   * when nothing is left to cancel. Not retried (a POST).
   */
  cancelTask(id: string, options?: CallOptions): Promise<WorkflowTask[]>;
  /**
   * Streams task/batch/system events from `/ws` (validated against the contract).
   * Needs a bearer token (session or `bearer` auth) and a WebSocket implementation.
   */
  events(options?: EventStreamOptions): AsyncGenerator<OrchestratorEvent, void, undefined>;
  /** Submits a workflow; resolves with its `workflow_id`. Not retried (not idempotent). */
  submitWorkflow(kind: WorkflowKind, request: WorkflowRequest, options?: CallOptions): Promise<string>;
  /** Dynamic secrets (`/api/v1/secrets`): generated credentials are never logged. */
  readonly secrets: {
    generate(request: GenerateSecretRequest, options?: CallOptions): Promise<DynamicSecret>;
    get(id: string, options?: CallOptions): Promise<SecretLease>;
    revoke(id: string, reason: string, options?: CallOptions): Promise<SecretLease>;
    renew(id: string, ttlSeconds?: number, options?: CallOptions): Promise<SecretLease>;
    list(page?: PageOptions): AsyncGenerator<SecretLease, void, undefined>;
    expiring(withinSeconds?: number, options?: CallOptions): Promise<SecretLease[]>;
    stats(options?: CallOptions): Promise<SecretStats>;
  };
  /** Temporal SSH keys (`/api/v1/ssh/keys`, designed): the private key is only in the answer to `generate`. */
  readonly ssh: {
    generate(request: GenerateSshKeyRequest, options?: CallOptions): Promise<SshKey>;
    list(page?: PageOptions): AsyncGenerator<SshKey, void, undefined>;
    get(id: string, options?: CallOptions): Promise<SshKey>;
    deploy(id: string, options?: CallOptions): Promise<SshKey>;
    revoke(id: string, reason: string, options?: CallOptions): Promise<SshKey>;
    connect(id: string, options?: CallOptions): Promise<SshConnectInfo>;
  };
  /** Break-glass emergency access (`/api/v1/break-glass`, designed): request, approve/deny, activate, revoke. */
  readonly breakGlass: {
    request(input: BreakGlassRequestInput, options?: CallOptions): Promise<BreakGlassRequest>;
    list(status?: string, page?: PageOptions): AsyncGenerator<BreakGlassRequest, void, undefined>;
    get(id: string, options?: CallOptions): Promise<BreakGlassRequest>;
    approve(id: string, comment?: string, options?: CallOptions): Promise<BreakGlassRequest>;
    deny(id: string, comment?: string, options?: CallOptions): Promise<BreakGlassRequest>;
    activate(id: string, options?: CallOptions): Promise<BreakGlassActivation>;
    revoke(id: string, comment?: string, options?: CallOptions): Promise<BreakGlassRequest>;
    active(options?: CallOptions): Promise<BreakGlassRequest[]>;
  };
  /** Audit trail (`/api/v1/audit`, designed): query, export, chain verification. */
  readonly audit: {
    /** One page of events. */
    query(query?: AuditQuery, options?: CallOptions): Promise<AuditEvent[]>;
    /** Every matching event, page by page. */
    events(query?: AuditExportQuery, page?: PageOptions): AsyncGenerator<AuditEvent, void, undefined>;
    get(id: string, options?: CallOptions): Promise<AuditEvent>;
    /** The export file as text in the given format, of the events the filters select (as {@link query} does, unpaged). */
    export(format: AuditExportFormat, filters?: AuditExportQuery, options?: CallOptions): Promise<string>;
    verify(options?: CallOptions): Promise<AuditVerification>;
    stats(options?: CallOptions): Promise<AuditStats>;
  };
  /** Compliance (`/api/v1/compliance`, designed): controls, reports, GDPR requests, incidents. */
  readonly compliance: {
    controls(framework?: ComplianceFramework, options?: CallOptions): Promise<ComplianceControl[]>;
    report(framework: ComplianceFramework, options?: CallOptions): Promise<ComplianceReport>;
    createDataSubjectRequest(input: DataSubjectRequestInput, options?: CallOptions): Promise<DataSubjectRequest>;
    getDataSubjectRequest(id: string, options?: CallOptions): Promise<DataSubjectRequest>;
    /** An administrator records the out-of-band identity check of a request filed for someone; it is then processed (exports in the answer). Never retried. */
    verifyDataSubjectRequest(id: string, reference: string, options?: CallOptions): Promise<DataSubjectRequest>;
    /** An administrator extends an open request's deadline by two months, once, before it passes; `reason` is what the subject is told. Never retried. */
    extendDataSubjectRequest(id: string, reason: string, options?: CallOptions): Promise<DataSubjectRequest>;
    incidents(page?: PageOptions): AsyncGenerator<Incident, void, undefined>;
    createIncident(input: IncidentInput, options?: CallOptions): Promise<Incident>;
  };
}

/**
 * Control center: the first administrator, sessions, MFA, users, API tokens,
 * Cedar policies. Login/logout live on the root client.
 */
export interface ControlCenterClient {
  readonly baseUrl: string;
  /** `GET /health` (public). */
  health(options?: CallOptions): Promise<HealthStatus>;
  /**
   * `POST /auth/bootstrap` (public): creates the first administrator with the
   * one-time secret the control center printed on its first start. 403
   * `BOOTSTRAP_CLOSED` once any user exists. Never retried.
   */
  bootstrap(request: BootstrapRequest, options?: CallOptions): Promise<AdminUser>;
  /** `GET /auth/verify`: the claims of the current token. */
  verify(options?: CallOptions): Promise<VerifyResponse>;
  /** `GET /auth/sessions`: the caller's sessions. */
  sessions(options?: CallOptions): Promise<Session[]>;
  /** `DELETE /auth/sessions/{id}`. */
  revokeSession(id: string, options?: CallOptions): Promise<LogoutResponse>;
  /**
   * MFA enrollment and step-up (`/mfa`): TOTP secrets and backup codes are
   * never logged. A successful `verify` or `webauthn.authenticate` answers
   * fresh tokens with the MFA claim; in session mode the client adopts them,
   * so the next sensitive call passes the step-up.
   */
  readonly mfa: {
    enroll(type: MfaType, options?: CallOptions): Promise<MfaEnrollment>;
    /** Confirms a pending TOTP enrollment (first code; answers the backup codes) or steps up. */
    verify(code: string, options?: CallOptions): Promise<MfaVerifyResponse>;
    status(options?: CallOptions): Promise<MfaStatus>;
    devices(options?: CallOptions): Promise<MfaDevice[]>;
    /** `PATCH /mfa/devices/{id}`: a new name (1 to 64 characters). */
    renameDevice(id: string, name: string, options?: CallOptions): Promise<MfaDevice>;
    /** Sensitive: needs a recent MFA. `ERR_CLIENT_CONFLICT` (`LAST_FACTOR`) for the last factor. */
    removeDevice(id: string, options?: CallOptions): Promise<MfaStatus>;
    /** Sensitive: a new set of backup codes; the old set stops working. */
    regenerateBackupCodes(options?: CallOptions): Promise<string[]>;
    /** WebAuthn (security keys, passkeys): finish a registration begun by `enroll('webauthn')`, and step up. */
    readonly webauthn: {
      /** `response` is the browser's `RegistrationResponseJSON`. */
      register(
        response: Readonly<Record<string, unknown>>,
        name?: string,
        options?: CallOptions,
      ): Promise<WebAuthnRegistration>;
      /** Request options for `navigator.credentials.get()`. */
      challenge(options?: CallOptions): Promise<WebAuthnChallenge>;
      /** `response` is the browser's `AuthenticationResponseJSON`. */
      authenticate(response: Readonly<Record<string, unknown>>, options?: CallOptions): Promise<MfaVerifyResponse>;
    };
  };
  /** Users and roles (admin only). Changing roles or disabling ends the user's sessions. */
  readonly users: {
    list(options?: CallOptions): Promise<AdminUser[]>;
    /** `ERR_CLIENT_CONFLICT` (`USER_EXISTS`) for a taken username. Not retried. */
    create(request: CreateUserRequest, options?: CallOptions): Promise<AdminUser>;
    setRoles(id: string, roles: readonly string[], options?: CallOptions): Promise<AdminUser>;
    /** Sets a user's teams (`PUT /users/{id}/teams`). */
    setTeams(id: string, teams: readonly string[], options?: CallOptions): Promise<AdminUser>;
    disable(id: string, options?: CallOptions): Promise<AdminUser>;
  };
  /** The caller's API tokens (`/api-tokens`): the secret is in the answer to `create` only, never logged. */
  readonly apiTokens: {
    /** Not retried (a retry could mint two keys). */
    create(request: CreateApiTokenRequest, options?: CallOptions): Promise<CreatedApiToken>;
    list(options?: CallOptions): Promise<ApiToken[]>;
    revoke(id: string, options?: CallOptions): Promise<LogoutResponse>;
  };
  /** Cedar policies (`/policies`, designed): list, validate, what-if authorize, reload. */
  readonly policies: {
    list(options?: CallOptions): Promise<Policy[]>;
    get(id: string, options?: CallOptions): Promise<Policy>;
    validate(source: string, options?: CallOptions): Promise<PolicyValidation>;
    authorize(request: AuthorizeRequest, options?: CallOptions): Promise<AuthorizeResponse>;
    /** Admin: reloads the policy set from its source. */
    reload(options?: CallOptions): Promise<PolicyReload>;
    /** The policy set in force (version, count) and the outcome of its last reload. */
    status(options?: CallOptions): Promise<PolicyStatus>;
  };
  /**
   * Changes the caller's password (`POST /auth/password`): the current one is
   * required, and every other session of the user ends. Never retried.
   */
  changePassword(currentPassword: string, newPassword: string, options?: CallOptions): Promise<ChangePasswordResponse>;
  /**
   * The SOC 2 / ISO 27001 summary of the checks over what the control center
   * holds (`GET /api/v1/compliance/summary`): counts per framework and the
   * failing checks. Admins, Auditors and the audit and security teams.
   */
  complianceSummary(options?: CallOptions): Promise<ComplianceSummary>;
}

/** Result of {@link KmsClient.decrypt}. */
export interface DecryptResult {
  readonly plaintext: Uint8Array;
  readonly keyId: string;
}
/** Result of {@link KmsClient.generateDataKey}. */
export interface DataKey {
  /** The data key: use it, then drop it. */
  readonly plaintext: Uint8Array;
  /** The wrapped key: store this. */
  readonly ciphertext: string;
  readonly keyId: string;
}

/** KMS service: encrypt/decrypt with an encryption context, data keys. */
export interface KmsClient {
  readonly baseUrl: string;
  /** Encrypts bytes (or a UTF-8 string); `context` is bound as AAD and must be given again to decrypt. */
  encrypt(plaintext: Uint8Array | string, context?: EncryptionContext, options?: CallOptions): Promise<EncryptResponse>;
  /** Decrypts; the same `context` as at encryption is required (else the server rejects it). */
  decrypt(ciphertext: string, context?: EncryptionContext, options?: CallOptions): Promise<DecryptResult>;
  /** A fresh data key (default `AES_256`): use `plaintext`, store `ciphertext`. */
  generateDataKey(spec?: DataKeySpec, context?: EncryptionContext, options?: CallOptions): Promise<DataKey>;
  /** `GET /api/v1/kms/status`. */
  status(options?: CallOptions): Promise<KmsStatus>;
  /** `GET /api/v1/kms/health` (public). */
  health(options?: CallOptions): Promise<KmsHealth>;
}

/** API server: servers, taskservs, clusters as asynchronous operations. */
export interface ApiServerClient {
  readonly baseUrl: string;
  /** The API server's own login; returns its tokens without storing them (use them with `auth: { type: 'bearer' }`). */
  login(request: ApiLoginRequest, options?: CallOptions): Promise<ApiTokenResponse>;
  /** `POST /v1/auth/refresh`; never retried. */
  refresh(refreshToken: string, options?: CallOptions): Promise<ApiTokenResponse>;
  /** One page of servers. */
  listServers(query?: { limit?: number; offset?: number }, options?: CallOptions): Promise<Server[]>;
  /** Every server, page by page (a server that ignores `limit` is read in one go). */
  servers(page?: PageOptions): AsyncGenerator<Server, void, undefined>;
  getServer(id: string, options?: CallOptions): Promise<Server>;
  /** `POST /v1/servers/create`: starts an operation; `wait()` on the handle. Not retried. */
  createServer(request: CreateServerRequest, options?: CallOptions): Promise<OperationHandle>;
  deleteServer(id: string, options?: CallOptions): Promise<OperationHandle>;
  createTaskserv(request: CreateTaskservRequest, options?: CallOptions): Promise<OperationHandle>;
  createCluster(request: CreateClusterRequest, options?: CallOptions): Promise<OperationHandle>;
  /** A handle on an existing operation (fetches its state). */
  operation(id: string, options?: CallOptions): Promise<OperationHandle>;
  operations(status?: OperationStatus, page?: PageOptions): AsyncGenerator<Operation, void, undefined>;
  health(options?: CallOptions): Promise<HealthStatus>;
  metrics(options?: CallOptions): Promise<ApiMetrics>;
}

/** Extension registry (public reads). */
export interface ExtensionRegistryClient {
  readonly baseUrl: string;
  /** One page of extensions (`limit` default 100, max 1000). */
  list(query?: ListExtensionsQuery, options?: CallOptions): Promise<Extension[]>;
  extensions(
    query?: Omit<ListExtensionsQuery, 'limit' | 'offset'>,
    page?: PageOptions,
  ): AsyncGenerator<Extension, void, undefined>;
  get(type: ExtensionType, name: string, options?: CallOptions): Promise<Extension>;
  versions(type: ExtensionType, name: string, options?: CallOptions): Promise<Extension[]>;
  /** Extensions whose name, description or tags match `q` (latest version of each). */
  search(query: SearchExtensionsQuery, options?: CallOptions): Promise<Extension[]>;
  /**
   * Downloads an extension's archive (default: the latest version). The bytes
   * are returned only if their SHA-256 is the checksum the registry announces
   * (`X-Checksum`), else `ERR_CLIENT_DIGEST_MISMATCH`; a checksum missing or
   * malformed is `ERR_CLIENT_MALFORMED_RESPONSE`.
   */
  download(
    type: ExtensionType,
    name: string,
    query?: DownloadExtensionQuery,
    options?: CallOptions,
  ): Promise<ExtensionArchive>;
  health(options?: CallOptions): Promise<HealthStatus>;
}

/** The client of the whole platform. */
export interface PlatformClient {
  readonly orchestrator: OrchestratorClient;
  readonly controlCenter: ControlCenterClient;
  readonly kms: KmsClient;
  readonly apiServer: ApiServerClient;
  readonly extensionRegistry: ExtensionRegistryClient;
  /**
   * Logs in at the control center (`POST /auth/login`) and keeps the tokens;
   * later calls refresh them before expiry. Throws `ERR_CLIENT_MFA_REQUIRED`
   * when the account needs `mfaCode`, `ERR_CLIENT_UNAUTHENTICATED` for bad
   * credentials. Never retried.
   */
  login(input: LoginInput, options?: CallOptions): Promise<SessionTokens>;
  /**
   * The two-step login: like {@link login}, but an account that needs MFA
   * resolves with `{ status: 'mfa_required', challenge }` (the factors it has,
   * WebAuthn options) instead of throwing; finish with {@link completeLogin}
   * without sending the password again. Never retried.
   */
  beginLogin(input: LoginInput, options?: CallOptions): Promise<LoginStep>;
  /**
   * Completes a challenge from {@link beginLogin} with a TOTP or backup code,
   * or a WebAuthn assertion, and keeps the session. A wrong code is
   * `ERR_CLIENT_UNAUTHENTICATED` and the challenge stays usable until it
   * expires (5 min). Never retried.
   */
  completeLogin(challengeId: string, answer: MfaAnswer, options?: CallOptions): Promise<SessionTokens>;
  /**
   * Username-less passkey sign-in, step one: the WebAuthn request options
   * (discoverable credentials, user verification required) to hand to the
   * authenticator. Needs auth type "session".
   */
  passkeyOptions(options?: CallOptions): Promise<PasskeyOptions>;
  /** Step two: the authenticator's assertion signs in and the session is kept. Never retried. */
  passkeyLogin(response: Readonly<Record<string, unknown>>, options?: CallOptions): Promise<SessionTokens>;
  /** Revokes the session at the control center (optionally every session) and forgets the tokens. */
  logout(options?: CallOptions & { readonly allSessions?: boolean }): Promise<LogoutResponse | undefined>;
  /** Refreshes now (joins a refresh already in flight). */
  refresh(options?: CallOptions): Promise<SessionTokens>;
  /** The current session tokens, if logged in. */
  session(): SessionTokens | undefined;
  /** Health of every service in parallel, in one call; never throws for an unhealthy service. */
  health(options?: CallOptions): Promise<PlatformHealth>;
  /** Calls any contract route (an escape hatch for routes without a method). */
  call<T>(route: Route, input?: RouteInput, options?: CallOptions): Promise<T>;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

function resolveBaseUrls(options: PlatformClientOptions): Record<ServiceName, string> {
  const out = {} as Record<ServiceName, string>;
  const host = options.host ?? '127.0.0.1';
  for (const name of SERVICE_NAMES) {
    const url = options.baseUrls?.[name] ?? options.baseUrl ?? `http://${host}:${DEFAULT_PORTS[name]}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidOptions(`baseUrl of ${name} is not a URL`, { service: name });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw invalidOptions(`baseUrl of ${name} must be http(s)`, { service: name });
    }
    if (parsed.username || parsed.password) {
      // Credentials in URLs end up in logs and proxies: configure `auth` instead.
      throw invalidOptions(`baseUrl of ${name} must not contain credentials`, { service: name });
    }
    out[name] = url.replace(/\/+$/, '');
  }
  return out;
}

/**
 * Creates the platform client: one client per service over one transport
 * (the built-in `fetch` unless `fetch` is given) with shared authentication,
 * timeouts, retries (idempotent requests only, full-jitter backoff, honouring
 * `Retry-After`) and redacted debug logging.
 *
 * Throws `ERR_CLIENT_INVALID_OPTIONS` for a bad option. Calls reject with
 * {@link PlatformClientError}.
 *
 * @example
 * ```ts
 * const client = createPlatformClient({ host: 'platform.internal' });
 * await client.login({ username: 'ada', password, mfaCode: '123456' });
 * for await (const task of client.orchestrator.tasks({ status: 'Running' })) console.log(task.name);
 * const op = await client.apiServer.createServer({ workspace: 'prod', provider: 'upcloud', plan: '1xCPU-2GB',
 *   hostname: 'web-01', zone: 'fi-hel1', check_mode: false, tags: [] });
 * await op.wait({ onProgress: (o) => console.log(o.status) });
 * ```
 */
export function createPlatformClient(options: PlatformClientOptions = {}): PlatformClient {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw invalidOptions('no fetch available: pass options.fetch');
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalidOptions('timeoutMs must be a positive number');
  let retry: Required<RetryOptions> | false = false;
  if (options.retry !== false) {
    retry = { ...DEFAULT_RETRY, ...options.retry };
    if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
      throw invalidOptions('retry.maxAttempts must be an integer >= 1');
    }
    if (retry.baseDelayMs < 0 || retry.maxDelayMs < 0 || retry.maxRetryAfterMs < 0) {
      throw invalidOptions('retry delays must be >= 0');
    }
  }
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 1) {
    throw invalidOptions('maxResponseBytes must be a positive integer');
  }
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? defaultSleep;
  const urls = resolveBaseUrls(options);
  const transport = new Transport({
    fetch: fetchImpl,
    timeoutMs,
    retry,
    logger: options.logger,
    random: options.random ?? Math.random,
    sleep,
    clock,
    userAgent: options.userAgent ?? '@provisioning/platform-client',
    maxResponseBytes,
  });
  const auth = new SessionAuth(options.auth ?? { type: 'session' }, clock);
  const ctx = (service: ServiceName): ServiceContext => ({ transport, baseUrl: urls[service], auth });
  auth.attach(ctx('controlCenter'));

  const orch = ctx('orchestrator');
  const cc = ctx('controlCenter');
  const kms = ctx('kms');
  const api = ctx('apiServer');
  const ext = ctx('extensionRegistry');
  const O = ORCHESTRATOR_ROUTES;
  const C = CONTROL_CENTER_ROUTES;
  const A = API_SERVER_ROUTES;
  const E = EXTENSION_REGISTRY_ROUTES;
  const id = (value: string): { params: { id: string } } => ({ params: { id: value } });
  const pages = <T>(
    c: ServiceContext,
    route: Route,
    query: Record<string, string | number | boolean | undefined>,
    page: PageOptions = {},
    limits: { defaultPageSize: number; maxPageSize: number } = { defaultPageSize: 50, maxPageSize: 1000 },
  ): AsyncGenerator<T, void, undefined> =>
    paginate<T>(
      (limit, offset, signal) =>
        callRoute<T[]>(c, route, { query: { ...query, limit, offset } }, signal ? { signal } : {}),
      { ...limits, ...page },
    );
  const handle = (op: Operation): OperationHandle => operationHandle(api, op, { clock, sleep });
  const workflowRoute: Record<WorkflowKind, Route> = {
    servers: O.createServersWorkflow,
    taskserv: O.createTaskservWorkflow,
    cluster: O.createClusterWorkflow,
    batch: O.createBatchWorkflow,
  };

  const orchestrator: OrchestratorClient = {
    baseUrl: urls.orchestrator,
    health: (o) => callRoute(orch, O.health, {}, o),
    listTasks: (q = {}, o) => callRoute(orch, O.listTasks, { query: { ...q } }, o),
    tasks: (q = {}, page) => pages(orch, O.listTasks, { ...q }, page),
    getTask: (taskId, o) => callRoute(orch, O.getTask, id(taskId), o),
    cancelTask: (taskId, o) => callRoute(orch, O.cancelTask, id(taskId), o),
    events: (o) => orchestratorEvents(urls.orchestrator, auth, o),
    submitWorkflow: (kind, request, o) => {
      const route = workflowRoute[kind];
      if (!route) throw invalidOptions(`unknown workflow kind ${String(kind)}`);
      return callRoute(orch, route, { body: request }, o);
    },
    secrets: {
      generate: (request, o) => callRoute(orch, O.generateSecret, { body: request }, o),
      get: (secretId, o) => callRoute(orch, O.getSecret, id(secretId), o),
      revoke: (secretId, reason, o) => callRoute(orch, O.revokeSecret, { ...id(secretId), body: { reason } }, o),
      renew: (secretId, ttlSeconds, o) =>
        callRoute(
          orch,
          O.renewSecret,
          { ...id(secretId), body: ttlSeconds === undefined ? {} : { ttl_seconds: ttlSeconds } },
          o,
        ),
      list: (page) => pages(orch, O.listSecrets, {}, page),
      expiring: (within, o) => callRoute(orch, O.expiringSecrets, { query: { within_seconds: within } }, o),
      stats: (o) => callRoute(orch, O.secretStats, {}, o),
    },
    ssh: {
      generate: (request, o) => callRoute(orch, O.generateSshKey, { body: request }, o),
      list: (page) => pages(orch, O.listSshKeys, {}, page),
      get: (keyId, o) => callRoute(orch, O.getSshKey, id(keyId), o),
      deploy: (keyId, o) => callRoute(orch, O.deploySshKey, id(keyId), o),
      revoke: (keyId, reason, o) => callRoute(orch, O.revokeSshKey, { ...id(keyId), body: { reason } }, o),
      connect: (keyId, o) => callRoute(orch, O.connectSshKey, id(keyId), o),
    },
    breakGlass: {
      request: (input, o) => callRoute(orch, O.requestBreakGlass, { body: input }, o),
      list: (status, page) => pages(orch, O.listBreakGlass, { status }, page),
      get: (reqId, o) => callRoute(orch, O.getBreakGlass, id(reqId), o),
      approve: (reqId, comment, o) =>
        callRoute(orch, O.approveBreakGlass, { ...id(reqId), body: comment ? { comment } : {} }, o),
      deny: (reqId, comment, o) =>
        callRoute(orch, O.denyBreakGlass, { ...id(reqId), body: comment ? { comment } : {} }, o),
      activate: (reqId, o) => callRoute(orch, O.activateBreakGlass, id(reqId), o),
      revoke: (reqId, comment, o) =>
        callRoute(orch, O.revokeBreakGlass, { ...id(reqId), body: comment ? { comment } : {} }, o),
      active: (o) => callRoute(orch, O.activeBreakGlass, {}, o),
    },
    audit: {
      query: (q = {}, o) => callRoute(orch, O.queryAudit, { query: { ...q } }, o),
      events: (q = {}, page) => pages(orch, O.queryAudit, { ...q }, page),
      get: (eventId, o) => callRoute(orch, O.getAuditEvent, id(eventId), o),
      export: async (format, filters = {}, o) => {
        const answer = await sendRoute(orch, O.exportAudit, { query: { format, ...filters } }, o);
        // The file is in the format asked for: a CSV request answered with JSON (an error page, a proxy) is refused.
        return decodeRoute<string>(O.exportAudit, answer, [AUDIT_EXPORT_CONTENT_TYPES[format], 'text/plain']);
      },
      verify: (o) => callRoute(orch, O.verifyAudit, {}, o),
      stats: (o) => callRoute(orch, O.auditStats, {}, o),
    },
    compliance: {
      controls: (framework, o) => callRoute(orch, O.listControls, { query: { framework } }, o),
      report: (framework, o) => callRoute(orch, O.complianceReport, { params: { framework } }, o),
      createDataSubjectRequest: (input, o) => callRoute(orch, O.createDataSubjectRequest, { body: input }, o),
      getDataSubjectRequest: (reqId, o) => callRoute(orch, O.getDataSubjectRequest, id(reqId), o),
      verifyDataSubjectRequest: (reqId, reference, o) =>
        callRoute(orch, O.verifyDataSubjectRequest, { ...id(reqId), body: { reference } }, o),
      extendDataSubjectRequest: (reqId, reason, o) =>
        callRoute(orch, O.extendDataSubjectRequest, { ...id(reqId), body: { reason } }, o),
      incidents: (page) => pages(orch, O.listIncidents, {}, page),
      createIncident: (input, o) => callRoute(orch, O.createIncident, { body: input }, o),
    },
  };

  // A verified step-up answers new tokens with the MFA claim: keep them.
  const stepUp = async (answer: Promise<MfaVerifyResponse>): Promise<MfaVerifyResponse> => {
    const result = await answer;
    auth.stepUp(result);
    return result;
  };

  const controlCenter: ControlCenterClient = {
    baseUrl: urls.controlCenter,
    health: (o) => callRoute(cc, C.health, {}, o),
    bootstrap: (request, o) => callRoute(cc, C.bootstrap, { body: request }, o),
    verify: (o) => callRoute(cc, C.verify, {}, o),
    sessions: (o) => callRoute(cc, C.sessions, {}, o),
    revokeSession: (sessionId, o) => callRoute(cc, C.revokeSession, id(sessionId), o),
    mfa: {
      enroll: (type, o) => callRoute(cc, C.mfaEnroll, { params: { type } }, o),
      verify: (code, o) => stepUp(callRoute(cc, C.mfaVerify, { body: { code } }, o)),
      status: (o) => callRoute(cc, C.mfaStatus, {}, o),
      devices: (o) => callRoute(cc, C.mfaDevices, {}, o),
      renameDevice: (deviceId, name, o) => callRoute(cc, C.mfaRenameDevice, { ...id(deviceId), body: { name } }, o),
      removeDevice: (deviceId, o) => callRoute(cc, C.mfaRemoveDevice, id(deviceId), o),
      regenerateBackupCodes: (o) => callRoute(cc, C.mfaRegenerateBackupCodes, {}, o),
      webauthn: {
        register: (response, name, o) =>
          callRoute(cc, C.webauthnRegister, { body: { response, ...(name === undefined ? {} : { name }) } }, o),
        challenge: (o) => callRoute(cc, C.webauthnChallenge, {}, o),
        authenticate: (response, o) => stepUp(callRoute(cc, C.webauthnAuthenticate, { body: { response } }, o)),
      },
    },
    users: {
      list: (o) => callRoute(cc, C.listUsers, {}, o),
      create: (request, o) => callRoute(cc, C.createUser, { body: request }, o),
      setRoles: (userId, roles, o) => callRoute(cc, C.updateUserRoles, { ...id(userId), body: { roles } }, o),
      setTeams: (userId, teams, o) => callRoute(cc, C.updateUserTeams, { ...id(userId), body: { teams } }, o),
      disable: (userId, o) => callRoute(cc, C.disableUser, id(userId), o),
    },
    apiTokens: {
      create: (request, o) => callRoute(cc, C.createApiToken, { body: request }, o),
      list: (o) => callRoute(cc, C.listApiTokens, {}, o),
      revoke: (tokenId, o) => callRoute(cc, C.revokeApiToken, id(tokenId), o),
    },
    policies: {
      list: (o) => callRoute(cc, C.listPolicies, {}, o),
      get: (policyId, o) => callRoute(cc, C.getPolicy, id(policyId), o),
      validate: (source, o) => callRoute(cc, C.validatePolicies, { body: { source } }, o),
      authorize: (request, o) => callRoute(cc, C.authorize, { body: request }, o),
      reload: (o) => callRoute(cc, C.reloadPolicies, {}, o),
      status: (o) => callRoute(cc, C.policyStatus, {}, o),
    },
    changePassword: (current_password, new_password, o) =>
      // A retry after a lost answer would fail on the already-changed password.
      callRoute(cc, C.changePassword, { body: { current_password, new_password } }, { ...o, retry: false }),
    complianceSummary: (o) => callRoute(cc, C.complianceSummary, {}, o),
  };

  const kmsClient: KmsClient = {
    baseUrl: urls.kms,
    encrypt: (plaintext, context, o) =>
      callRoute(
        kms,
        KMS_ROUTES.encrypt,
        {
          body: {
            plaintext: b64(typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext),
            ...(context ? { context } : {}),
          },
        },
        o,
      ),
    decrypt: async (ciphertext, context, o) => {
      const answer = await callRoute<DecryptResponse>(
        kms,
        KMS_ROUTES.decrypt,
        { body: { ciphertext, ...(context ? { context } : {}) } },
        o,
      );
      return { plaintext: unb64(answer.plaintext), keyId: answer.key_id };
    },
    generateDataKey: async (spec = 'AES_256', context, o) => {
      const answer = await callRoute<GenerateKeyResponse>(
        kms,
        KMS_ROUTES.generateKey,
        { body: { spec, ...(context ? { context } : {}) } },
        o,
      );
      return { plaintext: unb64(answer.plaintext), ciphertext: answer.ciphertext, keyId: answer.key_id };
    },
    status: (o) => callRoute(kms, KMS_ROUTES.status, {}, o),
    health: (o) => callRoute(kms, KMS_ROUTES.health, {}, o),
  };

  const apiServer: ApiServerClient = {
    baseUrl: urls.apiServer,
    login: (request, o) => callRoute(api, A.login, { body: request }, { ...o, retry: false }),
    refresh: (refreshToken, o) =>
      callRoute(api, A.refresh, { body: { refresh_token: refreshToken } }, { ...o, retry: false }),
    listServers: (q = {}, o) => callRoute(api, A.listServers, { query: { ...q } }, o),
    servers: (page) => pages(api, A.listServers, {}, page),
    getServer: (serverId, o) => callRoute(api, A.getServer, id(serverId), o),
    createServer: async (request, o) => handle(await callRoute<Operation>(api, A.createServer, { body: request }, o)),
    deleteServer: async (serverId, o) => handle(await callRoute<Operation>(api, A.deleteServer, id(serverId), o)),
    createTaskserv: async (request, o) =>
      handle(await callRoute<Operation>(api, A.createTaskserv, { body: request }, o)),
    createCluster: async (request, o) => handle(await callRoute<Operation>(api, A.createCluster, { body: request }, o)),
    operation: async (opId, o) => handle(await callRoute<Operation>(api, A.getOperation, id(opId), o)),
    operations: (status, page) => pages(api, A.listOperations, { status }, page),
    health: (o) => callRoute(api, A.health, {}, o),
    metrics: (o) => callRoute(api, A.metrics, {}, o),
  };

  const extensionRegistry: ExtensionRegistryClient = {
    baseUrl: urls.extensionRegistry,
    list: (q = {}, o) => callRoute(ext, E.listExtensions, { query: { ...q } }, o),
    extensions: (q = {}, page) =>
      pages(ext, E.listExtensions, { ...q }, page, {
        defaultPageSize: EXTENSION_PAGE_LIMITS.defaultLimit,
        maxPageSize: EXTENSION_PAGE_LIMITS.maxLimit,
      }),
    get: (type, name, o) => callRoute(ext, E.getExtension, { params: { type, name } }, o),
    versions: (type, name, o) => callRoute(ext, E.listVersions, { params: { type, name } }, o),
    search: (q, o) => callRoute(ext, E.searchExtensions, { query: { ...q } }, o),
    download: async (type, name, q = {}, o) => {
      const route = E.downloadExtension;
      if (q.version !== undefined && !EXTENSION_VERSION_PATTERN.test(q.version)) {
        throw invalidOptions('version is 1-128 characters of letters, digits and . + _ -');
      }
      const answer = await sendRoute(ext, route, { params: { type, name }, query: { ...q } }, o);
      const announced = answer.headers.get('x-checksum') ?? '';
      const request = `${route.method} ${route.path}`;
      if (!/^sha256:[0-9a-f]{64}$/.test(announced)) {
        throw new PlatformClientError('the registry sent an archive without a valid X-Checksum', {
          code: 'ERR_CLIENT_MALFORMED_RESPONSE',
          fault: 'server',
          service: 'extensionRegistry',
          request,
        });
      }
      // Never hand back unverified bytes: a proxy or a broken backend could have changed them.
      const checksum = digestOf(answer.body);
      if (checksum !== announced) {
        throw new PlatformClientError(`the archive of ${type}/${name} does not match its checksum`, {
          code: 'ERR_CLIENT_DIGEST_MISMATCH',
          fault: 'server',
          service: 'extensionRegistry',
          request,
          details: { expected: announced, actual: checksum },
        });
      }
      const filename = /filename="([^"]+)"/.exec(answer.headers.get('content-disposition') ?? '')?.[1];
      return {
        bytes: answer.body,
        checksum,
        version: answer.headers.get('x-extension-version') ?? q.version ?? '',
        mediaType: answer.headers.get('content-type')?.split(';')[0]?.trim() ?? 'application/octet-stream',
        ...(filename === undefined ? {} : { filename }),
      };
    },
    health: (o) => callRoute(ext, E.health, {}, o),
  };

  const healthChecks: Record<ServiceName, (o: CallOptions) => Promise<unknown>> = {
    orchestrator: (o) => orchestrator.health(o),
    controlCenter: (o) => controlCenter.health(o),
    kms: (o) => kmsClient.health(o),
    apiServer: (o) => apiServer.health(o),
    extensionRegistry: (o) => extensionRegistry.health(o),
  };

  return {
    orchestrator,
    controlCenter,
    kms: kmsClient,
    apiServer,
    extensionRegistry,
    login: (input, o) => auth.login(input, o),
    beginLogin: (input, o) => auth.beginLogin(input, o),
    completeLogin: (challengeId, answer, o) => auth.completeLogin(challengeId, answer, o),
    passkeyOptions: (o) => auth.passkeyOptions(o),
    passkeyLogin: (response, o) => auth.passkeyLogin(response, o),
    logout: (o = {}) => auth.logout(o.allSessions ?? false, o),
    refresh: (o = {}) => auth.refresh(o.signal),
    session: () => auth.current(),
    call: (route, input, o) => callRoute(ctx(route.service), route, input, o),
    async health(o = {}) {
      const results = await Promise.all(
        SERVICE_NAMES.map(async (service): Promise<ServiceHealth> => {
          const started = clock.now();
          try {
            // Health is probed once (no retries), with a short default timeout.
            const detail = await healthChecks[service]({ timeoutMs: Math.min(5000, timeoutMs), ...o, retry: false });
            const status = (detail as { status?: unknown } | null)?.status;
            const healthy = status === undefined || status === 'healthy';
            return { service, url: urls[service], healthy, latencyMs: clock.now() - started, detail };
          } catch (error) {
            const e = isPlatformClientError(error)
              ? { code: error.code, message: error.message }
              : { code: 'ERR_UNKNOWN', message: 'health check failed' };
            return { service, url: urls[service], healthy: false, latencyMs: clock.now() - started, error: e };
          }
        }),
      );
      const services = Object.fromEntries(results.map((r) => [r.service, r])) as Record<ServiceName, ServiceHealth>;
      return { healthy: results.every((r) => r.healthy), services };
    },
  };
}
