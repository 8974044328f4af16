import { type NamedSchema, type Schema, s } from '../schema.js';
import { HealthStatusSchema, type Route, timestamp } from './common.js';

/** Platform roles (known). */
export type Role = 'Admin' | 'Developer' | 'Operator' | 'Viewer' | 'Auditor';
/** Every {@link Role}. */
export const ROLES: readonly Role[] = Object.freeze(['Admin', 'Developer', 'Operator', 'Viewer', 'Auditor']);

/** The user in a login answer (known). */
export interface User {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly roles: readonly string[];
}
/** Schema of {@link User}. */
export const UserSchema: NamedSchema<User> = s.named(
  'User',
  s.object({ id: s.string(), username: s.string(), email: s.string(), roles: s.array(s.string()) }),
);

/** Body of `POST /auth/login` (known). */
export interface LoginRequest {
  readonly username: string;
  readonly password: string;
  /** TOTP or backup code, when the account has MFA. */
  readonly mfa_code?: string;
}
/** Schema of {@link LoginRequest}. */
export const LoginRequestSchema: NamedSchema<LoginRequest> = s.named(
  'LoginRequest',
  s.object({ username: s.string(), password: s.string(), mfa_code: s.optional(s.string()) }),
);

/**
 * Answer of `POST /auth/login` and `POST /auth/refresh`. Known: "tokens",
 * `user`, `expires_in` (seconds, 900). The token field names are designed
 * (OAuth 2 style).
 */
export interface LoginResponse {
  readonly access_token: string;
  /** Valid 7 days; rotated on every refresh (the old one is then revoked). */
  readonly refresh_token: string;
  readonly token_type: 'Bearer';
  /** Seconds until `access_token` expires (900 by default). */
  readonly expires_in: number;
  readonly user: User;
}
/** Schema of {@link LoginResponse}. */
export const LoginResponseSchema: NamedSchema<LoginResponse> = s.named(
  'LoginResponse',
  s.object({
    access_token: s.string(),
    refresh_token: s.string(),
    token_type: s.literal('Bearer'),
    expires_in: s.number({ integer: true, minimum: 1 }),
    user: UserSchema,
  }),
);

/**
 * The error code the control center answers (401) when the account needs an
 * MFA code and none (or a wrong one) was given. The client maps it to
 * `ERR_CLIENT_MFA_REQUIRED`.
 */
export const MFA_REQUIRED_CODE = 'MFA_REQUIRED';

/** Body of `POST /auth/refresh` (designed). */
export interface RefreshRequest {
  readonly refresh_token: string;
}
/** Schema of {@link RefreshRequest}. */
export const RefreshRequestSchema: NamedSchema<RefreshRequest> = s.named(
  'RefreshRequest',
  s.object({ refresh_token: s.string() }),
);

/** Body of `POST /auth/logout` (known: an option to log out every session). */
export interface LogoutRequest {
  /** Also revoke every other session of the user. */
  readonly all_sessions?: boolean;
  /** The refresh token to revoke with the access token. */
  readonly refresh_token?: string;
}
/** Schema of {@link LogoutRequest}. */
export const LogoutRequestSchema: NamedSchema<LogoutRequest> = s.named(
  'LogoutRequest',
  s.object({ all_sessions: s.optional(s.boolean()), refresh_token: s.optional(s.string()) }),
);
/** Answer of logout: how many sessions were revoked. */
export interface LogoutResponse {
  readonly revoked: number;
}
/** Schema of {@link LogoutResponse}. */
export const LogoutResponseSchema: NamedSchema<LogoutResponse> = s.named(
  'LogoutResponse',
  s.object({ revoked: s.number({ integer: true, minimum: 0 }) }),
);

/** Claims of a platform access token (known, plus our `mfa` and `roles`). */
export interface TokenClaims {
  readonly jti: string;
  readonly sub: string;
  readonly workspace: string;
  readonly permissions_hash: string;
  readonly iat: number;
  readonly exp: number;
  readonly iss: string;
  readonly aud: string | readonly string[];
  /** Whether MFA was verified for this session. */
  readonly mfa?: boolean;
  readonly roles?: readonly string[];
}
/** Schema of {@link TokenClaims}. */
export const TokenClaimsSchema: NamedSchema<TokenClaims> = s.named(
  'TokenClaims',
  s.object({
    jti: s.string(),
    sub: s.string(),
    workspace: s.string(),
    permissions_hash: s.string(),
    iat: s.number({ integer: true }),
    exp: s.number({ integer: true }),
    iss: s.string(),
    aud: s.union<string | readonly string[]>([s.string(), s.array(s.string())], 'a string or an array of strings'),
    mfa: s.optional(s.boolean()),
    roles: s.optional(s.array(s.string())),
  }),
);

