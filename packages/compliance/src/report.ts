import type { Clock } from '@provisioning/core';
import { systemClock } from '@provisioning/core';
import type { AssessmentResult, CheckResult, ControlResult } from './assessment.js';
import type { CheckStatus } from './checks.js';
import type { DsrRecord } from './dsr-model.js';
import { isFinalDsrStatus } from './dsr-model.js';
import type { Incident } from './incident.js';
import { breachNotificationStatus } from './incident.js';
import { ISO27001_THEMES } from './iso27001.js';

/** What a report is made of. */
export interface ReportInput {
  readonly assessment: AssessmentResult;
  /** The organisation or system assessed, shown in the title block. */
  readonly organisation?: string;
  /** Data-subject requests to summarise (ids, types, statuses, deadlines: no personal data beyond subject ids, which are not shown). */
  readonly dataSubjectRequests?: readonly DsrRecord[];
  readonly incidents?: readonly Incident[];
  /** Default: the system clock (for "generated at" and overdue flags). */
  readonly clock?: Clock;
}

/** The report as data: what every renderer shows. */
export interface ComplianceReport {
  readonly format: 'provisioning.compliance-report/v1';
  readonly title: string;
  readonly organisation?: string;
  readonly generatedAt: string;
  readonly assessment: AssessmentResult;
  readonly dataSubjectRequests: readonly {
    readonly id: string;
    readonly type: string;
    readonly status: string;
    readonly receivedAt: string;
    readonly dueAt: string;
    readonly extended: boolean;
    readonly overdue: boolean;
    readonly failedProviders: readonly string[];
  }[];
  readonly incidents: readonly {
    readonly id: string;
    readonly title: string;
    readonly severity: string;
    readonly state: string;
    readonly owner: string;
    readonly openedAt: string;
    readonly breachNotification: 'n/a' | 'pending' | 'overdue' | 'notified' | 'not required';
  }[];
}

/**
 * Builds the report data from an assessment and optional request and
 * incident lists. Subject ids are left out: the report goes to auditors.
 *
 * @example
 * ```ts
 * const report = buildReport({ assessment, organisation: 'Acme platform', dataSubjectRequests: await store.list() });
 * ```
 */
export function buildReport(input: ReportInput): ComplianceReport {
  const clock = input.clock ?? systemClock;
  const now = clock.now();
  return {
    format: 'provisioning.compliance-report/v1',
    title: input.assessment.title,
    ...(input.organisation !== undefined ? { organisation: input.organisation } : {}),
    generatedAt: new Date(now).toISOString(),
    assessment: input.assessment,
    dataSubjectRequests: (input.dataSubjectRequests ?? []).map((r) => ({
      id: r.id,
      type: r.type,
      status: r.status,
      receivedAt: r.receivedAt,
      dueAt: r.dueAt,
      extended: r.extension !== undefined,
      overdue: !isFinalDsrStatus(r.status) && Date.parse(r.dueAt) < now,
      failedProviders: Object.entries(r.providers)
        .filter(([, p]) => p.status === 'failed')
        .map(([id]) => id),
    })),
    incidents: (input.incidents ?? []).map((i) => {
      const s = breachNotificationStatus(i, { clock });
      const b = i.personalDataBreach;
      return {
        id: i.id,
        title: i.title,
        severity: i.severity,
        state: i.state,
        owner: i.owner,
        openedAt: i.openedAt,
        breachNotification: !b
          ? 'n/a'
          : s.overdue
            ? 'overdue'
            : s.pending
              ? 'pending'
              : b.notifiedAt
                ? 'notified'
                : 'not required',
      };
    }),
  };
}

/**
 * The report as pretty-printed JSON.
 *
 * @example
 * ```ts
 * await writeFile('report.json', renderJsonReport(report));
 * ```
 */
