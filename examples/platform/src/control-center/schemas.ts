/**
 * Request and response schemas of the control center's designed routes (the
 * contract in `@provisioning/platform-client/api` does not have them yet; see
 * this folder's README). Built with the contract's own schema builder so
 * `readBody` validates them the same strict way.
 */
import { type Schema, s } from '@provisioning/platform-client/api';

/** `POST /auth/bootstrap`. */
export interface BootstrapRequest {
  readonly secret: string;
  readonly username: string;
  readonly password: string;
  readonly email?: string;
}
export const BootstrapRequestSchema: Schema<BootstrapRequest> = s.object({
  secret: s.string(),
  username: s.string(),
  password: s.string(),
  email: s.optional(s.string()),
});

/** `POST /auth/login/mfa`: complete the challenge of an `MFA_REQUIRED` answer. */
export interface LoginMfaRequest {
  readonly challenge_id: string;
  /** TOTP or backup code. */
  readonly code?: string;
  /** A WebAuthn assertion (`AuthenticationResponseJSON`). */
  readonly webauthn?: Record<string, unknown>;
}
export const LoginMfaRequestSchema: Schema<LoginMfaRequest> = s.object({
  challenge_id: s.string(),
  code: s.optional(s.string()),
  webauthn: s.optional(s.record(s.unknown())),
});

/** `POST /mfa/webauthn/register`: finish a WebAuthn registration. */
export interface WebAuthnRegisterRequest {
  /** The browser's `RegistrationResponseJSON`. */
  readonly response: Record<string, unknown>;
  readonly name?: string;
}
export const WebAuthnRegisterRequestSchema: Schema<WebAuthnRegisterRequest> = s.object({
  response: s.record(s.unknown()),
  name: s.optional(s.string()),
});

/** `POST /mfa/webauthn/authenticate`: a WebAuthn step-up. */
export interface WebAuthnAuthenticateRequest {
  /** The browser's `AuthenticationResponseJSON`. */
  readonly response: Record<string, unknown>;
}
export const WebAuthnAuthenticateRequestSchema: Schema<WebAuthnAuthenticateRequest> = s.object({
  response: s.record(s.unknown()),
});

/** `PATCH /mfa/devices/{id}`. */
export interface RenameDeviceRequest {
  readonly name: string;
}
export const RenameDeviceRequestSchema: Schema<RenameDeviceRequest> = s.object({ name: s.string() });

/** `POST /users`. */
export interface CreateUserRequest {
  readonly username: string;
  readonly password: string;
  readonly email?: string;
  readonly roles?: readonly string[];
}
export const CreateUserRequestSchema: Schema<CreateUserRequest> = s.object({
  username: s.string(),
  password: s.string(),
  email: s.optional(s.string()),
  roles: s.optional(s.array(s.string(), { maxItems: 16 })),
});

/** `PUT /users/{id}/roles`. */
export interface UpdateRolesRequest {
  readonly roles: readonly string[];
}
export const UpdateRolesRequestSchema: Schema<UpdateRolesRequest> = s.object({
  roles: s.array(s.string(), { maxItems: 16 }),
});

/** `PUT /users/{id}/teams` (designed). */
export interface UpdateTeamsRequest {
  readonly teams: readonly string[];
}
export const UpdateTeamsRequestSchema: Schema<UpdateTeamsRequest> = s.object({
  teams: s.array(s.string({ pattern: /^[a-z0-9][a-z0-9_-]{0,63}$/ }), { maxItems: 16 }),
});

/** `POST /api-tokens`. */
export interface CreateApiTokenRequest {
  readonly name: string;
  readonly scopes?: readonly string[];
  /** Lifetime in days (1–365). Default: no expiry. */
  readonly expires_in_days?: number;
}
export const CreateApiTokenRequestSchema: Schema<CreateApiTokenRequest> = s.object({
  name: s.string(),
  scopes: s.optional(s.array(s.string(), { maxItems: 32 })),
  expires_in_days: s.optional(s.number({ integer: true, minimum: 1, maximum: 365 })),
});

/** `POST /policies/validate` (contract: `{ source }`). */
export const ValidatePolicyRequestSchema: Schema<{ source: string }> = s.object({ source: s.string() });
