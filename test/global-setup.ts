import { startPostgres, startRedis, type TestServer } from '@provisioning/testing';
import type { TestProject } from 'vitest/node';

/**
 * Starts one PostgreSQL and one Redis server for the integration project and
 * hands their URLs to the tests (`integrationServers()`). A missing binary
 * fails the run: integration tests are never skipped silently.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers: TestServer[] = [];
  try {
    const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    servers.push(postgres, redis);
    // The keys are typed for inject() by @provisioning/testing's ProvidedContext
    // augmentation, which vitest/node's declarations do not see.
    const provide = (key: string, value: string): void => project.provide(key as never, value as never);
    provide('postgresUrl', postgres.url);
    provide('redisUrl', redis.url);
  } catch (error) {
    await Promise.allSettled(servers.map((s) => s.stop()));
    throw error;
  }
  return async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
  };
}
