import { createHash } from 'node:crypto';
import { ComplianceError, invalidInput } from './errors.js';

/**
 * JSON with object keys sorted at every level and no whitespace, so the same
 * data always gives the same bytes and the same digest.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` for values JSON cannot represent
 * (functions, symbols, bigint, non-finite numbers, cycles).
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  // A walker rather than JSON.stringify with a sorting replacer: it refuses (instead of
  // silently dropping or nulling) what JSON cannot hold, so a digest never covers data other
  // than what was exported, and it reports cycles without exhausting the stack.
  const ancestors = new Set<object>();
  const walk = (v: unknown): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return JSON.stringify(v);
      case 'number':
        if (!Number.isFinite(v)) throw invalidInput('exported data holds a non-finite number');
        return JSON.stringify(v);
      case 'object': {
        if (ancestors.has(v)) throw invalidInput('exported data holds a cycle');
        ancestors.add(v);
        let out: string;
        if (Array.isArray(v)) {
          out = `[${v.map((x) => (x === undefined ? 'null' : walk(x))).join(',')}]`;
        } else if (v instanceof Date) {
          if (!Number.isFinite(v.getTime())) throw invalidInput('exported data holds an invalid date');
          out = JSON.stringify(v.toISOString());
        } else {
          const o = v as Record<string, unknown>;
          const entries: string[] = [];
          for (const k of Object.keys(o).sort()) {
            if (o[k] !== undefined) entries.push(`${JSON.stringify(k)}:${walk(o[k])}`);
          }
          out = `{${entries.join(',')}}`;
        }
        ancestors.delete(v);
        return out;
      }
      default:
        throw invalidInput(`exported data holds a value JSON cannot represent (${typeof v})`);
    }
  };
  return walk(value);
}

/**
 * SHA-256 of a string's UTF-8 bytes (or of bytes), lowercase hex.
 *
 * @example
 * ```ts
 * sha256Hex(canonicalJson(section)); // the digest a manifest lists
 * ```
 */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One provider's entry in an export manifest. */
export interface ExportManifestSection {
  readonly provider: string;
  readonly status: 'succeeded' | 'failed' | 'not_applicable';
  /** SHA-256 (hex) of the canonical JSON of `sections[provider]`; absent when no section was exported. */
  readonly sha256?: string;
  /** Size of that canonical JSON in UTF-8 bytes. */
  readonly bytes?: number;
  readonly records?: number;
  readonly subjectFound?: boolean;
}

/** The manifest of an {@link ExportBundle}. */
export interface ExportManifest {
  readonly requestId: string;
  readonly subjectId: string;
  readonly type: 'access' | 'portability';
  /** ISO 8601 time the bundle was made. */
  readonly generatedAt: string;
  readonly digestAlgorithm: 'sha-256';
  /** `false` when a provider failed: the bundle is missing that provider's data. */
  readonly complete: boolean;
  readonly sections: readonly ExportManifestSection[];
}

/**
 * A machine-readable export of a subject's data (GDPR Art. 15 and 20): per
 * provider sections plus a manifest with each section's SHA-256.
 */
export interface ExportBundle {
  readonly format: 'provisioning.dsr-export/v1';
  readonly manifest: ExportManifest;
  /** Each provider's data, by provider id. */
  readonly sections: Readonly<Record<string, unknown>>;
}

/**
 * Encrypts export bundles, e.g. with the KMS package's envelope encryption.
 * `context` is authenticated data (request id, purpose) the decrypter must
 * present again.
 */
export interface ExportEncrypter {
  encrypt(
    plaintext: Uint8Array,
    context: Readonly<Record<string, string>>,
  ): Promise<{ readonly ciphertext: Uint8Array | string; readonly keyId?: string; readonly algorithm?: string }>;
}

/**
 * An encrypted {@link ExportBundle}. Only the request id, time and digest are
 * in clear: the manifest names the subject, so it is inside the ciphertext.
 */
export interface EncryptedExport {
  readonly format: 'provisioning.dsr-export.encrypted/v1';
  readonly requestId: string;
  readonly generatedAt: string;
  /** SHA-256 (hex) of the plaintext bundle bytes (its canonical JSON). */
  readonly sha256: string;
  readonly keyId?: string;
  readonly algorithm?: string;
  /** The authenticated context passed to the encrypter. */
  readonly context: Readonly<Record<string, string>>;
  /** Base64 of the ciphertext (or the encrypter's own string form, as returned). */
  readonly ciphertext: string;
}

/**
 * Checks that every section of a bundle matches its manifest digest and that
 * no section is missing from the manifest or extra.
 *
 * @returns the provider ids whose sections do not match (empty when the bundle is intact).
 * @example
 * ```ts
 * if (verifyExportBundle(bundle).length > 0) throw new Error('tampered export');
 * ```
 */
export function verifyExportBundle(bundle: ExportBundle): string[] {
  const bad: string[] = [];
  const listed = new Set<string>();
  for (const section of bundle.manifest.sections) {
    listed.add(section.provider);
    const present = Object.hasOwn(bundle.sections, section.provider);
    if (section.sha256 === undefined) {
      if (present) bad.push(section.provider);
      continue;
    }
    if (!present || sha256Hex(canonicalJson(bundle.sections[section.provider])) !== section.sha256) {
      bad.push(section.provider);
    }
  }
  for (const id of Object.keys(bundle.sections)) if (!listed.has(id)) bad.push(id);
  return bad;
}

/**
 * Encrypts a bundle with an injected encrypter.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_ENCRYPTION_FAILED` (retryable) if the encrypter fails.
 * @example
 * ```ts
 * const sealed = await encryptExportBundle(bundle, kmsEncrypter);
 * ```
 */
export async function encryptExportBundle(bundle: ExportBundle, encrypter: ExportEncrypter): Promise<EncryptedExport> {
  const text = canonicalJson(bundle);
  const plaintext = new TextEncoder().encode(text);
  const context = { purpose: 'dsr-export', requestId: bundle.manifest.requestId };
  let sealed: Awaited<ReturnType<ExportEncrypter['encrypt']>>;
  try {
    sealed = await encrypter.encrypt(plaintext, context);
  } catch (error) {
    throw new ComplianceError('the export could not be encrypted', {
      code: 'ERR_COMPLIANCE_ENCRYPTION_FAILED',
      fault: 'server',
      retryable: true,
      // No cause: an encrypter's error could echo its input, which is the subject's data.
      details: {
        requestId: bundle.manifest.requestId,
        encrypterError: error instanceof Error ? error.name : typeof error,
      },
    });
  } finally {
    // Best effort: do not leave the plaintext copy lying around longer than needed.
    plaintext.fill(0);
  }
  const ciphertext =
    typeof sealed.ciphertext === 'string' ? sealed.ciphertext : Buffer.from(sealed.ciphertext).toString('base64');
  return {
    format: 'provisioning.dsr-export.encrypted/v1',
    requestId: bundle.manifest.requestId,
    generatedAt: bundle.manifest.generatedAt,
    sha256: sha256Hex(text),
    ...(sealed.keyId !== undefined ? { keyId: sealed.keyId } : {}),
    ...(sealed.algorithm !== undefined ? { algorithm: sealed.algorithm } : {}),
    context,
    ciphertext,
  };
}
