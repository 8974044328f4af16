import { type NamedSchema, type Schema, s } from '../schema.js';
import { HealthStatusSchema, type Route, routeBuilder, timestamp } from './common.js';

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
 * Answer of `POST /mfa/verify` and `POST /mfa/webauthn/authenticate`
 * (designed). On success the control center issues fresh tokens in the same
 * session that carry the MFA claim (step-up); a well-formed wrong code is
 * `{ verified: false }` (200, not 401). Confirming a first factor also
 * answers its backup codes, once.
 */
export interface MfaVerifyResponse {
  readonly verified: boolean;
  readonly access_token?: string;
  readonly expires_in?: number;
  /** The session's rotated refresh token (the previous one is spent). */
  readonly refresh_token?: string;
  /** One-time backup codes, when this confirmed the account's first factor: show once, never log. */
  readonly backup_codes?: readonly string[];
}
/** Schema of {@link MfaVerifyResponse}. */
export const MfaVerifyResponseSchema: NamedSchema<MfaVerifyResponse> = s.named(
  'MfaVerifyResponse',
  s.object({
    verified: s.boolean(),
    access_token: s.optional(s.string()),
    expires_in: s.optional(s.number({ integer: true, minimum: 1 })),
    refresh_token: s.optional(s.string()),
    backup_codes: s.optional(s.array(s.string())),
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

/**
 * The `data` of a 401 `MFA_REQUIRED` login answer (designed): the challenge
 * to complete at `POST /auth/login/mfa` without sending the password again.
 * Single use, valid 5 minutes; a wrong code leaves it usable (the attempt cap
 * bounds guessing).
 */
export interface MfaChallenge {
  /** Bearer secret of the half-finished login: never log it. */
  readonly challenge_id: string;
  /** The factors the account has (`totp`, `webauthn`, `backup_code`). */
  readonly methods: readonly string[];
  readonly expires_at: string;
  /** WebAuthn request options (`PublicKeyCredentialRequestOptionsJSON`) when the account has a security key. */
  readonly webauthn?: Readonly<Record<string, unknown>>;
}
/** Schema of {@link MfaChallenge}. */
export const MfaChallengeSchema: NamedSchema<MfaChallenge> = s.named(
  'MfaChallenge',
  s.object({
    challenge_id: s.string(),
    methods: s.array(s.string()),
    expires_at: timestamp,
    webauthn: s.optional(s.record(s.unknown())),
  }),
);

/** Body of `POST /auth/login/mfa` (designed): exactly one of `code` and `webauthn`. */
export interface LoginMfaRequest {
  readonly challenge_id: string;
  /** A TOTP or backup code. */
  readonly code?: string;
  /** A WebAuthn assertion (`AuthenticationResponseJSON`). */
  readonly webauthn?: Readonly<Record<string, unknown>>;
}
/** Schema of {@link LoginMfaRequest}. */
export const LoginMfaRequestSchema: NamedSchema<LoginMfaRequest> = s.named(
  'LoginMfaRequest',
  s.object({ challenge_id: s.string(), code: s.optional(s.string()), webauthn: s.optional(s.record(s.unknown())) }),
);

/**
 * Body of `POST /auth/bootstrap` (designed): creates the first administrator
 * with the one-time secret the control center prints on its first start.
 */
export interface BootstrapRequest {
  /** The one-time bootstrap secret: never log it. */
  readonly secret: string;
  readonly username: string;
  /** 12 to 1024 characters. */
  readonly password: string;
  readonly email?: string;
}
/** Schema of {@link BootstrapRequest}. */
export const BootstrapRequestSchema: NamedSchema<BootstrapRequest> = s.named(
  'BootstrapRequest',
  s.object({ secret: s.string(), username: s.string(), password: s.string(), email: s.optional(s.string()) }),
);

/** A user as the admin routes show it (designed): never a password hash. */
export interface AdminUser {
  readonly id: string;
  readonly username: string;
  /** Empty when the user has none. */
  readonly email: string;
  readonly roles: readonly string[];
  /** Cedar `Team` parents (platform-admin, sre, developers, audit, security …); break-glass approvals count them. */
  readonly teams: readonly string[];
  readonly disabled: boolean;
  readonly mfa_enabled: boolean;
  readonly created_at: string;
  readonly updated_at: string;
}
/** Schema of {@link AdminUser}. */
export const AdminUserSchema: NamedSchema<AdminUser> = s.named(
  'AdminUser',
  s.object({
    id: s.string(),
    username: s.string(),
    email: s.string(),
    roles: s.array(s.string()),
    teams: s.array(s.string()),
    disabled: s.boolean(),
    mfa_enabled: s.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
  }),
);

/** Body of `POST /users` (designed, admin). */
export interface CreateUserRequest {
  readonly username: string;
  /** 12 to 1024 characters. */
  readonly password: string;
  readonly email?: string;
  /** Of {@link ROLES}; default `['Viewer']`. */
  readonly roles?: readonly string[];
}
/** Schema of {@link CreateUserRequest}. */
export const CreateUserRequestSchema: NamedSchema<CreateUserRequest> = s.named(
  'CreateUserRequest',
  s.object({
    username: s.string(),
    password: s.string(),
    email: s.optional(s.string()),
    roles: s.optional(s.array(s.string(), { maxItems: 16 })),
  }),
);

/** Body of `PUT /users/{id}/roles` (designed, admin). */
export interface UpdateRolesRequest {
  readonly roles: readonly string[];
}
/** Schema of {@link UpdateRolesRequest}. */
export const UpdateRolesRequestSchema: NamedSchema<UpdateRolesRequest> = s.named(
  'UpdateRolesRequest',
  s.object({ roles: s.array(s.string(), { maxItems: 16 }) }),
);

/** Body of `PUT /users/{id}/teams` (designed, admin). */
export interface UpdateTeamsRequest {
  /** Team ids: lowercase letters, digits, `_` and `-`, at most 64 characters. */
  readonly teams: readonly string[];
}
/** Schema of {@link UpdateTeamsRequest}. */
export const UpdateTeamsRequestSchema: NamedSchema<UpdateTeamsRequest> = s.named(
  'UpdateTeamsRequest',
  s.object({ teams: s.array(s.string({ pattern: /^[a-z0-9][a-z0-9_-]{0,63}$/ }), { maxItems: 16 }) }),
);

/** Body of `POST /api-tokens` (designed). */
export interface CreateApiTokenRequest {
  /** 1 to 100 printable characters. */
  readonly name: string;
  readonly scopes?: readonly string[];
  /** Lifetime in days (1 to 365). Default: no expiry. */
  readonly expires_in_days?: number;
}
/** Schema of {@link CreateApiTokenRequest}. */
export const CreateApiTokenRequestSchema: NamedSchema<CreateApiTokenRequest> = s.named(
  'CreateApiTokenRequest',
  s.object({
    name: s.string(),
    scopes: s.optional(s.array(s.string(), { maxItems: 32 })),
    expires_in_days: s.optional(s.number({ integer: true, minimum: 1, maximum: 365 })),
  }),
);

/** An API token as listed (designed): never its secret. */
export interface ApiToken {
  readonly id: string;
  readonly name: string;
  /** The token's visible prefix, to recognise it. */
  readonly prefix: string;
  /** The owning user's id. */
  readonly owner: string;
  readonly scopes: readonly string[];
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
}
const apiTokenShape = {
  id: s.string(),
  name: s.string(),
  prefix: s.string(),
  owner: s.string(),
  scopes: s.array(s.string()),
  created_at: timestamp,
  expires_at: s.nullable(timestamp),
  last_used_at: s.nullable(timestamp),
  revoked_at: s.nullable(timestamp),
};
/** Schema of {@link ApiToken}. */
export const ApiTokenSchema: NamedSchema<ApiToken> = s.named('ApiToken', s.object(apiTokenShape));
/** Answer of `POST /api-tokens`: the token with its secret, shown this once (stored only as a hash). */
export interface CreatedApiToken extends ApiToken {
  /** The API key to send as `X-API-Key`: never log it. */
  readonly token: string;
}
/** Schema of {@link CreatedApiToken}. */
export const CreatedApiTokenSchema: NamedSchema<CreatedApiToken> = s.named(
  'CreatedApiToken',
  s.object({ ...apiTokenShape, token: s.string() }),
);

/** Body of `POST /mfa/webauthn/register` (designed): finish a registration begun by `POST /mfa/enroll/webauthn`. */
export interface WebAuthnRegisterRequest {
  /** The browser's `RegistrationResponseJSON`. */
  readonly response: Readonly<Record<string, unknown>>;
  /** A name for the device. */
  readonly name?: string;
}
/** Schema of {@link WebAuthnRegisterRequest}. */
export const WebAuthnRegisterRequestSchema: NamedSchema<WebAuthnRegisterRequest> = s.named(
  'WebAuthnRegisterRequest',
  s.object({ response: s.record(s.unknown()), name: s.optional(s.string()) }),
);
/** Answer of `POST /mfa/webauthn/register`: the device, and backup codes when it is the first factor. */
export interface WebAuthnRegistration {
  readonly device: MfaDevice;
  /** One-time backup codes: show once, never log. */
  readonly backup_codes?: readonly string[];
}
/** Schema of {@link WebAuthnRegistration}. */
export const WebAuthnRegistrationSchema: NamedSchema<WebAuthnRegistration> = s.named(
  'WebAuthnRegistration',
  s.object({ device: MfaDeviceSchema, backup_codes: s.optional(s.array(s.string())) }),
);

/** Answer of `POST /mfa/webauthn/challenge` (designed): request options for a step-up with a security key. */
export interface WebAuthnChallenge {
  /** `PublicKeyCredentialRequestOptionsJSON`. */
  readonly options: Readonly<Record<string, unknown>>;
}
/** Schema of {@link WebAuthnChallenge}. */
export const WebAuthnChallengeSchema: NamedSchema<WebAuthnChallenge> = s.named(
  'WebAuthnChallenge',
  s.object({ options: s.record(s.unknown()) }),
);

/** Body of `POST /mfa/webauthn/authenticate` (designed): a WebAuthn step-up. */
export interface WebAuthnAuthenticateRequest {
  /** The browser's `AuthenticationResponseJSON`. */
  readonly response: Readonly<Record<string, unknown>>;
}
/** Schema of {@link WebAuthnAuthenticateRequest}. */
export const WebAuthnAuthenticateRequestSchema: NamedSchema<WebAuthnAuthenticateRequest> = s.named(
  'WebAuthnAuthenticateRequest',
  s.object({ response: s.record(s.unknown()) }),
);

/** Body of `PATCH /mfa/devices/{id}` (designed). */
export interface RenameDeviceRequest {
  /** 1 to 64 characters. */
  readonly name: string;
}
/** Schema of {@link RenameDeviceRequest}. */
export const RenameDeviceRequestSchema: NamedSchema<RenameDeviceRequest> = s.named(
  'RenameDeviceRequest',
  s.object({ name: s.string() }),
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

/** Body of `POST /policies/validate`. */
export interface ValidatePolicyRequest {
  /** Cedar source text. */
  readonly source: string;
}
/** Schema of {@link ValidatePolicyRequest}. */
export const ValidatePolicyRequestSchema: NamedSchema<ValidatePolicyRequest> = s.named(
  'ValidatePolicyRequest',
  s.object({ source: s.string() }),
);

/** Answer of `POST /policies/reload` (designed). */
export interface PolicyReload {
  /** Version of the policy set now in force. */
  readonly version: string;
  /** How many policies it has. */
  readonly policies: number;
}
/** Schema of {@link PolicyReload}. */
export const PolicyReloadSchema: NamedSchema<PolicyReload> = s.named(
  'PolicyReload',
  s.object({ version: s.string(), policies: s.number({ integer: true, minimum: 0 }) }),
);

/** The last reload of the policy set, as `GET /policies/status` reports it. */
export interface PolicyReloadState {
  /** When the control center loaded the set (`loaded`), or the last reload after that. */
  readonly at: string;
  readonly outcome: 'loaded' | 'succeeded' | 'failed';
  /** For a failed reload: where the new set is broken (`file:line:column (policy): message`), at most 20. */
  readonly errors: readonly string[];
}
/** Answer of `GET /policies/status` (designed): the set in force and its last reload. */
export interface PolicyStatus {
  /** `sha256:…` of the set in force (a failed reload keeps the last good one). */
  readonly version: string;
  readonly policies: number;
  readonly last_reload: PolicyReloadState;
}
/** Schema of {@link PolicyStatus}. */
export const PolicyStatusSchema: NamedSchema<PolicyStatus> = s.named(
  'PolicyStatus',
  s.object({
    version: s.string(),
    policies: s.number({ integer: true, minimum: 0 }),
    last_reload: s.object({
      at: timestamp,
      outcome: s.literal('loaded', 'succeeded', 'failed'),
      errors: s.array(s.string()),
    }),
  }),
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

/** Control counts of one framework in a {@link ComplianceSummary}. */
export interface ComplianceFrameworkCounts {
  readonly passing: number;
  readonly failing: number;
  /** Controls no automated check decides here (a human must look, or the evidence is another service's). */
  readonly unknown: number;
}
/** A failing compliance check in a {@link ComplianceSummary}. */
export interface FailingComplianceCheck {
  /** Check id, e.g. `audit.chain-verifies`. */
  readonly id: string;
  readonly title: string;
  /** The SOC 2 criteria and ISO 27001:2022 controls it evidences. */
  readonly soc2: readonly string[];
  readonly iso27001: readonly string[];
  /** What to do to pass. */
  readonly remediation: string | null;
}
/**
 * `GET /api/v1/compliance/summary` (designed): the SOC 2 and ISO 27001
 * checks over what the control center holds (authentication, MFA, the audit
 * log, the Cedar policies, break-glass), counted per framework, with the
 * failing checks.
 */
export interface ComplianceSummary {
  /** When the checks ran (the summary is kept for a minute). */
  readonly last_run: string;
  readonly soc2: ComplianceFrameworkCounts;
  readonly iso27001: ComplianceFrameworkCounts;
  readonly failing_checks: readonly FailingComplianceCheck[];
  /** Checks that ran, and how many passed. */
  readonly checks: { readonly total: number; readonly passing: number };
}
const countsSchema = s.object({
  passing: s.number({ integer: true, minimum: 0 }),
  failing: s.number({ integer: true, minimum: 0 }),
  unknown: s.number({ integer: true, minimum: 0 }),
});
/** Schema of {@link ComplianceSummary}. */
export const ComplianceSummarySchema: NamedSchema<ComplianceSummary> = s.named(
  'ComplianceSummary',
  s.object({
    last_run: timestamp,
    soc2: countsSchema,
    iso27001: countsSchema,
    failing_checks: s.array(
      s.object({
        id: s.string(),
        title: s.string(),
        soc2: s.array(s.string()),
        iso27001: s.array(s.string()),
        remediation: s.nullable(s.string()),
      }),
    ),
    checks: s.object({
      total: s.number({ integer: true, minimum: 0 }),
      passing: s.number({ integer: true, minimum: 0 }),
    }),
  }),
);

/** Names of the control center's routes. */
export type ControlCenterRouteId =
  | 'health'
  | 'bootstrap'
  | 'login'
  | 'loginMfa'
  | 'refresh'
  | 'logout'
  | 'verify'
  | 'sessions'
  | 'revokeSession'
  | 'mfaEnroll'
  | 'mfaVerify'
  | 'mfaStatus'
  | 'mfaDevices'
  | 'mfaRenameDevice'
  | 'mfaRemoveDevice'
  | 'mfaRegenerateBackupCodes'
  | 'webauthnRegister'
  | 'webauthnChallenge'
  | 'webauthnAuthenticate'
  | 'listUsers'
  | 'createUser'
  | 'updateUserRoles'
  | 'updateUserTeams'
  | 'disableUser'
  | 'createApiToken'
  | 'listApiTokens'
  | 'revokeApiToken'
  | 'listPolicies'
  | 'getPolicy'
  | 'validatePolicies'
  | 'authorize'
  | 'reloadPolicies'
  | 'policyStatus'
  | 'passkeyOptions'
  | 'passkeyLogin'
  | 'changePassword'
  | 'complianceSummary';

const r = routeBuilder<ControlCenterRouteId>('controlCenter', { origin: 'designed', auth: true, envelope: true });

/** Every control center route (known ones exactly as PLATFORM-API.md; the rest designed under the same prefixes). */
export const CONTROL_CENTER_ROUTES: Readonly<Record<ControlCenterRouteId, Route>> = Object.freeze({
  health: r('health', 'GET', '/health', 'Liveness', HealthStatusSchema, { auth: false }),
  bootstrap: r('bootstrap', 'POST', '/auth/bootstrap', 'Create the first administrator (once)', AdminUserSchema, {
    auth: false,
    request: BootstrapRequestSchema,
    status: 201,
  }),
  login: r('login', 'POST', '/auth/login', 'Password (+ MFA) login', LoginResponseSchema, {
    origin: 'known',
    auth: false,
    request: LoginRequestSchema,
    // Not retried: a retry could burn a TOTP code or count twice against the lockout.
    idempotent: false,
  }),
  // Not retried either (POST): the challenge is single use and a retry could burn a code.
  loginMfa: r('loginMfa', 'POST', '/auth/login/mfa', 'Complete an MFA_REQUIRED login', LoginResponseSchema, {
    auth: false,
    request: LoginMfaRequestSchema,
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
  mfaRenameDevice: r('mfaRenameDevice', 'PATCH', '/mfa/devices/{id}', 'Rename a device', MfaDeviceSchema, {
    request: RenameDeviceRequestSchema,
  }),
  mfaRemoveDevice: r('mfaRemoveDevice', 'DELETE', '/mfa/devices/{id}', 'Remove a device', MfaStatusSchema),
  mfaRegenerateBackupCodes: r(
    'mfaRegenerateBackupCodes',
    'POST',
    '/mfa/backup-codes',
    'New backup codes',
    s.array(s.string()),
  ),
  webauthnRegister: r(
    'webauthnRegister',
    'POST',
    '/mfa/webauthn/register',
    'Finish a WebAuthn registration',
    WebAuthnRegistrationSchema,
    { request: WebAuthnRegisterRequestSchema, status: 201 },
  ),
  webauthnChallenge: r(
    'webauthnChallenge',
    'POST',
    '/mfa/webauthn/challenge',
    'WebAuthn request options for a step-up',
    WebAuthnChallengeSchema,
  ),
  webauthnAuthenticate: r(
    'webauthnAuthenticate',
    'POST',
    '/mfa/webauthn/authenticate',
    'WebAuthn step-up',
    MfaVerifyResponseSchema,
    { request: WebAuthnAuthenticateRequestSchema },
  ),
  listUsers: r('listUsers', 'GET', '/users', 'Users (admin)', s.array(AdminUserSchema)),
  createUser: r('createUser', 'POST', '/users', 'Create a user (admin)', AdminUserSchema, {
    request: CreateUserRequestSchema,
    status: 201,
  }),
  updateUserRoles: r(
    'updateUserRoles',
    'PUT',
    '/users/{id}/roles',
    'Set roles; ends the user’s sessions',
    AdminUserSchema,
    {
      request: UpdateRolesRequestSchema,
    },
  ),
  updateUserTeams: r(
    'updateUserTeams',
    'PUT',
    '/users/{id}/teams',
    'Set teams (Cedar Team parents, counted by break-glass approvals)',
    AdminUserSchema,
    { request: UpdateTeamsRequestSchema },
  ),
  disableUser: r('disableUser', 'POST', '/users/{id}/disable', 'Disable a user; ends sessions', AdminUserSchema, {
    // Disabling twice is harmless.
    idempotent: true,
  }),
  createApiToken: r(
    'createApiToken',
    'POST',
    '/api-tokens',
    'Create an API token (secret shown once)',
    CreatedApiTokenSchema,
    {
      request: CreateApiTokenRequestSchema,
      status: 201,
    },
  ),
  listApiTokens: r('listApiTokens', 'GET', '/api-tokens', 'The caller’s API tokens', s.array(ApiTokenSchema)),
  revokeApiToken: r('revokeApiToken', 'DELETE', '/api-tokens/{id}', 'Revoke an API token', LogoutResponseSchema),
  listPolicies: r('listPolicies', 'GET', '/policies', 'Cedar policies', s.array(PolicySchema)),
  getPolicy: r('getPolicy', 'GET', '/policies/{id}', 'One policy', PolicySchema),
  validatePolicies: r(
    'validatePolicies',
    'POST',
    '/policies/validate',
    'Validate policy source against the schema',
    PolicyValidationSchema,
    {
      request: ValidatePolicyRequestSchema,
      idempotent: true,
    },
  ),
  authorize: r('authorize', 'POST', '/policies/authorize', 'What-if authorization', AuthorizeResponseSchema, {
    request: AuthorizeRequestSchema,
    idempotent: true,
  }),
  reloadPolicies: r('reloadPolicies', 'POST', '/policies/reload', 'Reload the policy set (admin)', PolicyReloadSchema, {
    // Reloading twice loads the same files.
    idempotent: true,
  }),
  policyStatus: r(
    'policyStatus',
    'GET',
    '/policies/status',
    'The policy set in force and its last reload',
    PolicyStatusSchema,
  ),
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
  complianceSummary: r(
    'complianceSummary',
    'GET',
    '/api/v1/compliance/summary',
    'SOC 2 and ISO 27001 checks: counts and failing checks (Admins, Auditors, audit and security)',
    ComplianceSummarySchema,
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
