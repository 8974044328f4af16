import type { KeyObject } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { AuditError } from './errors.js';
import type { AuditEvent } from './events.js';

/** The `prev` of the first event: 64 zero hex digits. */
export const GENESIS_HASH: string = '0'.repeat(64);

/** An event with its place in the chain, as the log hands it to sinks. */
export interface ChainedRecord {
  /** Position in the chain, from 1, without gaps. */
  readonly seq: number;
  /** SHA-256 (hex) over the previous hash, `seq` and the canonical event. */
  readonly hash: string;
  readonly event: AuditEvent;
  /** The canonical JSON of `event` that `hash` covers. */
  readonly json: string;
}

/** The last link of a chain. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

// crypto.hash (Node >= 20.12) is a one-shot digest without a Hash object: about twice as fast for small inputs.
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/**
 * The chain hash of one event: `SHA-256(prev + "\n" + seq + "\n" + canonicalJson)`, hex.
 * Covering `seq` makes reordering and renumbering detectable; covering `prev`
 * makes deletion and insertion detectable.
 *
 * @example
 * ```ts
 * const hash = chainHash(GENESIS_HASH, 1, canonicalJson(event));
 * ```
 */
export function chainHash(prev: string, seq: number, json: string): string {
  const data = `${prev}\n${seq}\n${json}`;
  return oneShot !== undefined ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

/** A signed statement that the chain had `seq` events ending in `hash` at `time`. */
export interface SignedCheckpoint {
  readonly seq: number;
  readonly hash: string;
  /** ISO 8601 time of signing. */
  readonly time: string;
  /** Identifies the signing key (for rotation). */
  readonly keyId: string;
  /** Ed25519 signature, base64url, over {@link checkpointMessage}. */
  readonly signature: string;
}

/** A range of sequence numbers removed by a retention purge, and the hash of its last event. */
export interface PurgeRange {
  readonly fromSeq: number;
  readonly toSeq: number;
  /** Chain hash of the event at `toSeq`: verification continues the chain from it. */
  readonly lastHash: string;
}

/** The signed record a retention purge leaves behind, so verification still passes. */
export interface PurgeRecord {
  readonly id: string;
  /** ISO 8601 time of the purge. */
  readonly time: string;
  /** The ranges purged (cumulative for JSONL; this purge's for SQL). */
  readonly ranges: readonly PurgeRange[];
  readonly count: number;
  readonly keyId: string;
  /** Ed25519 signature, base64url, over {@link purgeMessage}. */
  readonly signature: string;
}

/** Signs checkpoints and purge records. */
export interface CheckpointSigner {
  readonly keyId: string;
  /** The public key verifiers need. */
  readonly publicKey: KeyObject;
  sign(message: Uint8Array): Uint8Array;
}

/**
 * The bytes a checkpoint signature covers (domain-separated so it cannot be replayed as anything else).
 *
 * @example
 * ```ts
 * crypto.verify(null, checkpointMessage(cp), publicKey, Buffer.from(cp.signature, 'base64url'));
 * ```
 */
export function checkpointMessage(cp: Pick<SignedCheckpoint, 'seq' | 'hash' | 'time' | 'keyId'>): Buffer {
  return Buffer.from(`provisioning-audit-checkpoint/v1\n${cp.keyId}\n${cp.seq}\n${cp.hash}\n${cp.time}`);
}

/**
 * The bytes a purge record's signature covers (domain-separated).
 *
 * @example
 * ```ts
 * crypto.verify(null, purgeMessage(record), publicKey, Buffer.from(record.signature, 'base64url'));
 * ```
 */
export function purgeMessage(p: Pick<PurgeRecord, 'id' | 'time' | 'ranges' | 'count' | 'keyId'>): Buffer {
  return Buffer.from(
    `provisioning-audit-purge/v1\n${canonicalJson({ id: p.id, time: p.time, ranges: p.ranges, count: p.count, keyId: p.keyId })}`,
  );
}

/** Options of {@link ed25519Signer}. */
export interface Ed25519SignerOptions {
  /** The private key: a KeyObject or a PKCS#8 PEM string. */
  readonly privateKey: KeyObject | string;
  /** Key id written into checkpoints. Default: the first 16 hex digits of SHA-256 of the public key (SPKI DER). */
  readonly keyId?: string;
}

/**
 * A checkpoint signer over an Ed25519 private key (node:crypto).
 *
 * @throws AuditError `ERR_AUDIT_INVALID_OPTIONS` if the key is not Ed25519.
 * @example
 * ```ts
 * const { privateKey } = generateCheckpointKeyPair();
 * const signer = ed25519Signer({ privateKey });
 * ```
 */
export function ed25519Signer(options: Ed25519SignerOptions): CheckpointSigner {
  let privateKey: KeyObject;
  try {
    privateKey = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  } catch (error) {
    throw new AuditError('the checkpoint key cannot be read', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
      cause: error,
    });
  }
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AuditError('checkpoints are signed with an Ed25519 private key', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const publicKey = createPublicKey(privateKey);
  const keyId =
    options.keyId ??
    createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex')
      .slice(0, 16);
  return Object.freeze({
    keyId,
    publicKey,
    sign: (message: Uint8Array): Uint8Array => sign(null, message, privateKey),
  });
}

/**
 * Generates an Ed25519 key pair for checkpoints. Keep the private key in your
 * KMS or secret store; give verifiers the public key.
 *
 * @example
 * ```ts
 * const { privateKey, publicKey } = generateCheckpointKeyPair();
 * ```
 */
export function generateCheckpointKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** @internal Signs a checkpoint. */
export function signCheckpoint(signer: CheckpointSigner, head: ChainHead, timeMs: number): SignedCheckpoint {
  const body = { seq: head.seq, hash: head.hash, time: new Date(timeMs).toISOString(), keyId: signer.keyId };
  return { ...body, signature: Buffer.from(signer.sign(checkpointMessage(body))).toString('base64url') };
}

/** @internal Signs a purge record. */
export function signPurge(
  signer: CheckpointSigner,
  body: Pick<PurgeRecord, 'id' | 'time' | 'ranges' | 'count'>,
): PurgeRecord {
  const full = { ...body, keyId: signer.keyId };
  return { ...full, signature: Buffer.from(signer.sign(purgeMessage(full))).toString('base64url') };
}

function checkSignature(message: Buffer, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, message, publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** One stored entry as a sink reads it back, in storage order. */
export interface StoredEntry {
  readonly seq: number;
  readonly hash: string;
  /** The stored event (parsed). Verification re-canonicalizes it. */
  readonly event: unknown;
  /** Where it was found (file and line, or table), for problem reports. */
  readonly at?: string;
}

/** A problem {@link verifyChain} found. */
export interface VerifyProblem {
  readonly kind:
    | 'modified'
    | 'missing'
    | 'duplicate'
    | 'reordered'
    | 'truncated'
    | 'malformed'
    | 'checkpoint_invalid'
    | 'checkpoint_mismatch'
    | 'purge_invalid';
  /** The sequence number concerned (the first of a range for `missing`). */
  readonly seq?: number;
  /** The last sequence number of a `missing` range; the checkpoint's seq for `truncated`. */
  readonly toSeq?: number;
  readonly at?: string;
}

/** The result of a verification. */
export interface VerifyResult {
  /** No problem found. */
  readonly ok: boolean;
  /** Events checked. */
  readonly count: number;
  /** The last link found. */
  readonly head?: ChainHead;
  /** Valid checkpoints that matched the chain. */
  readonly checkpointsVerified: number;
  /** Events after the latest valid checkpoint: chained, but not yet covered by a signature. */
  readonly unsignedTail: number;
  /** Events accounted for by signed purge records. */
  readonly purged: number;
  readonly problems: readonly VerifyProblem[];
}

/** Inputs of {@link verifyChain}. */
export interface VerifyChainInput {
  readonly entries: AsyncIterable<StoredEntry> | Iterable<StoredEntry>;
  readonly checkpoints: readonly SignedCheckpoint[];
  readonly purges: readonly PurgeRecord[];
  /** The key checkpoints and purge records must be signed with. Without it they are not trusted. */
  readonly publicKey?: KeyObject | string;
  /** A checkpoint kept outside the log (published, or mailed to an auditor): the chain must reach it. */
  readonly trustedCheckpoint?: SignedCheckpoint;
  /** Stop collecting problems after this many. Default 1000. */
  readonly maxProblems?: number;
}

/**
 * Verifies a chain: every event's hash, the links between events, that no
 * sequence number is missing (except ranges in signed purge records),
 * duplicated or out of order, and that every signed checkpoint matches the
 * chain and is not beyond its end (a truncated tail).
 *
 * @example
 * ```ts
 * const result = await verifyChain({ entries: store.read(), checkpoints: await store.checkpoints(), purges: await store.purges(), publicKey });
 * if (!result.ok) alert(result.problems);
 * ```
 */
export async function verifyChain(input: VerifyChainInput): Promise<VerifyResult> {
  const problems: VerifyProblem[] = [];
  const maxProblems = input.maxProblems ?? 1000;
  const report = (p: VerifyProblem): void => {
    if (problems.length < maxProblems) problems.push(p);
  };
  const publicKey =
    input.publicKey === undefined
      ? undefined
      : typeof input.publicKey === 'string'
        ? createPublicKey(input.publicKey)
        : input.publicKey;

  // Purge ranges are trusted only under a valid signature.
  const ranges: PurgeRange[] = [];
  for (const purge of input.purges) {
    if (publicKey === undefined || !checkSignature(purgeMessage(purge), purge.signature, publicKey)) {
      report({ kind: 'purge_invalid' });
      continue;
    }
    ranges.push(...purge.ranges);
  }
  ranges.sort((x, y) => x.fromSeq - y.fromSeq);
  const purgedEnd = new Map<number, PurgeRange>();
  for (const r of ranges) purgedEnd.set(r.fromSeq, r);

  const checkpoints: SignedCheckpoint[] = [];
  for (const cp of [...input.checkpoints, ...(input.trustedCheckpoint ? [input.trustedCheckpoint] : [])]) {
    if (publicKey === undefined || !checkSignature(checkpointMessage(cp), cp.signature, publicKey)) {
      report({ kind: 'checkpoint_invalid', seq: cp.seq });
      continue;
    }
    checkpoints.push(cp);
  }
  const wanted = new Map<number, string | undefined>(checkpoints.map((cp) => [cp.seq, undefined]));

  let prev = GENESIS_HASH;
  let expected = 1;
  let count = 0;
  let purged = 0;
  const seen = new Set<number>();
  // Follows signed purge ranges from `expected`: when they end right before
  // `until` (or anywhere, at the end), the chain continues from the hash of
  // the last purged event. A range whose events are still present (a crash
  // between writing the purge record and deleting) is simply not used.
  const skipPurged = (until: number): void => {
    let e = expected;
    let hash: string | undefined;
    let n = 0;
    const hit: PurgeRange[] = [];
    for (let r = purgedEnd.get(e); r !== undefined && r.toSeq < until; r = purgedEnd.get(e)) {
      n += r.toSeq - r.fromSeq + 1;
      hash = r.lastHash;
      hit.push(r);
      e = r.toSeq + 1;
    }
    if (hash === undefined || (until !== Number.POSITIVE_INFINITY && e !== until)) return;
    for (const r of hit) if (wanted.has(r.toSeq)) wanted.set(r.toSeq, r.lastHash);
    purged += n;
    prev = hash;
    expected = e;
  };
  for await (const entry of input.entries) {
    if (!Number.isSafeInteger(entry.seq) || typeof entry.hash !== 'string') {
      report({ kind: 'malformed', ...(entry.at ? { at: entry.at } : {}) });
      continue;
    }
    if (entry.seq > expected) skipPurged(entry.seq);
    const at = entry.at ? { at: entry.at } : {};
    if (entry.seq < expected) {
      report({ kind: seen.has(entry.seq) ? 'duplicate' : 'reordered', seq: entry.seq, ...at });
      continue;
    }
    let linked = true;
    if (entry.seq > expected) {
      report({ kind: 'missing', seq: expected, toSeq: entry.seq - 1, ...at });
      // The link into this entry cannot be checked: its predecessor is gone.
      linked = false;
    }
    seen.add(entry.seq);
    count++;
    if (linked) {
      let json: string;
      try {
        json = canonicalJson(entry.event);
      } catch {
        json = '';
      }
      if (chainHash(prev, entry.seq, json) !== entry.hash) report({ kind: 'modified', seq: entry.seq, ...at });
    }
    if (wanted.has(entry.seq)) wanted.set(entry.seq, entry.hash);
    prev = entry.hash;
    expected = entry.seq + 1;
  }
  skipPurged(Number.POSITIVE_INFINITY);
  const lastSeq = expected - 1;
  let checkpointsVerified = 0;
  let latestCheckpoint = 0;
  for (const cp of checkpoints) {
    if (cp.seq > lastSeq) {
      report({ kind: 'truncated', seq: lastSeq, toSeq: cp.seq });
      continue;
    }
    const found = wanted.get(cp.seq);
    if (found === undefined) continue; // purged without its hash being at a range end: nothing to compare
    if (found !== cp.hash) {
      report({ kind: 'checkpoint_mismatch', seq: cp.seq });
      continue;
    }
    checkpointsVerified++;
    latestCheckpoint = Math.max(latestCheckpoint, cp.seq);
  }
  return {
    ok: problems.length === 0,
    count,
    ...(lastSeq > 0 ? { head: { seq: lastSeq, hash: prev } } : {}),
    checkpointsVerified,
    unsignedTail: Math.max(0, lastSeq - latestCheckpoint),
    purged,
    problems,
  };
}
