import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '@provisioning/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519Signer, generateCheckpointKeyPair } from '../src/chain.js';
import { createAuditLog } from '../src/log.js';
import { jsonlSink } from '../src/sinks/jsonl.js';
import { sqliteAuditStore } from '../src/sqlite.js';
import type { AuditStore } from '../src/store.js';

const root = resolve(import.meta.dirname, '../../..');
const child = resolve(import.meta.dirname, 'fixtures/durable-writer.ts');
const keys = generateCheckpointKeyPair();
const pem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const signer = ed25519Signer({ privateKey: pem });
const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

interface RunResult {
  acked: Map<number, string>;
  errors: string[];
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Runs the writer; kills it with SIGKILL after `killAfterAcks` acknowledgements (if given). */
function runWriter(
  kind: string,
  dir: string,
  options: { killAfterAcks?: number; count?: number; fileSizeLimit?: number },
): Promise<RunResult> {
  const nodeArgs = [
    '--import',
    'tsx',
    '--conditions=@provisioning/source',
    child,
    kind,
    dir,
    String(options.count ?? 'Infinity'),
  ];
  const [cmd, args] =
    options.fileSizeLimit !== undefined
      ? ['prlimit', [`--fsize=${options.fileSizeLimit}`, '--', process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
  const proc = spawn(cmd as string, args as string[], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const acked = new Map<number, string>();
  const errors: string[] = [];
  let buffer = '';
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c;
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`writer timed out; stderr: ${stderr}`));
    }, 60_000);
    proc.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const [what, a, b] = line.split(' ');
        if (what === 'ack') acked.set(Number(a), b as string);
        if (what === 'err') errors.push(`${a} ${b}`);
        if (options.killAfterAcks !== undefined && acked.size >= options.killAfterAcks && proc.exitCode === null) {
          proc.kill('SIGKILL');
        }
        nl = buffer.indexOf('\n');
      }
    });
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (options.killAfterAcks === undefined && code !== 0) reject(new Error(`writer failed (${code}): ${stderr}`));
      else resolvePromise({ acked, errors, exit: { code, signal } });
    });
  });
}

async function checkAfterCrash(store: AuditStore, acked: Map<number, string>): Promise<void> {
  const log = await createAuditLog({ sinks: [store], signer });
  const result = await log.verify();
  expect(result.problems).toEqual([]);
  expect(result.ok).toBe(true);
  const stored = new Map<number, string>();
  for await (const r of store.scan()) stored.set(r.seq, r.event.id);
  for (const [seq, id] of acked) expect(stored.get(seq), `acknowledged event ${seq}`).toBe(id);
  // The log goes on from where the crash left it.
  const next = await log.record(
    { action: 'auth.logout', outcome: 'success', actor: { id: 'u', type: 'user' } },
    { durable: true },
  );
  expect(next.seq).toBe((result.head?.seq ?? 0) + 1);
  expect(await log.verify()).toMatchObject({ ok: true });
  await log.close();
}

for (const kind of ['jsonl', 'sqlite'] as const) {
  describe(`crash safety: ${kind}`, () => {
    it(`durability: every event acknowledged before SIGKILL is present and the chain verifies (${kind})`, async () => {
      const dir = tempDir(`audit-crash-${kind}-`);
      dirs.push(dir);
      writeFileSync(join(dir.path, 'key.pem'), pem, { mode: 0o600 });
      const run = await runWriter(kind, dir.path, { killAfterAcks: 300 });
      expect(run.exit.signal).toBe('SIGKILL');
      expect(run.acked.size).toBeGreaterThanOrEqual(300);
      const store =
        kind === 'sqlite'
          ? await sqliteAuditStore({ filename: join(dir.path, 'audit.db') })
          : jsonlSink({ directory: dir.path });
      await checkAfterCrash(store, run.acked);
    }, 60_000);
  });
}

describe('full disk at runtime (JSONL)', () => {
  it('a file-size limit hit mid-batch (EFBIG): typed errors, and the file holds only whole, verified, acknowledged batches', async () => {
    const dir = tempDir('audit-efbig-');
    dirs.push(dir);
    writeFileSync(join(dir.path, 'key.pem'), pem, { mode: 0o600 });
    const run = await runWriter('jsonl', dir.path, { count: 2000, fileSizeLimit: 150_000 });
    expect(run.errors.length).toBeGreaterThan(0);
    expect(
      run.errors.every((e) => e.startsWith('ERR_AUDIT_SINK_WRITE')),
      run.errors.join(),
    ).toBe(true);
    expect(run.errors.some((e) => e.endsWith('EFBIG'))).toBe(true);
    expect(run.acked.size).toBeGreaterThan(100);
    await checkAfterCrash(jsonlSink({ directory: dir.path }), run.acked);
  }, 60_000);
});
