// Side-by-side envelope encryption of 1 KiB and 64 MiB payloads: ours (local and
// age backends, with and without the data-key cache; one-shot and streaming) vs the
// AWS Encryption SDK for JavaScript (@aws-crypto/client-node) with a raw AES keyring
// vs raw node:crypto AES-256-GCM with a fixed key (the limit: no key management at all).
// One awaited operation at a time: ops/s per core.

import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  NodeCachingMaterialsManager,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { Bench } from 'tinybench';
import { ageBackend, generateAgeIdentity } from '../src/age.js';
import { createEnvelope } from '../src/envelope.js';
import { localBackend } from '../src/local.js';

const dir = await mkdtemp(join(tmpdir(), 'kms-bench-'));
const local = await localBackend({ path: join(dir, 'keyring.json') });
const { identity } = await generateAgeIdentity();
const age = await ageBackend({ identities: [identity] });
const context = { tenant: 'bench', purpose: 'envelope' };

const ours = {
  localCached: createEnvelope({ backends: [local], cache: true }),
  localFresh: createEnvelope({ backends: [local] }),
  ageCached: createEnvelope({ backends: [age], cache: true }),
  ageFresh: createEnvelope({ backends: [age] }),
};

const { encrypt: esdkEncrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const keyring = new RawAesKeyringNode({
  keyName: 'bench',
  keyNamespace: 'bench',
  unencryptedMasterKey: new Uint8Array(randomBytes(32)),
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
});
const cachingCmm = new NodeCachingMaterialsManager({
  backingMaterials: keyring,
  cache: getLocalCryptographicMaterialsCache(1000),
  maxAge: 300_000,
  maxMessagesEncrypted: 1_000_000,
});
// The ESDK's default suite signs every message with ECDSA P-384; the unsigned committing
// suite is the like-for-like peer of ours (AES-256-GCM, HKDF, no signature).
const unsigned = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

const rawKey = randomBytes(32);
function rawGcm(data: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', rawKey, iv);
  return Buffer.concat([iv, c.update(data), c.final(), c.getAuthTag()]);
}

type Row = { task: string; 'ops/s': string; 'MiB/s': string; 'p99 (ms)': string; 'vs raw AES-GCM': string };
const rows: Row[] = [];

async function run(bench: Bench, size: number, baseline: string): Promise<void> {
  await bench.run();
  const hz = (name: string): number => {
    const t = bench.tasks.find((x) => x.name === name);
    return (t?.result as { throughput?: { mean: number } } | undefined)?.throughput?.mean ?? 0;
  };
  for (const t of bench.tasks) {
    const r = t.result as { throughput?: { mean: number }; latency?: { p99?: number } } | undefined;
    const ops = r?.throughput?.mean ?? 0;
    rows.push({
      task: t.name,
      'ops/s': ops >= 100 ? Math.round(ops).toLocaleString('en-US') : ops.toFixed(2),
      'MiB/s': ((ops * size) / 2 ** 20).toFixed(1),
      'p99 (ms)': r?.latency?.p99 === undefined ? '' : r.latency.p99.toFixed(3),
      'vs raw AES-GCM': `${(hz(t.name) / hz(baseline)).toFixed(2)}x`,
    });
  }
}

const small = randomBytes(1024);
const b1 = new Bench({ time: 2000, warmupTime: 300 });
b1.add('1 KiB raw node:crypto AES-256-GCM (limit)', () => void rawGcm(small));
b1.add('1 KiB ours local, cached data key', async () => void (await ours.localCached.encrypt(small, context)));
b1.add('1 KiB ours age, cached data key', async () => void (await ours.ageCached.encrypt(small, context)));
b1.add('1 KiB ours local, fresh data key', async () => void (await ours.localFresh.encrypt(small, context)));
b1.add(
  '1 KiB ours age, fresh data key (X25519 per message)',
  async () => void (await ours.ageFresh.encrypt(small, context)),
);
b1.add(
  '1 KiB AWS ESDK raw AES keyring, unsigned suite',
  async () => void (await esdkEncrypt(keyring, small, { encryptionContext: context, suiteId: unsigned })),
);
b1.add(
  '1 KiB AWS ESDK raw AES keyring + caching CMM, unsigned',
  async () => void (await esdkEncrypt(cachingCmm, small, { encryptionContext: context, suiteId: unsigned })),
);
b1.add(
  '1 KiB AWS ESDK raw AES keyring, default suite (ECDSA P-384)',
  async () => void (await esdkEncrypt(keyring, small, { encryptionContext: context })),
);
await run(b1, 1024, '1 KiB raw node:crypto AES-256-GCM (limit)');

const big = randomBytes(64 * 2 ** 20);
async function drain(gen: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of gen) n += c.byteLength;
  return n;
}
function* pieces(buf: Buffer, size: number): Generator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
const b2 = new Bench({ time: 4000, warmupTime: 0, iterations: 4, warmupIterations: 1 });
b2.add('64 MiB raw node:crypto AES-256-GCM (limit)', () => void rawGcm(big));
b2.add('64 MiB ours local, one-shot (64 KiB chunks)', async () => void (await ours.localFresh.encrypt(big, context)));
b2.add(
  '64 MiB ours local, streaming (64 KiB chunks)',
  async () => void (await drain(ours.localFresh.encryptStream(pieces(big, 1 << 20), context))),
);
b2.add(
  '64 MiB ours age, streaming (64 KiB chunks)',
  async () => void (await drain(ours.ageFresh.encryptStream(pieces(big, 1 << 20), context))),
);
b2.add(
  '64 MiB AWS ESDK raw AES keyring, unsigned suite',
  async () => void (await esdkEncrypt(keyring, big, { encryptionContext: context, suiteId: unsigned })),
);
await run(b2, 64 * 2 ** 20, '64 MiB raw node:crypto AES-256-GCM (limit)');

console.table(rows);
await rm(dir, { recursive: true, force: true });
