import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { clientError, MfaError, malformed } from './errors.js';

/** Whether the authenticator must verify the user (PIN, biometrics), as WebAuthn spells it. */
export type UserVerification = 'required' | 'preferred' | 'discouraged';

/**
 * The relying party: who the credentials are for.
 *
 * @example
 * ```ts
 * const rp: RelyingParty = { id: 'example.com', name: 'Provisioning', origins: ['https://cc.example.com'] };
 * ```
 */
export interface RelyingParty {
  /** RP ID: the registrable domain credentials are scoped to, e.g. `example.com`. */
  readonly id: string;
  /** Name shown by the authenticator, e.g. `Provisioning`. */
  readonly name: string;
  /** Origins allowed to run ceremonies, e.g. `["https://cc.example.com"]`. Exact matches only. */
  readonly origins: readonly string[];
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const MAX_FIELD = 64 * 1024;

/** @internal Validates the relying party configuration (construction time). */
export function relyingParty(rp: RelyingParty | undefined): RelyingParty {
  const bad = (why: string): MfaError =>
    new MfaError(`invalid relying party: ${why}`, { code: 'ERR_MFA_INVALID_OPTIONS', fault: 'client' });
  if (rp === undefined || typeof rp !== 'object') throw bad('rp { id, name, origins } is required');
  if (typeof rp.id !== 'string' || !/^[a-z0-9.-]{1,253}$/i.test(rp.id)) throw bad('id must be a domain name');
  if (typeof rp.name !== 'string' || rp.name.trim() === '') throw bad('name is required');
  if (!Array.isArray(rp.origins) || rp.origins.length === 0) throw bad('at least one origin is required');
  for (const origin of rp.origins) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw bad('origins must be URLs');
    }
    if (url.origin !== origin) throw bad('origins must be bare origins (scheme://host[:port])');
    // Plain http only for localhost development: WebAuthn itself refuses other insecure origins.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && url.hostname === 'localhost')) {
      throw bad('origins must be https (or http://localhost)');
    }
  }
  return Object.freeze({ id: rp.id, name: rp.name, origins: Object.freeze([...rp.origins]) });
}

function field(value: unknown, name: string, optional = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FIELD || !B64URL.test(value)) {
    throw malformed(`WebAuthn response ${name}`, 'expected base64url text');
  }
  return value;
}

/** @internal The challenge a response answers, read from its clientDataJSON. */
function challengeOf(clientDataJSON: string, expectedType: string): string {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
  } catch {
    throw malformed('WebAuthn response clientDataJSON', 'not JSON');
  }
  const challenge = (data as { challenge?: unknown })?.challenge;
  const type = (data as { type?: unknown })?.type;
  if (typeof challenge !== 'string' || challenge.length > 512 || !B64URL.test(challenge)) {
    throw malformed('WebAuthn response clientDataJSON', 'no challenge');
  }
  if (type !== expectedType) throw malformed('WebAuthn response clientDataJSON', `type is not ${expectedType}`);
  return challenge;
}

function common(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw malformed('WebAuthn response', 'expected an object');
  }
  const r = input as Record<string, unknown>;
  field(r.id, 'id');
  if (r.rawId !== r.id) throw malformed('WebAuthn response rawId', 'must equal id');
  if (r.type !== 'public-key') throw malformed('WebAuthn response type', 'must be public-key');
  if (typeof r.response !== 'object' || r.response === null) throw malformed('WebAuthn response', 'no response');
  return r.response as Record<string, unknown>;
}

/**
 * @internal Checks the shape of a registration response from the browser
 * and returns it typed with the challenge it answers. Nothing is stored or
 * consumed before this passes.
 */
export function parseRegistrationResponse(input: unknown): { response: RegistrationResponseJSON; challenge: string } {
  const inner = common(input);
  field(inner.attestationObject, 'attestationObject');
  const clientDataJSON = field(inner.clientDataJSON, 'clientDataJSON') as string;
  if (inner.transports !== undefined) {
    if (!Array.isArray(inner.transports) || inner.transports.some((t) => typeof t !== 'string' || t.length > 32)) {
      throw malformed('WebAuthn response transports', 'expected a list of names');
    }
  }
  const challenge = challengeOf(clientDataJSON, 'webauthn.create');
  return { response: input as RegistrationResponseJSON, challenge };
}

/** @internal As {@link parseRegistrationResponse}, for an authentication (assertion) response. */
export function parseAuthenticationResponse(input: unknown): {
  response: AuthenticationResponseJSON;
  challenge: string;
  userHandle: string | undefined;
} {
  const inner = common(input);
  field(inner.authenticatorData, 'authenticatorData');
  field(inner.signature, 'signature');
  const clientDataJSON = field(inner.clientDataJSON, 'clientDataJSON') as string;
  const userHandle = field(inner.userHandle === null ? undefined : inner.userHandle, 'userHandle', true);
  const challenge = challengeOf(clientDataJSON, 'webauthn.get');
  return { response: input as AuthenticationResponseJSON, challenge, userHandle };
}

/** Why a WebAuthn verification failed, in `details.reason` of `ERR_MFA_WEBAUTHN_FAILED`. */
export type WebAuthnFailureReason =
  | 'origin'
  | 'rp_id'
  | 'challenge'
  | 'user_verification'
  | 'user_presence'
  | 'signature'
  | 'algorithm'
  | 'user_handle'
  | 'invalid';

/**
 * @internal Maps an error thrown by @simplewebauthn/server to a typed error.
 * Its messages quote origins and challenges; we keep only a reason, and do not
 * attach the original as `cause`, so nothing from the response reaches a log.
 */
export function webauthnFailure(error: unknown): MfaError {
  // A verifier that returns `verified: false` (instead of throwing) found a bad signature.
  const message = error instanceof Error ? error.message : 'signature';
  if (/counter value/i.test(message)) {
    return clientError(
      'ERR_MFA_WEBAUTHN_COUNTER',
      'the signature counter did not increase: possible cloned authenticator',
    );
  }
  const reason: WebAuthnFailureReason = /origin/i.test(message)
    ? 'origin'
    : /RP ID|rpID|rpIdHash/i.test(message)
      ? 'rp_id'
      : /challenge/i.test(message)
        ? 'challenge'
        : /user could not be verified|user verification/i.test(message)
          ? 'user_verification'
          : /user (was )?not present|user presence/i.test(message)
            ? 'user_presence'
            : /algorithm/i.test(message)
              ? 'algorithm'
              : /signature/i.test(message)
                ? 'signature'
                : 'invalid';
  return clientError('ERR_MFA_WEBAUTHN_FAILED', `WebAuthn verification failed (${reason})`, { reason });
}
