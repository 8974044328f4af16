import type { Clock, RandomSource } from '@provisioning/core';
import { parseIpRange, systemClock } from '@provisioning/core';
import { clientError, SecretsError } from '../errors.js';
import { publicValueRandom } from '../random.js';
import type { Ed25519Engine } from './ed25519.js';
import { nodeEd25519 } from './ed25519.js';
import { parseEd25519PrivateKey, parseSshpkPublicKey, publicBlobOf, type SshKeyPair } from './keys.js';
import type { CertificateOption } from './wire.js';
import {
  certificateType,
  ed25519PublicBlob,
  publicKeyLine,
  readUint32,
  SshWriter,
  signedCertificate,
  sshFingerprint,
  stringLength,
} from './wire.js';

/** Kind of certificate: logs a user in, or proves a host's identity. */
export type SshCertificateType = 'user' | 'host';

/**
 * Extensions of user certificates (flags). Without any, OpenSSH grants no
 * pty: `permit-pty` is on by default here, the rest off.
 */
export type SshCertificateExtension =
  | 'permit-pty'
  | 'permit-port-forwarding'
  | 'permit-agent-forwarding'
  | 'permit-X11-forwarding'
  | 'permit-user-rc'
  | 'no-touch-required';

/** Critical options of user certificates: sshd refuses the certificate if it does not understand one. */
export interface SshCriticalOptions {
  /** Command run instead of any the user asks for. */
  readonly 'force-command'?: string;
  /** Comma-separated addresses or CIDR ranges the certificate may be used from. */
  readonly 'source-address'?: string;
  /** Require a FIDO key's user verification (PIN). */
  readonly 'verify-required'?: boolean;
}

/** What {@link SshCertificateAuthority.issue} takes. */
export interface SshCertificateRequest {
  /** The subject's OpenSSH public key line, or a pair from `generateSshKeyPair()`. */
  readonly publicKey: string | SshKeyPair;
  /** Default `user`. */
  readonly type?: SshCertificateType;
  /** User names (user certificates) or host names (host certificates); at least one: an empty list would mean "anyone". */
  readonly principals: readonly string[];
  /** Key id logged by sshd at login (e.g. the lease id); printable ASCII. */
  readonly keyId: string;
  /** Validity from now, in seconds (1 s to the CA's `maxValiditySeconds`). */
  readonly validitySeconds: number;
  /** 64-bit serial. Default: 8 random bytes. */
  readonly serial?: bigint;
  /** User certificates only. Default `['permit-pty']`. */
  readonly extensions?: readonly SshCertificateExtension[];
  /** User certificates only. */
  readonly criticalOptions?: SshCriticalOptions;
}

/** An issued certificate. */
export interface SshCertificate {
  /** OpenSSH certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA…`), the content of `id_ed25519-cert.pub`. */
  readonly certificate: string;
  readonly type: SshCertificateType;
  readonly principals: readonly string[];
  readonly keyId: string;
  /** The serial as a decimal string (64-bit). */
  readonly serial: string;
  /** Start of validity (backdated for clock skew). */
  readonly validAfter: Date;
  /** End of validity. */
  readonly validBefore: Date;
  /** `SHA256:` fingerprint of the certified public key. */
  readonly keyFingerprint: string;
}

/** Options of {@link createSshCertificateAuthority}. */
export interface SshCertificateAuthorityOptions {
  /** The CA's Ed25519 private key: OpenSSH or PKCS#8 PEM text, or a generated {@link SshKeyPair}. Other key types are refused. */
  readonly privateKey: string | SshKeyPair;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Randomness for serials and nonces. Default: the OS CSPRNG, read 4 KiB at a time. */
  readonly random?: RandomSource;
  /** Default `nodeEd25519`. */
  readonly engine?: Ed25519Engine;
  /** How far validity starts in the past, for hosts with slow clocks, in seconds (30–60). Default 45. */
  readonly backdateSeconds?: number;
  /** Longest validity a request may ask for, in seconds. Default 86,400. */
  readonly maxValiditySeconds?: number;
}

/** An SSH certificate authority. Made by {@link createSshCertificateAuthority}. */
export interface SshCertificateAuthority {
  /** The CA public key line: put it in sshd's `TrustedUserCAKeys` (or `@cert-authority` in known_hosts). */
  readonly publicKey: string;
  /** `SHA256:` fingerprint of the CA key. */
  readonly fingerprint: string;
  /**
   * Signs a certificate.
   *
   * @throws SecretsError `ERR_SECRETS_INVALID_REQUEST` (no principals, bad names, options on a host certificate …),
   * `ERR_SECRETS_INVALID_TTL`, `ERR_SECRETS_MALFORMED_KEY`.
   */
  issue(request: SshCertificateRequest): SshCertificate;
}

