// Throughput of the compliance package's hot paths. The issue names no peer
// libraries, so ratios compare our own variants: the DSR lifecycle on the
// memory store (baseline) vs the SQLite store, and report renderers vs the
// JSON renderer. One awaited operation at a time: ops/s per core.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { Bench } from 'tinybench';
import type { DataProvider, DsrStore } from '../src/index.js';
import {
  canonicalJson,
  createDsrService,
  createProviderRegistry,
  memoryDsrStore,
  renderHtmlReport,
  renderJsonReport,
  renderMarkdownReport,
  sha256Hex,
  toOscalAssessmentResults,
} from '../src/index.js';
import { sqlDsrStore } from '../src/sql.js';
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
