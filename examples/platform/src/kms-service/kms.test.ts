import { statSync } from 'node:fs';
import { join } from 'node:path';
import { KMS_ROUTES, parseRouteResponse } from '@provisioning/platform-client/api';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addUser, createTestPlatform, fromLoopback } from '../../test/platform-fixture.js';
import { kmsService } from './index.js';

type TestPlatform = Awaited<ReturnType<typeof createTestPlatform>>;

describe('KMS service', () => {
  let platform: TestPlatform;
  let app: Awaited<ReturnType<typeof kmsService.create>>['app'];
  let admin: string;
  let viewer: string;

  beforeEach(async () => {
    platform = await createTestPlatform();
    app = fromLoopback((await kmsService.create(platform)).app);
    const adminId = await addUser(platform, 'ada', 'correct horse battery', ['Admin']);
    const viewerId = await addUser(platform, 'vic', 'correct horse battery', ['Viewer']);
    admin = (await platform.tokens.issue({ subject: adminId, roles: ['Admin'], mfaAt: new Date(platform.clock.now()) }))
      .accessToken;
    viewer = (await platform.tokens.issue({ subject: viewerId, roles: ['Viewer'] })).accessToken;
  });
  afterEach(() => platform.dispose());

  const post = (path: string, body: unknown, token = admin, type = 'application/json') =>
    app.request(path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const get = (path: string, token = admin) => app.request(path, { headers: { authorization: `Bearer ${token}` } });
  const data = async (res: Response) => ((await res.json()) as { data: Record<string, unknown> }).data;
  const b64 = (text: string) => Buffer.from(text).toString('base64');

  it('keeps a generated age identity under the data directory, mode 0600', () => {
    const stat = statSync(join(platform.dataDir, 'keys', 'kms-age.txt'));
    expect(stat.mode & 0o777).toBe(0o600);
  });

  it('answers health without auth and status with auth', async () => {
    const health = await app.request(KMS_ROUTES.health.path);
    expect(health.status).toBe(200);
    expect(parseRouteResponse(KMS_ROUTES.health, await health.json())).toEqual({ status: 'healthy', backend: 'age' });
    expect((await app.request(KMS_ROUTES.status.path)).status).toBe(401);
    const status = await get(KMS_ROUTES.status.path);
    const body = parseRouteResponse(KMS_ROUTES.status, await status.json()) as { key_id: string; healthy: boolean };
    expect(body.healthy).toBe(true);
    expect(body.key_id).toMatch(/^age1/);
  });

  it('round-trips encrypt/decrypt with a context, and refuses another context', async () => {
    const context = { tenant: 'acme', purpose: 'db' };
    const enc = await post(KMS_ROUTES.encrypt.path, { plaintext: b64('s3cret'), context });
    expect(enc.status).toBe(200);
    const { ciphertext } = parseRouteResponse(KMS_ROUTES.encrypt, await enc.json()) as { ciphertext: string };
    expect(ciphertext).not.toContain(b64('s3cret'));

    const dec = await post(KMS_ROUTES.decrypt.path, { ciphertext, context });
    expect(dec.status).toBe(200);
    const plain = parseRouteResponse(KMS_ROUTES.decrypt, await dec.json()) as { plaintext: string };
    expect(Buffer.from(plain.plaintext, 'base64').toString()).toBe('s3cret');

    for (const wrong of [{ tenant: 'other', purpose: 'db' }, {}, undefined]) {
      const refused = await post(KMS_ROUTES.decrypt.path, { ciphertext, ...(wrong ? { context: wrong } : {}) });
      expect(refused.status).toBe(400);
      const text = await refused.text();
      expect(JSON.parse(text)).toMatchObject({ success: false, code: 'CONTEXT_MISMATCH' });
      expect(text).not.toContain(b64('s3cret'));
    }
  });

  it('refuses a tampered or non-base64 ciphertext', async () => {
    const { ciphertext } = (await data(await post(KMS_ROUTES.encrypt.path, { plaintext: b64('x'.repeat(100)) }))) as {
      ciphertext: string;
    };
    const bytes = Buffer.from(ciphertext, 'base64');
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] as number) ^ 1;
    const tampered = await post(KMS_ROUTES.decrypt.path, { ciphertext: bytes.toString('base64') });
    expect(tampered.status).toBe(400);
    expect(((await tampered.json()) as { code: string }).code).toBe('DECRYPT_FAILED');
    const junk = await post(KMS_ROUTES.decrypt.path, { ciphertext: 'not base64!' });
    expect(junk.status).toBe(400);
    expect(((await junk.json()) as { code: string }).code).toBe('INVALID_CIPHERTEXT');
  });

  it('generates data keys whose ciphertext decrypts to the same key', async () => {
    const res = await post(KMS_ROUTES.generateKey.path, { spec: 'AES_128', context: { app: 'x' } });
    expect(res.status).toBe(200);
    const key = parseRouteResponse(KMS_ROUTES.generateKey, await res.json()) as {
      plaintext: string;
      ciphertext: string;
    };
    expect(Buffer.from(key.plaintext, 'base64')).toHaveLength(16);
    const back = await data(await post(KMS_ROUTES.decrypt.path, { ciphertext: key.ciphertext, context: { app: 'x' } }));
    expect(back.plaintext).toBe(key.plaintext);
    const big = await data(await post(KMS_ROUTES.generateKey.path, { spec: 'AES_256' }));
    expect(Buffer.from(big.plaintext as string, 'base64')).toHaveLength(32);
  });

  it('rotates: new key encrypts, old ciphertexts decrypt, rewrap moves them to the new key', async () => {
    const before = (await data(await get(KMS_ROUTES.status.path))).key_id as string;
    const old = await data(await post(KMS_ROUTES.encrypt.path, { plaintext: b64('old'), context: { a: '1' } }));
    const rotated = await post('/api/v1/kms/rotate', undefined as unknown as string);
    expect(rotated.status).toBe(200);
    const current = (await data(rotated)).key_id as string;
    expect(current).not.toBe(before);
    expect((await data(await get(KMS_ROUTES.status.path))).key_id).toBe(current);

    const keys = (await (await get('/api/v1/kms/keys')).json()) as { data: { key_id: string; current: boolean }[] };
    expect(keys.data.map((k) => [k.key_id, k.current])).toEqual([
      [before, false],
      [current, true],
    ]);
    const meta = await get(`/api/v1/kms/keys/${before}`);
    expect(await data(meta)).toMatchObject({ key_id: before, backend: 'age', algorithm: 'age-x25519', current: false });
    expect((await get('/api/v1/kms/keys/age1nope')).status).toBe(404);

    const dec = await data(await post(KMS_ROUTES.decrypt.path, { ciphertext: old.ciphertext, context: { a: '1' } }));
    expect(dec).toMatchObject({ plaintext: b64('old'), key_id: before });
    const rewrapped = await data(await post('/api/v1/kms/rewrap', { ciphertext: old.ciphertext, context: { a: '1' } }));
    expect(rewrapped.key_id).toBe(current);
    const again = await data(
      await post(KMS_ROUTES.decrypt.path, { ciphertext: rewrapped.ciphertext, context: { a: '1' } }),
    );
    expect(again).toMatchObject({ plaintext: b64('old'), key_id: current });
    // Rewrap checks the context too.
    expect((await post('/api/v1/kms/rewrap', { ciphertext: old.ciphertext, context: { a: '2' } })).status).toBe(400);

    // The keyring survives a restart: a new service instance on the same data directory decrypts both.
    const second = fromLoopback((await kmsService.create(platform)).app);
    const res = await second.request(KMS_ROUTES.decrypt.path, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ciphertext: old.ciphertext, context: { a: '1' } }),
    });
    expect(res.status).toBe(200);
  });

  it('rotation needs a recent MFA', async () => {
    const id = await addUser(platform, 'nomfa', 'correct horse battery', ['Admin']);
    const token = (await platform.tokens.issue({ subject: id, roles: ['Admin'] })).accessToken;
    const res = await post('/api/v1/kms/rotate', '{}', token);
    expect(res.status).toBe(403);
    expect((await data(await get('/api/v1/kms/keys'))) as unknown as unknown[]).toHaveLength(1);
  });

  it('protects the operations: no token 401, a Viewer may not encrypt', async () => {
    const anonymous = await app.request(KMS_ROUTES.encrypt.path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ plaintext: b64('x') }),
    });
    expect(anonymous.status).toBe(401);
    expect((await post(KMS_ROUTES.encrypt.path, { plaintext: b64('x') }, viewer)).status).toBe(403);
    expect((await get('/api/v1/kms/keys', viewer)).status).toBe(200);
  });

  it.each([
    ['encrypt: malformed JSON', KMS_ROUTES.encrypt.path, '{"plaintext":', 'MALFORMED_JSON'],
    ['encrypt: wrong type', KMS_ROUTES.encrypt.path, { plaintext: 42 }, 'INVALID_REQUEST'],
    ['encrypt: not base64', KMS_ROUTES.encrypt.path, { plaintext: 'hé!' }, 'INVALID_REQUEST'],
    [
      'encrypt: context value not a string',
      KMS_ROUTES.encrypt.path,
      { plaintext: '', context: { a: 1 } },
      'INVALID_REQUEST',
    ],
    ['encrypt: unknown field', KMS_ROUTES.encrypt.path, { plaintext: '', extra: 1 }, 'UNKNOWN_FIELD'],
    ['encrypt: another key', KMS_ROUTES.encrypt.path, { plaintext: '', key_id: 'age1other' }, 'KEY_NOT_USABLE'],
    ['decrypt: missing ciphertext', KMS_ROUTES.decrypt.path, {}, 'INVALID_REQUEST'],
    ['decrypt: unknown field', KMS_ROUTES.decrypt.path, { ciphertext: 'AA==', plaintext: '' }, 'UNKNOWN_FIELD'],
    ['generate-key: bad spec', KMS_ROUTES.generateKey.path, { spec: 'DES' }, 'INVALID_REQUEST'],
    ['rewrap: wrong type', '/api/v1/kms/rewrap', { ciphertext: [] }, 'INVALID_REQUEST'],
    ['rotate: unknown field', '/api/v1/kms/rotate', { force: true }, 'UNKNOWN_FIELD'],
  ])('rejects bad input (%s) with a typed 400 and no key change', async (_name, path, body, code) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ success: false, code });
    expect(((await data(await get('/api/v1/kms/keys'))) as unknown as unknown[]).length).toBe(1);
  });

  it('rejects a wrong content type (415) and an oversize body (413)', async () => {
    expect((await post(KMS_ROUTES.encrypt.path, 'plaintext=x', admin, 'text/plain')).status).toBe(415);
    const huge = await post(KMS_ROUTES.encrypt.path, { plaintext: 'A'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
  });

  it('never writes plaintexts or data keys to the logs', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const logged = fromLoopback((await kmsService.create({ ...platform, logger })).app);
    const send = (path: string, body: unknown) =>
      logged.request(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const secret = b64('very-secret-plaintext');
    const enc = (await (await send(KMS_ROUTES.encrypt.path, { plaintext: secret })).json()) as {
      data: { ciphertext: string };
    };
    await send(KMS_ROUTES.decrypt.path, { ciphertext: enc.data.ciphertext });
    const key = (await (await send(KMS_ROUTES.generateKey.path, { spec: 'AES_256' })).json()) as {
      data: { plaintext: string };
    };
    await send(KMS_ROUTES.decrypt.path, { ciphertext: 'AAAA' });
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    for (const needle of [secret, 'very-secret-plaintext', key.data.plaintext, 'AGE-SECRET-KEY']) {
      expect(all).not.toContain(needle);
    }
  });

  it('serves its OpenAPI document', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([KMS_ROUTES.encrypt.path, '/api/v1/kms/rotate']));
  });
});
