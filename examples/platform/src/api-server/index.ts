import { createServiceApp } from '../kit/app.js';
import type { ServiceModule } from '../kit/service.js';

/** The API Server reference server (default :8083). */
export const apiServerService: ServiceModule = {
  name: 'apiServer',
  port: 8083,
  async create(platform) {
    const app = createServiceApp({ service: 'apiServer', logger: platform.logger, metrics: platform.metrics });
    app.get('/health', (c) => c.json({ success: true, data: 'API Server is healthy' }));
    return { app };
  },
};
