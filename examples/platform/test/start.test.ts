import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@provisioning/testing';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'correct horse battery staple';
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Runs `npm start`'s command on a fresh data directory and free ports; resolves once it says it is ready. */
async function start(dataDir: string) {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE: process.execPath,
    PROVISIONING_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  for (const service of ['ORCHESTRATOR', 'CONTROL_CENTER', 'KMS_SERVICE', 'API_SERVER', 'EXTENSION_REGISTRY']) {
    env[`PROVISIONING_${service}_PORT`] = '0';
  }
  // `npm start`'s command: bundles the sources and runs the bundle.
  const child = spawn('sh', ['scripts/start.sh'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes('Press Ctrl-C to stop.')) resolve();
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`the platform exited with ${code} before it was ready:\n${out}`)));
  });
  const urlOf = (name: string) => new RegExp(`${name}\\s+(http://\\S+)`).exec(out)?.[1] as string;
  return {
    child,
    output: () => out,
    readyMs: Number(/ready in (\d+) ms/.exec(out)?.[1]),
    bootstrapSecret: /"secret":"([A-Za-z0-9_-]+)"/.exec(out)?.[1] as string,
    orchestrator: urlOf('orchestrator'),
    controlCenter: urlOf('control-center'),
  };
}

/** Opens a WebSocket to the orchestrator's event stream (the HTTP upgrade only: the test watches the socket). */
function openEvents(base: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/ws?token=${encodeURIComponent(token)}&events=task`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      },
    });
    req.on('upgrade', (_res, socket) => resolve(socket));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

describe('npm start', () => {
  it('starts from an empty data directory with no configuration, and SIGTERM stops it cleanly', async () => {
    const dir = tempDir('platform-start-');
    try {
      const platform = await start(dir.path);
      // Recorded, not asserted (speed belongs in benchmarks): `npm start` is documented as ready within 10 s.
      expect(platform.readyMs).toBeGreaterThan(0);
      // start.sh exec'd node (one process, the child's pid) with glibc's fixed mmap threshold and a heap bound (see start.sh).
      const environ = readFileSync(`/proc/${platform.child.pid}/environ`, 'utf8').split('\0');
      expect(environ).toContain('MALLOC_MMAP_THRESHOLD_=131072');
      const cmdline = readFileSync(`/proc/${platform.child.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toContain('--max-old-space-size=256');
      expect(cmdline.at(-2)).toMatch(/scripts\/start\.mjs$/);
      // The UI at the public origin's host (WebAuthn refuses IP addresses as relying-party ids), or why not.
      expect(platform.output()).toMatch(/web UI\s+(http:\/\/localhost:9090\/ui\/|not built)/);
      expect(platform.output()).not.toMatch(/web UI\s+http:\/\/127\.0\.0\.1/);
      // The bundle keeps each file's import.meta.url: the UI's dist/ (and the shipped
      // policies the platform started with) are found relative to the sources.
      if (!platform.output().includes('not built')) {
        const ui = await fetch(`${platform.controlCenter}/ui/`);
        expect(ui.status).toBe(200);
        expect(await ui.text()).toContain('<div id="root">');
      }
      expect(platform.output()).toMatch(/policies from \S+\/packages\/authz\/src\/policies\//);
      const post = (path: string, body: unknown) =>
        fetch(`${platform.controlCenter}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect(
        (await post('/auth/bootstrap', { secret: platform.bootstrapSecret, username: 'root', password: PASSWORD }))
          .status,
      ).toBe(201);
      const login = (await (await post('/auth/login', { username: 'root', password: PASSWORD })).json()) as {
        data: { access_token: string };
      };
      const events = await openEvents(platform.orchestrator, login.data.access_token);
      const eventsClosed = once(events, 'close');

      platform.child.kill('SIGTERM');
      const [code] = (await once(platform.child, 'exit')) as [number | null];
      expect(code, platform.output()).toBe(0);
      expect(platform.output()).toContain('Stopped.');
      // The open event stream did not hold the shutdown up: it was ended.
      await eventsClosed;

      // The audit log was flushed and its last checkpoint covers every event.
      const audit = new Database(`${dir.path}/audit.db`, { readonly: true });
      const last = audit.prepare('SELECT max(seq) AS seq FROM audit_events').get() as { seq: number };
      const checkpoint = audit.prepare('SELECT max(seq) AS seq FROM audit_checkpoints').get() as { seq: number };
      audit.close();
      expect(last.seq).toBeGreaterThan(2);
      expect(checkpoint.seq).toBe(last.seq);
    } finally {
      dir.remove();
    }
  }, 60_000);
});