/** Answer of `GET /auth/verify`. */
export interface VerifyResponse {
  readonly valid: boolean;
  readonly claims: TokenClaims;
}
/** Schema of {@link VerifyResponse}. */
export const VerifyResponseSchema: NamedSchema<VerifyResponse> = s.named(
  'VerifyResponse',
  s.object({ valid: s.boolean(), claims: TokenClaimsSchema }),
);

/** One of the caller's sessions (`GET /auth/sessions`). */
export interface Session {
  readonly id: string;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly expires_at: string;
  readonly ip_address: string | null;
  readonly user_agent: string | null;
  /** Whether this is the session making the call. */
  readonly current: boolean;
}
/** Schema of {@link Session}. */
export const SessionSchema: NamedSchema<Session> = s.named(
  'Session',
  s.object({
    id: s.string(),
    created_at: timestamp,
    last_used_at: s.nullable(timestamp),
    expires_at: timestamp,
    ip_address: s.nullable(s.string()),
    user_agent: s.nullable(s.string()),
    current: s.boolean(),
  }),
);

/** MFA method types (known). */
export type MfaType = 'totp' | 'webauthn';

/** Answer of `POST /mfa/enroll/totp` (known: QR code, secret and backup codes). */
export interface TotpEnrollment {
  readonly type: 'totp';
  /** Base32 TOTP secret: show once, never log. */
  readonly secret: string;
  /** `data:image/png;base64,…` QR code of `otpauth_url`. */
  readonly qr_code: string;
  readonly otpauth_url: string;
  /** One-time backup codes: show once, never log. */
  readonly backup_codes: readonly string[];
}
/** Answer of `POST /mfa/enroll/webauthn`: registration options for the browser. */
export interface WebAuthnEnrollment {
  readonly type: 'webauthn';
  /** `PublicKeyCredentialCreationOptionsJSON`. */
  readonly options: Readonly<Record<string, unknown>>;
}
/** Either enrollment answer. */
export type MfaEnrollment = TotpEnrollment | WebAuthnEnrollment;
/** Schema of {@link TotpEnrollment}. */
export const TotpEnrollmentSchema: NamedSchema<TotpEnrollment> = s.named(
  'TotpEnrollment',
  s.object({
    type: s.literal('totp'),
    secret: s.string(),
    qr_code: s.string(),
    otpauth_url: s.string(),
    backup_codes: s.array(s.string()),
  }),
);
/** Schema of {@link WebAuthnEnrollment}. */
export const WebAuthnEnrollmentSchema: NamedSchema<WebAuthnEnrollment> = s.named(
  'WebAuthnEnrollment',
  s.object({ type: s.literal('webauthn'), options: s.record(s.unknown()) }),
);
/** Schema of {@link MfaEnrollment}. */
export const MfaEnrollmentSchema: Schema<MfaEnrollment> = s.union<MfaEnrollment>(
  [TotpEnrollmentSchema, WebAuthnEnrollmentSchema],
  'a TOTP or WebAuthn enrollment',
);

/** Body of `POST /mfa/verify` (known: `{ code }`). */
export interface MfaVerifyRequest {
  readonly code: string;
}
/** Schema of {@link MfaVerifyRequest}. */
export const MfaVerifyRequestSchema: NamedSchema<MfaVerifyRequest> = s.named(
  'MfaVerifyRequest',
  s.object({ code: s.string() }),
);

/**
 * Answer of `POST /mfa/verify` (designed): on success the control center
 * issues a fresh access token that carries the MFA claim (step-up).
 */