const FLAGS: ReadonlySet<string> = new Set([
  'permit-pty',
  'permit-port-forwarding',
  'permit-agent-forwarding',
  'permit-X11-forwarding',
  'permit-user-rc',
  'no-touch-required',
]);
// Principals are matched literally by sshd; commas would split them in
// authorized_principals files, whitespace and control characters confuse logs.
const PRINCIPAL = /^[\x21-\x2b\x2d-\x7e]{1,255}$/;
const KEY_ID = /^[\x20-\x7e]{1,255}$/;
const MAX_PRINCIPALS = 256;

const sshString = (value: string): Buffer => new SshWriter(stringLength(value)).string(value).finish();
const NO_DATA = new Uint8Array(0);

function checkSourceAddress(value: string): void {
  for (const part of value.split(',')) {
    if (parseIpRange(part) === undefined) {
      throw clientError(
        'ERR_SECRETS_INVALID_REQUEST',
        'source-address is a comma-separated list of addresses or CIDR ranges',
      );
    }
  }
}

const isPrincipal = (p: unknown): boolean => typeof p === 'string' && PRINCIPAL.test(p);

function readUint64(bytes: Uint8Array): bigint {
  if (bytes.length !== 8) throw new RangeError('the random source returned the wrong length');
  // Byte arithmetic, not a DataView: reading `.buffer` of a small typed array
  // (the pool's slices live on V8's heap) moves its bytes to a new off-heap
  // ArrayBuffer first.
  return (BigInt(readUint32(bytes, 0)) << 32n) | BigInt(readUint32(bytes, 4));
}

// OpenSSH requires both lists in lexical order of their names.
const byName = (a: CertificateOption, b: CertificateOption): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const NO_OPTIONS: readonly CertificateOption[] = Object.freeze([]);
// What a user certificate gets when the request names no extensions. Shared
// by every certificate: the encoder only reads it.
const DEFAULT_USER_FLAGS: readonly CertificateOption[] = Object.freeze([
  Object.freeze({ name: 'permit-pty', data: NO_DATA }),
]);

function flagList(extensions: readonly string[]): CertificateOption[] {
  const flags: CertificateOption[] = [];
  for (const name of new Set(extensions)) {
    if (!FLAGS.has(name)) throw clientError('ERR_SECRETS_INVALID_REQUEST', 'unknown certificate extension', { name });
    // Flags carry empty data.
    flags.push({ name, data: NO_DATA });
  }
  return flags.sort(byName);
}

function criticalOptionList(critical: SshCriticalOptions): CertificateOption[] {
  const options: CertificateOption[] = [];
  for (const [name, value] of Object.entries(critical)) {
    if (value === undefined || value === false) continue;
    if (name === 'force-command') {
      if (typeof value !== 'string' || value === '' || value.length > 4096 || /[\0\r\n]/.test(value)) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'force-command is one line of text');
      }
      options.push({ name, data: sshString(value) });
    } else if (name === 'source-address') {
      if (typeof value !== 'string') throw clientError('ERR_SECRETS_INVALID_REQUEST', 'source-address is a string');
      checkSourceAddress(value);
      options.push({ name, data: sshString(value) });
    } else if (name === 'verify-required' && value === true) {
      options.push({ name, data: NO_DATA });
    } else {
      throw clientError('ERR_SECRETS_INVALID_REQUEST', 'unknown critical option', { name });
    }
  }
  return options.sort(byName);
}

/**
 * Creates an SSH certificate authority that signs user and host certificates
 * with an Ed25519 CA key. The certificate is written in OpenSSH's wire format
 * (PROTOCOL.certkeys) and signed by the Ed25519 engine; subject keys may be
 * Ed25519, ECDSA or RSA (at least 2,048 bits).
 *
 * Extensions and critical options are written sorted by name, as OpenSSH
 * requires; validity starts `backdateSeconds` in the past.
 *
 * @throws SecretsError `ERR_SECRETS_MALFORMED_KEY` for a CA key that is not Ed25519; `ERR_SECRETS_INVALID_OPTIONS`.
 * @example
 * ```ts
 * const ca = createSshCertificateAuthority({ privateKey: readFileSync('ca', 'utf8') });
 * const { certificate } = ca.issue({
 *   publicKey: userPublicKey, principals: ['deploy'], keyId: 'alice', validitySeconds: 900,
 *   extensions: ['permit-pty'], criticalOptions: { 'source-address': '10.0.0.0/8' },
 * });
 * ```
 */
