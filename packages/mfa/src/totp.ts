import { createHmac } from 'node:crypto';
import { base32 as scureBase32 } from '@otplib/plugin-base32-scure';
import type { RandomSource } from '@provisioning/core';
import { systemRandom } from '@provisioning/core';
import { generateURI } from 'otplib';
import QRCode from 'qrcode';
import { MfaError, malformed } from './errors.js';
import { hmacSha1 } from './hmac-sha1.js';

/** HMAC algorithms of TOTP (RFC 6238). Authenticator apps widely support only `sha1`. */
export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** The shape of a TOTP factor's codes. */
export interface TotpParameters {
  /** HMAC algorithm. Default `sha1` (what authenticator apps implement). */
  readonly algorithm: TotpAlgorithm;
  /** Digits per code: 6 (default), 7 or 8. */
  readonly digits: number;
  /** Length of one time step in seconds. Default 30. */
  readonly periodSeconds: number;
}

/** The defaults: SHA-1, 6 digits, 30-second steps (RFC 6238 and every authenticator app). */
export const DEFAULT_TOTP_PARAMETERS: TotpParameters = Object.freeze({
  algorithm: 'sha1',
  digits: 6,
  periodSeconds: 30,
});

/** The fewest secret bytes {@link generateTotpSecret} makes: 160 bits, RFC 4226's recommendation. */
export const MIN_TOTP_SECRET_BYTES: number = 20;