export function renderJsonReport(report: ComplianceReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const STATUS_LABEL: Record<CheckStatus, string> = { pass: 'PASS', fail: 'FAIL', manual: 'MANUAL' };

/** Escapes text for a Markdown table cell or line: no HTML, no table breaks, no line breaks. */
function md(value: unknown): string {
  return String(value)
    .replace(/\\/g, '\\\\')
    .replace(/[|*_`[\]<>#!~]/g, (c) => `\\${c}`)
    .replace(/\r?\n|\r/g, ' ');
}

/**
 * The report as GitHub-flavoured Markdown. Every value is escaped, so text
 * from checks cannot inject HTML, links or table cells.
 *
 * @example
 * ```ts
 * await writeFile('report.md', renderMarkdownReport(report));
 * ```
 */
export function renderMarkdownReport(report: ComplianceReport): string {
  const a = report.assessment;
  const lines: string[] = [];
  lines.push(`# ${md(report.title)}`, '');
  if (report.organisation) lines.push(`**Organisation:** ${md(report.organisation)}  `);
  lines.push(
    `**Generated:** ${md(report.generatedAt)}  `,
    `**Assessment window:** ${md(a.startedAt)} – ${md(a.finishedAt)}`,
    '',
  );
  lines.push(
    `**Summary:** ${a.summary.pass} passed, ${a.summary.fail} failed, ${a.summary.manual} need manual evidence.`,
    '',
  );
  lines.push(
    '## Checks',
    '',
    '| Status | Check | SOC 2 | ISO 27001:2022 | Evidence | Remediation |',
    '|---|---|---|---|---|---|',
  );
  for (const c of a.checks) {
    lines.push(
      `| ${STATUS_LABEL[c.status]} | ${md(c.title)} (${md(c.checkId)}) | ${md(c.soc2.join(', '))} | ${md(c.iso27001.join(', '))} | ${c.evidence.map(md).join('<br>')} | ${md(c.remediation ?? '')} |`,
    );
  }
  const controls = (title: string, rows: readonly ControlResult[]) => {
    lines.push('', `## ${title}`, '', '| Control | Title | Status | Checks |', '|---|---|---|---|');
    for (const r of rows)
      lines.push(
        `| ${md(r.controlId)} | ${md(r.title)} | ${STATUS_LABEL[r.status]} | ${md(r.checkIds.join(', ') || '—')} |`,
      );
  };
  controls('SOC 2 criteria', a.soc2);
  controls('ISO/IEC 27001:2022 Annex A', a.iso27001);
  controls('ISO/IEC 27001:2013 families (legacy mapping)', a.iso27001Legacy);
  if (report.dataSubjectRequests.length > 0) {
    lines.push(
      '',
      '## Data-subject requests',
      '',
      '| Request | Type | Status | Due | Overdue | Failed providers |',
      '|---|---|---|---|---|---|',
    );
    for (const r of report.dataSubjectRequests) {
      lines.push(
        `| ${md(r.id)} | ${md(r.type)} | ${md(r.status)} | ${md(r.dueAt)}${r.extended ? ' (extended)' : ''} | ${r.overdue ? 'YES' : 'no'} | ${md(r.failedProviders.join(', ') || '—')} |`,
      );
    }
  }
  if (report.incidents.length > 0) {
    lines.push(
      '',
      '## Incidents',
      '',
      '| Incident | Title | Severity | State | Owner | Breach notification |',
      '|---|---|---|---|---|---|',
    );
    for (const i of report.incidents) {
      lines.push(
        `| ${md(i.id)} | ${md(i.title)} | ${md(i.severity)} | ${md(i.state)} | ${md(i.owner)} | ${md(i.breachNotification)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Escapes text for HTML element content and attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<b>"x"</b>'); // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => HTML_ENTITIES[c] ?? c);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

const CSS = `
:root{--pass:#1a7f37;--fail:#c62828;--manual:#8a6d00;--ink:#1f2328;--muted:#59636e;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);margin:0;background:#fff}
main{max-width:1100px;margin:0 auto;padding:32px 24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px;color:var(--muted)}
.meta{color:var(--muted);margin:0 0 16px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{flex:1 1 150px;border:1px solid var(--line);border-radius:8px;padding:12px 16px;background:var(--bg)}
.card b{display:block;font-size:28px}
.card.pass b{color:var(--pass)}.card.fail b{color:var(--fail)}.card.manual b{color:var(--manual)}
table{width:100%;border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}
table.controls{table-layout:fixed}.c-id{width:9%}.c-title{width:43%}.c-status{width:12%}.c-checks{width:36%}
td{overflow-wrap:anywhere}
tr{break-inside:avoid;page-break-inside:avoid}
.badge{display:inline-block;min-width:64px;text-align:center;border-radius:12px;padding:1px 8px;font-weight:700;font-size:12px;color:#fff}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.manual{background:var(--manual)}
ul.evidence{margin:0;padding-left:18px}
.muted{color:var(--muted)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media print{main{max-width:none;padding:0}h2{break-after:avoid}body{-webkit-print-color-adjust:exact;print-color-adjust:exact}@page{margin:15mm}}
`;

/**
 * The report as one self-contained HTML page: inline CSS, no scripts, no
 * external assets (a Content-Security-Policy forbids loading any), readable
 * on screen and printable. Every value is HTML-escaped.
 *
 * @example
 * ```ts
 * await writeFile('report.html', renderHtmlReport(report));
 * ```
 */
export function renderHtmlReport(report: ComplianceReport): string {
  const e = escapeHtml;
  const a = report.assessment;
  const badge = (s: CheckStatus) => `<span class="badge ${s}">${STATUS_LABEL[s]}</span>`;
  const checkRow = (c: CheckResult) =>
    `<tr><td>${badge(c.status)}</td><td><strong>${e(c.title)}</strong><br><code>${e(c.checkId)}</code><br><span class="muted">${e(c.description)}</span></td><td>${e(c.soc2.join(', '))}</td><td>${e(c.iso27001.join(', '))}</td><td><ul class="evidence">${c.evidence.map((x) => `<li>${e(x)}</li>`).join('')}</ul></td><td>${e(c.remediation ?? '')}</td></tr>`;
  const controlTable = (rows: readonly ControlResult[]) =>
    `<table class="controls"><colgroup><col class="c-id"><col class="c-title"><col class="c-status"><col class="c-checks"></colgroup><thead><tr><th>Control</th><th>Title</th><th>Status</th><th>Checks</th></tr></thead><tbody>${rows
      .map(
        (r) =>
          `<tr><td><code>${e(r.controlId)}</code></td><td>${e(r.title)}</td><td>${badge(r.status)}</td><td>${e(r.checkIds.join(', ') || '—')}</td></tr>`,
      )
      .join('')}</tbody></table>`;
  const themes = (Object.keys(ISO27001_THEMES) as (keyof typeof ISO27001_THEMES)[])
    .map((t) => {
      const rows = a.iso27001.filter((c) => c.theme === t);
      return `<h3>${ISO27001_THEMES[t].clause} ${e(ISO27001_THEMES[t].title)} (${rows.length})</h3>${controlTable(rows)}`;
    })
    .join('');
  const dsr =
    report.dataSubjectRequests.length === 0
      ? ''
      : `<h2>Data-subject requests</h2><table><thead><tr><th>Request</th><th>Type</th><th>Status</th><th>Due</th><th>Overdue</th><th>Failed providers</th></tr></thead><tbody>${report.dataSubjectRequests
          .map(
            (r) =>
              `<tr><td><code>${e(r.id)}</code></td><td>${e(r.type)}</td><td>${e(r.status)}</td><td>${e(r.dueAt)}${r.extended ? ' (extended)' : ''}</td><td>${r.overdue ? '<strong>yes</strong>' : 'no'}</td><td>${e(r.failedProviders.join(', ') || '—')}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  const incidents =
    report.incidents.length === 0
      ? ''
      : `<h2>Incidents</h2><table><thead><tr><th>Incident</th><th>Title</th><th>Severity</th><th>State</th><th>Owner</th><th>Breach notification</th></tr></thead><tbody>${report.incidents
          .map(
            (i) =>
              `<tr><td><code>${e(i.id)}</code></td><td>${e(i.title)}</td><td>${e(i.severity)}</td><td>${e(i.state)}</td><td>${e(i.owner)}</td><td>${e(i.breachNotification)}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${e(report.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${e(report.title)}</h1>
<p class="meta">${report.organisation ? `${e(report.organisation)} · ` : ''}generated ${e(report.generatedAt)} · assessment ${e(a.startedAt)} – ${e(a.finishedAt)}</p>
<div class="cards"><div class="card pass"><b>${a.summary.pass}</b>checks passed</div><div class="card fail"><b>${a.summary.fail}</b>checks failed</div><div class="card manual"><b>${a.summary.manual}</b>need manual evidence</div></div>
<h2>Checks</h2>
<table><thead><tr><th>Status</th><th>Check</th><th>SOC 2</th><th>ISO 27001</th><th>Evidence</th><th>Remediation</th></tr></thead><tbody>${a.checks.map(checkRow).join('')}</tbody></table>
<h2>SOC 2 criteria</h2>
${controlTable(a.soc2)}
<h2>ISO/IEC 27001:2022 Annex A</h2>
${themes}
<h2>ISO/IEC 27001:2013 families (legacy mapping)</h2>
${controlTable(a.iso27001Legacy)}
${dsr}
${incidents}
<footer>Format ${e(report.format)}. SOC 2 titles are our own summaries; ISO/IEC 27001 controls are listed by number and name only.</footer>
</main>
</body>
</html>
`;
}
