/**
 * A software WebAuthn authenticator for tests: real P-256 keys (node:crypto),
 * attestation `none`, signed assertions, CBOR-encoded authenticator data.
 * It lets registration and sign-in ceremonies run end to end without a
 * browser. Never use it outside tests: its keys live in process memory.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { readonly [k: string]: Cbor };

function head(major: number, value: number): Uint8Array {
  if (value < 24) return Uint8Array.of((major << 5) | value);
  if (value < 0x100) return Uint8Array.of((major << 5) | 24, value);
  if (value < 0x10000) return Uint8Array.of((major << 5) | 25, value >> 8, value & 0xff);
  const out = new Uint8Array(5);
  out[0] = (major << 5) | 26;
  new DataView(out.buffer).setUint32(1, value);
  return out;
}

/**
 * Encodes the CBOR subset WebAuthn needs (RFC 8949): small integers,
 * byte and text strings, arrays and maps (map keys in insertion order, which
 * callers give in canonical order).
 *
 * @example
 * ```ts
 * encodeCbor(new Map([[1, 2], [3, -7]])); // a COSE key header
 * ```
 */
export function encodeCbor(value: Cbor): Uint8Array {
  const parts: Uint8Array[] = [];
  const walk = (v: Cbor): void => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || Math.abs(v) > 0xffffffff) throw new TypeError('only 32-bit integers');
      parts.push(v >= 0 ? head(0, v) : head(1, -1 - v));
    } else if (typeof v === 'string') {
      const bytes = new TextEncoder().encode(v);
      parts.push(head(3, bytes.length), bytes);
    } else if (v instanceof Uint8Array) {
      parts.push(head(2, v.length), v);
    } else if (Array.isArray(v)) {
      parts.push(head(4, v.length));
      for (const item of v) walk(item);
    } else {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      parts.push(head(5, entries.length));
      for (const [k, item] of entries) {
        walk(k);
        walk(item);
      }
    }
  };
  walk(value);
  return Buffer.concat(parts);
}

interface SoftCredential {
  readonly id: Uint8Array;
  readonly privateKey: KeyObject;
  readonly cose: Uint8Array;
  readonly rpId: string;
  readonly userHandle: string | undefined;
  counter: number;
}

/** Options of {@link createSoftwareAuthenticator}. */
export interface SoftwareAuthenticatorOptions {
  /** The origin the "browser" reports in clientDataJSON. */
  readonly origin: string;
  /** Set the UV flag (the user was verified). Default `true`. */
  readonly userVerified?: boolean;
  /** Set the UP flag (the user was present). Default `true`. */
  readonly userPresent?: boolean;
  /** Backup eligible and backed up flags (a synced passkey). Default `false`. */
  readonly backedUp?: boolean;
  /** How much the signature counter grows per assertion. 0 models authenticators without a counter. Default 1. */
  readonly counterStep?: number;
  /** Transports reported at registration. Default `["usb"]`. */
  readonly transports?: readonly string[];
}

/**
 * A software authenticator made by {@link createSoftwareAuthenticator}.
 *
 * @example
 * ```ts
 * const clone = key.clone(); // same keys, counters frozen: a cloned authenticator
 * ```
 */
export interface SoftwareAuthenticator {
  /** Answers registration options like `navigator.credentials.create()`; keeps the new credential. */
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    overrides?: { readonly origin?: string },
  ): RegistrationResponseJSON;
  /** Answers authentication options like `navigator.credentials.get()`, with the first usable credential. */
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    overrides?: { readonly origin?: string; readonly credentialId?: string },
  ): AuthenticationResponseJSON;
  /** A copy sharing the same keys and counters as they are now: a cloned authenticator. */
  clone(): SoftwareAuthenticator;
  /** Ids (base64url) of the credentials it holds. */
  readonly credentialIds: readonly string[];
}

const b64u = (bytes: Uint8Array | Buffer): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

