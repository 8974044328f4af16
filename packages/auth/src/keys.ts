import { readFile } from 'node:fs/promises';
import type { Clock } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import type { CryptoKey, JWK } from 'jose';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, importPKCS8, importSPKI } from 'jose';
import { authError, invalidOptions } from './errors.js';

/** The signature algorithms the SDK signs and verifies with. HMAC and `none` are never accepted. */
export type SigningAlgorithm = 'RS256' | 'EdDSA' | 'ES256';

/** Every supported algorithm, RS256 (the default) first. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze(['RS256', 'EdDSA', 'ES256']);

/**
 * A key to load into a {@link KeySet}: a private key (PKCS#8 PEM or private JWK)
 * to sign with, or only a public key (SPKI PEM or public JWK) to verify another
 * issuer's tokens with.
 */
export interface KeyInput {
  /** The algorithm this key is used with. Default `RS256`, or the JWK's `alg`. */
  readonly alg?: SigningAlgorithm;
  /** Key id. Default: the RFC 7638 thumbprint of the public key, so instances sharing a key file agree. */
  readonly kid?: string;
  /** A PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) or an SPKI PEM public key. */
  readonly pem?: string;
  /** A private or public JWK. */
  readonly jwk?: JWK;
}

/** Options of {@link createKeySet}. */
export interface KeySetOptions {
  /**
   * Keys to load. The first key holding a private part signs; every other key
   * only verifies. Omit to generate one key of {@link KeySetOptions.generate}.
   */
  readonly keys?: readonly KeyInput[];
  /** The algorithm of the key generated when `keys` is empty. Default `RS256`. */
  readonly generate?: SigningAlgorithm;
  /** Generated private keys are extractable (to persist them with {@link KeySet.exportPrivateJwk}). Default `false`. */
  readonly extractable?: boolean;
  /**
   * How long, in seconds, a key that stopped signing keeps verifying after the
   * last token it signed expires (absorbs clock skew between instances). Default 60.
   */
  readonly retireGraceSeconds?: number;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
}

/** One key of a {@link KeySet} as seen from outside (no key material). */
export interface KeyInfo {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Whether this key signs new tokens (exactly one key does). */
  readonly signing: boolean;
  /** When this key stops verifying; `undefined` while it signs or if it never retires. */
  readonly retiresAt: Date | undefined;
}

/** @internal The signing key handed to the token service. */
export interface ActiveSigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: CryptoKey;
}

/**
 * A set of signing keys with `kid`s: one signs, the others verify until the
 * last token they signed has expired, so rotation never breaks tokens in flight.
 */
export interface KeySet {
  /** The algorithms of the keys in the set: verification accepts these and nothing else. */
  readonly algorithms: readonly SigningAlgorithm[];
  /** The key that signs new tokens. */
  signingKey(): ActiveSigningKey;
  /** The public key for `kid` if the set holds it and it has not retired, else `undefined`. */
  verificationKey(kid: string): { readonly alg: SigningAlgorithm; readonly key: CryptoKey } | undefined;
  /**
   * Records that the signing key `kid` signed a token valid until `expiresAtMs`,
   * so after rotation it keeps verifying until then (plus the grace period).
   */
  noteIssued(kid: string, expiresAtMs: number): void;
  /**
   * Makes a new key (generated, or `key` if given) the signing key. The old
   * signing key keeps verifying until its last token expires plus
   * `retireGraceSeconds`. Resolves the new key's `kid`.
   *
   * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` if `key` has no private part or duplicates a `kid`.
   */
  rotate(options?: { readonly alg?: SigningAlgorithm; readonly key?: KeyInput }): Promise<string>;
  /** Adds a verify-only public key (another instance's or issuer's). */
  addPublicKey(key: KeyInput): Promise<string>;
  /** Removes a key at once (a compromised key): tokens it signed stop verifying. Cannot remove the signing key. */
  removeKey(kid: string): boolean;
  /** The keys, without key material. */
  list(): KeyInfo[];
  /** The public JWKS of every key that still verifies (`kid`, `alg`, `use: "sig"`), for `/.well-known/jwks.json`. */
  jwks(): Promise<{ keys: JWK[] }>;
  /**
   * The private JWK of a generated key, to persist it. Only for keys generated
   * with `extractable: true` (loaded keys: you already hold the material).
   *
   * @throws AuthError `ERR_AUTH_INVALID_INPUT` when the key is unknown or not extractable.
   */
  exportPrivateJwk(kid: string): Promise<JWK>;
  /** Registers `listener` to run after a key is removed or retired (the token cache clears on it). */
  onChange(listener: () => void): void;
}

interface Entry {
  kid: string;
  alg: SigningAlgorithm;
  publicKey: CryptoKey;
  privateKey: CryptoKey | undefined;
  publicJwk: JWK;
  privateJwk: JWK | undefined;
  lastExpiryMs: number;
  retiresAtMs: number | undefined;
}

