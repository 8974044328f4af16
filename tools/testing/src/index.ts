export { integrationServers } from './inject.js';
export { createTestDatabase } from './postgres.js';
export type { TestServer } from './servers.js';
export { freePort, MissingServerError, postgresBinDir, startPostgres, startRedis, tempDir } from './servers.js';
