import type { ComplianceFrameworkCounts, ComplianceSummary as Summary } from '@provisioning/platform-client/api';
import { useEffect, useState } from 'react';
import { ApiError, messageOf } from '../api.js';
import { useApi } from '../session.js';
import { Alert, Section, TableWrap, Time } from '../ui.js';

type State = { kind: 'loading' } | { kind: 'ok'; summary: Summary } | { kind: 'error'; message: string };

const FRAMEWORKS: ReadonlyArray<readonly ['soc2' | 'iso27001', string]> = [
  ['soc2', 'SOC 2'],
  ['iso27001', 'ISO 27001:2022'],
];

function Counts({ counts }: { counts: ComplianceFrameworkCounts }) {
  return (
    <>
      <span className="badge badge-ok">{counts.passing} passing</span>{' '}
      <span className={`badge badge-${counts.failing > 0 ? 'err' : 'ok'}`}>{counts.failing} failing</span>{' '}
      <span className="muted">{counts.unknown} not assessed here</span>
    </>
  );
}

/** SOC 2 / ISO 27001 controls and the failing checks (`GET /api/v1/compliance/summary`). */
export function ComplianceSummary() {
  const api = useApi();
  const [state, setState] = useState<State>({ kind: 'loading' });
  useEffect(() => {
    api.call<Summary>('GET', '/api/v1/compliance/summary').then(
      (summary) => setState({ kind: 'ok', summary }),
      (e: unknown) =>
        setState({
          kind: 'error',
          message:
            e instanceof ApiError && e.status === 403
              ? 'Your role may not read the compliance summary (administrators, Auditors and the audit and security teams may).'
              : messageOf(e),
        }),
    );
  }, [api]);
  return (
    <Section title="Compliance" wide>
      {state.kind === 'loading' ? <p className="muted">Loading…</p> : null}
      {state.kind === 'error' ? <Alert kind="info">{state.message}</Alert> : null}
      {state.kind === 'ok' ? (
        <>
          <dl className="facts" data-testid="compliance-summary">
            {FRAMEWORKS.map(([key, name]) => (
              <div key={key} className="fact" data-framework={key}>
                <dt>{name}</dt>
                <dd>
                  <Counts counts={state.summary[key]} />
                </dd>
              </div>
            ))}
            <div className="fact">
              <dt>Checks</dt>
              <dd>
                {state.summary.checks.passing} of {state.summary.checks.total} automated checks pass
              </dd>
            </div>
            <div className="fact">
              <dt>Last run</dt>
              <dd>
                <Time iso={state.summary.last_run} />
              </dd>
            </div>
          </dl>
          {state.summary.failing_checks.length === 0 ? (
            <Alert kind="success">No automated check fails.</Alert>
          ) : (
            <TableWrap label="Failing checks list">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Check</th>
                    <th scope="col">Title</th>
                    <th scope="col">Controls</th>
                    <th scope="col">What to do</th>
                  </tr>
                </thead>
                <tbody>
                  {state.summary.failing_checks.map((c) => (
                    <tr key={c.id} data-check={c.id}>
                      <td>
                        <code>{c.id}</code>
                      </td>
                      <td>{c.title}</td>
                      <td>{[...c.soc2, ...c.iso27001.map((id) => `ISO ${id}`)].join(', ')}</td>
                      <td>{c.remediation ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
          <p className="hint">
            Controls whose evidence lives in another service (leases, GDPR requests, incidents, KMS keys) are not
            assessed here: the orchestrator's compliance reports cover them.
          </p>
        </>
      ) : null}
    </Section>
  );
}
