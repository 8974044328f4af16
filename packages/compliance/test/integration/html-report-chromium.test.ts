import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../src/report.js';
import { HOSTILE, sampleReport } from '../report-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../../.artifacts/compliance/', import.meta.url));

describe('HTML report in headless Chromium', () => {
  it('renders readable, escaped and self-contained, and keeps a screenshot', async () => {
    // Fail, never skip: CI must install Debian's chromium package.
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
    const html = renderHtmlReport(await sampleReport());
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(`${ARTIFACTS}report.html`, html);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const requests: string[] = [];
      const dialogs: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('data:') && r.url() !== 'about:blank') requests.push(r.url());
      });
      page.on('dialog', async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });
      await page.setContent(html, { waitUntil: 'load' });

      // Visible content.
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered, visible text is what is asserted
      await expect.poll(() => page.locator('h1').innerText()).toContain('SOC 2 / ISO 27001 readiness');
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered, visible text is what is asserted
      const text = await page.locator('body').innerText();
      expect(text).toContain('MFA enforced for Admin and Operator in production');
      expect(text).toContain('8 Technological controls (34)');
      expect(text).toContain('Acme <Ops> & Co');
      // The hostile check title shows as text; it did not run or create elements.
      expect(text).toContain('<script>alert("x")</script>');
      expect(dialogs).toEqual([]);
      expect(await page.locator('main script, main img').count()).toBe(0);
      expect(requests).toEqual([]);
      // Styled: the fail badge is red, the layout has real height.
      const failBadge = page.locator('.badge.fail').first();
      expect(await failBadge.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(198, 40, 40)');
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      expect(height).toBeGreaterThan(2000);
      // 93 ISO controls + 20 SOC 2 criteria + 14 families, each a row.
      expect(await page.locator('td code').count()).toBeGreaterThanOrEqual(93 + 20 + 14);

      await page.screenshot({ path: `${ARTIFACTS}report.png`, fullPage: false });
      await page.screenshot({ path: `${ARTIFACTS}report-full.png`, fullPage: true });
      // The escaped hostile row and the ISO section, at readable size, for a human look.
      await page
        .locator('tr', { hasText: 'app.hostile' })
        .first()
        .screenshot({ path: `${ARTIFACTS}report-hostile-row.png` });
      await page.locator('h3', { hasText: '8 Technological controls' }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${ARTIFACTS}report-iso.png` });
      expect(statSync(`${ARTIFACTS}report.png`).size).toBeGreaterThan(20_000);
      // Printable: a PDF renders with several pages.
      await page.emulateMedia({ media: 'print' });
      const pdf = await page.pdf({ format: 'A4' });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      writeFileSync(`${ARTIFACTS}report.pdf`, pdf);
      expect(HOSTILE).toContain('<script>');
    } finally {
      await browser.close();
    }
  });
});