const KID = /^[\x21-\x7e]{1,128}$/;

function assertAlg(alg: unknown): asserts alg is SigningAlgorithm {
  if (!SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)) {
    throw invalidOptions(`unsupported algorithm; use one of ${SIGNING_ALGORITHMS.join(', ')}`, {
      alg: typeof alg === 'string' ? alg : undefined,
    });
  }
}

async function generateEntry(alg: SigningAlgorithm, extractable: boolean): Promise<Entry> {
  // Ed25519 is the only EdDSA curve jose 6 generates; RSA keys are 2048 bits (RFC 7518 minimum).
  const pair = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  const privateJwk = extractable ? await exportJWK(pair.privateKey) : undefined;
  // Re-import the private key as non-extractable unless asked: nothing in
  // this process can then leak it by exporting.
  const privateKey = extractable
    ? pair.privateKey
    : ((await importJWK(await exportJWK(pair.privateKey), alg, { extractable: false })) as CryptoKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg,
    publicKey: pair.publicKey,
    privateKey,
    publicJwk,
    privateJwk,
    lastExpiryMs: 0,
    retiresAtMs: undefined,
  };
}

async function importEntry(input: KeyInput): Promise<Entry> {
  const alg = input.alg ?? (input.jwk?.alg as SigningAlgorithm | undefined) ?? 'RS256';
  assertAlg(alg);
  if ((input.pem === undefined) === (input.jwk === undefined)) {
    throw invalidOptions('a key input has exactly one of pem or jwk');
  }
  if (input.kid !== undefined && !KID.test(input.kid))
    throw invalidOptions('kid must be 1-128 printable ASCII characters');
  let publicKey: CryptoKey;
  let privateKey: CryptoKey | undefined;
  let publicJwk: JWK;
  const privateJwk: JWK | undefined = undefined;
  try {
    if (input.pem !== undefined) {
      if (/-----BEGIN PRIVATE KEY-----/.test(input.pem)) {
        // Exported only to derive the public half; the private JWK is not kept.
        const extractable = await importPKCS8(input.pem, alg, { extractable: true });
        publicJwk = publicPart(await exportJWK(extractable));
        privateKey = await importPKCS8(input.pem, alg, { extractable: false });
      } else if (/-----BEGIN PUBLIC KEY-----/.test(input.pem)) {
        const spki = await importSPKI(input.pem, alg, { extractable: true });
        publicJwk = await exportJWK(spki);
      } else {
        throw new TypeError('PEM must be PKCS#8 (BEGIN PRIVATE KEY) or SPKI (BEGIN PUBLIC KEY)');
      }
    } else {
      const jwk = input.jwk as JWK;
      if (jwk.kty === 'oct') throw new TypeError('symmetric keys are not accepted');
      if (jwk.d !== undefined) {
        privateKey = (await importJWK(jwk, alg, { extractable: false })) as CryptoKey;
      }
      publicJwk = publicPart(jwk);
    }
    publicKey = (await importJWK(publicJwk, alg, { extractable: true })) as CryptoKey;
  } catch (error) {
    if (error instanceof Error && error.name === 'AuthError') throw error;
    // The cause is dropped on purpose: jose's messages may quote key parameters.
    throw invalidOptions('the key cannot be imported for its algorithm', { alg });
  }
  const kid = input.kid ?? (await calculateJwkThumbprint(publicJwk));
  return { kid, alg, publicKey, privateKey, publicJwk, privateJwk, lastExpiryMs: 0, retiresAtMs: undefined };
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;
function publicPart(jwk: JWK): JWK {
  const out: JWK = {};
  for (const name of PUBLIC_MEMBERS) if (jwk[name] !== undefined) out[name] = jwk[name];
  return out;
}

/**
 * Reads a key file for {@link createKeySet}: `.json` files are JWKs, anything
 * else is PEM.
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` when the file cannot be read or parsed.
 * @example
 * ```ts
 * const keys = await createKeySet({ keys: [await readKeyFile('./keys/signing.pem', { alg: 'RS256' })] });
 * ```
 */
export async function readKeyFile(
  path: string,
  options: { readonly alg?: SigningAlgorithm; readonly kid?: string } = {},
): Promise<KeyInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw invalidOptions('cannot read the key file', { code: (error as { code?: string }).code });
  }
  if (path.endsWith('.json')) {
    try {
      return { ...options, jwk: JSON.parse(text) as JWK };
    } catch {
      throw invalidOptions('the key file is not valid JSON');
    }
  }
  return { ...options, pem: text };
}

/**
 * Creates a {@link KeySet}: loads keys from PEM/JWK or generates one.
 *
 * @throws AuthError `ERR_AUTH_INVALID_OPTIONS` for an unsupported algorithm, unimportable key, duplicate `kid`, or no private key.
 * @example
 * ```ts
 * const keys = await createKeySet();                        // one generated RS256 key
 * const ed = await createKeySet({ generate: 'EdDSA' });
 * const loaded = await createKeySet({ keys: [{ pem: process.env.JWT_PRIVATE_KEY_PEM }] });
 * const newKid = await keys.rotate();                       // old key verifies until its tokens expire
 * ```
 */
