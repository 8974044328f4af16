import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Clock, RandomSource } from '@provisioning/core';
import { systemClock, systemRandom } from '@provisioning/core';
import { writeFileAtomic } from './atomic-file.js';
import { clientError, KmsError, serverError } from './errors.js';
import type { SopsSelectors } from './sops/cipher.js';
import { decryptTree, decryptValue, encryptTree, encryptValue, isEncValue } from './sops/cipher.js';
import type { SopsKeyEntry, SopsKeySection, SopsKeySource } from './sops/keys.js';
import { rfc3339, sopsAge } from './sops/keys.js';
import type { SopsFormat, SopsMap, SopsNode } from './sops/tree.js';
import { fromJsValue, parseTree, stringifyTree, toJs } from './sops/tree.js';

export type { SopsSelectors } from './sops/cipher.js';
export type {
  SopsAgeOptions,
  SopsAwsKmsOptions,
  SopsKeyEntry,
  SopsKeySection,
  SopsKeySource,
  SopsVaultOptions,
} from './sops/keys.js';
export { sopsAge, sopsAwsKms, sopsVault } from './sops/keys.js';
export type { SopsFormat, SopsNode } from './sops/tree.js';
export { goFormatFloat } from './sops/tree.js';

/** The sops version written into new files' metadata (the format we follow and test against). */
export const SOPS_FORMAT_VERSION = '3.9.2';

/** Options shared by the SOPS functions. */
export interface SopsCommonOptions {
  /** The document format. Default: detected from the content. */
  readonly format?: SopsFormat;
}

