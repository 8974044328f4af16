#!/usr/bin/env node
// Bundles the platform (this example and the @provisioning/* packages it
// uses, from their TypeScript sources) into one ES module that plain node
// runs: what `npm start` runs. Running under tsx instead costs ~60 MiB of
// resident memory (tsx itself and the transpiled sources it keeps), which
// puts the platform over its 150 MiB idle budget; esbuild does the same
// transpilation once, in about a second, so a fresh clone needs no
// `npm run build` before `npm start`.
//
//   node scripts/bundle.mjs [outfile]     (default: dist/platform.mjs)
//
// Third-party packages stay external and resolve from node_modules at run
// time, as they do for the sources. Every bundled file keeps its own
// `import.meta.url`, so paths computed from it (the shipped Cedar policies,
// the web UI's dist/) still point where they do in the sources.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, stop } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
export const DEFAULT_BUNDLE = resolve(ROOT, 'dist', 'platform.mjs');

const platformPlugin = {
  name: 'provisioning-platform',
  setup(b) {
    // Bare specifiers other than the workspace's own packages are external.
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@provisioning/') ? undefined : { path: args.path, external: true },
    );
    b.onLoad({ filter: /\.ts$/ }, async (args) => ({
      contents: (await readFile(args.path, 'utf8')).replaceAll(
        'import.meta.url',
        JSON.stringify(pathToFileURL(args.path).href),
      ),
      loader: 'ts',
    }));
  },
};

/** Writes the bundle; resolves to its path. */
export async function bundlePlatform(outfile = DEFAULT_BUNDLE) {
  await build({
    entryPoints: [resolve(ROOT, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // The workspace packages' "@provisioning/source" export points at src/*.ts.
    conditions: ['@provisioning/source'],
    sourcemap: true,
    plugins: [platformPlugin],
    logLevel: 'warning',
  });
  // esbuild keeps a service process for further builds; there are none.
  await stop();
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundlePlatform(process.argv[2] ? resolve(process.argv[2]) : DEFAULT_BUNDLE);
}
