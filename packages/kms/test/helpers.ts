import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { KmsError, type KmsErrorCode } from '../src/errors.js';

/** Renders everything an error could leak: message, details, toJSON, cause chain, stack. */
function everything(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (cur instanceof Error) {
      parts.push(cur.message, cur.stack ?? '', JSON.stringify(cur));
      cur = (cur as Error & { cause?: unknown }).cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join('\n');
}

/** Asserts `promise` rejects with a KmsError of `code` that mentions none of `secrets` in any encoding. */
export async function expectKmsError(
  promise: Promise<unknown> | (() => unknown),
  code: KmsErrorCode,
  secrets: readonly (string | Uint8Array)[] = [],
): Promise<KmsError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a rejection with ${code}`).toBeInstanceOf(KmsError);
  const err = caught as KmsError;
  expect(err.code).toBe(code);
  assertNoSecrets(err, secrets);
  return err;
}

/** Asserts no secret (as UTF-8, hex or base64) appears in what an error exposes. */
export function assertNoSecrets(err: unknown, secrets: readonly (string | Uint8Array)[]): void {
  const text = everything(err);
  for (const s of secrets) {
    const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
    if (bytes.length < 4) continue;
    for (const form of [
      bytes.toString('utf8'),
      bytes.toString('hex'),
      bytes.toString('base64'),
      bytes.toString('base64url'),
    ]) {
      expect(text.includes(form), 'an error exposes secret material').toBe(false);
    }
  }
}

/** A fresh temporary directory; call the returned cleanup in afterEach/afterAll. */
export async function tempDir(prefix = 'kms-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