/** Options of {@link encryptSops}. */
export interface SopsEncryptOptions extends SopsCommonOptions, SopsSelectors {
  /** Master keys to wrap the data key with. At least one entry must result. */
  readonly keys: readonly SopsKeySource[];
  /** Clock for `lastmodified` / `created_at`. Default: system clock. */
  readonly clock?: Clock;
  /** Source of the data key and IVs. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
}

/** Options of {@link decryptSops}. */
export interface SopsDecryptOptions extends SopsCommonOptions {
  /** Sources tried, in order, to unwrap the data key. */
  readonly keys: readonly SopsKeySource[];
}

/** Options of {@link updateSopsKeys}. */
export interface SopsUpdateKeysOptions extends SopsDecryptOptions {
  /** New master keys to add (wrapping the existing data key). */
  readonly add?: readonly SopsKeySource[];
  /** age recipients to remove. */
  readonly removeAgeRecipients?: readonly string[];
  /** Any other entry to remove (return `true` to drop it). */
  readonly remove?: (entry: SopsKeyEntry, section: SopsKeySection) => boolean;
  /** Clock for new entries' `created_at`. Default: system clock. */
  readonly clock?: Clock;
}

/** Options of {@link rotateSops}. */
export interface SopsRotateOptions extends SopsUpdateKeysOptions {
  /** Source of the new data key and IVs. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
}

/** Secret-free facts about a SOPS file. */
export interface SopsMetadataSummary {
  /** `lastmodified` as written (RFC 3339). */
  readonly lastModified: string;
  /** The sops version that wrote the file. */
  readonly version: string;
  /** age recipients holding the data key. */
  readonly ageRecipients: readonly string[];
  /** AWS KMS key ARNs holding the data key. */
  readonly kmsArns: readonly string[];
  /** Vault Transit keys holding the data key, as `<address>/v1/<mount>/keys/<name>`. */
  readonly vaultKeys: readonly string[];
  /** Which values are encrypted. */
  readonly selectors: SopsSelectors;
}

/** The result of {@link decryptSops}: plaintext, in memory only. */
export interface SopsDecryptResult {
  /** The format it was read as. */
  readonly format: SopsFormat;
  /** The plaintext as JavaScript values (integers beyond 2^53 as `bigint`). */
  readonly data: Record<string, unknown>;
  /** The plaintext document serialized in the same format (without the `sops` block). */
  readonly text: string;
  /** The metadata (no secrets). */
  readonly metadata: SopsMetadataSummary;
}

interface Metadata {
  sections: Record<SopsKeySection, SopsKeyEntry[]>;
  other: [string, SopsNode][];
  lastmodified: string;
  mac: string;
  selectors: SopsSelectors;
  version: string;
}

const SECTIONS: readonly SopsKeySection[] = ['kms', 'hc_vault', 'age'];

/**
 * Detects the format from a file name: `.json`, `.yaml`/`.yml`, `.toml`,
 * `.env` (or a name starting with `.env`); `undefined` otherwise.
 *
 * @example
 * ```ts
 * formatFromPath('config/secrets.enc.yaml'); // 'yaml'
 * ```
 */
export function formatFromPath(path: string): SopsFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.toml') return 'toml';
  if (ext === '.env' || ext === '.dotenv' || basename(path).startsWith('.env')) return 'dotenv';
  return undefined;
}

/**
 * Guesses the format from content: `{` starts JSON; lines that are all
 * `KEY=value` are dotenv; `[table]` headers or `key = value` lines are TOML;
 * anything else is YAML.
 *
 * @example
 * ```ts
 * sniffFormat('a: 1\n'); // 'yaml'
 * ```
 */
export function sniffFormat(text: string): SopsFormat {
  const t = text.trimStart();
  if (t.startsWith('{')) return 'json';
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  if (lines.length > 0 && lines.every((l) => /^[A-Za-z_][A-Za-z0-9_.-]*=/.test(l))) return 'dotenv';
  if (lines.some((l) => /^\s*\[\[?[^\]]+\]\]?\s*$/.test(l) || /^\s*[A-Za-z0-9_."'-]+\s*=\s/.test(l))) return 'toml';
  return 'yaml';
}

/**
 * Whether `text` is a SOPS-encrypted document (it has a `sops` block with a
 * MAC and `lastmodified`). Never throws.
 *
 * @example
 * ```ts
 * if (isSopsEncrypted(await readFile(p, 'utf8'))) config = (await decryptSops(text, { keys })).data;
 * ```
 */
export function isSopsEncrypted(text: string, format?: SopsFormat): boolean {
  try {
    const f = format ?? sniffFormat(text);
    const { meta } = split(parseTree(text, f), f);
    if (meta?.kind !== 'map') return false;
    const keys = new Set(meta.entries.map(([k]) => k));
    return keys.has('mac') && keys.has('lastmodified');
  } catch {
    return false;
  }
}

/**
 * Encrypts a JSON, YAML, dotenv or TOML document in SOPS's format: each
 * selected value becomes `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` under a
 * fresh 256-bit data key (32-byte IV; additional data = key path joined with
 * `:` plus `:`), the MAC (SHA-512 over all values in document order) is
 * encrypted with `lastmodified` as additional data, and the data key is
 * wrapped by each key source into the `sops` block. Without a selector,
 * keys ending in `_unencrypted` stay plaintext (sops's default).
 *
 * Rejects with `ERR_KMS_SOPS_MALFORMED` (unparseable input, no root map),
 * `ERR_KMS_SOPS_STATE` (already encrypted), `ERR_KMS_INVALID_OPTIONS`
 * (several selectors, no key source).
 *
 * @example
 * ```ts
 * import { encryptSops, sopsAge } from '@provisioning/kms/sops';
 * const enc = await encryptSops('{"db":{"password":"x"}}', { format: 'json', keys: [sopsAge({ recipients: [r] })] });
 * ```
 */
export async function encryptSops(plaintext: string, options: SopsEncryptOptions): Promise<string> {
  const format = options.format ?? sniffFormat(plaintext);
  const { data, meta } = split(parseTree(plaintext, format), format);
  if (meta) throw clientError('ERR_KMS_SOPS_STATE', 'the document is already sops-encrypted');
  const selectors = selectorsFrom(options);
  const random = options.random ?? systemRandom;
  const now = new Date((options.clock ?? systemClock).now());
  const dataKey = Buffer.from(random.bytes(32));
  try {
    const sections = emptySections();
    await wrapInto(sections, options.keys, dataKey, now);
    return seal(data, dataKey, sections, [], selectors, format, now, random);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Decrypts a SOPS document in memory (nothing is written to disk), verifying
 * every value's tag and the MAC. Files made by the real `sops` tool (age,
 * AWS KMS and Vault Transit master keys) decrypt.
 *
 * Rejects with `ERR_KMS_SOPS_STATE` (not encrypted), `ERR_KMS_SOPS_MALFORMED`,
 * `ERR_KMS_NO_MATCHING_KEY` (no key source unwraps the data key),
 * `ERR_KMS_DECRYPT_FAILED` (a value was tampered with; `details.path` names it),
 * `ERR_KMS_SOPS_MAC_MISMATCH` (values added, removed, reordered or changed).
 *
 * @example
 * ```ts
 * const { data } = await decryptSops(text, { keys: [sopsAge({ identities: [key] })] });
 * ```
 */
export async function decryptSops(text: string, options: SopsDecryptOptions): Promise<SopsDecryptResult> {
  const format = options.format ?? sniffFormat(text);
  const { data, metadata } = open(text, format);
  const dataKey = await unwrapDataKey(metadata, options.keys);
  try {
    const plain = verify(data, dataKey, metadata);
    return {
      format,
      data: toJs(plain) as Record<string, unknown>,
      text: stringifyTree(plain, format),
      metadata: summary(metadata),
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * `sops updatekeys`: adds and/or removes master keys, re-wrapping the same
 * data key; values, MAC and `lastmodified` stay as they are. The MAC is
 * verified first so a tampered file is never re-keyed.
 *
 * Rejects like {@link decryptSops}, and with `ERR_KMS_INVALID_OPTIONS` when no master key would remain.
 *
 * @example
 * ```ts
 * const next = await updateSopsKeys(text, { keys: [sopsAge({ identities: [mine] })], add: [sopsAge({ recipients: [newR] })] });
 * ```
 */
export async function updateSopsKeys(text: string, options: SopsUpdateKeysOptions): Promise<string> {
  const format = options.format ?? sniffFormat(text);
  const { data, metadata } = open(text, format);
  const dataKey = await unwrapDataKey(metadata, options.keys);
  try {
    verify(data, dataKey, metadata);
    const sections = pruned(metadata.sections, options);
    await wrapInto(sections, options.add ?? [], dataKey, new Date((options.clock ?? systemClock).now()), true);
    const next: Metadata = { ...metadata, sections };
    return assemble(data, next, format);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * `sops rotate`: a new data key, every value re-encrypted, a new MAC and
 * `lastmodified`, and the new data key wrapped for every existing master key
 * (age entries by their recipient; AWS KMS and Vault entries through a
 * matching key source in `keys` or `add`), plus `add`/`remove` as in {@link updateSopsKeys}.
 *
 * Rejects like {@link decryptSops}, and with `ERR_KMS_NO_MATCHING_KEY` when a
 * KMS/Vault entry has no matching key source to re-wrap with.
 *
 * @example
 * ```ts
 * const rotated = await rotateSops(text, { keys: [sopsAge({ identities: [mine] })] });
 * ```
 */
export async function rotateSops(text: string, options: SopsRotateOptions): Promise<string> {
  const format = options.format ?? sniffFormat(text);
  const { data, metadata } = open(text, format);
  const oldKey = await unwrapDataKey(metadata, options.keys);
  let plain: SopsNode;
  try {
    plain = verify(data, oldKey, metadata);
  } finally {
    oldKey.fill(0);
  }
  const random = options.random ?? systemRandom;
  const now = new Date((options.clock ?? systemClock).now());
  const kept = pruned(metadata.sections, options);
  const dataKey = Buffer.from(random.bytes(32));
  try {
    const sections = emptySections();
    const sources = [...options.keys, ...(options.add ?? [])];
    for (const section of SECTIONS) {
      for (const entry of kept[section]) {
        if (section === 'age' && typeof entry.recipient === 'string') {
          sections.age.push(...(await sopsAge({ recipients: [entry.recipient] }).wrap(dataKey, now)));
          continue;
        }
        const source = sources.find((s) => s.section === section && s.matches(entry));
        if (!source) {
          throw clientError('ERR_KMS_NO_MATCHING_KEY', 'no key source can re-wrap a master key of the file', {
            section,
          });
        }
        sections[section].push(...(await source.wrap(dataKey, now)));
      }
    }
    await wrapInto(sections, options.add ?? [], dataKey, now, true);
    return seal(plain, dataKey, sections, metadata.other, metadata.selectors, format, now, random);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Reads and decrypts a SOPS file into memory (format from the extension, else
 * detected). The plaintext is never written anywhere.
 *
 * Rejects with `ERR_KMS_IO` when the file cannot be read, else like {@link decryptSops}.
 *
 * @example
 * ```ts
 * const { data } = await decryptSopsFile('config/secrets.enc.toml', { keys });
 * ```
 */
export async function decryptSopsFile(path: string, options: SopsDecryptOptions): Promise<SopsDecryptResult> {
  const text = await readText(path);
  return decryptSops(text, { ...options, format: options.format ?? formatFromPath(path) ?? sniffFormat(text) });
}

/**
 * Encrypts `plaintext` and writes it to `path` atomically (temp file + fsync + rename, mode 0600):
 * a crash leaves the old file or the new one, never half of either.
 *
 * @example
 * ```ts
 * await encryptSopsFile('secrets.enc.yaml', 'db:\n  password: x\n', { keys: [sopsAge({ recipients: [r] })] });
 * ```
 */
export async function encryptSopsFile(path: string, plaintext: string, options: SopsEncryptOptions): Promise<void> {
  const text = await encryptSops(plaintext, {
    ...options,
    format: options.format ?? formatFromPath(path) ?? sniffFormat(plaintext),
  });
  await writeFileAtomic(path, text, { mode: 0o600 });
}

/**
 * {@link updateSopsKeys} on a file, written back atomically.
 *
 * @example
 * ```ts
 * await updateSopsFileKeys('secrets.enc.json', { keys, removeAgeRecipients: ['age1old…'] });
 * ```
 */
export async function updateSopsFileKeys(path: string, options: SopsUpdateKeysOptions): Promise<void> {
  const text = await readText(path);
  const next = await updateSopsKeys(text, {
    ...options,
    format: options.format ?? formatFromPath(path) ?? sniffFormat(text),
  });
  await writeFileAtomic(path, next, { mode: 0o600 });
}

/**
 * {@link rotateSops} on a file, written back atomically.
 *
 * @example
 * ```ts
 * await rotateSopsFile('secrets.enc.env', { keys });
 * ```
 */
export async function rotateSopsFile(path: string, options: SopsRotateOptions): Promise<void> {
  const text = await readText(path);
  const next = await rotateSops(text, {
    ...options,
    format: options.format ?? formatFromPath(path) ?? sniffFormat(text),
  });
  await writeFileAtomic(path, next, { mode: 0o600 });
}

// ---------------------------------------------------------------- internals

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw serverError('ERR_KMS_IO', 'cannot read the file', {
      details: { path, errno: (err as NodeJS.ErrnoException).code },
    });
  }
}

function emptySections(): Record<SopsKeySection, SopsKeyEntry[]> {
  return { kms: [], hc_vault: [], age: [] };
}

async function wrapInto(
  sections: Record<SopsKeySection, SopsKeyEntry[]>,
  sources: readonly SopsKeySource[],
  dataKey: Buffer,
  now: Date,
  allowNone = false,
): Promise<void> {
  for (const source of sources) sections[source.section].push(...(await source.wrap(dataKey, now)));
  if (!allowNone && SECTIONS.every((s) => sections[s].length === 0)) {
    throw clientError('ERR_KMS_INVALID_OPTIONS', 'at least one master key (recipient, KMS key, Vault key) is required');
  }
}

function pruned(
  sections: Record<SopsKeySection, SopsKeyEntry[]>,
  options: SopsUpdateKeysOptions,
): Record<SopsKeySection, SopsKeyEntry[]> {
  const removeAge = new Set(options.removeAgeRecipients ?? []);
  const out = emptySections();
  for (const section of SECTIONS) {
    out[section] = sections[section].filter(
      (e) =>
        !(section === 'age' && typeof e.recipient === 'string' && removeAge.has(e.recipient)) &&
        !(options.remove?.(e, section) ?? false),
    );
  }
  return out;
}

function selectorsFrom(options: SopsSelectors): SopsSelectors {
  const given = (['unencryptedSuffix', 'encryptedSuffix', 'unencryptedRegex', 'encryptedRegex'] as const).filter(
    (k) => options[k] !== undefined && options[k] !== '',
  );
  if (given.length > 1) {
    throw clientError(
      'ERR_KMS_INVALID_OPTIONS',
      'use only one of unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex',
    );
  }
  for (const k of ['unencryptedRegex', 'encryptedRegex'] as const) {
    if (options[k]) {
      try {
        new RegExp(options[k] as string);
      } catch {
        throw clientError('ERR_KMS_INVALID_OPTIONS', `${k} is not a valid regular expression`);
      }
    }
  }
  const base: SopsSelectors =
    given.length === 0
      ? { unencryptedSuffix: '_unencrypted' }
      : { [given[0] as string]: options[given[0] as keyof SopsSelectors] };
  return options.macOnlyEncrypted ? { ...base, macOnlyEncrypted: true } : base;
}

function seal(
  data: SopsNode,
  dataKey: Buffer,
  sections: Record<SopsKeySection, SopsKeyEntry[]>,
  other: [string, SopsNode][],
  selectors: SopsSelectors,
  format: SopsFormat,
  now: Date,
  random: RandomSource,
): string {
  const { tree, mac } = encryptTree(data, dataKey, selectors, random);
  const lastmodified = rfc3339(now);
  const metadata: Metadata = {
    sections,
    other,
    lastmodified,
    mac: encryptValue(Buffer.from(mac, 'ascii'), 'str', dataKey, lastmodified, random),
    selectors,
    version: SOPS_FORMAT_VERSION,
  };
  return assemble(tree, metadata, format);
}

function open(text: string, format: SopsFormat): { data: SopsNode; meta: SopsNode; metadata: Metadata } {
  const { data, meta } = split(parseTree(text, format), format);
  if (!meta) throw clientError('ERR_KMS_SOPS_STATE', 'the document is not sops-encrypted');
  return { data, meta, metadata: readMetadata(meta) };
}

async function unwrapDataKey(metadata: Metadata, sources: readonly SopsKeySource[]): Promise<Buffer> {
  let firstError: unknown;
  for (const section of SECTIONS) {
    for (const entry of metadata.sections[section]) {
      for (const source of sources) {
        if (source.section !== section) continue;
        try {
          const key = await source.unwrap(entry);
          if (key) {
            if (key.byteLength !== 32)
              throw clientError('ERR_KMS_SOPS_MALFORMED', 'the data key is not 32 bytes', { section });
            return Buffer.from(key);
          }
        } catch (err) {
          firstError ??= err;
        }
      }
    }
  }
  if (firstError instanceof KmsError && firstError.code !== 'ERR_KMS_NO_MATCHING_KEY') throw firstError;
  throw clientError('ERR_KMS_NO_MATCHING_KEY', 'none of the given keys can unwrap the data key');
}

function verify(data: SopsNode, dataKey: Buffer, metadata: Metadata): SopsNode {
  const { tree, mac } = decryptTree(data, dataKey, metadata.selectors);
  let stored: Buffer;
  try {
    // Additional data is `lastmodified`: changing the timestamp breaks the MAC too.
    stored = decryptValue(metadata.mac, dataKey, metadata.lastmodified).plain;
  } catch (err) {
    if (err instanceof KmsError && err.code === 'ERR_KMS_SOPS_MALFORMED') throw err;
    throw clientError('ERR_KMS_SOPS_MAC_MISMATCH', 'the sops MAC does not verify');
  }
  const computed = Buffer.from(mac, 'ascii');
  if (stored.length !== computed.length || !timingSafeEqual(stored, computed)) {
    throw clientError('ERR_KMS_SOPS_MAC_MISMATCH', 'the sops MAC does not match the values');
  }
  return tree;
}

function summary(m: Metadata): SopsMetadataSummary {
  return {
    lastModified: m.lastmodified,
    version: m.version,
    ageRecipients: m.sections.age.map((e) => String(e.recipient)),
    kmsArns: m.sections.kms.map((e) => String(e.arn)),
    vaultKeys: m.sections.hc_vault.map(
      (e) => `${String(e.vault_address)}/v1/${String(e.engine_path)}/keys/${String(e.key_name)}`,
    ),
    selectors: m.selectors,
  };
}

/** Splits a parsed document into data and the `sops` block (dotenv: the `sops_*` keys, unflattened). */
function split(root: SopsNode, format: SopsFormat): { data: SopsMap; meta: SopsNode | undefined } {
  if (root.kind !== 'map') throw clientError('ERR_KMS_SOPS_MALFORMED', 'the document root must be a map');
  if (format === 'dotenv') {
    const flat = root.entries.filter(([k]) => k.startsWith('sops_'));
    const data: SopsMap = { kind: 'map', entries: root.entries.filter(([k]) => !k.startsWith('sops_')) };
    return { data, meta: flat.length > 0 ? unflatten(flat) : undefined };
  }
  const meta = root.entries.find(([k]) => k === 'sops')?.[1];
  return { data: { kind: 'map', entries: root.entries.filter(([k]) => k !== 'sops') }, meta };
}

function assemble(data: SopsNode, metadata: Metadata, format: SopsFormat): string {
  if (data.kind !== 'map') throw clientError('ERR_KMS_SOPS_MALFORMED', 'the document root must be a map');
  const meta = writeMetadata(metadata);
  if (format === 'dotenv') {
    const flat = flatten(meta).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return stringifyTree({ kind: 'map', entries: [...data.entries, ...flat] }, format);
  }
  return stringifyTree({ kind: 'map', entries: [...data.entries, ['sops', meta]] }, format);
}

function readMetadata(node: SopsNode): Metadata {
  if (node.kind !== 'map') throw clientError('ERR_KMS_SOPS_MALFORMED', 'the sops block must be a map');
  const get = (k: string): SopsNode | undefined => node.entries.find(([key]) => key === k)?.[1];
  const str = (k: string): string | undefined => {
    const v = get(k);
    if (v === undefined || v.kind === 'null') return undefined;
    if (v.kind !== 'str')
      throw clientError('ERR_KMS_SOPS_MALFORMED', 'a sops metadata field has the wrong type', { field: k });
    return v.value;
  };
  const sections = emptySections();
  for (const section of SECTIONS) {
    const v = get(section);
    if (v === undefined || v.kind === 'null') continue;
    if (v.kind !== 'list')
      throw clientError('ERR_KMS_SOPS_MALFORMED', 'a sops key section must be a list', { field: section });
    for (const item of v.items) {
      if (item.kind !== 'map')
        throw clientError('ERR_KMS_SOPS_MALFORMED', 'a sops key entry must be a map', { field: section });
      sections[section].push(toJs(item) as SopsKeyEntry);
    }
  }
  const keyGroups = get('key_groups');
  if (keyGroups && keyGroups.kind === 'list' && keyGroups.items.length > 0) {
    throw clientError('ERR_KMS_UNSUPPORTED', 'sops key groups (Shamir secret sharing) are not supported');
  }
  const other: [string, SopsNode][] = node.entries.filter(
    ([k, v]) => ['gcp_kms', 'azure_kv', 'pgp'].includes(k) && v.kind === 'list' && v.items.length > 0,
  );
  const lastmodified = str('lastmodified');
  const mac = str('mac');
  if (!lastmodified || !mac || !isEncValue(mac)) {
    throw clientError('ERR_KMS_SOPS_MALFORMED', 'the sops block lacks lastmodified or mac');
  }
  const macOnly = get('mac_only_encrypted');
  const selectors: SopsSelectors = {
    ...(str('unencrypted_suffix') ? { unencryptedSuffix: str('unencrypted_suffix') } : {}),
    ...(str('encrypted_suffix') ? { encryptedSuffix: str('encrypted_suffix') } : {}),
    ...(str('unencrypted_regex') ? { unencryptedRegex: str('unencrypted_regex') } : {}),
    ...(str('encrypted_regex') ? { encryptedRegex: str('encrypted_regex') } : {}),
    ...((macOnly?.kind === 'bool' && macOnly.value) || (macOnly?.kind === 'str' && macOnly.value === 'true')
      ? { macOnlyEncrypted: true }
      : {}),
  };
  for (const k of ['unencryptedRegex', 'encryptedRegex'] as const) {
    if (selectors[k]) {
      try {
        new RegExp(selectors[k] as string);
      } catch {
        throw clientError('ERR_KMS_SOPS_MALFORMED', 'a sops regex does not compile', { field: k });
      }
    }
  }
  return { sections, other, lastmodified, mac, selectors, version: str('version') ?? SOPS_FORMAT_VERSION };
}

function writeMetadata(m: Metadata): SopsNode {
  const entries: [string, SopsNode][] = [];
  const list = (items: SopsKeyEntry[]): SopsNode => ({ kind: 'list', items: items.map((e) => fromJsValue(e)) });
  const other = (k: string): void => {
    const found = m.other.find(([key]) => key === k);
    if (found) entries.push(found);
  };
  if (m.sections.kms.length > 0) entries.push(['kms', list(m.sections.kms)]);
  other('gcp_kms');
  other('azure_kv');
  if (m.sections.hc_vault.length > 0) entries.push(['hc_vault', list(m.sections.hc_vault)]);
  if (m.sections.age.length > 0) entries.push(['age', list(m.sections.age)]);
  entries.push(['lastmodified', { kind: 'str', value: m.lastmodified }], ['mac', { kind: 'str', value: m.mac }]);
  other('pgp');
  const s = m.selectors;
  if (s.unencryptedSuffix) entries.push(['unencrypted_suffix', { kind: 'str', value: s.unencryptedSuffix }]);
  if (s.encryptedSuffix) entries.push(['encrypted_suffix', { kind: 'str', value: s.encryptedSuffix }]);
  if (s.unencryptedRegex) entries.push(['unencrypted_regex', { kind: 'str', value: s.unencryptedRegex }]);
  if (s.encryptedRegex) entries.push(['encrypted_regex', { kind: 'str', value: s.encryptedRegex }]);
  if (s.macOnlyEncrypted) entries.push(['mac_only_encrypted', { kind: 'bool', value: true }]);
  entries.push(['version', { kind: 'str', value: m.version }]);
  return { kind: 'map', entries };
}

// sops's dotenv store flattens the metadata: nested map keys get `__map_`, list indices `__list_N`.
function flatten(meta: SopsNode): [string, SopsNode][] {
  const out: [string, SopsNode][] = [];
  const go = (n: SopsNode, prefix: string): void => {
    if (n.kind === 'map') {
      for (const [k, v] of n.entries) go(v, `${prefix}__map_${k}`);
    } else if (n.kind === 'list') {
      for (const [i, v] of n.items.entries()) go(v, `${prefix}__list_${i}`);
    } else out.push([prefix, n.kind === 'bool' ? { kind: 'str', value: String(n.value) } : n]);
  };
  if (meta.kind !== 'map') return out;
  for (const [k, v] of meta.entries) go(v, `sops_${k}`);
  return out;
}

function unflatten(flat: [string, SopsNode][]): SopsNode {
  // Null-prototype containers and a key check: a crafted `sops___proto__…` line must not
  // reach Object.prototype.
  const root: Record<string, unknown> = Object.create(null);
  for (const [key, value] of flat) {
    const rest = key.slice('sops_'.length);
    const tokens = rest.split(/(?=__(?:map|list)_)/);
    const path: (string | number)[] = [tokens[0] as string];
    for (const t of tokens.slice(1)) {
      if (t.startsWith('__list_')) {
        const n = Number(t.slice(7));
        if (!Number.isInteger(n) || n < 0 || n > 10_000)
          throw clientError('ERR_KMS_SOPS_MALFORMED', 'bad sops dotenv key');
        path.push(n);
      } else path.push(t.slice(6));
    }
    if (path.some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype' || p === '')) {
      throw clientError('ERR_KMS_SOPS_MALFORMED', 'bad sops dotenv key');
    }
    let cur: Record<string | number, unknown> = root;
    path.forEach((p, i) => {
      if (i === path.length - 1) {
        cur[p] = value.kind === 'str' ? value.value : null;
        return;
      }
      const next = path[i + 1];
      if (!Object.hasOwn(cur, p)) cur[p] = typeof next === 'number' ? [] : Object.create(null);
      cur = cur[p] as Record<string | number, unknown>;
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur) !== (typeof next === 'number')) {
        throw clientError('ERR_KMS_SOPS_MALFORMED', 'bad sops dotenv key');
      }
    });
  }
  return fromJsValue(root);
}
