#!/usr/bin/env node
// Runs every package's benchmarks (packages/*/bench/*.bench.ts), one process
// each, resolving workspace packages to their TypeScript source, transpiled as
// the published build is (bench-loader/register.mjs: esbuild without tsx's
// keepNames). Pass package names to run only those: `npm run bench -- core auth`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const only = new Set(process.argv.slice(2));
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`);
let failed = false;
for (const name of readdirSync('packages').sort()) {
  const dir = join('packages', name, 'bench');
  if ((only.size > 0 && !only.has(name)) || !existsSync(dir)) continue;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()) {
    console.log(`\n## ${name}/${file}`);
    const result = spawnSync(
      process.execPath,
      ['--import', './scripts/bench-loader/register.mjs', '--conditions=@provisioning/source', join(dir, file)],
      {
        stdio: 'inherit',
      },
    );
    if (result.status !== 0) failed = true;
  }
}
process.exit(failed ? 1 : 0);
