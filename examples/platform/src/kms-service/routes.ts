import { security } from '@provisioning/middleware/hono';
import {
  DecryptRequestSchema,
  EncryptRequestSchema,
  GenerateKeyRequestSchema,
  KMS_ROUTES,
  ok,
  routePattern,
  s,
} from '@provisioning/platform-client/api';
import type { Context, Hono } from 'hono';
import { errorBody } from '../kit/app.js';
import { readBody } from '../kit/body.js';
import type { Platform } from '../kit/platform.js';
import { ANY, resource } from '../kit/resources.js';
import { kmsErrorResponse } from './errors.js';
import type { AgeKeyInfo } from './keyring.js';
import { InvalidCiphertext, type KmsCore } from './service.js';

/** Designed routes beyond the contract (same envelope and style, documented in the OpenAPI document). */
export const KMS_EXTRA_PATHS = {
  rewrap: '/api/v1/kms/rewrap',
  rotate: '/api/v1/kms/rotate',
  keys: '/api/v1/kms/keys',
  key: '/api/v1/kms/keys/{key_id}',
} as const;

const EmptyBody = s.object({});
// Cedar: the service's keys are `Provisioning::Key`s of the platform environment
// (kit/resources.ts): encrypting (and data keys) is `encrypt`, decrypting
// `decrypt`, rewrapping and rotating `rotate`, the key list and status `read`.
const key =
  (id: string = ANY) =>
  () =>
    resource('Key', id, { environment: 'platform', kind: 'age' });

/** Registers every KMS route on `app`. Bodies are validated before the key is touched. */
export function registerKmsRoutes(app: Hono, platform: Platform, kms: KmsCore): void {
  const chain = platform.chain;
  const encrypt = security(chain, { action: 'encrypt', resource: key() });
  const decrypt = security(chain, { action: 'decrypt', resource: key() });
  const rotate = security(chain, { action: 'rotate', resource: key() });
  const read = security(chain, { action: 'read', resource: key() });
  const guard = async (c: Context, run: () => Promise<Response>): Promise<Response> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof InvalidCiphertext) {
        return c.json(errorBody('envelope', 400, 'INVALID_CIPHERTEXT', 'The ciphertext is not a KMS ciphertext.'), 400);
      }
      return kmsErrorResponse(c, error);
    }
  };
  const keyView = async (k: AgeKeyInfo) => ({
    key_id: k.keyId,
    backend: kms.backendName,
    algorithm: await kms.algorithm(),
    created_at: k.createdAt ?? null,
    current: k.current,
    // age keys have no versions: each rotation is a new key; old keys still decrypt.
    can_decrypt: true,
  });

  app.get(KMS_ROUTES.health.path, security(chain, { public: true }), async (c) => {
    const health = await kms.health();
    return c.json(ok({ status: health.ok ? 'healthy' : 'unhealthy', backend: kms.backendName }), health.ok ? 200 : 503);
  });

  app.get(KMS_ROUTES.status.path, read, async (c) => {
    const health = await kms.health();
    return c.json(ok({ backend: kms.backendName, key_id: kms.currentKeyId(), healthy: health.ok }));
  });

  app.post(KMS_ROUTES.encrypt.path, encrypt, async (c) => {
    const body = await readBody(c, EncryptRequestSchema);
    if (body.key_id !== undefined && body.key_id !== kms.currentKeyId()) {
      return c.json(errorBody('envelope', 400, 'KEY_NOT_USABLE', 'Only the current key encrypts.'), 400);
    }
    return guard(c, async () => {
      const out = await kms.encrypt(Buffer.from(body.plaintext, 'base64'), body.context);
      return c.json(ok({ ciphertext: out.ciphertext, key_id: out.keyId }));
    });
  });

  app.post(KMS_ROUTES.decrypt.path, decrypt, async (c) => {
    const body = await readBody(c, DecryptRequestSchema);
    return guard(c, async () => {
      const out = await kms.decrypt(body.ciphertext, body.context);
      try {
        return c.json(ok({ plaintext: Buffer.from(out.plaintext).toString('base64'), key_id: out.keyId }));
      } finally {
        out.plaintext.fill(0);
      }
    });
  });

  app.post(KMS_ROUTES.generateKey.path, encrypt, async (c) => {
    const body = await readBody(c, GenerateKeyRequestSchema);
    return guard(c, async () => {
      const out = await kms.generateDataKey(body.spec === 'AES_128' ? 16 : 32, body.context);
      try {
        return c.json(
          ok({ plaintext: out.plaintext.toString('base64'), ciphertext: out.ciphertext, key_id: out.keyId }),
        );
      } finally {
        out.plaintext.fill(0);
      }
    });
  });

  app.post(KMS_EXTRA_PATHS.rewrap, rotate, async (c) => {
    const body = await readBody(c, DecryptRequestSchema);
    return guard(c, async () => {
      const out = await kms.rewrap(body.ciphertext, body.context);
      return c.json(ok({ ciphertext: out.ciphertext, key_id: out.keyId }));
    });
  });

  // Rotation changes what every later encryption uses: admin action with MFA step-up.
  app.post(
    KMS_EXTRA_PATHS.rotate,
    security(chain, { action: 'rotate', resource: key(), sensitive: true }),
    async (c) => {
      // No body, or an empty JSON object: anything else is refused before the key changes.
      if ((await c.req.text()).trim() !== '') await readBody(c, EmptyBody);
      return guard(c, async () => c.json(ok(await keyView(await kms.rotate()))));
    },
  );

  app.get(KMS_EXTRA_PATHS.keys, read, async (c) => c.json(ok(await Promise.all(kms.keys().map(keyView)))));

  app.get(routePattern(KMS_EXTRA_PATHS.key), read, async (c) => {
    const key = kms.keys().find((k) => k.keyId === c.req.param('key_id'));
    if (key === undefined) return c.json(errorBody('envelope', 404, 'KEY_NOT_FOUND', 'No such key.'), 404);
    return c.json(ok(await keyView(key)));
  });
}
