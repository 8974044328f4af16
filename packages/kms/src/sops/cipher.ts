import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import type { RandomSource } from '@provisioning/core';
import { clientError, decryptFailed } from '../errors.js';
import type { SopsNode } from './tree.js';
import { floatNumber, goFormatFloat } from './tree.js';

/** Which values get encrypted: sops's four (mutually exclusive) selectors. */
export interface SopsSelectors {
  /** Keys (anywhere on the path) ending in this stay plaintext (sops `unencrypted_suffix`, default `_unencrypted`). */
  readonly unencryptedSuffix?: string;
  /** Only keys on the path ending in this are encrypted (`encrypted_suffix`). */
  readonly encryptedSuffix?: string;
  /** Keys on the path matching this stay plaintext (`unencrypted_regex`). */
  readonly unencryptedRegex?: string;
  /** Only keys on the path matching this are encrypted (`encrypted_regex`). */
  readonly encryptedRegex?: string;
  /** Hash only the encrypted values into the MAC (sops `mac_only_encrypted`). */
  readonly macOnlyEncrypted?: boolean;
}

const ENC =
  /^ENC\[AES256_GCM,data:([A-Za-z0-9+/]*={0,2}),iv:([A-Za-z0-9+/]+={0,2}),tag:([A-Za-z0-9+/]+={0,2}),type:(str|int|float|bool|bytes|comment)\]$/;

/** @internal Whether a string is an sops `ENC[…]` value. */
export function isEncValue(value: string): boolean {
  return ENC.test(value);
}

/** @internal The bytes sops hashes and encrypts for a scalar, as Go prints it. */
export function valueBytes(n: SopsNode): Buffer {
  switch (n.kind) {
    case 'str':
      return Buffer.from(n.value, 'utf8');
    case 'int':
      return Buffer.from(BigInt(n.value).toString(), 'ascii');
    case 'float':
      return Buffer.from(goFormatFloat(floatNumber(n.value)), 'ascii');
    case 'bool':
      return Buffer.from(n.value ? 'True' : 'False', 'ascii');
    default:
      throw clientError('ERR_KMS_SOPS_MALFORMED', 'not a scalar');
  }
}

function typeOf(n: SopsNode): 'str' | 'int' | 'float' | 'bool' {
  if (n.kind === 'str' || n.kind === 'int' || n.kind === 'float' || n.kind === 'bool') return n.kind;
  throw clientError('ERR_KMS_SOPS_MALFORMED', 'not a scalar');
}

/**
 * @internal Encrypts one value as sops does: AES-256-GCM, 32-byte IV, the
 * additional data being the key path joined with ':' plus a trailing ':'.
 */
