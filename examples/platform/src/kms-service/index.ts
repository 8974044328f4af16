import { createServiceApp } from '../kit/app.js';
import type { ServiceModule } from '../kit/service.js';

/** The KMS Service reference server (default :8082). */
export const kmsService: ServiceModule = {
  name: 'kms',
  port: 8082,
  async create(platform) {
    const app = createServiceApp({ service: 'kms', logger: platform.logger, metrics: platform.metrics });
    app.get('/health', (c) => c.json({ success: true, data: 'KMS Service is healthy' }));
    return { app };
  },
};
