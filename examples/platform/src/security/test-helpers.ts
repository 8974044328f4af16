import { join } from 'node:path';
import { createPlatformClient, type PlatformClient, type PlatformClientOptions } from '@provisioning/platform-client';
import Database from 'better-sqlite3';
import type { Hono } from 'hono';

/**
 * What someone with write access to the audit database does: rewrites one
 * stored event (its outcome) behind the log's back, so the hash chain breaks there.
 */
export function tamperAuditEvent(platform: { readonly dataDir: string }, seq: number | undefined): void {
  const raw = new Database(join(platform.dataDir, 'audit.db'));
  raw.exec('DROP TRIGGER audit_events_no_update;');
  raw.prepare('UPDATE audit_events SET event = replace(event, ?, ?) WHERE seq = ?').run('"success"', '"failure"', seq);
  raw.close();
}

/** The typed client over an app (no port), with a bearer token and no retries. */
export function clientOver(
  app: Pick<Hono, 'request'>,
  token: string,
  baseUrls: PlatformClientOptions['baseUrls'],
): PlatformClient {
  return createPlatformClient({
    baseUrls,
    auth: { type: 'bearer', token },
    fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
      app.request(input instanceof Request ? input : String(input), init)) as typeof fetch,
    retry: false,
  });
}