export function encryptValue(plain: Buffer, type: string, key: Buffer, aad: string, random: RandomSource): string {
  const iv = Buffer.from(random.bytes(32));
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${cipher.getAuthTag().toString('base64')},type:${type}]`;
}

/** @internal Decrypts one `ENC[…]` value; throws `ERR_KMS_SOPS_MALFORMED` or `ERR_KMS_DECRYPT_FAILED` (with the path, never the value). */
export function decryptValue(value: string, key: Buffer, aad: string): { plain: Buffer; type: string } {
  const m = ENC.exec(value);
  if (!m) throw clientError('ERR_KMS_SOPS_MALFORMED', 'a value is not in sops ENC[] form', { path: aad });
  const iv = Buffer.from(m[2] as string, 'base64');
  const tag = Buffer.from(m[3] as string, 'base64');
  if (iv.length !== 32 || tag.length !== 16) {
    throw clientError('ERR_KMS_SOPS_MALFORMED', 'a value has a bad IV or tag length', { path: aad });
  }
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return {
      plain: Buffer.concat([decipher.update(Buffer.from(m[1] as string, 'base64')), decipher.final()]),
      type: m[4] as string,
    };
  } catch {
    throw decryptFailed({ path: aad });
  }
}

/** @internal Turns a decrypted value back into a typed node (as sops's `type:` says). */
export function typedNode(plain: Buffer, type: string, path: string): SopsNode {
  const text = plain.toString('utf8');
  switch (type) {
    case 'str':
    case 'bytes':
      return { kind: 'str', value: text };
    case 'int':
      if (!/^[-+]?\d+$/.test(text))
        throw clientError('ERR_KMS_SOPS_MALFORMED', 'an int value does not parse', { path });
      return { kind: 'int', value: BigInt(text).toString() };
    case 'float':
      floatNumber(text);
      // sops <= 3.13.1 wrote integers as type:float; they stay exact integers here.
      return /^-?\d+$/.test(text) ? { kind: 'int', value: text } : { kind: 'float', value: text };
    case 'bool': {
      // strconv.ParseBool's spellings.
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return { kind: 'bool', value: true };
      if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return { kind: 'bool', value: false };
      throw clientError('ERR_KMS_SOPS_MALFORMED', 'a bool value does not parse', { path });
    }
    default:
      throw clientError('ERR_KMS_SOPS_MALFORMED', 'unsupported sops value type', { path, type });
  }
}

function shouldEncrypt(path: readonly string[], s: SopsSelectors): boolean {
  let encrypted = true;
  if (s.unencryptedSuffix) {
    if (path.some((p) => p.endsWith(s.unencryptedSuffix as string))) encrypted = false;
  }
  if (s.encryptedSuffix) encrypted = path.some((p) => p.endsWith(s.encryptedSuffix as string));
  if (s.unencryptedRegex) {
    const re = new RegExp(s.unencryptedRegex);
    if (path.some((p) => re.test(p))) encrypted = false;
  }
  if (s.encryptedRegex) {
    const re = new RegExp(s.encryptedRegex);
    encrypted = path.some((p) => re.test(p));
  }
  return encrypted;
}

type Leaf = (node: SopsNode, path: readonly string[], encrypt: boolean) => SopsNode;

/** @internal Walks the tree in document order (list indices are not part of the path, as in sops). */
function walk(node: SopsNode, path: string[], selectors: SopsSelectors, leaf: Leaf): SopsNode {
  switch (node.kind) {
    case 'map':
      return { kind: 'map', entries: node.entries.map(([k, v]) => [k, walk(v, [...path, k], selectors, leaf)]) };
    case 'list':
      return { kind: 'list', items: node.items.map((v) => walk(v, path, selectors, leaf)) };
    case 'null':
      // sops neither encrypts nor hashes null.
      return node;
    default:
      return leaf(node, path, shouldEncrypt(path, selectors));
  }
}

/** @internal Encrypts every selected value; returns the new tree and the MAC (uppercase hex SHA-512). */
export function encryptTree(
  tree: SopsNode,
  key: Buffer,
  selectors: SopsSelectors,
  random: RandomSource,
): { tree: SopsNode; mac: string } {
  const hash = createHash('sha512');
  const out = walk(tree, [], selectors, (node, path, encrypt) => {
    const bytes = valueBytes(node);
    if (!selectors.macOnlyEncrypted || encrypt) hash.update(bytes);
    if (!encrypt) return node;
    // sops leaves empty strings as they are.
    if (node.kind === 'str' && node.value === '') return node;
    return { kind: 'str', value: encryptValue(bytes, typeOf(node), key, `${path.join(':')}:`, random) };
  });
  return { tree: out, mac: hash.digest('hex').toUpperCase() };
}

/** @internal Decrypts every selected value; returns the plaintext tree and the MAC computed over it. */
export function decryptTree(tree: SopsNode, key: Buffer, selectors: SopsSelectors): { tree: SopsNode; mac: string } {
  const hash = createHash('sha512');
  const out = walk(tree, [], selectors, (node, path, encrypt) => {
    if (!encrypt) {
      if (!selectors.macOnlyEncrypted) hash.update(valueBytes(node));
      return node;
    }
    if (node.kind === 'str' && node.value === '') return node;
    const aad = `${path.join(':')}:`;
    if (node.kind !== 'str')
      throw clientError('ERR_KMS_SOPS_MALFORMED', 'a value that should be encrypted is not', { path: aad });
    const { plain, type } = decryptValue(node.value, key, aad);
    const typed = typedNode(plain, type, aad);
    hash.update(valueBytes(typed));
    return typed;
  });
  return { tree: out, mac: hash.digest('hex').toUpperCase() };
}
