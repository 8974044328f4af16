import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock, type ManualClock } from '@provisioning/core';
import type { Hono } from 'hono';
import pino from 'pino';
import { vi } from 'vitest';
import { createMetrics } from '../src/kit/metrics.js';
import { createPlatform, type Platform, type PlatformOptions } from '../src/kit/platform.js';

/** A platform on a temporary data directory with silent logs; `dispose()` closes it and removes the directory. */
export async function createTestPlatform(
  options: {
    clock?: ManualClock;
    rateLimitPerMinute?: number;
    dataDir?: string;
    storage?: PlatformOptions['storage'];
    authorization?: PlatformOptions['authorization'];
  } = {},
): Promise<Platform & { dispose(): Promise<void>; clock: ManualClock }> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'platform-test-'));
  const clock = options.clock ?? createManualClock(new Date('2026-03-02T10:00:00Z'));
  const platform = await createPlatform({
    dataDir,
    clock,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
    rateLimitPerMinute: options.rateLimitPerMinute ?? 10_000,
    ...(options.storage === undefined ? {} : { storage: options.storage }),
    ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
  });
  return Object.assign(platform, {
    clock,
    async dispose() {
      await platform.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
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

/** The Node server's socket for in-process requests: a loopback client (Cedar needs a client address). */
export const LOOPBACK_ENV = Object.freeze({ incoming: { socket: { remoteAddress: '127.0.0.1' } } });

/**
 * The app with `request()` answering as if from a loopback socket: the
 * security chain resolves the client IP from the Node socket, which
 * `app.request()` does not have (an unknown address fails Cedar's context,
 * closed). Everything else is the app itself.
 */
export function fromLoopback<App extends { request: Hono['request'] }>(app: App): App {
  return new Proxy(app, {
    get(target, prop, receiver) {
      if (prop === 'request') {
        return (input: Parameters<Hono['request']>[0], init?: Parameters<Hono['request']>[1]) =>
          target.request(input, init, LOOPBACK_ENV);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

// Every platform test composes the whole stack (Argon2id hashes, the Cedar
// engine's first compilation takes seconds on a loaded machine): give tests
// and hooks the integration project's budget instead of vitest's 5 s.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 60_000 });