export interface MfaVerifyResponse {
  readonly verified: boolean;
  readonly access_token?: string;
  readonly expires_in?: number;
}
/** Schema of {@link MfaVerifyResponse}. */
export const MfaVerifyResponseSchema: NamedSchema<MfaVerifyResponse> = s.named(
  'MfaVerifyResponse',
  s.object({
    verified: s.boolean(),
    access_token: s.optional(s.string()),
    expires_in: s.optional(s.number({ integer: true, minimum: 1 })),
  }),
);

/** An enrolled MFA device (`GET /mfa/devices`, designed). */
export interface MfaDevice {
  readonly id: string;
  readonly type: MfaType;
  readonly name: string;
  readonly created_at: string;
  readonly last_used_at: string | null;
}
/** Schema of {@link MfaDevice}. */
export const MfaDeviceSchema: NamedSchema<MfaDevice> = s.named(
  'MfaDevice',
  s.object({
    id: s.string(),
    type: s.literal('totp', 'webauthn'),
    name: s.string(),
    created_at: timestamp,
    last_used_at: s.nullable(timestamp),
  }),
);

/** `GET /mfa/status` (designed). */
export interface MfaStatus {
  readonly enabled: boolean;
  readonly methods: readonly MfaType[];
  readonly backup_codes_remaining: number;
}
/** Schema of {@link MfaStatus}. */
export const MfaStatusSchema: NamedSchema<MfaStatus> = s.named(
  'MfaStatus',
  s.object({
    enabled: s.boolean(),
    methods: s.array(s.literal('totp', 'webauthn')),
    backup_codes_remaining: s.number({ integer: true, minimum: 0 }),
  }),
);

/** A Cedar policy (designed: `/policies`). */
export interface Policy {
  /** e.g. `prod-deploy-mfa`. */
  readonly id: string;
  /** Cedar source text. */
  readonly source: string;
  readonly description?: string;
}
/** Schema of {@link Policy}. */
export const PolicySchema: NamedSchema<Policy> = s.named(
  'Policy',
  s.object({ id: s.string(), source: s.string(), description: s.optional(s.string()) }),
);

/** Answer of `POST /policies/validate`. */
export interface PolicyValidation {
  readonly valid: boolean;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}
/** Schema of {@link PolicyValidation}. */
export const PolicyValidationSchema: NamedSchema<PolicyValidation> = s.named(
  'PolicyValidation',
  s.object({ valid: s.boolean(), errors: s.array(s.string()), warnings: s.array(s.string()) }),
);

/** Body of `POST /policies/authorize`: a what-if authorization question. */
export interface AuthorizeRequest {
  /** Cedar entity uid, e.g. `Provisioning::User::"alice"`. */
  readonly principal: string;
  /** e.g. `Provisioning::Action::"deploy"`. */
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, unknown>>;
}
/** Schema of {@link AuthorizeRequest}. */
export const AuthorizeRequestSchema: NamedSchema<AuthorizeRequest> = s.named(
  'AuthorizeRequest',
  s.object({
    principal: s.string(),
    action: s.string(),
    resource: s.string(),
    context: s.optional(s.record(s.unknown())),
  }),
);
/** Answer of `POST /policies/authorize`. */
export interface AuthorizeResponse {
  readonly decision: 'allow' | 'deny';
  /** Ids of the policies that determined the decision. */
  readonly policies: readonly string[];
  readonly errors: readonly string[];
}
/** Schema of {@link AuthorizeResponse}. */
export const AuthorizeResponseSchema: NamedSchema<AuthorizeResponse> = s.named(
  'AuthorizeResponse',
  s.object({ decision: s.literal('allow', 'deny'), policies: s.array(s.string()), errors: s.array(s.string()) }),
);

/** Answer of `POST /auth/passkey/options` (designed): WebAuthn request options for a passkey sign-in. */
export interface PasskeyOptions {
  /** `PublicKeyCredentialRequestOptionsJSON`, with no allowed credentials (discoverable) and user verification required. */
  readonly options: Readonly<Record<string, unknown>>;
}
/** Schema of {@link PasskeyOptions}. */
export const PasskeyOptionsSchema: NamedSchema<PasskeyOptions> = s.named(
  'PasskeyOptions',
  s.object({ options: s.record(s.unknown()) }),
);

