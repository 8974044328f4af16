import { describe, expect, it } from 'vitest';
import { HOSTILE, sampleReport } from '../test/report-fixture.js';
import { OSCAL_VERSION, toOscalAssessmentResults } from './oscal.js';
import { escapeHtml, renderHtmlReport, renderJsonReport, renderMarkdownReport } from './report.js';

const UUID_V4_V5 = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[45][0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$/;
const TOKEN = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const DATETIME_TZ = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe('reports', () => {
  it('summarises the assessment, requests and incidents without subject ids', async () => {
    const report = await sampleReport();
    expect(report.assessment.summary.fail).toBeGreaterThan(0);
    expect(report.dataSubjectRequests[0]).toMatchObject({ id: 'req-0001', overdue: true, failedProviders: ['leases'] });
    expect(report.incidents[0]).toMatchObject({ id: 'inc-1', breachNotification: 'overdue' });
    expect(renderJsonReport(report)).not.toContain('user-42');
  });

  it('JSON: round-trips', async () => {
    const report = await sampleReport();
    expect(JSON.parse(renderJsonReport(report))).toEqual(report);
  });

  describe('HTML', () => {
    it('escapes every value: hostile text never becomes markup', async () => {
      const html = renderHtmlReport(await sampleReport());
      expect(html).not.toContain('<script');
      expect(html).not.toContain('<img');
      expect(html).not.toContain('onerror=alert(1)>');
      expect(html).toContain(
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;q&#39;',
      );
      expect(html).toContain('Acme &lt;Ops&gt; &amp; Co');
      expect(html).toContain(escapeHtml(HOSTILE));
    });

    it('is self-contained: inline CSS, no script, no external reference, a CSP that blocks loading', async () => {
      const html = renderHtmlReport(await sampleReport());
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain('<style>');
      expect(html).not.toMatch(/url\(|@import/i);
      // Every real tag (escaped text has no "<") is from a small allowlist and loads nothing.
      const tags = html.match(/<[a-zA-Z][^>]*>/g) ?? [];
      const names = new Set(tags.map((t) => /^<([a-zA-Z0-9]+)/.exec(t)?.[1]?.toLowerCase()));
      const allowed = [
        'html',
        'colgroup',
        'col',
        'head',
        'meta',
        'title',
        'style',
        'body',
        'main',
        'h1',
        'h2',
        'h3',
        'p',
        'div',
        'b',
        'table',
        'thead',
        'tbody',
        'tr',
        'th',
        'td',
        'span',
        'strong',
        'br',
        'code',
        'ul',
        'li',
        'footer',
      ];
      expect([...names].filter((n) => !allowed.includes(n as string))).toEqual([]);
      for (const tag of tags) expect(tag).not.toMatch(/\s(src|href|action|on\w+)\s*=/i);
      expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
      expect(html).toContain('@media print');
    });

    it('shows the checks, all 93 ISO controls by theme, SOC 2 and the 2013 families', async () => {
      const html = renderHtmlReport(await sampleReport());
      expect(html).toContain('MFA enforced for Admin and Operator in production');
      expect(html).toContain('5 Organizational controls (37)');
      expect(html).toContain('6 People controls (8)');
      expect(html).toContain('7 Physical controls (14)');
      expect(html).toContain('8 Technological controls (34)');
      expect(html).toContain('Logical and physical access');
      expect(html).toContain('A.18');
      expect(html).toContain('lease lease-aws-17 expired');
    });

    it('escapeHtml covers the five HTML specials and the backtick', () => {
      expect(escapeHtml(`<a href="x" title='y'>&\``)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;');
    });
  });

  describe('Markdown', () => {
    it('escapes markup and keeps each row on one line', async () => {
      const text = renderMarkdownReport(await sampleReport());
      expect(text).not.toContain('<script>');
      expect(text).toContain('\\<script\\>');
      expect(text).not.toContain('[l](http');
      expect(text).toContain('\\[l\\](http://evil.test)');
      const row = text.split('\n').find((l) => l.includes('app.hostile'));
      expect(row?.split(/(?<!\\)\|/).length).toBe(8); // 6 cells: the hostile "|" did not add a column
      expect(text).toContain('line one line two');
      expect(text).toMatch(/^# Provisioning platform/);
      expect(text).toContain('## ISO/IEC 27001:2022 Annex A');
    });
  });

  describe('OSCAL assessment-results', () => {
    it('has the required fields of the OSCAL 1.1 model', async () => {
      const report = await sampleReport();
      const doc = toOscalAssessmentResults(report, { assessmentPlanHref: 'https://grc.example/ap.json' });
      const ar = doc['assessment-results'];
      expect(ar.uuid).toMatch(UUID_V4_V5);
      expect(ar.metadata).toMatchObject({ title: report.title, version: '1.0', 'oscal-version': OSCAL_VERSION });
      expect(ar.metadata['last-modified']).toMatch(DATETIME_TZ);
      expect(ar['import-ap'].href).toBe('https://grc.example/ap.json');
      expect(ar.results).toHaveLength(1);
      const result = ar.results[0];
      if (!result) throw new Error('no result');
      expect(result.uuid).toMatch(UUID_V4_V5);
      expect(result.start).toMatch(DATETIME_TZ);
      expect(result.end).toMatch(DATETIME_TZ);
      expect(result.title).toBe(report.title);
      expect(result.description).toMatch(/passed/);
      expect(result['reviewed-controls']['control-selections'][0]?.['include-controls']).toHaveLength(20 + 93);
      for (const o of result.observations) {
        expect(o.uuid).toMatch(UUID_V4_V5);
        expect(o.collected).toMatch(DATETIME_TZ);
        expect(o.methods.length).toBe(1);
      }
      expect(result.observations).toHaveLength(report.assessment.checks.length);
      const observationIds = new Set(result.observations.map((o) => o.uuid));
      for (const f of result.findings) {
        expect(f.uuid).toMatch(UUID_V4_V5);
        expect(f.target['target-id']).toMatch(TOKEN);
        expect(['satisfied', 'not-satisfied']).toContain(f.target.status.state);
        for (const r of f['related-observations'] ?? []) expect(observationIds.has(r['observation-uuid'])).toBe(true);
      }
      const cc6 = result.findings.find((f) => f.target['target-id'] === 'soc2_cc6');
      expect(cc6?.target.status.state).toBe('not-satisfied'); // the lease check failed
      const uuids = [
        ar.uuid,
        result.uuid,
        ...result.observations.map((o) => o.uuid),
        ...result.findings.map((f) => f.uuid),
      ];
      expect(new Set(uuids).size).toBe(uuids.length);
      // Plain JSON.
      expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    });
  });
});
