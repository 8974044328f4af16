import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareBootstrap } from '../../../platform/src/control-center/index.js';
import {
  addVirtualAuthenticator,
  buildUi,
  launchChromium,
  newPage,
  screenshot,
  signInWithPassword,
  signOut,
  startControlCenter,
  storedState,
  type TestControlCenter,
} from '../harness.js';

const PASSWORD = 'correct horse battery staple';
const TIMEOUT = 90_000;

let ui: Awaited<ReturnType<typeof buildUi>>;
let cc: TestControlCenter;
let browser: Browser;

beforeAll(async () => {
  // Build first (CPU), then start the browser and the server side by side.
  ui = await buildUi();
  [cc, browser] = await Promise.all([startControlCenter(ui.dir), launchChromium()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cc?.close();
  ui?.remove();
});

async function auditEvents(action: string) {
  await cc.platform.auditLog.flush();
  return (await cc.platform.auditLog.query({ action: action as never })).records.map((r) => r.event);
}

describe('control center UI in Chromium', () => {
  it(
    'creates the first administrator with the bootstrap secret, by keyboard, then signs in',
    async () => {
      // A platform of its own: the bootstrap works only while no user exists.
      const fresh = await startControlCenter(ui.dir);
      try {
        const secret = (await prepareBootstrap(fresh.platform)) as string;
        expect(secret).toMatch(/^\S{32,}$/);
        const { context, page, problems } = await newPage(browser);
        await page.goto(`${fresh.url}/ui/`);
        await page.getByRole('button', { name: 'Create the first administrator' }).click();
        await page.getByRole('heading', { name: 'Create the first administrator' }).waitFor();
        // Keyboard only: the secret field has focus; Tab through the fields, Enter submits.
        const fill = async (...values: string[]) => {
          for (const [i, value] of values.entries()) {
            if (i > 0) await page.keyboard.press('Tab');
            await page.keyboard.type(value);
          }
        };
        await fill('not-the-secret-at-all-000000000000', 'root', '', PASSWORD, PASSWORD);
        await page.keyboard.press('Enter');
        await expect(page.getByRole('alert').textContent()).resolves.toContain('bootstrap secret was refused');
        // A wrong secret does not use it up: the right one still works.
        await page.getByLabel('Bootstrap secret').fill(secret);
        await screenshot(page, '00-bootstrap');
        await page.getByLabel('Bootstrap secret').press('Enter');
        await page.getByRole('heading', { name: 'Sign in to the Control Center' }).waitFor();
        await expect(page.getByRole('status').textContent()).resolves.toContain('The administrator root was created');
        await expect(page.getByLabel('Username', { exact: true }).inputValue()).resolves.toBe('root');
        await screenshot(page, '00-bootstrap-done');
        // The password field has focus: type it and sign in.
        await page.keyboard.type(PASSWORD);
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
        await expect(page.locator('.who').textContent()).resolves.toContain('root (Admin)');
        const created = (await fresh.platform.auditLog.query({ action: 'admin.user.created' })).records;
        expect(created.map((r) => [r.event.actor.id, r.event.metadata?.bootstrap])).toEqual([['bootstrap', true]]);

        // Once is all: the secret is spent and the platform has a user.
        const again = await newPage(browser);
        await again.page.goto(`${fresh.url}/ui/`);
        await again.page.getByRole('button', { name: 'Create the first administrator' }).click();
        await again.page.getByLabel('Bootstrap secret').fill(secret);
        await again.page.getByLabel('Username', { exact: true }).fill('mallory');
        await again.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await again.page.getByLabel('Repeat the password').fill(PASSWORD);
        await again.page.getByRole('button', { name: 'Create the administrator' }).click();
        await expect(again.page.getByRole('alert').textContent()).resolves.toContain('already has users');
        expect((await fresh.platform.users.list({ limit: 10 })).map((u) => u.username)).toEqual(['root']);
        // The secret was never kept by the page.
        expect(await storedState(again.context, again.page)).toEqual({ local: [], session: [], cookies: [] });
        expect([...problems, ...again.problems]).toEqual([]);
        await again.context.close();
        await context.close();
      } finally {
        await fresh.close();
      }
    },
    TIMEOUT,
  );

  it(
    'sets up TOTP with the wizard, then signs in with a TOTP code and with a backup code',
    async () => {
      const userId = await cc.addUser('ada', PASSWORD, ['Admin']);
      const { context, page, problems } = await newPage(browser);
      await page.goto(`${cc.url}/ui/`);
      await screenshot(page, '01-login');
      // Keyboard only: the username field has focus, Tab moves to the password, Enter submits.
      await page.keyboard.type('ada');
      await page.keyboard.press('Tab');
      await page.keyboard.type(PASSWORD);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      await expect(page.getByTestId('mfa-status').textContent()).resolves.toContain('Off');

      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Multi-factor authentication' })
        .click();
      await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
      const key = (await page.getByTestId('totp-key').textContent()) ?? '';
      expect(key.replace(/\s/g, '')).toMatch(/^[A-Z2-7]{32}$/);
      await expect(page.getByRole('img', { name: /QR code/ }).getAttribute('src')).resolves.toMatch(
        /^data:image\/png;base64,/,
      );
      await screenshot(page, '02-totp-wizard');
      await page.getByLabel('Enter the code the app shows').fill(cc.totp(key));
      await page.getByRole('button', { name: 'Confirm', exact: true }).click();

      // Backup codes: shown once, downloadable.
      const list = page.getByTestId('backup-codes');
      await list.waitFor();
      const codes = (await list.locator('code').allTextContents()).map((c) => c.trim());
      expect(codes).toHaveLength(10);
      await screenshot(page, '03-backup-codes');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download codes' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('provisioning-backup-codes.txt');
      const saved = readFileSync((await download.path()) as string, 'utf8');
      for (const code of codes) expect(saved).toContain(code);
      await page.getByRole('button', { name: 'I have saved them' }).click();
      await expect(list.count()).resolves.toBe(0);
      await expect(page.getByRole('region', { name: 'Your factors' }).textContent()).resolves.toContain(
        'Authenticator app',
      );
      await screenshot(page, '04-mfa-settings');
      await signOut(page);

      // Password, then a TOTP code of the next time step (the enrollment code counts as used).
      cc.clock.advance(30_000);
      await signInWithPassword(page, cc.url, 'ada', PASSWORD);
      await page.getByRole('heading', { name: 'Second step' }).waitFor();
      await screenshot(page, '05-login-second-step');
      await page.getByLabel('Code from your authenticator app').fill(cc.totp(key));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      await signOut(page);

      // Password, then a backup code.
      await signInWithPassword(page, cc.url, 'ada', PASSWORD);
      await page.getByRole('radio', { name: 'Backup code' }).check();
      await page.getByRole('textbox', { name: 'Backup code' }).fill(codes[0] as string);
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      await expect(page.getByTestId('mfa-status').textContent()).resolves.toContain('9 backup codes left');

      // A used backup code is refused, and says so.
      const second = await newPage(browser);
      await signInWithPassword(second.page, cc.url, 'ada', PASSWORD);
      await second.page.getByRole('radio', { name: 'Backup code' }).check();
      await second.page.getByRole('textbox', { name: 'Backup code' }).fill(codes[0] as string);
      await second.page.getByRole('button', { name: 'Verify' }).click();
      await expect(second.page.getByRole('alert').textContent()).resolves.toMatch(/not accepted/);
      await second.context.close();

      // 20 minutes on: the access token is refreshed on its own, but the MFA is too old for a
      // sensitive action, so the UI asks for a code (step-up dialog) and then carries on.
      cc.clock.advance(20 * 60_000);
      await page.getByRole('link', { name: 'Multi-factor authentication' }).click();
      await page.getByRole('button', { name: 'Make new backup codes' }).click();
      await page.getByRole('button', { name: 'Confirm: replace every backup code' }).click();
      const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
      await dialog.waitFor();
      await screenshot(page, '06-step-up');
      await dialog.getByLabel('Authenticator code or backup code').fill(cc.totp(key));
      await dialog.getByRole('button', { name: 'Verify' }).click();
      // Wait for the new set to render (reading at once races the retried request).
      await page.getByTestId('backup-codes').locator('code').nth(9).waitFor();
      const fresh = (await page.getByTestId('backup-codes').locator('code').allTextContents()).map((c) => c.trim());
      expect(fresh).toHaveLength(10);
      expect(fresh).not.toContain(codes[1]);
      await expect(dialog.count()).resolves.toBe(0);

      const methods = (await auditEvents('auth.login.succeeded'))
        .filter((e) => e.actor.id === userId)
        .map((e) => e.metadata?.method ?? 'password');
      expect(methods).toEqual(['password', 'totp', 'backup_code']);
      // Nothing kept outside memory: no web storage, no cookie.
      expect(await storedState(context, page)).toEqual({ local: [], session: [], cookies: [] });
      await screenshot(page, '06-mfa-after-step-up');
      expect(problems).toEqual([]);
      await context.close();
    },
    TIMEOUT,
  );

  it(
    'registers a passkey in the virtual authenticator, signs in with it alone and as a second factor, and manages devices',
    async () => {
      const userId = await cc.addUser('grace', PASSWORD, ['Developer']);
      const { context, page, problems } = await newPage(browser);
      const authenticator = await addVirtualAuthenticator(context, page);
      await signInWithPassword(page, cc.url, 'grace', PASSWORD);
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      await page.getByRole('link', { name: 'Multi-factor authentication' }).click();
      await page.getByLabel('Name of the key').fill('Laptop passkey');
      await page.getByRole('button', { name: 'Register a key' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'is registered' }).textContent()).resolves.toContain(
        'Laptop passkey',
      );
      // The first factor brings the backup codes.
      await page.getByTestId('backup-codes').waitFor();
      await page.getByRole('button', { name: 'I have saved them' }).click();
      await screenshot(page, '07-passkey-registered');
      // A discoverable credential (resident key) with the account's user handle: what passkey sign-in needs.
      const credentials = await authenticator.credentials();
      expect(credentials.map((c) => [c.isResidentCredential, c.rpId, c.userName])).toEqual([
        [true, 'localhost', 'grace'],
      ]);

      // Rename it.
      await page.getByRole('button', { name: 'Rename Laptop passkey' }).click();
      await page.getByLabel('New name').fill('Work laptop');
      await page.getByRole('button', { name: 'Save' }).click();
      const factors = page.getByRole('region', { name: 'Your factors' });
      await factors.getByText('Work laptop').waitFor();
      await signOut(page);

      // No username, no password: the passkey alone.
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      // Back on the screen the address names (sign-out kept /ui/mfa).
      await page.getByRole('heading', { name: 'Multi-factor authentication', level: 1 }).waitFor();
      await expect(page.locator('.who').textContent()).resolves.toContain('grace');
      const [passkeyLogin] = (await auditEvents('auth.login.succeeded')).filter(
        (e) => e.actor.id === userId && e.metadata?.method === 'passkey',
      );
      expect(passkeyLogin).toBeDefined();

      // Add TOTP (a fresh MFA from the passkey sign-in allows it), then remove it again.
      await page.getByRole('link', { name: 'Multi-factor authentication' }).click();
      await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
      const key = (await page.getByTestId('totp-key').textContent()) ?? '';
      await page.getByLabel('Enter the code the app shows').fill(cc.totp(key));
      await page.getByRole('button', { name: 'Confirm', exact: true }).click();
      await factors.getByText('Authenticator app').first().waitFor();
      await screenshot(page, '08-devices');
      const totpRow = factors.locator('tr', { hasText: 'Authenticator app' });
      await totpRow.getByRole('button', { name: 'Remove' }).click();
      await totpRow.getByRole('button', { name: /Confirm: remove/ }).click();
      await expect.poll(async () => factors.locator('tbody tr').count(), { timeout: 10_000 }).toBe(1);
      await signOut(page);

      // Password, then the passkey as the second factor.
      await signInWithPassword(page, cc.url, 'grace', PASSWORD);
      await page.getByRole('heading', { name: 'Second step' }).waitFor();
      await page.getByRole('button', { name: 'Use my security key' }).click();
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      const methods = (await auditEvents('auth.login.succeeded'))
        .filter((e) => e.actor.id === userId)
        .map((e) => e.metadata?.method ?? 'password');
      expect(methods).toEqual(['password', 'passkey', 'webauthn']);
      expect((await auditEvents('mfa.device.removed')).map((e) => e.actor.id)).toContain(userId);
      expect(await storedState(context, page)).toEqual({ local: [], session: [], cookies: [] });
      expect(problems).toEqual([]);
      await context.close();
    },
    TIMEOUT,
  );

  it(
    'creates an API token (secret shown once), and the API refuses it once revoked',
    async () => {
      await cc.addUser('alan', PASSWORD, ['Admin']);
      const { context, page, problems } = await newPage(browser);
      await signInWithPassword(page, cc.url, 'alan', PASSWORD);
      await page.getByRole('link', { name: 'API tokens' }).click();
      await page.getByLabel('Name').fill('CI deploy');
      // The key may act as an Admin's "admin" (GET /users is Cedar's admin action) and read.
      await page.getByRole('checkbox', { name: 'admin', exact: true }).check();
      await page.getByRole('checkbox', { name: 'list', exact: true }).uncheck();
      await page.getByLabel('Expires after').selectOption('90');
      await page.getByRole('button', { name: 'Create token' }).click();
      const secret = await page.getByLabel('Token “CI deploy”').inputValue();
      expect(secret).toMatch(/^prov_[0-9a-f]{16}_/);
      await screenshot(page, '09-api-token-created');
      const call = (key: string) => fetch(`${cc.url}/users`, { headers: { authorization: `ApiKey ${key}` } });
      expect((await call(secret)).status).toBe(200);
      await page.getByRole('button', { name: 'I have stored it' }).click();
      // The secret is gone from the page once dismissed.
      await expect(page.content()).resolves.not.toContain(secret);
      const row = page.locator('tr', { hasText: 'CI deploy' });
      await expect(row.textContent()).resolves.toContain('read, admin');
      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.getByRole('button', { name: 'Confirm: revoke CI deploy' }).click();
      await row.getByText('revoked').waitFor();
      await screenshot(page, '10-api-token-revoked');
      const refused = await call(secret);
      expect(refused.status).toBe(401);
      expect(problems).toEqual([]);
      await context.close();
    },
    TIMEOUT,
  );

  it(
    'changes the password (the other session ends) and stays readable at a phone width',
    async () => {
      await cc.addUser('linus', PASSWORD, ['Viewer']);
      const other = await newPage(browser);
      await signInWithPassword(other.page, cc.url, 'linus', PASSWORD);
      await other.page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      await other.page.getByRole('region', { name: 'Sessions list' }).waitFor();
      await other.page.getByText('Your role may not read the policies').waitFor();
      await other.page.getByText('Your role may not read the compliance summary').waitFor();
      await screenshot(other.page, '11-security-dashboard');

      const { context, page, problems } = await newPage(browser, { width: 375, height: 800 });
      await signInWithPassword(page, cc.url, 'linus', PASSWORD);
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      const NEW = 'an entirely new passphrase';
      await page.getByLabel('Current password').fill(PASSWORD);
      await page.getByLabel('New password', { exact: true }).fill(NEW);
      await page.getByLabel('Repeat the new password').fill(NEW);
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect(
        page.getByRole('status').filter({ hasText: 'password was changed' }).textContent(),
      ).resolves.toContain('1 other session was signed out');
      // Nothing wider than the screen: the page does not scroll sideways.
      await screenshot(page, '12-security-narrow');
      const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(widths[0]).toBeLessThanOrEqual(widths[1] as number);

      // The other session is over: its next call sends it back to the sign-in screen.
      await other.page.getByRole('link', { name: 'API tokens' }).click();
      await other.page.getByRole('heading', { name: 'Sign in to the Control Center' }).waitFor();
      await expect(other.page.getByRole('status').first().textContent()).resolves.toContain('Your session ended');
      await other.context.close();
      expect(problems).toEqual([]);
      await context.close();
    },
    TIMEOUT,
  );

  it(
    'requests break-glass as one user, approved by two others of two teams, then activates it',
    async () => {
      const people: Record<string, { id: string; key?: string }> = {};
      for (const [name, roles, teams, mfa] of [
        ['rita', ['Operator'], ['sre'], false],
        ['alice', ['Admin'], ['platform-admin'], true],
        // An approver who is no administrator: the security team (break-glass-approve, break-glass-read).
        ['carol', ['Viewer'], ['security'], true],
        ['sam', ['Operator'], ['sre'], false],
      ] as const) {
        const id = await cc.addUser(name, PASSWORD, [...roles]);
        await cc.platform.users.update(id, { teams: [...teams] });
        people[name] = { id, ...(mfa ? { key: await cc.enrollTotp(id) } : {}) };
      }
      cc.clock.advance(30_000); // the enrollment codes are used: sign-ins take the next step's
      const signIn = async (name: string) => {
        const { context, page, problems } = await newPage(browser);
        await signInWithPassword(page, cc.url, name, PASSWORD);
        const key = people[name]?.key;
        if (key !== undefined) {
          await page.getByLabel('Code from your authenticator app').fill(cc.totp(key));
          await page.getByRole('button', { name: 'Verify' }).click();
        }
        await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
        await page.getByRole('link', { name: 'Break-glass' }).click();
        return { context, page, problems };
      };

      // Rita files the request, by keyboard; she sees her own requests (from the server), not to be approved by
      // her, and cannot activate it yet.
      const rita = await signIn('rita');
      await rita.page.getByLabel('Incident or ticket').focus();
      await rita.page.keyboard.type('INC-4711');
      await rita.page.keyboard.press('Tab');
      await rita.page.keyboard.type('The primary database is down; on-call must fail over.');
      await rita.page.getByRole('checkbox', { name: 'deploy', exact: true }).focus();
      await rita.page.keyboard.press('Space');
      await rita.page.getByLabel('For how long').selectOption('3600');
      await rita.page.getByRole('button', { name: 'Request access' }).focus();
      await rita.page.keyboard.press('Enter');
      await rita.page.getByRole('status').filter({ hasText: 'filed' }).waitFor();
      const mine = rita.page.getByRole('region', { name: 'Your requests list' });
      await expect(mine.textContent()).resolves.toContain('read, list, deploy');
      await rita.page.getByText('No request of someone else is waiting.').waitFor();
      await screenshot(rita.page, '13-break-glass-requested');
      await mine.getByRole('button', { name: 'Activate' }).click();
      await expect(rita.page.getByRole('alert').textContent()).resolves.toContain('needs two approvals');

      // Sam, another requester, sees none of Rita's.
      const sam = await signIn('sam');
      await sam.page.getByText('No request of someone else is waiting.').waitFor();
      await sam.page.getByText('No emergency session is active.').waitFor();
      await expect(sam.page.getByRole('region', { name: 'Your requests list' }).count()).resolves.toBe(0);
      expect(sam.problems).toEqual([]);
      await sam.context.close();

      // Alice (platform-admin) and Carol (security) approve, each with a fresh MFA from her sign-in.
      for (const name of ['alice', 'carol']) {
        const approver = await signIn(name);
        const row = approver.page
          .getByRole('region', { name: 'Pending requests list' })
          .locator('tr', { hasText: 'INC-4711' });
        // The requester by username; Carol also sees who approved before her.
        await expect(row.locator('td').nth(1).textContent()).resolves.toBe('rita');
        await expect(row.textContent()).resolves.toContain(name === 'alice' ? '0 of 2' : '1 of 2 (alice)');
        if (name === 'alice') await screenshot(approver.page, '14-break-glass-approve');
        await row.getByRole('button', { name: 'Approve' }).click();
        await approver.page.getByRole('status').filter({ hasText: 'You approved INC-4711' }).waitFor();
        expect(approver.problems).toEqual([]);
        if (name === 'alice') await approver.context.close();
        if (name === 'carol') {
          // Rita activates: the token is shown once; her list shows the session's time left and who approved.
          await mine.getByRole('button', { name: 'Activate' }).click();
          const token = await rita.page.getByLabel('Emergency token').inputValue();
          expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
          await mine.getByText('active', { exact: true }).waitFor();
          // The browser's clock against the server's manual one (ahead by the earlier tests' steps): an hour and more.
          await expect(mine.getByTestId('my-time-left').textContent()).resolves.toMatch(
            /^(1 h \d{2} min|59 min \d{2} s)$/,
          );
          await expect(mine.textContent()).resolves.toContain('alice, carol');
          await screenshot(rita.page, '15-break-glass-activated');
          // The approver (not an Admin) sees the active session, by username, with its time left.
          await approver.page.getByRole('link', { name: 'Security' }).click();
          await approver.page.getByRole('link', { name: 'Break-glass' }).click();
          const active = approver.page.getByRole('region', { name: 'Active sessions list' });
          const session = active.locator('tr', { hasText: 'INC-4711' });
          await expect(session.locator('td').nth(1).textContent()).resolves.toBe('rita');
          await expect(session.locator('td').nth(3).textContent()).resolves.toBe('alice, carol');
          await expect(active.getByTestId('time-left').textContent()).resolves.toMatch(
            /^\d+ (h \d{2} min|min \d{2} s)$/,
          );
          await screenshot(approver.page, '16-break-glass-active');
          await approver.context.close();
        }
      }
      const steps = ['break_glass.requested', 'break_glass.approved', 'break_glass.activated'];
      const found = await Promise.all(steps.map((a) => auditEvents(a)));
      expect(found.map((events) => events.length)).toEqual([1, 2, 1]);
      expect(found[1]?.map((e) => e.actor.id).sort()).toEqual([people.alice?.id, people.carol?.id].sort());
      expect(rita.problems).toEqual([]);
      await rita.context.close();
    },
    TIMEOUT,
  );

  it(
    'filters the audit log and finds the events of the actions just performed, pages, details and exports',
    async () => {
      const userId = await cc.addUser('margaret', PASSWORD, ['Admin']);
      const { context, page, problems } = await newPage(browser);
      const started = new Date(cc.clock.now() - 60_000);
      await signInWithPassword(page, cc.url, 'margaret', PASSWORD);
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      // The dashboard's policy status: the Cedar set in force, as loaded at start.
      await expect(page.getByTestId('policy-status').textContent()).resolves.toMatch(
        /\d+ policies.*sha256:.*loaded at start/,
      );
      // The compliance summary: both frameworks counted, no failing check on a sound platform, the time of the run.
      const compliance = page.getByTestId('compliance-summary');
      await expect(compliance.locator('[data-framework="soc2"]').textContent()).resolves.toMatch(
        /^SOC 2\d+ passing 0 failing \d+ not assessed here$/,
      );
      await expect(compliance.locator('[data-framework="iso27001"]').textContent()).resolves.toMatch(
        /^ISO 27001:2022\d+ passing 0 failing \d+ not assessed here$/,
      );
      await expect(compliance.textContent()).resolves.toMatch(/Last run\d{1,2} \w{3} \d{4}/);
      await page.getByRole('status').filter({ hasText: 'No automated check fails.' }).waitFor();
      await screenshot(page, '11b-security-compliance');
      // Something to find: a token made and revoked, a wrong current password.
      await page.getByLabel('Current password').fill('not my password at all');
      await page.getByLabel('New password', { exact: true }).fill('a new password that fails');
      await page.getByLabel('Repeat the new password').fill('a new password that fails');
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.getByRole('alert').filter({ hasText: 'current password' }).waitFor();
      await page.getByRole('link', { name: 'API tokens' }).click();
      await page.getByLabel('Name').fill('audit probe');
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.getByRole('button', { name: 'I have stored it' }).click();
      const row = page.locator('tr', { hasText: 'audit probe' });
      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.getByRole('button', { name: 'Confirm: revoke audit probe' }).click();
      await row.getByText('revoked').waitFor();
      await cc.platform.auditLog.flush();

      await page.getByRole('link', { name: 'Audit log' }).click();
      // The browser's time zone is UTC: a datetime-local value is UTC here.
      await page.getByLabel('From').fill(started.toISOString().slice(0, 19));
      await page.getByRole('button', { name: 'Only my actions' }).click();
      await expect(page.getByLabel('Actor').inputValue()).resolves.toBe(userId);
      await page.getByLabel('Action').fill('auth.api_key.revoked');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      const list = page.getByRole('region', { name: 'Audit events list' });
      await expect.poll(async () => list.locator('tbody tr').count(), { timeout: 10_000 }).toBe(1);
      await expect(list.textContent()).resolves.toContain('auth.api_key.revoked');
      await list.getByRole('button', { name: /Details of auth.api_key.revoked/ }).click();
      const detail = page.getByTestId('audit-detail');
      await expect(detail.textContent()).resolves.toMatch(/api_key::/);
      await screenshot(page, '17-audit-filtered');

      // The resource filter: from the event's details, every event of that key (made, then revoked) and nothing else.
      const keyResource = (await list.locator('tbody tr td:nth-child(5)').first().textContent()) ?? '';
      expect(keyResource).toMatch(/^api_key::/);
      await page.getByRole('button', { name: 'Every event of this resource' }).click();
      await expect(page.getByLabel('Resource type').inputValue()).resolves.toBe('api_key');
      await expect(page.getByLabel('Resource id').inputValue()).resolves.toBe(keyResource.slice('api_key::'.length));
      await expect.poll(async () => list.locator('tbody tr').count(), { timeout: 10_000 }).toBe(2);
      await expect(list.locator('tbody tr td:nth-child(3)').allTextContents()).resolves.toEqual([
        'auth.api_key.revoked',
        'auth.api_key.created',
      ]);
      await expect(list.locator('tbody tr td:nth-child(5)').allTextContents()).resolves.toEqual([
        keyResource,
        keyResource,
      ]);
      await screenshot(page, '17b-audit-by-resource');
      // The export holds what the view shows: the same filters, every page.
      await page.getByLabel('Format').selectOption({ label: 'JSON' });
      const [byResource] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export', exact: true }).click(),
      ]);
      const exported = JSON.parse(readFileSync((await byResource.path()) as string, 'utf8')) as Array<{
        event: { action: string; resource: { type: string; id: string } };
      }>;
      expect(exported.map((r) => `${r.event.action} ${r.event.resource.type}::${r.event.resource.id}`)).toEqual([
        `auth.api_key.created ${keyResource}`,
        `auth.api_key.revoked ${keyResource}`,
      ]);
      // By keyboard: type a resource type and submit the form with Enter.
      await page.getByLabel('Resource id').fill('');
      await page.getByLabel('Resource type').fill('Provisioning::AuditLog');
      await page.getByLabel('Resource type').press('Enter');
      // The decisions on the audit log (this viewer's queries) and on the compliance evidence (the dashboard's summary).
      await expect
        .poll(async () => new Set(await list.locator('tbody tr td:nth-child(5)').allTextContents()), {
          timeout: 10_000,
        })
        .toEqual(new Set(['Provisioning::AuditLog::platform', 'Provisioning::AuditLog::compliance']));
      await page.getByRole('button', { name: 'Clear' }).click();
      await page.getByLabel('From').fill(started.toISOString().slice(0, 19));
      await page.getByRole('button', { name: 'Only my actions' }).click();

      // The failed password change, by outcome.
      await page.getByLabel('Action').fill('');
      await page.getByLabel('Outcome').selectOption('failure');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await expect
        .poll(async () => (await list.textContent()) ?? '', { timeout: 10_000 })
        .toContain('admin.user.updated');
      const outcomes = await list.locator('tbody tr td:nth-child(4)').allTextContents();
      expect(new Set(outcomes)).toEqual(new Set(['failure']));

      // Pages of 10 over everything she did (the chain records each decision too).
      await page.getByLabel('Outcome').selectOption('');
      await page.getByLabel('Per page').selectOption('10');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await expect.poll(async () => list.locator('tbody tr').count(), { timeout: 10_000 }).toBe(10);
      const first = await list.locator('tbody tr').first().getAttribute('data-event');
      await page.getByRole('button', { name: 'Next page' }).click();
      await expect(page.getByTestId('audit-range').textContent()).resolves.toMatch(/^Showing 11–/);
      expect(await list.locator('tbody tr').first().getAttribute('data-event')).not.toBe(first);
      await screenshot(page, '18-audit-page-2');

      // Exports of the time range: CSV, JSON and ECS.
      for (const [format, marker] of [
        ['CSV', 'auth.api_key.revoked'],
        ['JSON', '"auth.api_key.revoked"'],
        ['Elastic Common Schema (ECS)', '"ecs"'],
      ] as const) {
        await page.getByLabel('Format').selectOption({ label: format });
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Export', exact: true }).click(),
        ]);
        const text = readFileSync((await download.path()) as string, 'utf8');
        expect(text, format).toContain(marker);
        expect(text, format).toContain(userId);
      }
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      await page.getByRole('status').filter({ hasText: 'The chain is intact' }).waitFor();
      expect(problems).toEqual([]);
      await context.close();
    },
    TIMEOUT,
  );
});