/** Body of `POST /auth/passkey/login` (designed). */
export interface PasskeyLoginRequest {
  /** The browser's `AuthenticationResponseJSON` for the options of `POST /auth/passkey/options`. */
  readonly response: Readonly<Record<string, unknown>>;
}
/** Schema of {@link PasskeyLoginRequest}. */
export const PasskeyLoginRequestSchema: NamedSchema<PasskeyLoginRequest> = s.named(
  'PasskeyLoginRequest',
  s.object({ response: s.record(s.unknown()) }),
);

/** Body of `POST /auth/password` (designed). */
export interface ChangePasswordRequest {
  readonly current_password: string;
  /** 12 to 1024 characters. */
  readonly new_password: string;
}
/** Schema of {@link ChangePasswordRequest}. */
export const ChangePasswordRequestSchema: NamedSchema<ChangePasswordRequest> = s.named(
  'ChangePasswordRequest',
  s.object({ current_password: s.string(), new_password: s.string() }),
);
/** Answer of `POST /auth/password`: the caller's session stays; every other one was revoked. */
export interface ChangePasswordResponse {
  readonly changed: true;
  readonly sessions_revoked: number;
}
/** Schema of {@link ChangePasswordResponse}. */
export const ChangePasswordResponseSchema: NamedSchema<ChangePasswordResponse> = s.named(
  'ChangePasswordResponse',
  s.object({ changed: s.literal(true), sessions_revoked: s.number({ integer: true, minimum: 0 }) }),
);

/** Names of the control center's routes. */
export type ControlCenterRouteId =
  | 'health'
  | 'login'
  | 'refresh'
  | 'logout'
  | 'verify'
  | 'sessions'
  | 'revokeSession'
  | 'mfaEnroll'
  | 'mfaVerify'
  | 'mfaStatus'
  | 'mfaDevices'
  | 'mfaRemoveDevice'
  | 'mfaRegenerateBackupCodes'
  | 'listPolicies'
  | 'getPolicy'
  | 'validatePolicies'
  | 'authorize'
  | 'passkeyOptions'
  | 'passkeyLogin'
  | 'changePassword';

function r(
  id: ControlCenterRouteId,
  method: Route['method'],
  path: string,
  summary: string,
  response: Schema<unknown>,
  extra: Partial<Route> = {},
): Route {
  return {
    service: 'controlCenter',
    id,
    method,
    path,
    summary,
    origin: 'designed',
    auth: true,
    idempotent: method !== 'POST',
    response,
    envelope: true,
    ...extra,
  };
}

