import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createManualClock } from '@provisioning/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectKmsError, tempDir } from '../test/helpers.js';
import { generateAgeIdentity } from './age.js';
import {
  decryptSops,
  decryptSopsFile,
  encryptSops,
  encryptSopsFile,
  formatFromPath,
  goFormatFloat,
  isSopsEncrypted,
  rotateSops,
  rotateSopsFile,
  sniffFormat,
  sopsAge,
  updateSopsKeys,
} from './sops.js';

const vectors = join(import.meta.dirname, '../test/vectors/sops');
let key: string;
let expected: unknown;
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  key = (await readFile(join(vectors, 'key.txt'), 'utf8'))
    .split('\n')
    .find((l) => l.startsWith('AGE-SECRET-KEY-1')) as string;
  expected = JSON.parse(await readFile(join(vectors, 'secret.json'), 'utf8'));
  ({ dir, cleanup } = await tempDir('kms-sops-'));
});
afterAll(() => cleanup());

const keys = () => [sopsAge({ identities: [key] })];

describe('files made by the real sops tool', () => {
  it('JSON (sops 3.9.2) decrypts with the MAC verified, equal to the published plaintext', async () => {
    const r = await decryptSops(await readFile(join(vectors, 'secret.enc.json'), 'utf8'), { keys: keys() });
    expect(r.format).toBe('json');
    expect(r.data).toEqual(expected);
    expect(r.metadata.ageRecipients).toHaveLength(3);
    expect(r.metadata.version).toBe('3.9.2');
  });

  it('YAML (sops 3.8.1) decrypts with the MAC verified', async () => {
    const r = await decryptSops(await readFile(join(vectors, 'secret.enc.yaml'), 'utf8'), { keys: keys() });
    expect(r.format).toBe('yaml');
    const { '0word': _skip, ...rest } = expected as Record<string, unknown>;
    expect(r.data).toEqual(rest);
  });

  it('dotenv (sops 3.8.1, flattened metadata) decrypts with the MAC verified', async () => {
    const r = await decryptSopsFile(join(vectors, 'secret.enc.env'), { keys: keys() });
    expect(r.format).toBe('dotenv');
    expect(r.data).toEqual({ secret: 'this is a secret', another_secret: '7' });
    expect(r.text).toBe('secret=this is a secret\nanother_secret=7\n');
  });

  it('tamper detection: a changed value, a moved value, a removed value or a changed lastmodified is rejected', async () => {
    const text = await readFile(join(vectors, 'secret.enc.json'), 'utf8');
    const doc = JSON.parse(text);
    // 1. flip a byte of one ciphertext
    const flipped = structuredClone(doc);
    flipped.string = flipped.string.replace('data:74icX5Tw', 'data:74icX5Tx');
    await expectKmsError(decryptSops(JSON.stringify(flipped), { keys: keys() }), 'ERR_KMS_DECRYPT_FAILED', [
      'this is a secret',
    ]);
    // 2. move a ciphertext to another key path (the path is the additional data)
    const moved = structuredClone(doc);
    moved.string = doc.secret;
    await expectKmsError(decryptSops(JSON.stringify(moved), { keys: keys() }), 'ERR_KMS_DECRYPT_FAILED', [
      'this is a secret',
    ]);
    // 3. drop a value: every tag still verifies, the MAC does not
    const dropped = structuredClone(doc);
    delete dropped.float;
    await expectKmsError(decryptSops(JSON.stringify(dropped), { keys: keys() }), 'ERR_KMS_SOPS_MAC_MISMATCH', [
      'this is a secret',
    ]);
    // 4. reorder list items (same path, so only the MAC catches it)
    const reordered = structuredClone(doc);
    reordered.complex.array.reverse();
    await expectKmsError(decryptSops(JSON.stringify(reordered), { keys: keys() }), 'ERR_KMS_SOPS_MAC_MISMATCH');
    // 5. change lastmodified (the MAC's additional data)
    const stamped = structuredClone(doc);
    stamped.sops.lastmodified = '2024-12-25T09:03:18Z';
    await expectKmsError(decryptSops(JSON.stringify(stamped), { keys: keys() }), 'ERR_KMS_SOPS_MAC_MISMATCH');
    // 6. a plaintext value slipped in where an encrypted one belongs
    const injected = structuredClone(doc);
    injected.secret = 'attacker value';
    await expectKmsError(decryptSops(JSON.stringify(injected), { keys: keys() }), 'ERR_KMS_SOPS_MALFORMED');
  });

  it('prototype safety: crafted dotenv metadata keys cannot pollute Object.prototype', async () => {
    const text = await readFile(join(vectors, 'secret.enc.env'), 'utf8');
    for (const line of [
      'sops___proto____map_polluted=yes',
      'sops_age__map___proto____map_polluted=yes',
      'sops_age__map_x=1',
    ]) {
      await expectKmsError(
        decryptSops(`${text}${line}\n`, { keys: keys(), format: 'dotenv' }),
        'ERR_KMS_SOPS_MALFORMED',
      );
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('wrong key: an unrelated identity cannot decrypt', async () => {
    const other = await generateAgeIdentity();
    const text = await readFile(join(vectors, 'secret.enc.yaml'), 'utf8');
    await expectKmsError(
      decryptSops(text, { keys: [sopsAge({ identities: [other.identity] })] }),
      'ERR_KMS_NO_MATCHING_KEY',
      [other.identity],
    );
  });

  it('malformed documents get typed errors that do not quote the input', async () => {
    await expectKmsError(
      decryptSops('{"a": "SECRETVALUE", ', { keys: keys(), format: 'json' }),
      'ERR_KMS_SOPS_MALFORMED',
      ['SECRETVALUE'],
    );
    await expectKmsError(decryptSops('a: [SECRETVALUE\n', { keys: keys(), format: 'yaml' }), 'ERR_KMS_SOPS_MALFORMED', [
      'SECRETVALUE',
    ]);
    await expectKmsError(
      decryptSops('a = "SECRETVALUE\n', { keys: keys(), format: 'toml' }),
      'ERR_KMS_SOPS_MALFORMED',
      ['SECRETVALUE'],
    );
    await expectKmsError(decryptSops('{"a": 1}', { keys: keys() }), 'ERR_KMS_SOPS_STATE');
    await expectKmsError(decryptSops('{"a": 1, "sops": {"version": "3"}}', { keys: keys() }), 'ERR_KMS_SOPS_MALFORMED');
    const text = JSON.parse(await readFile(join(vectors, 'secret.enc.json'), 'utf8'));
    text.int = 'ENC[AES256_GCM,data:mQ==,iv:AAAA,tag:a0AIwqcRz47O7M+COHeuYw==,type:float]';
    await expectKmsError(decryptSops(JSON.stringify(text), { keys: keys() }), 'ERR_KMS_SOPS_MALFORMED');
  });
});

describe('encrypting in the sops format', () => {
  const clock = createManualClock(new Date('2026-03-01T12:00:00.123Z'));

  it.each([
    [
      'json',
      '{\n    "name": "svc",\n    "password": "hunter2",\n    "port": 5432,\n    "ratio": 0.25,\n    "on": true,\n    "none": null,\n    "empty": "",\n    "nested": {\n        "list": [\n            "a",\n            1,\n            false\n        ]\n    }\n}\n',
    ],
    [
      'yaml',
      'name: svc\npassword: hunter2\nport: 5432\nratio: 0.25\n"on": true\nnested:\n  list:\n    - a\n    - 1\n    - false\n',
    ],
    ['dotenv', 'NAME=svc\nPASSWORD=hunter2\nMULTI=line1\\nline2\n'],
    [
      'toml',
      'name = "svc"\npassword = "hunter2"\nport = 5432\nratio = 0.25\non = true\n\n[nested]\nlist = [ "a", "b" ]\n',
    ],
  ] as const)('%s round-trips and its values are ENC[] with a verified MAC', async (format, plain) => {
    const { identity, recipient } = await generateAgeIdentity();
    const enc = await encryptSops(plain, { format, keys: [sopsAge({ recipients: [recipient] })], clock });
    expect(enc).not.toContain('hunter2');
    expect(enc).toMatch(/ENC\[AES256_GCM,data:[^,]+,iv:[A-Za-z0-9+/]{43}=,tag:[^,]+,type:str\]/);
    expect(enc).toContain('2026-03-01T12:00:00Z');
    expect(isSopsEncrypted(enc, format)).toBe(true);
    expect(isSopsEncrypted(enc)).toBe(true);
    expect(isSopsEncrypted(plain)).toBe(false);
    const r = await decryptSops(enc, { format, keys: [sopsAge({ identities: [identity] })] });
    expect(r.text).toBe(plain);
  });

  it('integers above 2^53 stay exact through encrypt and decrypt (JSON, YAML, TOML)', async () => {
    const { identity, recipient } = await generateAgeIdentity();
    const big = '123456789012345678901';
    for (const [format, plain] of [
      ['json', `{"id": ${big}, "neg": -9007199254740993}`],
      ['yaml', `id: ${big}\nneg: -9007199254740993\n`],
      ['toml', 'id = 9223372036854775807\nneg = -9007199254740993\n'],
    ] as const) {
      const enc = await encryptSops(plain, { format, keys: [sopsAge({ recipients: [recipient] })] });
      expect(enc).toContain('type:int]');
      const r = await decryptSops(enc, { format, keys: [sopsAge({ identities: [identity] })] });
      expect(r.data.neg).toBe(-9007199254740993n);
      expect(r.text).toContain(format === 'toml' ? '9223372036854775807' : big);
    }
  });

  it('unencrypted_suffix (default) and encrypted_regex select values; the MAC still covers all of them', async () => {
    const { identity, recipient } = await generateAgeIdentity();
    const src = '{"user_unencrypted": "alice", "password": "pw1", "data": {"key_unencrypted": {"x": "y"}}}';
    const enc = JSON.parse(await encryptSops(src, { keys: [sopsAge({ recipients: [recipient] })] }));
    expect(enc.user_unencrypted).toBe('alice');
    expect(enc.data.key_unencrypted.x).toBe('y');
    expect(enc.password).toMatch(/^ENC\[/);
    expect(enc.sops.unencrypted_suffix).toBe('_unencrypted');
    enc.user_unencrypted = 'mallory';
    await expectKmsError(
      decryptSops(JSON.stringify(enc), { keys: [sopsAge({ identities: [identity] })] }),
      'ERR_KMS_SOPS_MAC_MISMATCH',
    );

    const re = JSON.parse(
      await encryptSops('{"db": {"password": "p", "host": "h"}, "apiKey": "k"}', {
        keys: [sopsAge({ recipients: [recipient] })],
        encryptedRegex: '^(password|apiKey)$',
      }),
    );
    expect(re.db.host).toBe('h');
    expect(re.db.password).toMatch(/^ENC\[/);
    expect(re.apiKey).toMatch(/^ENC\[/);
    expect(re.sops.encrypted_regex).toBe('^(password|apiKey)$');
    const back = await decryptSops(JSON.stringify(re), { keys: [sopsAge({ identities: [identity] })] });
    expect(back.data).toEqual({ db: { password: 'p', host: 'h' }, apiKey: 'k' });
    await expectKmsError(
      encryptSops('{}', { keys: [sopsAge({ recipients: [recipient] })], encryptedRegex: 'a', unencryptedSuffix: '_x' }),
      'ERR_KMS_INVALID_OPTIONS',
    );
  });

  it('unencrypted_regex, encrypted_suffix and mac_only_encrypted are honoured and written to the metadata', async () => {
    const { identity, recipient } = await generateAgeIdentity();
    const k = { keys: [sopsAge({ recipients: [recipient] })] };
    const dk = { keys: [sopsAge({ identities: [identity] })] };
    const a = JSON.parse(await encryptSops('{"public": "p", "secret": "s"}', { ...k, unencryptedRegex: '^pub' }));
    expect(a.public).toBe('p');
    expect(a.sops.unencrypted_regex).toBe('^pub');
    const b = JSON.parse(await encryptSops('{"db_enc": {"x": "1"}, "plain": "2"}', { ...k, encryptedSuffix: '_enc' }));
    expect(b.db_enc.x).toMatch(/^ENC\[/);
    expect(b.plain).toBe('2');
    const c = JSON.parse(await encryptSops('{"a_unencrypted": "1", "b": "2"}', { ...k, macOnlyEncrypted: true }));
    expect(c.sops.mac_only_encrypted).toBe(true);
    c.a_unencrypted = 'changed'; // outside the MAC by request
    expect((await decryptSops(JSON.stringify(c), dk)).data).toEqual({ a_unencrypted: 'changed', b: '2' });
    expect((await decryptSops(JSON.stringify(b), dk)).data).toEqual({ db_enc: { x: '1' }, plain: '2' });
  });

  it('refuses to encrypt twice and to encrypt with no master key', async () => {
    const { recipient } = await generateAgeIdentity();
    const enc = await encryptSops('{"a":"b"}', { keys: [sopsAge({ recipients: [recipient] })] });
    await expectKmsError(encryptSops(enc, { keys: [sopsAge({ recipients: [recipient] })] }), 'ERR_KMS_SOPS_STATE');
    await expectKmsError(encryptSops('{"a":"b"}', { keys: [] }), 'ERR_KMS_INVALID_OPTIONS');
  });

  it('YAML output quotes lastmodified so YAML 1.1 readers keep it a string', async () => {
    const { recipient } = await generateAgeIdentity();
    const enc = await encryptSops('a: b\n', { format: 'yaml', keys: [sopsAge({ recipients: [recipient] })], clock });
    expect(enc).toContain('lastmodified: "2026-03-01T12:00:00Z"');
    expect(enc).toMatch(/enc: \|\n\s+-----BEGIN AGE ENCRYPTED FILE-----/);
  });

  it('goFormatFloat prints floats as Go does (no exponent)', () => {
    expect(goFormatFloat(3.14)).toBe('3.14');
    expect(goFormatFloat(1e21)).toBe('1000000000000000000000');
    expect(goFormatFloat(1.5e-7)).toBe('0.00000015');
    expect(goFormatFloat(-2.5e25)).toBe('-25000000000000000000000000');
    expect(goFormatFloat(7)).toBe('7');
    expect(goFormatFloat(Number.POSITIVE_INFINITY)).toBe('+Inf');
  });
});

describe('updatekeys and rotate', () => {
  it('updatekeys adds and removes age recipients without touching values or MAC', async () => {
    const a = await generateAgeIdentity();
    const b = await generateAgeIdentity();
    const enc = await encryptSops('{"k": "v"}', { keys: [sopsAge({ recipients: [a.recipient] })] });
    const added = await updateSopsKeys(enc, {
      keys: [sopsAge({ identities: [a.identity] })],
      add: [sopsAge({ recipients: [b.recipient] })],
    });
    expect(JSON.parse(added).k).toBe(JSON.parse(enc).k);
    expect(JSON.parse(added).sops.mac).toBe(JSON.parse(enc).sops.mac);
    expect((await decryptSops(added, { keys: [sopsAge({ identities: [b.identity] })] })).data).toEqual({ k: 'v' });
    const removed = await updateSopsKeys(added, {
      keys: [sopsAge({ identities: [b.identity] })],
      removeAgeRecipients: [a.recipient],
    });
    await expectKmsError(
      decryptSops(removed, { keys: [sopsAge({ identities: [a.identity] })] }),
      'ERR_KMS_NO_MATCHING_KEY',
    );
    expect((await decryptSops(removed, { keys: [sopsAge({ identities: [b.identity] })] })).data).toEqual({ k: 'v' });
  });

  it('rotate gives a new data key, re-encrypts every value and rewraps for each recipient', async () => {
    const a = await generateAgeIdentity();
    const b = await generateAgeIdentity();
    const enc = await encryptSops('k: v\nn: 1\n', {
      format: 'yaml',
      keys: [sopsAge({ recipients: [a.recipient, b.recipient] })],
    });
    const rotated = await rotateSops(enc, { format: 'yaml', keys: [sopsAge({ identities: [a.identity] })] });
    const vOld = /k: (ENC\[[^\]]+\])/.exec(enc)?.[1];
    const vNew = /k: (ENC\[[^\]]+\])/.exec(rotated)?.[1];
    expect(vNew).toBeDefined();
    expect(vNew).not.toBe(vOld);
    expect(
      (await decryptSops(rotated, { format: 'yaml', keys: [sopsAge({ identities: [b.identity] })] })).data,
    ).toEqual({ k: 'v', n: 1 });
  });

  it('the golden sops file can be re-keyed and rotated, and stays decryptable', async () => {
    const text = await readFile(join(vectors, 'secret.enc.json'), 'utf8');
    const rotated = await rotateSops(text, { keys: keys() });
    expect((await decryptSops(rotated, { keys: keys() })).data).toEqual(expected);
  });
});

describe('files', () => {
  it('writes atomically with mode 0600 and decrypts from disk into memory only', async () => {
    const { identity, recipient } = await generateAgeIdentity();
    const path = join(dir, 'app.enc.toml');
    await encryptSopsFile(path, 'password = "pw"\n', { keys: [sopsAge({ recipients: [recipient] })] });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const before = await readdir(dir);
    const r = await decryptSopsFile(path, { keys: [sopsAge({ identities: [identity] })] });
    expect(r.data).toEqual({ password: 'pw' });
    expect(await readdir(dir)).toEqual(before); // no plaintext file appears
    await rotateSopsFile(path, { keys: [sopsAge({ identities: [identity] })] });
    expect(await readdir(dir)).toEqual(before); // no temp file left
    expect((await readFile(path, 'utf8')).includes('pw"')).toBe(false);
  });

  it('a failed write leaves the old file whole', async () => {
    const { recipient } = await generateAgeIdentity();
    const path = join(dir, 'keep.enc.json');
    await writeFile(path, 'old content');
    // a directory where the file should go makes rename fail after the temp file was written
    await expectKmsError(
      encryptSopsFile(join(dir, 'missing-dir', 'x.json'), '{"a":"b"}', {
        keys: [sopsAge({ recipients: [recipient] })],
      }),
      'ERR_KMS_IO',
    );
    expect(await readFile(path, 'utf8')).toBe('old content');
  });

  it('detects formats by name and by content', () => {
    expect(formatFromPath('a/b.enc.yml')).toBe('yaml');
    expect(formatFromPath('.env.production')).toBe('dotenv');
    expect(formatFromPath('x.toml')).toBe('toml');
    expect(sniffFormat('{"a":1}')).toBe('json');
    expect(sniffFormat('A=1\nB=2\n')).toBe('dotenv');
    expect(sniffFormat('[server]\nport = 1\n')).toBe('toml');
    expect(sniffFormat('a:\n  b: 1\n')).toBe('yaml');
  });
});
