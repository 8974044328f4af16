import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageDecrypt, ageEncrypt, generateAgeIdentity } from '../../src/age.js';
import { tempDir } from '../helpers.js';

// Interop with the real `age` CLI (Debian package `age`, 1.1.1: X25519 and scrypt; no post-quantum).
// The CLI reads passphrases from a terminal only, so those runs go through `script` (util-linux),
// which gives age a pseudo-terminal fed from our stdin.

function requireProgram(name: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
  if (!found) {
    throw new Error(
      `the '${name}' program is missing: install it with 'apt-get install -y ${name === 'script' ? 'bsdutils' : name}'`,
    );
  }
}

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  requireProgram('age');
  requireProgram('age-keygen');
  requireProgram('script');
  ({ dir, cleanup } = await tempDir('kms-age-cli-'));
});
afterAll(() => cleanup?.());

const payload = Buffer.concat([Buffer.from('interop payload \u00e9\u00e8\n'), Buffer.alloc(70_000, 0x5a)]); // > one 64 KiB age chunk

function ageWithTty(args: string, input: string): void {
  const r = spawnSync('script', ['-qec', args, '/dev/null'], { input, cwd: dir, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`age via script failed (${r.status}): ${r.stdout.toString().slice(-200)}`);
}

describe('age CLI interop', () => {
  it('X25519: files the CLI encrypts (binary and armored) decrypt with ours', async () => {
    const keyFile = join(dir, 'cli-key.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
    const identity = (await readFile(keyFile, 'utf8'))
      .split('\n')
      .find((l) => l.startsWith('AGE-SECRET-KEY-1')) as string;
    const recipient = execFileSync('age-keygen', ['-y', keyFile]).toString().trim();
    await writeFile(join(dir, 'plain.bin'), payload);
    for (const armor of [false, true]) {
      const out = join(dir, `cli-${armor}.age`);
      execFileSync('age', ['-r', recipient, ...(armor ? ['-a'] : []), '-o', out, join(dir, 'plain.bin')]);
      const file = await readFile(out);
      expect(file.subarray(0, 10).toString()).toBe(armor ? '-----BEGIN' : 'age-encryp');
      expect(Buffer.from(await ageDecrypt(file, { identities: [identity] }))).toEqual(payload);
    }
  });

  it('X25519: files we encrypt (binary and armored) decrypt with the CLI', async () => {
    const { identity, recipient } = await generateAgeIdentity();
    const keyFile = join(dir, 'our-key.txt');
    await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
    for (const armor of [false, true]) {
      const file = join(dir, `ours-${armor}.age`);
      await writeFile(file, await ageEncrypt(payload, { recipients: [recipient], armor }));
      const out = execFileSync('age', ['-d', '-i', keyFile, file], { maxBuffer: 1 << 24 });
      expect(out).toEqual(payload);
    }
  });

  it('passphrase: files the CLI encrypts (binary and armored) decrypt with ours', async () => {
    await writeFile(join(dir, 'plain.bin'), payload);
    for (const armor of [false, true]) {
      const name = `cli-pw-${armor}.age`;
      ageWithTty(`age -p ${armor ? '-a ' : ''}-o ${name} plain.bin`, 'cli passphrase 1\ncli passphrase 1\n');
      const file = await readFile(join(dir, name));
      expect(Buffer.from(await ageDecrypt(file, { passphrases: ['cli passphrase 1'] }))).toEqual(payload);
    }
  });

  it('passphrase: files we encrypt (binary and armored) decrypt with the CLI', async () => {
    for (const armor of [false, true]) {
      const name = `ours-pw-${armor}.age`;
      await writeFile(
        join(dir, name),
        await ageEncrypt(payload, { passphrase: 'our passphrase 2', armor, scryptWorkFactor: 15 }),
      );
      ageWithTty(`age -d -o ${name}.out ${name}`, 'our passphrase 2\n');
      expect(await readFile(join(dir, `${name}.out`))).toEqual(payload);
    }
  });

  it('the CLI rejects a file of ours encrypted to someone else, and we reject the CLI file for a wrong key', async () => {
    const a = await generateAgeIdentity();
    const b = await generateAgeIdentity();
    const keyFile = join(dir, 'b-key.txt');
    await writeFile(keyFile, `${b.identity}\n`, { mode: 0o600 });
    const file = join(dir, 'to-a.age');
    await writeFile(file, await ageEncrypt(payload, { recipients: [a.recipient] }));
    const r = spawnSync('age', ['-d', '-i', keyFile, file]);
    expect(r.status).not.toBe(0);
    await expect(ageDecrypt(await readFile(file), { identities: [b.identity] })).rejects.toMatchObject({
      code: 'ERR_KMS_NO_MATCHING_KEY',
    });
  });
});
