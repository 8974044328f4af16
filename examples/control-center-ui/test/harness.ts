/**
 * The browser tests' harness: builds the UI with Vite's JS API into a temp
 * directory (no prior `npm run build`), starts a control center that serves
 * it on a free loopback port, and launches Debian's Chromium through
 * playwright-core (never a downloaded browser).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createManualClock, type ManualClock } from '@provisioning/core';
import { decodeBase32, generateTotp } from '@provisioning/mfa';
import { freePort, tempDir } from '@provisioning/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { createControlCenterApp } from '../../platform/src/control-center/index.js';
import { createLogger } from '../../platform/src/kit/logger.js';
import { createMetrics } from '../../platform/src/kit/metrics.js';
import { createPlatform, type Platform } from '../../platform/src/kit/platform.js';
import { type RunningServer, serve } from '../../platform/src/kit/serve.js';

const UI_ROOT = resolve(import.meta.dirname, '..');
/** Screenshots go here (git-ignored), one PNG per screen and state. */
export const ARTIFACTS = resolve(UI_ROOT, '../../.artifacts/control-center-ui');
export const CHROMIUM = '/usr/bin/chromium';

/** Builds the UI into a fresh temporary directory; returns it and its remover. */
export async function buildUi(): Promise<{ dir: string; remove(): void }> {
  const out = tempDir('cc-ui-build-');
  await build({
    configFile: join(UI_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: out.path, emptyOutDir: true },
  });
  return { dir: out.path, remove: out.remove };
}

/** A control center serving the UI, on its own data directory and a manual clock (set to now). */
export interface TestControlCenter {
  readonly platform: Platform;
  readonly clock: ManualClock;
  /** `http://localhost:<port>`: WebAuthn's RP id is `localhost` (an IP address cannot be one). */
  readonly url: string;
  addUser(username: string, password: string, roles: string[]): Promise<string>;
  /** The current TOTP code for a base32 key (spaces allowed, as the UI shows it). */
  totp(key: string): string;
  /** Enrolls TOTP for a user straight in the MFA service; returns the base32 key. */
  enrollTotp(userId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startControlCenter(uiDir: string): Promise<TestControlCenter> {
  const data = tempDir('cc-ui-data-');
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const clock = createManualClock(new Date());
  const platform = await createPlatform({
    dataDir: data.path,
    clock,
    logger: createLogger({ level: process.env.CC_LOG ?? 'silent' }),
    metrics: createMetrics(),
    origin: url,
    rateLimitPerMinute: 10_000,
  });
  const app = createControlCenterApp(platform, { uiDir });
  const server: RunningServer = await serve(app, { host: '127.0.0.1', port });
  return {
    platform,
    clock,
    url,
    async addUser(username, password, roles) {
      const user = await platform.users.create({ username, passwordHash: await platform.hasher.hash(password), roles });
      return user.id;
    },
    totp: (key) => generateTotp({ secret: decodeBase32(key.replace(/\s+/g, '')), atMs: clock.now() }),
    async enrollTotp(userId) {
      const e = await platform.mfa.beginTotpEnrollment(userId, { accountName: userId });
      const code = generateTotp({ secret: decodeBase32(e.secret), atMs: clock.now() });
      await platform.mfa.confirmTotpEnrollment(userId, e.deviceId, code);
      return e.secret;
    },
    async close() {
      await server.close(1000);
      await platform.close();
      data.remove();
    },
  };
}

/**
 * Debian's Chromium, headless. Without the background-networking flags the
 * closed network here refuses many connections and slows the start;
 * playwright's `launch()` gives the browser a fresh temporary profile
 * (`--user-data-dir`) and removes it on close.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A fresh browser context (no shared storage between tests). `problems`
 * collects uncaught page errors and Content-Security-Policy violations: the
 * UI must run under the control center's CSP without tripping it.
 */
export async function newPage(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to (load|execute|apply)/i.test(message.text())) problems.push(message.text());
  });
  return { context, page, problems };
}

/**
 * Adds a CTAP2 platform authenticator with resident keys and user
 * verification (a passkey) to the page, through the DevTools protocol.
 */
/** A credential held by the virtual authenticator (the fields the tests read). */
export interface VirtualCredential {
  readonly credentialId: string;
  readonly isResidentCredential: boolean;
  readonly rpId?: string;
  readonly userName?: string;
  readonly userHandle?: string;
}

export async function addVirtualAuthenticator(
  context: BrowserContext,
  page: Page,
): Promise<{ credentials(): Promise<VirtualCredential[]> }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    /** The credentials the authenticator holds (whether resident, their user handles). */
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

/**
 * What a screenshot blacks out: secrets shown once (API and emergency tokens,
 * the TOTP key and its QR code, backup codes). Artifacts are kept and shared;
 * a secret must not be in one, even a test platform's.
 */
const SECRET_SELECTORS = ['.secret input', '[data-testid="totp-key"]', 'img.qr', '[data-testid="backup-codes"] code'];

/** Saves a full-page screenshot under {@link ARTIFACTS}, with the secrets on the page masked. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({
    path: join(ARTIFACTS, `${name}.png`),
    fullPage: true,
    mask: SECRET_SELECTORS.map((s) => page.locator(s)),
  });
}

/** Signs in with username and password (and nothing else). */
export async function signInWithPassword(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/ui/`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Signs out from the header. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
  await page.getByRole('heading', { name: 'Sign in to the Control Center' }).waitFor();
}

/** What the page keeps in web storage and cookies: must stay empty (no secret outlives the tab). */
export async function storedState(context: BrowserContext, page: Page) {
  const storage = await page.evaluate(() => ({
    local: Object.keys(localStorage),
    session: Object.keys(sessionStorage),
  }));
  return { ...storage, cookies: (await context.cookies()).map((c) => c.name) };
}
