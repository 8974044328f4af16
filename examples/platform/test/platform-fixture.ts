import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock, type ManualClock } from '@provisioning/core';
import pino from 'pino';
import { createMetrics } from '../src/kit/metrics.js';
import { createPlatform, type Platform } from '../src/kit/platform.js';

/** A platform on a temporary data directory with silent logs; `dispose()` closes it and removes the directory. */
export async function createTestPlatform(
  options: { clock?: ManualClock; rateLimitPerMinute?: number } = {},
): Promise<Platform & { dispose(): Promise<void>; clock: ManualClock }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'platform-test-'));
  const clock = options.clock ?? createManualClock(new Date('2026-03-02T10:00:00Z'));
  const platform = await createPlatform({
    dataDir,
    clock,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
    rateLimitPerMinute: options.rateLimitPerMinute ?? 10_000,
  });
  return Object.assign(platform, {
    clock,
    async dispose() {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Creates a user with a password and roles, straight in the store (tests only). */
export async function addUser(
  platform: Platform,
  username: string,
  password: string,
  roles: string[],
): Promise<string> {
  const user = await platform.users.create({ username, passwordHash: await platform.hasher.hash(password), roles });
  return user.id;
}
