import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@provisioning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, runCli } from '../../src/cli.js';
import { startRegistry, type TestRegistry } from '../registry.js';
import { runCliProcess } from '../run-cli.js';

const USER = 'cli-user';
const PASSWORD = 'cli-password-456';

describe('provisioning oci push|pull against docker-registry 2.8.2', { timeout: 120_000 }, () => {
  let registry: TestRegistry;
  let dir: { path: string; remove(): void };
  let env: Record<string, string>;
  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: { [USER]: PASSWORD } });
    dir = tempDir();
    env = { PROVISIONING_OCI_USERNAME: USER, PROVISIONING_OCI_PASSWORD: PASSWORD };
  });
  afterAll(async () => {
    await registry?.stop();
    dir?.remove();
  });

  it('pushes files as an artifact and pulls them back (spawned bin, no progress bar without a TTY)', async () => {
    const a = join(dir.path, 'extension.tar.gz');
    const b = join(dir.path, 'README.md');
    const dataA = randomBytes(200_000);
    writeFileSync(a, dataA);
    writeFileSync(b, '# upcloud provider\n');
    const ref = `${registry.url}/extensions/upcloud:1.2.3`;
    const push = await runCliProcess(
      ['oci', 'push', ref, a, b, '--artifact-type', 'application/vnd.provisioning.extension.v1', '--json'],
      { env },
    );
    expect(push.code).toBe(EXIT_CODES.ok);
    const pushed = JSON.parse(push.stdout);
    expect(pushed.digest).toMatch(/^sha256:/);
    expect(push.stderr).toBe('');

    const out = join(dir.path, 'out');
    const pull = await runCliProcess(['oci', 'pull', ref, '--output', out], { env });
    expect(pull.code).toBe(EXIT_CODES.ok);
    expect(pull.stdout).toMatch(/extension\.tar\.gz\s+sha256:/);
    expect(pull.stderr).toBe('');
    expect(readFileSync(join(out, 'extension.tar.gz'))).toEqual(dataA);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toBe('# upcloud provider\n');
  });

  it('draws a progress bar on a TTY', async () => {
    const file = join(dir.path, 'big.bin');
    writeFileSync(file, randomBytes(300_000));
    let stderr = '';
    const code = await runCli(['oci', 'push', `${registry.url}/progress/test:v1`, file], {
      stdout: { write: () => true },
      stderr: {
        isTTY: true,
        write: (c: string) => {
          stderr += c;
          return true;
        },
      },
      env,
      readStdin: async () => new Uint8Array(),
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(/\rpush \[#+\] 100%/);
  });

  it('exits 3 with wrong registry credentials and 5 for a missing tag', async () => {
    const bad = await runCliProcess(['oci', 'pull', `${registry.url}/extensions/upcloud:1.2.3`, '--output', dir.path], {
      env: { PROVISIONING_OCI_USERNAME: USER, PROVISIONING_OCI_PASSWORD: 'wrong' },
    });
    expect(bad.code).toBe(EXIT_CODES.auth);
    const missing = await runCliProcess(
      ['oci', 'pull', `${registry.url}/extensions/upcloud:9.9.9`, '--output', dir.path],
      { env },
    );
    expect(missing.code).toBe(EXIT_CODES.notFound);
  });
});