/**
 * Creates a software authenticator holding P-256 (ES256) credentials.
 *
 * @example
 * ```ts
 * import { createSoftwareAuthenticator } from '@provisioning/mfa/testing';
 * const key = createSoftwareAuthenticator({ origin: 'https://cc.example.com' });
 * const options = await mfa.beginWebAuthnRegistration('u1', { userName: 'alice' });
 * await mfa.finishWebAuthnRegistration('u1', key.register(options));
 * ```
 */
export function createSoftwareAuthenticator(options: SoftwareAuthenticatorOptions): SoftwareAuthenticator {
  return make(options, []);
}

function make(options: SoftwareAuthenticatorOptions, credentials: SoftCredential[]): SoftwareAuthenticator {
  const flags = (attested: boolean): number =>
    ((options.userPresent ?? true) ? 0x01 : 0) |
    ((options.userVerified ?? true) ? 0x04 : 0) |
    (options.backedUp ? 0x08 | 0x10 : 0) |
    (attested ? 0x40 : 0);
  const counterBytes = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return b;
  };
  const clientData = (type: string, challenge: string, origin: string): Buffer =>
    Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

  return {
    get credentialIds() {
      return credentials.map((c) => b64u(c.id));
    },
    register(creation, overrides) {
      if (!creation.pubKeyCredParams.some((p) => p.alg === -7)) throw new Error('ES256 is not offered');
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const cose = encodeCbor(
        new Map<Cbor, Cbor>([
          [1, 2], // kty: EC2
          [3, -7], // alg: ES256
          [-1, 1], // crv: P-256
          [-2, new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))],
          [-3, new Uint8Array(Buffer.from(jwk.y as string, 'base64url'))],
        ]),
      );
      const id = new Uint8Array(randomBytes(16));
      const rpId = creation.rp.id ?? '';
      const credential: SoftCredential = { id, privateKey, cose, rpId, userHandle: creation.user.id, counter: 0 };
      const idLength = Uint8Array.of(id.length >> 8, id.length & 0xff);
      const authData = Buffer.concat([
        sha256(rpId),
        Uint8Array.of(flags(true)),
        counterBytes(0),
        new Uint8Array(16), // AAGUID: zeros, as with attestation none
        idLength,
        id,
        cose,
      ]);
      credentials.push(credential);
      const clientDataJSON = clientData('webauthn.create', creation.challenge, overrides?.origin ?? options.origin);
      const attestationObject = encodeCbor({ fmt: 'none', attStmt: {}, authData: new Uint8Array(authData) });
      return {
        id: b64u(id),
        rawId: b64u(id),
        type: 'public-key',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64u(clientDataJSON),
          attestationObject: b64u(attestationObject),
          transports: [...(options.transports ?? ['usb'])] as RegistrationResponseJSON['response']['transports'],
        },
      };
    },
    authenticate(request, overrides) {
      const allowed = (request.allowCredentials ?? []).map((c) => c.id);
      const credential = credentials.find(
        (c) =>
          c.rpId === request.rpId &&
          (overrides?.credentialId === undefined || b64u(c.id) === overrides.credentialId) &&
          (allowed.length === 0 || allowed.includes(b64u(c.id))),
      );
      if (credential === undefined) throw new Error('no credential for this request');
      credential.counter += options.counterStep ?? 1;
      const authData = Buffer.concat([
        sha256(credential.rpId),
        Uint8Array.of(flags(false)),
        counterBytes(credential.counter),
      ]);
      const clientDataJSON = clientData('webauthn.get', request.challenge, overrides?.origin ?? options.origin);
      // ES256 as WebAuthn wants it: ECDSA over authData || SHA-256(clientDataJSON), DER-encoded.
      const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
      return {
        id: b64u(credential.id),
        rawId: b64u(credential.id),
        type: 'public-key',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64u(clientDataJSON),
          authenticatorData: b64u(authData),
          signature: b64u(signature),
          ...(credential.userHandle === undefined ? {} : { userHandle: credential.userHandle }),
        },
      };
    },
    clone() {
      return make(
        options,
        credentials.map((c) => ({ ...c })),
      );
    },
  };
}