/** @internal Validates TOTP parameters (construction time). */
export function totpParameters(input: Partial<TotpParameters> | undefined): TotpParameters {
  // Pick the three fields: callers pass wider objects (service options, URI options).
  const p: TotpParameters = {
    algorithm: input?.algorithm ?? DEFAULT_TOTP_PARAMETERS.algorithm,
    digits: input?.digits ?? DEFAULT_TOTP_PARAMETERS.digits,
    periodSeconds: input?.periodSeconds ?? DEFAULT_TOTP_PARAMETERS.periodSeconds,
  };
  if (!['sha1', 'sha256', 'sha512'].includes(p.algorithm) || ![6, 7, 8].includes(p.digits)) {
    throw new MfaError('TOTP algorithm must be sha1, sha256 or sha512 and digits 6, 7 or 8', {
      code: 'ERR_MFA_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  if (!Number.isSafeInteger(p.periodSeconds) || p.periodSeconds < 15 || p.periodSeconds > 300) {
    throw new MfaError('TOTP periodSeconds must be an integer from 15 to 300', {
      code: 'ERR_MFA_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  return Object.freeze(p);
}

/**
 * Encodes bytes as RFC 4648 base32 without padding (the `secret=` of an
 * `otpauth://` URI).
 *
 * @example
 * ```ts
 * encodeBase32(new TextEncoder().encode('12345678901234567890')); // "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
 * ```
 */
export function encodeBase32(bytes: Uint8Array): string {
  return scureBase32.encode(bytes).replace(/=+$/, '');
}

/**
 * Decodes RFC 4648 base32 (case-insensitive, spaces and padding ignored).
 *
 * @throws MfaError `ERR_MFA_MALFORMED_INPUT` when the text is not base32.
 * @example
 * ```ts
 * decodeBase32('GEZDGNBVGY3TQOJQ'); // the bytes of "1234567890"
 * ```
 */
export function decodeBase32(text: string): Uint8Array {
  const clean = typeof text === 'string' ? text.replace(/[\s=]/g, '').toUpperCase() : '';
  if (clean === '' || !/^[A-Z2-7]+$/.test(clean)) throw malformed('base32 secret', 'not base32');
  try {
    return scureBase32.decode(clean);
  } catch {
    throw malformed('base32 secret', 'not base32');
  }
}

/** A freshly generated TOTP secret. */
export interface TotpSecret {
  /** The raw secret bytes (encrypt before storing). */
  readonly bytes: Uint8Array;
  /** The same secret in base32, for manual entry in an authenticator app. */
  readonly base32: string;
}

/**
 * Generates a TOTP secret of `byteLength` random bytes (default and minimum 20, i.e. 160 bits).
 *
 * @throws MfaError `ERR_MFA_INVALID_OPTIONS` for fewer than 20 or more than 64 bytes.
 * @example
 * ```ts
 * const { bytes, base32 } = generateTotpSecret();
 * ```
 */
export function generateTotpSecret(
  byteLength: number = MIN_TOTP_SECRET_BYTES,
  random: RandomSource = systemRandom,
): TotpSecret {
  // 160 bits at least: shorter secrets make offline brute force of observed codes feasible.
  if (!Number.isSafeInteger(byteLength) || byteLength < MIN_TOTP_SECRET_BYTES || byteLength > 64) {
    throw new MfaError(`TOTP secrets are ${MIN_TOTP_SECRET_BYTES} to 64 bytes`, {
      code: 'ERR_MFA_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const bytes = random.bytes(byteLength);
  return { bytes, base32: encodeBase32(bytes) };
}

/** Options of {@link totpUri}. */
export interface TotpUriOptions extends Partial<TotpParameters> {
  /** The secret (raw bytes or base32). */
  readonly secret: Uint8Array | string;
  /** Who the account is, shown in the app (e.g. the user's email). */
  readonly accountName: string;
  /** Who issues it, shown in the app. Default `Provisioning`. */
  readonly issuer?: string;
}

/** The issuer shown in authenticator apps unless configured. */
export const DEFAULT_TOTP_ISSUER: string = 'Provisioning';

/**
 * Builds the `otpauth://totp/…` URI (Key URI Format) an authenticator app
 * scans. Non-default algorithm, digits and period are included.
 *
 * @throws MfaError `ERR_MFA_MALFORMED_INPUT` for an empty account name or issuer.
 * @example
 * ```ts
 * totpUri({ secret: base32, accountName: 'alice@example.com' });
 * // "otpauth://totp/Provisioning:alice%40example.com?secret=…&issuer=Provisioning"
 * ```
 */
export function totpUri(options: TotpUriOptions): string {
  const p = totpParameters(options);
  const issuer = options.issuer ?? DEFAULT_TOTP_ISSUER;
  // The Key URI label is "issuer:account": a colon in either would make apps split it wrongly.
  const account = options.accountName;
  if (typeof account !== 'string' || account.trim() === '' || account.length > 256 || account.includes(':')) {
    throw malformed('accountName', 'must be 1-256 characters without a colon');
  }
  if (typeof issuer !== 'string' || issuer.trim() === '' || issuer.length > 128 || issuer.includes(':')) {
    throw malformed('issuer', 'must be 1-128 characters without a colon');
  }
  const secret =
    typeof options.secret === 'string' ? encodeBase32(decodeBase32(options.secret)) : encodeBase32(options.secret);
  return generateURI({
    issuer,
    label: options.accountName,
    secret,
    algorithm: p.algorithm,
    digits: p.digits,
    period: p.periodSeconds,
  });
}

/**
 * Renders `text` (an `otpauth://` URI) as a QR code in SVG.
 *
 * @example
 * ```ts
 * const svg = await totpQrSvg(uri); // "<svg xmlns=…"
 * ```
 */
export function totpQrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/**
 * Renders `text` (an `otpauth://` URI) as a QR code PNG `data:` URL, for an `<img src>`.
 *
 * @example
 * ```ts
 * const src = await totpQrDataUrl(uri); // "data:image/png;base64,…"
 * ```
 */
export function totpQrDataUrl(text: string): Promise<string> {
  return QRCode.toDataURL(text, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, width: 256 });
}

/** Options of {@link generateTotp}. */
export interface GenerateTotpOptions extends Partial<TotpParameters> {
  /** The raw secret bytes (at least 16). */
  readonly secret: Uint8Array;
  /** The time, in milliseconds since the epoch. */
  readonly atMs: number;
}

/**
 * The TOTP code for `secret` at `atMs` (for tests, test vectors and tools; the
 * service never needs it).
 *
 * @example
 * ```ts
 * generateTotp({ secret, atMs: Date.now() }); // "492039"
 * ```
 */
export function generateTotp(options: GenerateTotpOptions): string {
  const p = totpParameters(options);
  checkSecret(options.secret);
  const value = hotp(options.secret, Math.floor(options.atMs / 1000 / p.periodSeconds), p.algorithm, p.digits);
  return String(value).padStart(p.digits, '0');
}

function checkSecret(secret: unknown): asserts secret is Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length < 16) {
    throw new MfaError('TOTP secrets are at least 16 bytes', { code: 'ERR_MFA_INVALID_OPTIONS', fault: 'client' });
  }
}

const counterBytes = new Uint8Array(8);
const counterView = new DataView(counterBytes.buffer);

/**
 * HOTP (RFC 4226 §5.3) as a number: HMAC of the 8-byte big-endian counter,
 * dynamically truncated to 31 bits, modulo 10^digits. TOTP (RFC 6238) is HOTP
 * of the time step. Written out rather than taken from otplib: its per-call
 * validation and dispatch cost several times the HMAC itself, and the
 * verification target (50,000/s per core with replay protection) is above
 * otplib's raw verify. The RFC 6238 vectors and otplib's codes check it.
 */
function hotp(secret: Uint8Array, counter: number, algorithm: TotpAlgorithm, digits: number): number {
  // One scratch buffer for the counter (public data, rewritten in full on
  // every call) instead of a pooled Buffer per HMAC.
  const message = counterBytes;
  counterView.setUint32(0, Math.floor(counter / 2 ** 32));
  counterView.setUint32(4, counter >>> 0);
  // SHA-1 (the default, every authenticator app's) without OpenSSL's per-call
  // set-up: see hmac-sha1.ts for why that is exact and safe.
  const mac =
    algorithm === 'sha1' && secret.length <= 64
      ? hmacSha1(secret, message)
      : createHmac(algorithm, secret).update(message).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  return (
    ((((mac[offset] as number) << 24) |
      ((mac[offset + 1] as number) << 16) |
      ((mac[offset + 2] as number) << 8) |
      (mac[offset + 3] as number)) &
      0x7fffffff) %
    10 ** digits
  );
}

/** Options of {@link matchTotp}. */
export interface MatchTotpOptions extends Partial<TotpParameters> {
  /** The raw secret bytes. */
  readonly secret: Uint8Array;
  /** The code as typed (spaces allowed). */
  readonly code: string;
  /** The time, in milliseconds since the epoch. */
  readonly atMs: number;
  /** Steps accepted on each side of the current one. Default 1 (±30 s with 30-second steps). */
  readonly windowSteps?: number;
}

/**
 * @internal Normalises a typed code: strips spaces, checks it is exactly
 * `digits` decimal digits. Throws `ERR_MFA_MALFORMED_INPUT` otherwise.
 */
export function normalizeTotpCode(code: unknown, digits: number): string {
  // Bound the input before any regex work: nothing longer is a code.
  if (typeof code !== 'string' || code.length > 32) throw malformed('code', `expected ${digits} digits`);
  const clean = code.replace(/[\s-]/g, '');
  if (clean.length !== digits || !/^[0-9]+$/.test(clean)) throw malformed('code', `expected ${digits} digits`);
  return clean;
}

/**
 * Checks a TOTP code against `secret` within ±`windowSteps` steps of `atMs`
 * and returns the time step it matched (the RFC 6238 counter), or
 * `undefined`. Pure: it knows nothing of replay; the service records each
 * accepted step atomically in its store.
 *
 * @throws MfaError `ERR_MFA_MALFORMED_INPUT` when `code` is not `digits` decimal digits.
 * @example
 * ```ts
 * const step = matchTotp({ secret, code: '287082', atMs: 59_000 });
 * ```
 */
export function matchTotp(options: MatchTotpOptions): number | undefined {
  const p = totpParameters(options);
  checkSecret(options.secret);
  return matchStep(
    options.secret,
    normalizeTotpCode(options.code, p.digits),
    options.atMs,
    options.windowSteps ?? 1,
    p,
  );
}

/**
 * @internal {@link matchTotp} without validation, for the service's hot path
 * (parameters validated at construction or read from the store, `token`
 * already normalised).
 *
 * Steps are tried from the current one outwards (0, −1, +1, −2 …), so the
 * usual code costs one HMAC instead of one per step of the window, and when
 * two steps of the window share the code (a one-in-10^digits chance per pair)
 * the current step wins: a fresh code whose digits equal the previous step's,
 * already used, is that fresh code, not a replay. otplib's window search
 * returns the earliest match, which made such a code a replay.
 */
export function matchStep(
  secret: Uint8Array,
  token: string,
  atMs: number,
  windowSteps: number,
  p: TotpParameters,
): number | undefined {
  // The code as a number: comparing integers takes the same time whatever
  // the digits, where a string comparison could stop at the first difference.
  const expected = Number(token);
  const current = Math.floor(atMs / 1000 / p.periodSeconds);
  for (let i = 0; i <= 2 * windowSteps; i++) {
    const step = current + (i % 2 === 1 ? -(i + 1) / 2 : i / 2);
    if (step < 0) continue;
    if (hotp(secret, step, p.algorithm, p.digits) === expected) return step;
  }
  return undefined;
}
