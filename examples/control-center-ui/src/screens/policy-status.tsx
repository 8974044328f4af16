import type { PolicyStatus as Status } from '@provisioning/platform-client/api';
import { useEffect, useState } from 'react';
import { ApiError, messageOf } from '../api.js';
import { useApi } from '../session.js';
import { Alert, Section, Time } from '../ui.js';

type State = { kind: 'loading' } | { kind: 'ok'; status: Status } | { kind: 'error'; message: string };

const OUTCOMES: Record<Status['last_reload']['outcome'], string> = {
  loaded: 'loaded at start',
  succeeded: 'reloaded',
  failed: 'reload failed',
};

/** The Cedar policy set in force: version, size, last reload and its errors (`GET /policies/status`). */
export function PolicyStatus() {
  const api = useApi();
  const [state, setState] = useState<State>({ kind: 'loading' });
  useEffect(() => {
    api.call<Status>('GET', '/policies/status').then(
      (status) => setState({ kind: 'ok', status }),
      (e: unknown) =>
        setState({
          kind: 'error',
          message:
            e instanceof ApiError && e.status === 403
              ? 'Your role may not read the policies (administrators, Auditors and the audit and security teams may).'
              : messageOf(e),
        }),
    );
  }, [api]);
  return (
    <Section title="Policies">
      {state.kind === 'loading' ? <p className="muted">Loading…</p> : null}
      {state.kind === 'error' ? <Alert kind="info">{state.message}</Alert> : null}
      {state.kind === 'ok' ? (
        <>
          <dl className="facts" data-testid="policy-status">
            <dt>In force</dt>
            <dd>{state.status.policies} policies</dd>
            <dt>Version</dt>
            <dd>
              <code title={state.status.version}>{state.status.version.slice(0, 19)}…</code>
            </dd>
            <dt>Last reload</dt>
            <dd>
              <span className={`badge badge-${state.status.last_reload.outcome === 'failed' ? 'err' : 'ok'}`}>
                {OUTCOMES[state.status.last_reload.outcome]}
              </span>{' '}
              <Time iso={state.status.last_reload.at} />
            </dd>
          </dl>
          {state.status.last_reload.errors.length === 0 ? null : (
            <Alert kind="error">
              The last reload was refused; the previous set stays in force. Errors:
              <ul>
                {state.status.last_reload.errors.map((e) => (
                  <li key={e}>
                    <code>{e}</code>
                  </li>
                ))}
              </ul>
            </Alert>
          )}
        </>
      ) : null}
    </Section>
  );
}
