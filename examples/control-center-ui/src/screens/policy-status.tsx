import type { Policy } from '@provisioning/platform-client/api';
import { useEffect, useState } from 'react';
import { ApiError, messageOf } from '../api.js';
import { useApi } from '../session.js';
import { Alert, Section } from '../ui.js';

type State = { kind: 'loading' } | { kind: 'ok'; policies: Policy[] } | { kind: 'error'; message: string };

/** The authorization policies in force, as `GET /policies` reports them. */
export function PolicyStatus() {
  const api = useApi();
  const [state, setState] = useState<State>({ kind: 'loading' });
  useEffect(() => {
    api.call<Policy[]>('GET', '/policies').then(
      (policies) => setState({ kind: 'ok', policies }),
      (e: unknown) =>
        setState({
          kind: 'error',
          message:
            e instanceof ApiError && e.code === 'NOT_CONFIGURED'
              ? 'The policy engine is not connected to the control center.'
              : messageOf(e),
        }),
    );
  }, [api]);
  return (
    <Section title="Policies">
      {state.kind === 'loading' ? <p className="muted">Loading…</p> : null}
      {state.kind === 'error' ? <Alert kind="info">{state.message}</Alert> : null}
      {state.kind === 'ok' ? (
        <p data-testid="policy-status">
          {state.policies.length} {state.policies.length === 1 ? 'policy' : 'policies'} in force.
        </p>
      ) : null}
    </Section>
  );
}
