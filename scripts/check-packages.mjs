#!/usr/bin/env node
// Packaging checks for every published package (run by `npm run lint` after
// `npm run build`): the exports map matches the build entries and the files
// they name, then publint --strict and arethetypeswrong (ESM-only profile).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE = '@provisioning/source';
const problems = [];
const packages = readdirSync('packages')
  .map((name) => join('packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')));

for (const dir of packages) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const say = (msg) => problems.push(`${pkg.name}: ${msg}`);
  const folder = dir.split('/').pop();
  if (pkg.name !== `@provisioning/${folder}`) say(`name must be @provisioning/${folder}`);
  if (pkg.type !== 'module') say('"type" must be "module"');
  if (pkg.sideEffects !== false) say('"sideEffects" must be false');
  if (JSON.stringify(pkg.files) !== '["dist"]') say('"files" must be ["dist"]');
  if (pkg.engines?.node !== '>=20.19') say('"engines.node" must be ">=20.19"');
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    if (subpath === './package.json') continue;
    const name = subpath === '.' ? 'index' : subpath.slice(2);
    const keys = Object.keys(target ?? {});
    if (keys.join() !== [SOURCE, 'types', 'default'].join()) {
      say(`exports["${subpath}"] must list "${SOURCE}", "types", "default" in that order (types before default)`);
      continue;
    }
    const want = { [SOURCE]: `./src/${name}.ts`, types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` };
    for (const [condition, path] of Object.entries(want)) {
      if (target[condition] !== path)
        say(`exports["${subpath}"]["${condition}"] is ${target[condition]}, the build makes ${path}`);
      else if (!existsSync(join(dir, path))) say(`${path} is missing (run npm run build first)`);
    }
  }
  // Every built entry point is exported: no orphan entries.
  if (existsSync(join(dir, 'dist'))) {
    const exported = new Set(Object.keys(pkg.exports ?? {}).map((s) => (s === '.' ? 'index' : s.slice(2))));
    const tsup = readFileSync(join(dir, 'tsup.config.ts'), 'utf8');
    if (!tsup.includes('packageBuild('))
      say('tsup.config.ts must use the shared packageBuild() so entries follow the exports map');
    for (const file of readdirSync(join(dir, 'src'))) {
      const m = /^(.*)\.ts$/.exec(file);
      if (m && !m[1].endsWith('.test') && existsSync(join(dir, 'dist', `${m[1]}.js`)) && !exported.has(m[1])) {
        say(`dist/${m[1]}.js is built but not exported`);
      }
    }
  }
  const run = (cmd, args) => {
    try {
      execFileSync(cmd, args, { cwd: dir, stdio: 'pipe', encoding: 'utf8' });
    } catch (error) {
      say(`${[cmd, ...args].join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }
  };
  const bin = (name) => join(process.cwd(), 'node_modules', '.bin', name);
  run(bin('publint'), ['--strict']);
  run(bin('attw'), ['--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped']);
  console.log(`checked ${pkg.name}`);
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