export function createSshCertificateAuthority(options: SshCertificateAuthorityOptions): SshCertificateAuthority {
  const source = options?.privateKey;
  const { seed, publicKey } =
    typeof source === 'string'
      ? parseEd25519PrivateKey(source)
      : typeof source?.privateKey === 'string'
        ? parseEd25519PrivateKey(source.privateKey)
        : (() => {
            throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'the CA needs an Ed25519 private key');
          })();
  const clock = options.clock ?? systemClock;
  // Serials and nonces are public: pooled CSPRNG bytes (see publicValueRandom).
  const random = options.random ?? publicValueRandom;
  const engine = options.engine ?? nodeEd25519;
  const backdate = options.backdateSeconds ?? 45;
  if (!Number.isInteger(backdate) || backdate < 30 || backdate > 60) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'backdateSeconds must be from 30 to 60');
  }
  const maxValidity = options.maxValiditySeconds ?? 86_400;
  if (!Number.isSafeInteger(maxValidity) || maxValidity < 1) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'maxValiditySeconds must be a positive integer');
  }
  const caBlob = ed25519PublicBlob(publicKey);
  const sign = engine.signer(seed);
  // The derived public key must match the one stored in the key file.
  if (!Buffer.from(engine.publicKey(seed)).equals(Buffer.from(publicKey))) {
    throw clientError('ERR_SECRETS_MALFORMED_KEY', 'the private key does not match its public key');
  }

  return {
    publicKey: publicKeyLine(caBlob, 'provisioning-ca'),
    fingerprint: sshFingerprint(caBlob),
    issue(request: SshCertificateRequest): SshCertificate {
      const type = request?.type ?? 'user';
      if (type !== 'user' && type !== 'host') {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'certificate type is user or host');
      }
      const given = request.publicKey;
      // A pair from generateSshKeyPair() carries its blob and fingerprint; anything else is parsed.
      const generatedBlob = publicBlobOf(given);
      const subjectBlob =
        generatedBlob ??
        parseSshpkPublicKey(typeof given === 'string' ? given : (given as SshKeyPair)?.publicKey).toBuffer('rfc4253');
      const principals = request.principals;
      // An empty principal list means "any user" (or any host) to sshd: never issue one.
      if (!Array.isArray(principals) || principals.length === 0) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'a certificate needs at least one principal');
      }
      if (principals.length > MAX_PRINCIPALS || !principals.every(isPrincipal)) {
        throw clientError(
          'ERR_SECRETS_INVALID_REQUEST',
          `principals are 1-${MAX_PRINCIPALS} names of printable ASCII without spaces or commas`,
        );
      }
      if (typeof request.keyId !== 'string' || !KEY_ID.test(request.keyId)) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'keyId is 1-255 printable ASCII characters');
      }
      const validity = request.validitySeconds;
      if (!Number.isSafeInteger(validity) || validity < 1 || validity > maxValidity) {
        throw clientError(
          'ERR_SECRETS_INVALID_TTL',
          `validitySeconds must be a whole number from 1 to ${maxValidity}`,
          {
            validitySeconds: validity,
            max: maxValidity,
          },
        );
      }
      const serial = request.serial ?? readUint64(random.bytes(8));
      if (typeof serial !== 'bigint' || serial < 0n || serial > 0xffffffffffffffffn) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'serial is an unsigned 64-bit integer');
      }
      // Absent (or null) lists take the defaults without building anything.
      const extensions = request.extensions ?? undefined;
      const critical = request.criticalOptions ?? undefined;
      if (
        type === 'host' &&
        ((extensions?.length ?? 0) > 0 || (critical !== undefined && Object.keys(critical).length > 0))
      ) {
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'host certificates carry no extensions or critical options');
      }
      const flags =
        extensions === undefined ? (type === 'user' ? DEFAULT_USER_FLAGS : NO_OPTIONS) : flagList(extensions);
      const options = critical === undefined ? NO_OPTIONS : criticalOptionList(critical);

      const now = clock.now();
      // Whole seconds: the certificate format counts seconds.
      const validAfter = new Date((Math.floor(now / 1000) - backdate) * 1000);
      const validBefore = new Date((Math.floor(now / 1000) + validity) * 1000);
      const fields = {
        subjectBlob,
        nonce: random.bytes(32),
        serial,
        type: type === 'user' ? 1 : 2,
        keyId: request.keyId,
        principals,
        validAfter: validAfter.getTime() / 1000,
        validBefore: validBefore.getTime() / 1000,
        criticalOptions: options,
        extensions: flags,
        caBlob,
      } as const;
      let blob: Buffer;
      try {
        blob = signedCertificate(fields, sign);
      } catch (error) {
        throw new SecretsError('signing the certificate failed', {
          code: 'ERR_SECRETS_PROVIDER_FAILED',
          fault: 'server',
          cause: error,
        });
      }
      return Object.freeze({
        // The key id is the line's comment: KEY_ID above already allows only what a comment may hold.
        certificate: `${certificateType(subjectBlob)} ${blob.toString('base64')} ${request.keyId}`,
        type,
        principals: Object.freeze([...principals]),
        keyId: request.keyId,
        serial: serial.toString(),
        validAfter,
        validBefore,
        // Only a generated pair's own fingerprint is known to match its key.
        keyFingerprint: generatedBlob !== undefined ? (given as SshKeyPair).fingerprint : sshFingerprint(subjectBlob),
      });
    },
  };
}
