import { openApiDocument } from '@provisioning/platform-client/api';
import { createServiceApp } from '../kit/app.js';
import type { ServiceModule } from '../kit/service.js';
import { KMS_EXTRA_PATHS, registerKmsRoutes } from './routes.js';
import { createKmsCore } from './service.js';

/** The service's OpenAPI document: the contract's routes plus the designed key-management ones. */
export function kmsOpenApi(): Record<string, unknown> {
  const doc = openApiDocument('kms') as unknown as Record<string, unknown> & { paths: Record<string, unknown> };
  const designed = (summary: string, method: 'get' | 'post') => ({
    [method]: {
      summary,
      'x-origin': 'designed',
      security: [{ bearer: [] }],
      responses: { 200: { description: 'OK' } },
    },
  });
  return {
    ...doc,
    paths: {
      ...doc.paths,
      [KMS_EXTRA_PATHS.rewrap]: designed(
        'Re-wrap a ciphertext under the current key ({ ciphertext, context })',
        'post',
      ),
      [KMS_EXTRA_PATHS.rotate]: designed('Rotate: a new current key; old keys still decrypt (admin, MFA)', 'post'),
      [KMS_EXTRA_PATHS.keys]: designed('Key list', 'get'),
      [KMS_EXTRA_PATHS.key]: designed('Key metadata', 'get'),
    },
  };
}

/** The KMS Service reference server (default :8082): age backend, envelope encryption. */
export const kmsService: ServiceModule = {
  name: 'kms',
  port: 8082,
  async create(platform) {
    const kms = await createKmsCore(platform.dataDir, platform.clock);
    const app = createServiceApp({
      service: 'kms',
      logger: platform.logger,
      metrics: platform.metrics,
      chain: platform.chain,
      openapi: kmsOpenApi(),
    });
    registerKmsRoutes(app, platform, kms);
    return { app };
  },
};
