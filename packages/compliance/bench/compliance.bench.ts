// Throughput of the compliance package's hot paths. The issue names no peer
// libraries, so ratios compare our own variants: the DSR lifecycle on the
// memory store (baseline) vs the SQLite store, and report renderers vs the
// JSON renderer. One awaited operation at a time: ops/s per core.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { Bench } from 'tinybench';
import type { DataProvider, DsrStore } from '../src/index.js';
import {
  canonicalJson,
  createDsrService,
  createProviderRegistry,
  leasesReader,
  memoryDsrStore,
  mfaEnrollmentReader,
  renderHtmlReport,
  renderJsonReport,
  renderMarkdownReport,
  sha256Hex,
  tokenLifetimesReader,
  toOscalAssessmentResults,
} from '../src/index.js';
import { sqlDsrStore } from '../src/sql.js';
import { platformUnderTest } from '../test/platform.js';
import { sampleReport } from '../test/report-fixture.js';

type Row = { task: string; 'ops/s': string; ratio: string };
const rows: Row[] = [];

async function run(bench: Bench, baseline: string): Promise<void> {
  await bench.run();
  const hz = (name: string): number => {
    const t = bench.tasks.find((x) => x.name === name);
    return (t?.result as { throughput?: { mean: number } } | undefined)?.throughput?.mean ?? 0;
  };
  for (const t of bench.tasks) {
    rows.push({
      task: t.name,
      'ops/s': Math.round(hz(t.name)).toLocaleString('en-US'),
      ratio: t.name === baseline ? 'baseline' : `${(hz(t.name) / hz(baseline)).toFixed(2)}x`,
    });
  }
}

const provider = (id: string): DataProvider => ({
  id,
  erase: async () => ({ subjectFound: true, affected: 1, method: 'deleted' }),
  export: async ({ subjectId }) => ({
    subjectFound: true,
    data: { id: subjectId, email: `${subjectId}@example.test`, devices: [1, 2, 3] },
  }),
});
const providers = createProviderRegistry([provider('users'), provider('mfa-devices'), provider('sessions')]);
const verifier = { verify: async () => ({ verified: true, method: 'bench' }) };
let n = 0;
const lifecycle = (store: DsrStore, type: 'erasure' | 'access') => {
  const dsr = createDsrService({ store, providers, verifier });
  return async () => {
    const req = await dsr.submit({ type, subjectId: `user-${n++}` });
    await dsr.verifyIdentity(req.id, null);
    await dsr.process(req.id);
  };
};

const dir = mkdtempSync(join(tmpdir(), 'compliance-bench-'));
const sqlite = await sqlDsrStore({ database: sqliteDatabase({ filename: join(dir, 'dsr.db') }), ownsDatabase: true });
const dsrBench = new Bench({ time: 1000 });
dsrBench
  .add('DSR erasure lifecycle, memory store (3 providers)', lifecycle(memoryDsrStore(), 'erasure'))
  .add('DSR erasure lifecycle, SQLite store (3 providers)', lifecycle(sqlite, 'erasure'))
  .add('DSR access lifecycle + export bundle, memory store', lifecycle(memoryDsrStore(), 'access'));
await run(dsrBench, 'DSR erasure lifecycle, memory store (3 providers)');
await sqlite.close();
rmSync(dir, { recursive: true, force: true });

// The platform's real providers (auth, mfa, secrets, audit): an access request fans out to all six.
const platformDir = mkdtempSync(join(tmpdir(), 'compliance-bench-platform-'));
const clock = createManualClock(new Date('2026-06-01T09:00:00Z'));
const onMemory = await platformUnderTest({ clock });
const liteDb = sqliteDatabase({ filename: join(platformDir, 'platform.db') });
const onSqlite = await platformUnderTest({ clock, database: liteDb });
const platformAccess = async (p: typeof onMemory) => {
  const user = await p.seedUser('ada');
  const dsr = createDsrService({ store: memoryDsrStore(), providers: createProviderRegistry(p.providers), verifier });
  return async () => {
    const req = await dsr.submit({ type: 'access', subjectId: user.id });
    await dsr.verifyIdentity(req.id, null);
    await dsr.process(req.id);
  };
};
// Readers over a fleet of 1,000 users (20 privileged, all enrolled) and 1,000 leases.
for (let i = 0; i < 20; i++) await onMemory.seedUser(`admin-${i}`, ['Admin']);
for (let i = 0; i < 980; i++) {
  const dev = await onMemory.users.create({ username: `dev-${i}`, roles: ['Developer'] });
  await onMemory.leases.issue(onMemory.sshKeys, {}, { owner: dev.id, ttlSeconds: 900 });
}
const mfaReader = mfaEnrollmentReader({ users: onMemory.users, mfa: onMemory.mfa, environment: 'production' });
const leaseReader = leasesReader({ leases: onMemory.leases });
const tokenReader = tokenLifetimesReader({ tokens: onMemory.tokens });
const platformBench = new Bench({ time: 1000 });
platformBench
  .add('DSR access + export, 3 stub providers, memory store', lifecycle(memoryDsrStore(), 'access'))
  .add('DSR access + export, 6 platform providers, memory stores', await platformAccess(onMemory))
  .add('DSR access + export, 6 platform providers, one SQLite file', await platformAccess(onSqlite))
  .add('mfaEnrollmentReader, 1,000 users (20 privileged)', async () => void (await mfaReader.read()))
  .add('leasesReader, 1,000 leases', async () => void (await leaseReader.list()))
  .add('tokenLifetimesReader (probe session issued and revoked)', async () => void (await tokenReader.read()));
await run(platformBench, 'DSR access + export, 3 stub providers, memory store');
await onSqlite.log.close();
await onMemory.log.close();
await liteDb.close();
rmSync(platformDir, { recursive: true, force: true });

const report = await sampleReport();
const render = new Bench({ time: 1000 });
render
  .add('report: JSON', () => void renderJsonReport(report))
  .add('report: Markdown', () => void renderMarkdownReport(report))
  .add('report: HTML', () => void renderHtmlReport(report))
  .add('report: OSCAL assessment-results', () => void JSON.stringify(toOscalAssessmentResults(report)));
await run(render, 'report: JSON');

const big = {
  rows: Array.from({ length: 1000 }, (_, i) => ({
    id: i,
    email: `u${i}@example.test`,
    tags: ['a', 'b'],
    at: '2026-01-01',
  })),
};
const digest = new Bench({ time: 1000 });
digest
  .add('JSON.stringify + SHA-256, 1,000-row section', () => void sha256Hex(JSON.stringify(big)))
  .add('canonicalJson + SHA-256, 1,000-row section', () => void sha256Hex(canonicalJson(big)));
await run(digest, 'JSON.stringify + SHA-256, 1,000-row section');

console.table(rows);
