export type { BenchFigure } from './bench.js';
export { announceTasks, benchFigures, cpuMicrosPerCall, formatOps, machineLine, taskFigure } from './bench.js';
export { integrationServers } from './inject.js';
export { createTestDatabase } from './postgres.js';
export type { TestServer } from './servers.js';
export { freePort, MissingServerError, postgresBinDir, startPostgres, startRedis, tempDir } from './servers.js';
export type { TestPostgres } from './use-postgres.js';
export { usePostgresDatabase } from './use-postgres.js';