/** Every control center route (known ones exactly as PLATFORM-API.md; the rest designed under the same prefixes). */
export const CONTROL_CENTER_ROUTES: Readonly<Record<ControlCenterRouteId, Route>> = Object.freeze({
  health: r('health', 'GET', '/health', 'Liveness', HealthStatusSchema, { auth: false }),
  login: r('login', 'POST', '/auth/login', 'Password (+ MFA) login', LoginResponseSchema, {
    origin: 'known',
    auth: false,
    request: LoginRequestSchema,
    // Not retried: a retry could burn a TOTP code or count twice against the lockout.
    idempotent: false,
  }),
  refresh: r('refresh', 'POST', '/auth/refresh', 'Rotate the refresh token', LoginResponseSchema, {
    auth: false,
    request: RefreshRequestSchema,
    // Rotation makes the old refresh token single-use: a blind retry would trip reuse detection.
    idempotent: false,
  }),
  logout: r('logout', 'POST', '/auth/logout', 'Revoke the token (optionally every session)', LogoutResponseSchema, {
    origin: 'known',
    request: LogoutRequestSchema,
    idempotent: true,
  }),
  verify: r('verify', 'GET', '/auth/verify', 'Check the token; returns its claims', VerifyResponseSchema, {
    origin: 'known',
  }),
  sessions: r('sessions', 'GET', '/auth/sessions', 'The caller’s sessions', s.array(SessionSchema), {
    origin: 'known',
  }),
  revokeSession: r('revokeSession', 'DELETE', '/auth/sessions/{id}', 'Revoke one session', LogoutResponseSchema),
  mfaEnroll: r('mfaEnroll', 'POST', '/mfa/enroll/{type}', 'Start enrolling totp or webauthn', MfaEnrollmentSchema, {
    origin: 'known',
  }),
  mfaVerify: r('mfaVerify', 'POST', '/mfa/verify', 'Verify a code (step-up)', MfaVerifyResponseSchema, {
    origin: 'known',
    request: MfaVerifyRequestSchema,
  }),
  mfaStatus: r('mfaStatus', 'GET', '/mfa/status', 'MFA state of the caller', MfaStatusSchema),
  mfaDevices: r('mfaDevices', 'GET', '/mfa/devices', 'Enrolled devices', s.array(MfaDeviceSchema)),
  mfaRemoveDevice: r('mfaRemoveDevice', 'DELETE', '/mfa/devices/{id}', 'Remove a device', MfaStatusSchema),
  mfaRegenerateBackupCodes: r(
    'mfaRegenerateBackupCodes',
    'POST',
    '/mfa/backup-codes',
    'New backup codes',
    s.array(s.string()),
  ),
  listPolicies: r('listPolicies', 'GET', '/policies', 'Cedar policies', s.array(PolicySchema)),
  getPolicy: r('getPolicy', 'GET', '/policies/{id}', 'One policy', PolicySchema),
  validatePolicies: r(
    'validatePolicies',
    'POST',
    '/policies/validate',
    'Validate policy source against the schema',
    PolicyValidationSchema,
    {
      request: s.object({ source: s.string() }),
      idempotent: true,
    },
  ),
  authorize: r('authorize', 'POST', '/policies/authorize', 'What-if authorization', AuthorizeResponseSchema, {
    request: AuthorizeRequestSchema,
    idempotent: true,
  }),
  passkeyOptions: r(
    'passkeyOptions',
    'POST',
    '/auth/passkey/options',
    'Start a passkey sign-in',
    PasskeyOptionsSchema,
    {
      auth: false,
    },
  ),
  passkeyLogin: r('passkeyLogin', 'POST', '/auth/passkey/login', 'Sign in with a passkey', LoginResponseSchema, {
    auth: false,
    request: PasskeyLoginRequestSchema,
  }),
  changePassword: r(
    'changePassword',
    'POST',
    '/auth/password',
    'Change the password (other sessions end)',
    ChangePasswordResponseSchema,
    { request: ChangePasswordRequestSchema },
  ),
});

/** The Cedar namespace of the platform's policies (known). */
export const CEDAR_NAMESPACE = 'Provisioning';

/** Cedar entity types of the platform (known). */
export type CedarEntityType =
  | 'User'
  | 'Team'
  | 'Environment'
  | 'Workspace'
  | 'Server'
  | 'Taskserv'
  | 'Cluster'
  | 'Workflow';

/** Cedar actions (known). */
export type CedarAction =
  | 'create'
  | 'delete'
  | 'update'
  | 'read'
  | 'list'
  | 'deploy'
  | 'rollback'
  | 'ssh'
  | 'execute'
  | 'monitor'
  | 'admin';
/** Every {@link CedarAction}. */
export const CEDAR_ACTIONS: readonly CedarAction[] = Object.freeze([
  'create',
  'delete',
  'update',
  'read',
  'list',
  'deploy',
  'rollback',
  'ssh',
  'execute',
  'monitor',
  'admin',
]);

/** Environment tiers (known). */
export type EnvironmentTier = 'development' | 'staging' | 'production';

/** Ids of the production policies (known). */
export const PRODUCTION_POLICY_IDS: readonly string[] = Object.freeze([
  'prod-deploy-mfa',
  'prod-deploy-approval',
  'prod-deploy-hours',
  'prod-delete-mfa',
  'prod-delete-no-force',
  'prod-ip-restriction',
  'prod-ssh-restricted',
  'prod-cluster-admin-only',
]);

/** Ids of the admin policies (known). Emergency approval ids begin `EMERGENCY-`. */
export const ADMIN_POLICY_IDS: readonly string[] = Object.freeze([
  'admin-full-access',
  'emergency-access',
  'audit-access',
  'audit-no-modify',
]);

/** Access token lifetime in seconds (known: 15 min; `expires_in` 900). */
export const ACCESS_TOKEN_TTL_SECONDS = 900;
/** Refresh token lifetime in seconds (known: 7 days, rotated on every refresh). */
export const REFRESH_TOKEN_TTL_SECONDS: number = 7 * 24 * 3600;
