import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { CcEnv } from './http.js';

/** Where the web UI is served: `/ui/…` (no API route lives under it). */
export const WEB_UI_BASE = '/ui/';

/** The build of `examples/control-center-ui` (`npm run build`), the control center's default UI directory. */
export const DEFAULT_WEB_UI_DIR: string = fileURLToPath(new URL('../../../control-center-ui/dist', import.meta.url));

const effectivePort = (url: URL): string => url.port || (url.protocol === 'https:' ? '443' : '80');

/**
 * The lines `npm start` prints for the web UI. The address is the public
 * origin's (`[security] public_origin`, default `http://localhost:9090`), not
 * the listen address (`127.0.0.1`): WebAuthn takes the origin's host as its
 * relying-party id and browsers refuse an IP address there, so the UI opened
 * at `http://127.0.0.1:9090/ui/` would load but refuse every security key.
 * When a loopback public origin names another port than the one the control
 * center listens on, a hint says how to make them agree.
 */
export function webUiBanner(publicOrigin: string, listenUrl: string, built: boolean): string[] {
  const origin = new URL(publicOrigin);
  const listen = new URL(listenUrl);
  const label = 'web UI'.padEnd(20);
  if (!built) return [`  ${label} not built (npm run build -w examples/control-center-ui)`];
  const lines = [`  ${label} ${new URL(WEB_UI_BASE, origin).href}`];
  const local = origin.hostname === 'localhost' || origin.hostname.endsWith('.localhost');
  if (local && effectivePort(origin) !== effectivePort(listen)) {
    lines.push(
      `  ${''.padEnd(20)} (the control center listens on port ${effectivePort(listen)}: set PROVISIONING_PUBLIC_ORIGIN=http://${origin.hostname}:${effectivePort(listen)} for WebAuthn)`,
    );
  }
  return lines;
}

// Only these extensions are served, each with its exact type; any other file
// in the build is left out of the manifest (never served as a guess).
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The Content-Security-Policy of every UI answer: scripts, styles and API
 * calls from this origin only, no inline script or style, no plugins, no
 * framing (clickjacking), forms only to this origin. `img-src data:` is for
 * the TOTP QR code, which the API sends as a `data:image/png` URL.
 */
export const WEB_UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': WEB_UI_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy':
    'camera=(), microphone=(), geolocation=(), payment=(), publickey-credentials-get=(self), publickey-credentials-create=(self)',
};

// Vite names built assets `<name>-<hash>.<ext>`: their content never changes
// under one name, so they may be cached for a year; everything else
// (index.html first) is revalidated so a new build is picked up at once.
const IMMUTABLE = 'public, max-age=31536000, immutable';
const HASHED_ASSET = /^assets\/[\w.-]+-[\w-]{8,}\.\w+$/;

interface Asset {
  readonly body: Uint8Array;
  readonly type: string;
  readonly cacheControl: string;
}

/**
 * Reads the build once into memory: the manifest of what can be served.
 * Requests are looked up in it, never mapped onto the file system, so no
 * request path (`..`, encoded separators, symlinks) can reach another file.
 * Symbolic links, dotfiles and unknown extensions are left out.
 */
export function loadWebUi(dir: string): ReadonlyMap<string, Asset> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const assets = new Map<string, Asset>();
  const walk = (folder: string, depth: number): void => {
    if (depth > 8) return;
    for (const name of readdirSync(folder)) {
      if (name.startsWith('.')) continue;
      const path = join(folder, name);
      const stat = lstatSync(path);
      if (stat.isDirectory()) walk(path, depth + 1);
      if (!stat.isFile()) continue;
      const type = CONTENT_TYPES[extension(name)];
      if (type === undefined) continue;
      const key = relative(dir, path).split(sep).join('/');
      assets.set(key, {
        body: readFileSync(path),
        type,
        cacheControl: HASHED_ASSET.test(key) ? IMMUTABLE : 'no-cache',
      });
    }
  };
  walk(dir, 0);
  const index = assets.get('index.html');
  if (index === undefined) return undefined;
  // The entry document is never stored: it names the current build's assets.
  assets.set('index.html', { ...index, cacheControl: 'no-store' });
  return assets;
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot).toLowerCase();
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Control Center</title>
<p>The Control Center web UI is not built. Run <code>npm run build</code> (or <code>npm start</code>, which builds it).</p></html>`;

/**
 * Serves the web UI under {@link WEB_UI_BASE} (`/` redirects there): the
 * files of `dir` from an in-memory manifest, with {@link WEB_UI_CSP},
 * `nosniff`, `frame-ancestors 'none'`, no caching of `index.html` and a
 * year of caching for hashed assets. A path without a file extension that is
 * not a file answers `index.html` (the UI's own routes); a missing file, 404.
 * Without a build, 503 with a page that says how to build it.
 */
export function webUiRoutes(app: Hono<CcEnv>, dir: string): void {
  const assets = loadWebUi(dir);
  const answer = (asset: Asset, head: boolean): Response =>
    new Response(head ? null : (asset.body as Uint8Array<ArrayBuffer>), {
      status: 200,
      headers: {
        ...SECURITY_HEADERS,
        'content-type': asset.type,
        'content-length': String(asset.body.byteLength),
        'cache-control': asset.cacheControl,
      },
    });
  const plain = (status: number, body: string, type = 'text/plain; charset=utf-8'): Response =>
    new Response(body, { status, headers: { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store' } });

  app.on(['GET', 'HEAD'], '/', (c) => c.redirect(WEB_UI_BASE, 302));
  app.on(['GET', 'HEAD'], '/ui', (c) => c.redirect(WEB_UI_BASE, 302));
  app.on(['GET', 'HEAD'], '/ui/*', (c) => {
    if (assets === undefined) return plain(503, NOT_BUILT, 'text/html; charset=utf-8');
    const head = c.req.method === 'HEAD';
    const key = c.req.path.slice(WEB_UI_BASE.length);
    const found = assets.get(key === '' ? 'index.html' : key);
    if (found !== undefined) return answer(found, head);
    // A UI route (no extension in the last segment) gets the app; a missing file is a 404.
    const last = key.slice(key.lastIndexOf('/') + 1);
    if (!last.includes('.') && !key.startsWith('assets/')) return answer(assets.get('index.html') as Asset, head);
    return plain(404, 'Not found.');
  });
}
