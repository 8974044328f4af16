import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform } from '../../test/platform-fixture.js';
import { createControlCenterApp } from './index.js';
import { WEB_UI_CSP, webUiBanner } from './web-ui.js';

let dir: string;
let outside: string;
let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let app: ReturnType<typeof createControlCenterApp>;
const INDEX = '<!doctype html><title>cc</title><script type="module" src="/ui/assets/index-AbC123xY.js"></script>';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cc-ui-'));
  outside = mkdtempSync(join(tmpdir(), 'cc-outside-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'index-AbC123xY.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'index-QwErTy12.css'), 'body{}');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, '.env'), 'SECRET=1');
  writeFileSync(join(dir, 'notes.md'), '# not served');
  writeFileSync(join(outside, 'secret.txt'), 'outside the build');
  symlinkSync(join(outside, 'secret.txt'), join(dir, 'link.txt'));
  platform = await createTestPlatform();
  app = createControlCenterApp(platform, { uiDir: dir });
});
afterAll(async () => {
  await platform.dispose();
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('control center: serving the web UI', () => {
  it('serves index.html with a strict CSP, nosniff, no framing and no caching', async () => {
    const res = await app.request('/ui/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toBe(WEB_UI_CSP);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
  });

  it('caches hashed assets for a year with their exact types; other files are revalidated', async () => {
    const js = await app.request('/ui/assets/index-AbC123xY.js');
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-security-policy')).toBe(WEB_UI_CSP);
    const css = await app.request('/ui/assets/index-QwErTy12.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const svg = await app.request('/ui/favicon.svg');
    expect([svg.headers.get('content-type'), svg.headers.get('cache-control')]).toEqual(['image/svg+xml', 'no-cache']);
    const head = await app.request('/ui/assets/index-AbC123xY.js', { method: 'HEAD' });
    expect([head.status, await head.text(), head.headers.get('content-length')]).toEqual([200, '', '14']);
  });

  it('answers the UI for its own routes and redirects / and /ui to /ui/', async () => {
    for (const path of ['/ui/tokens', '/ui/security/sessions']) {
      const res = await app.request(path);
      expect([res.status, await res.text()]).toEqual([200, INDEX]);
    }
    for (const path of ['/', '/ui']) {
      const res = await app.request(path);
      expect([res.status, res.headers.get('location')]).toEqual([302, '/ui/']);
    }
  });

  it('serves nothing outside the manifest: traversal, encoded separators, dotfiles, symlinks, unknown types', async () => {
    for (const path of [
      '/ui/../package.json',
      '/ui/%2e%2e/%2e%2e/package.json',
      '/ui/..%2f..%2fpackage.json',
      '/ui/assets/../../../../etc/passwd',
      '/ui/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/ui/.env',
      '/ui/notes.md',
      '/ui/link.txt',
      '/ui/assets/missing-12345678.js',
      '/ui/assets/nothing',
    ]) {
      const res = await app.request(path);
      const body = await res.text();
      expect(body, path).not.toContain('SECRET');
      expect(body, path).not.toContain('outside the build');
      expect(body, path).not.toContain('"name"');
      expect(body, path).not.toContain('root:');
      // Either refused, or the app's index (a UI route) — never another file.
      if (res.status === 200) expect(body, path).toBe(INDEX);
      else expect(res.status, path).toBe(404);
    }
    expect((await app.request('/ui/.env')).status).toBe(404);
    expect((await app.request('/ui/link.txt')).status).toBe(404);
  });

  it('refuses other methods and leaves the API routes alone', async () => {
    expect((await app.request('/ui/', { method: 'POST' })).status).toBe(404);
    const health = await app.request('/health');
    expect(await health.json()).toEqual({ success: true, data: { status: 'healthy' } });
  });

  it('answers 503 with how to build it when the UI is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cc-ui-empty-'));
    try {
      const bare = createControlCenterApp(platform, { uiDir: empty });
      const res = await bare.request('/ui/');
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build');
      expect(res.headers.get('content-security-policy')).toBe(WEB_UI_CSP);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the web UI line of npm start', () => {
  it('names the public origin (a host WebAuthn accepts), never the 127.0.0.1 listen address', () => {
    expect(webUiBanner('http://localhost:9090', 'http://127.0.0.1:9090', true)).toEqual([
      `  ${'web UI'.padEnd(20)} http://localhost:9090/ui/`,
    ]);
    expect(webUiBanner('https://cc.example.com', 'http://10.0.0.5:9090', true)).toEqual([
      `  ${'web UI'.padEnd(20)} https://cc.example.com/ui/`,
    ]);
  });

  it('hints at PROVISIONING_PUBLIC_ORIGIN when a local origin names another port, and says when the UI is not built', () => {
    const lines = webUiBanner('http://localhost:9090', 'http://127.0.0.1:41234', true);
    expect(lines[0]).toContain('http://localhost:9090/ui/');
    expect(lines[1]).toContain('PROVISIONING_PUBLIC_ORIGIN=http://localhost:41234');
    expect(webUiBanner('http://localhost:9090', 'http://127.0.0.1:9090', false)[0]).toContain('not built');
  });
});
