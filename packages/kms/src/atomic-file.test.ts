import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectKmsError, tempDir } from '../test/helpers.js';
import { writeFileAtomic } from './atomic-file.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('kms-atomic-'));
});
afterAll(() => cleanup());

describe('writeFileAtomic', () => {
  it('replaces the file with mode 0600 and leaves no temporary file', async () => {
    const path = join(dir, 'a.txt');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('no half-written file: a failed rename keeps the target and removes the temporary file', async () => {
    const target = join(dir, 'is-a-dir');
    await mkdir(target);
    await writeFile(join(target, 'inside'), 'keep');
    await expectKmsError(writeFileAtomic(target, 'new data'), 'ERR_KMS_IO', ['new data']);
    expect(await readFile(join(target, 'inside'), 'utf8')).toBe('keep');
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('no half-written file: a writer killed mid-write leaves the old or the new content, whole', async () => {
    const path = join(dir, 'crash.bin');
    const oldContent = Buffer.alloc(8 << 20, 0x41);
    await writeFile(path, oldContent);
    const script = `import { writeFileAtomic } from ${JSON.stringify(join(import.meta.dirname, 'atomic-file.ts'))};
      const data = Buffer.alloc(${8 << 20}, 0x42);
      process.stdout.write('ready\\n');
      for (;;) await writeFileAtomic(${JSON.stringify(path)}, data);`;
    for (let round = 0; round < 5; round++) {
      // The source condition: `npm test` runs before (and without) a build.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=@provisioning/source', '--input-type=module', '-e', script],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      // A writer that dies before it is ready fails the test at once instead of hanging it.
      const ready = await Promise.race([
        new Promise<true>((resolve) => child.stdout.once('data', () => resolve(true))),
        exited.then(() => false as const),
      ]);
      expect(ready, 'the writer exited before it was ready').toBe(true);
      await new Promise((r) => setTimeout(r, 20 + round * 37)); // let it get somewhere mid-write
      child.kill('SIGKILL');
      await exited;
      const now = await readFile(path);
      expect(now.length).toBe(8 << 20);
      const first = now[0];
      expect(first === 0x41 || first === 0x42).toBe(true);
      expect(now.every((b) => b === first)).toBe(true);
    }
  }, 60_000);
});
