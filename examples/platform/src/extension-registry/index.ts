import { createServiceApp } from '../kit/app.js';
import type { ServiceModule } from '../kit/service.js';

/** The Extension Registry reference server (default :8084). */
export const extensionRegistryService: ServiceModule = {
  name: 'extensionRegistry',
  port: 8084,
  async create(platform) {
    const app = createServiceApp({ service: 'extensionRegistry', logger: platform.logger, metrics: platform.metrics });
    app.get('/health', (c) => c.json({ success: true, data: 'Extension Registry is healthy' }));
    return { app };
  },
};
