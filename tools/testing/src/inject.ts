import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the PostgreSQL server the global setup started. */
    postgresUrl: string;
    /** URL of the Redis server the global setup started. */
    redisUrl: string;
  }
}

/**
 * The servers that the root global setup (`test/global-setup.ts`) started for
 * this run. It throws if they are missing, so an integration test fails
 * instead of silently skipping.
 */
export function integrationServers(): { postgresUrl: string; redisUrl: string } {
  const postgresUrl = inject('postgresUrl');
  const redisUrl = inject('redisUrl');
  if (!postgresUrl || !redisUrl) {
    throw new Error('integration servers are not running: run the tests through the root vitest config (npm test)');
  }
  return { postgresUrl, redisUrl };
}
