import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'tsup';

/**
 * The one build configuration every package shares. Entries are derived from
 * the package's `exports` map (`"./x"` is built from `src/x.ts`), so the map
 * and the build cannot disagree; `scripts/check-packages.mjs` checks the result.
 */
export function packageBuild(dir: string): Options {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  const entry: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || target === null) continue;
    const name = subpath === '.' ? 'index' : subpath.slice(2);
    entry[name] = `src/${name}.ts`;
  }
  return {
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    tsconfig: 'tsconfig.build.json',
  };
}