export async function createKeySet(options: KeySetOptions = {}): Promise<KeySet> {
  const clock = options.clock ?? systemClock;
  const graceMs = (options.retireGraceSeconds ?? 60) * 1000;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw invalidOptions('retireGraceSeconds must be >= 0');
  const extractable = options.extractable ?? false;
  const entries = new Map<string, Entry>();
  const listeners: Array<() => void> = [];
  let signing: Entry;

  const add = (entry: Entry): void => {
    if (entries.has(entry.kid)) throw invalidOptions('duplicate kid in the key set', { kid: entry.kid });
    entries.set(entry.kid, entry);
  };

  if (options.keys !== undefined && options.keys.length > 0) {
    for (const input of options.keys) add(await importEntry(input));
    const first = [...entries.values()].find((e) => e.privateKey !== undefined);
    if (first === undefined) throw invalidOptions('the key set needs at least one private key to sign with');
    signing = first;
  } else {
    const alg = options.generate ?? 'RS256';
    assertAlg(alg);
    signing = await generateEntry(alg, extractable);
    add(signing);
  }

  // Recomputed only when the set changes: verification reads it on every call.
  let algorithms: readonly SigningAlgorithm[] = [];
  const refresh = (): void => {
    algorithms = Object.freeze([...new Set([...entries.values()].map((e) => e.alg))]);
  };
  refresh();
  const notify = (): void => {
    refresh();
    for (const listener of listeners) listener();
  };
  // Drops keys whose retirement time has passed; checked lazily on lookup.
  const live = (entry: Entry): boolean => {
    if (entry.retiresAtMs !== undefined && clock.now() >= entry.retiresAtMs) {
      entries.delete(entry.kid);
      notify();
      return false;
    }
    return true;
  };

  const set: KeySet = {
    get algorithms() {
      return algorithms;
    },
    signingKey() {
      return { kid: signing.kid, alg: signing.alg, privateKey: signing.privateKey as CryptoKey };
    },
    verificationKey(kid) {
      const entry = entries.get(kid);
      if (entry === undefined || !live(entry)) return undefined;
      return { alg: entry.alg, key: entry.publicKey };
    },
    noteIssued(kid, expiresAtMs) {
      const entry = entries.get(kid);
      if (entry !== undefined && expiresAtMs > entry.lastExpiryMs) entry.lastExpiryMs = expiresAtMs;
    },
    async rotate(rotateOptions = {}) {
      let next: Entry;
      if (rotateOptions.key !== undefined) {
        next = await importEntry(rotateOptions.key);
        if (next.privateKey === undefined) throw invalidOptions('rotate needs a private key');
      } else {
        const alg = rotateOptions.alg ?? signing.alg;
        assertAlg(alg);
        next = await generateEntry(alg, extractable);
      }
      add(next);
      refresh();
      const old = signing;
      // The old key verifies every token it signed: until the last one expires, plus grace for skew.
      old.retiresAtMs = Math.max(old.lastExpiryMs, clock.now()) + graceMs;
      signing = next;
      return next.kid;
    },
    async addPublicKey(input) {
      // Keep the JWK's `alg` (publicPart drops it) and never import a private part.
      const alg = input.alg ?? (input.jwk?.alg as SigningAlgorithm | undefined);
      const entry = await importEntry({
        ...input,
        ...(alg === undefined ? {} : { alg }),
        jwk: input.jwk === undefined ? undefined : publicPart(input.jwk),
      } as KeyInput);
      entry.privateKey = undefined;
      entry.privateJwk = undefined;
      add(entry);
      refresh();
      return entry.kid;
    },
    removeKey(kid) {
      if (kid === signing.kid) throw invalidOptions('the signing key cannot be removed; rotate first');
      const removed = entries.delete(kid);
      if (removed) notify();
      return removed;
    },
    list() {
      return [...entries.values()].filter(live).map((e) => ({
        kid: e.kid,
        alg: e.alg,
        signing: e === signing,
        retiresAt: e.retiresAtMs === undefined ? undefined : new Date(e.retiresAtMs),
      }));
    },
    async jwks() {
      return {
        keys: [...entries.values()].filter(live).map((e) => ({ ...e.publicJwk, kid: e.kid, alg: e.alg, use: 'sig' })),
      };
    },
    async exportPrivateJwk(kid) {
      const entry = entries.get(kid);
      if (entry?.privateJwk === undefined) {
        throw authError('ERR_AUTH_INVALID_INPUT', 'no exportable private key with this kid', { kid });
      }
      return { ...entry.privateJwk, kid: entry.kid, alg: entry.alg };
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
  return set;
}
