import type { BreakGlassActivation, BreakGlassRequest } from '@provisioning/platform-client/api';
import { useCallback, useEffect, useId, useState } from 'react';
import { ApiError } from '../api.js';
import { useApi, useStepUp } from '../session.js';
import {
  Alert,
  CheckboxGroup,
  ConfirmButton,
  Field,
  SecretValue,
  Section,
  SelectField,
  TableWrap,
  Time,
  useAction,
} from '../ui.js';

const BASE = '/api/v1/break-glass';

// The actions a request may ask for: a copy of the server's EMERGENCY_PERMISSIONS
// (examples/platform/src/security/break-glass.ts), which the contract does not
// carry and the browser cannot import; `admin` stands for all of them.
const PERMISSIONS: readonly string[] = [
  'read',
  'list',
  'monitor',
  'create',
  'update',
  'delete',
  'deploy',
  'rollback',
  'ssh',
  'execute',
  'generate',
  'renew',
  'revoke',
  'encrypt',
  'decrypt',
  'rotate',
  'lockdown',
  'admin',
];

const DURATIONS: ReadonlyArray<readonly [string, string]> = [
  ['900', '15 minutes'],
  ['1800', '30 minutes'],
  ['3600', '1 hour'],
  ['7200', '2 hours'],
  ['14400', '4 hours (the most)'],
];

/** "1 h 05 min", "4 min 10 s", "expired". */
function left(untilIso: string | null, now: number): string {
  if (untilIso === null) return '—';
  const seconds = Math.floor((new Date(untilIso).getTime() - now) / 1000);
  if (seconds <= 0) return 'expired';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(s).padStart(2, '0')} s`;
}

function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/** A person of a request by username (the server names them), else by id. */
function nameOf(r: BreakGlassRequest, id: string): string {
  return r.usernames?.[id] ?? id;
}

/**
 * Break-glass: request emergency access, the caller's requests (activate,
 * time left), approve or deny (approvers), active sessions with time left.
 * The server lists what concerns the caller: a requester their own requests,
 * an approver every one.
 */
export function BreakGlass() {
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  return (
    <div className="grid">
      <RequestForm onFiled={changed} />
      <MyRequests version={version} onChange={changed} />
      <AllRequests version={version} onChange={changed} />
      <ActiveSessions version={version} />
    </div>
  );
}

function RequestForm({ onFiled }: { onFiled: () => void }) {
  const api = useApi();
  const reasonId = useId();
  const [incident, setIncident] = useState('');
  const [reason, setReason] = useState('');
  const [permissions, setPermissions] = useState<readonly string[]>(['read', 'list']);
  const [duration, setDuration] = useState('3600');
  const [done, setDone] = useState<string | undefined>();
  const { busy, error, setError, run } = useAction();
  return (
    <Section title="Request emergency access">
      <p>Two approvers from two different teams must agree; then you activate it once. Everything is audited.</p>
      <form
        aria-label="Request emergency access"
        onSubmit={async (e) => {
          e.preventDefault();
          setDone(undefined);
          if (permissions.length === 0) {
            setError('Choose at least one permission.');
            return;
          }
          const request = await run(() =>
            api.call<BreakGlassRequest>('POST', `${BASE}/requests`, {
              incident_id: incident.trim(),
              reason: reason.trim(),
              permissions,
              duration_seconds: Number(duration),
            }),
          );
          if (request === undefined) return;
          setIncident('');
          setReason('');
          setDone(`Request for ${request.incident_id} filed: it waits for two approvers.`);
          onFiled();
        }}
      >
        <Field
          label="Incident or ticket"
          name="bg-incident"
          maxLength={200}
          required
          hint="e.g. INC-4711"
          value={incident}
          onChange={(e) => setIncident(e.target.value)}
        />
        <div className="field">
          <label htmlFor={reasonId}>Why you need it</label>
          <textarea
            id={reasonId}
            name="bg-reason"
            rows={3}
            minLength={10}
            maxLength={4000}
            required
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
        </div>
        <CheckboxGroup
          legend="Permissions"
          hint="The actions you need; “admin” stands for all of them."
          name="bg-permission"
          options={PERMISSIONS}
          value={permissions}
          onChange={setPermissions}
        />
        <SelectField label="For how long" value={duration} onChange={setDuration} options={DURATIONS} />
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        {done === undefined ? null : <Alert kind="success">{done}</Alert>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Request access
          </button>
        </div>
      </form>
    </Section>
  );
}

function MyRequests({ version, onChange }: { version: number; onChange: () => void }) {
  const api = useApi();
  const now = useNow();
  const [listing] = useListing(`${BASE}/requests?limit=100`, version);
  const [access, setAccess] = useState<BreakGlassActivation | undefined>();
  const { error, setError, run } = useAction();
  const mine = listing.kind === 'ok' ? listing.requests.filter((r) => r.requester === api.user?.id) : [];
  if (mine.length === 0 && access === undefined) return null;
  return (
    <Section title="Your requests" wide>
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      {access === undefined ? null : (
        <>
          <Alert kind="info">
            Emergency access is active for {left(access.expires_at, now)}. Copy the token now: it is shown only this
            once.
          </Alert>
          <SecretValue label="Emergency token" value={access.token} />
          <div className="actions">
            <button type="button" onClick={() => setAccess(undefined)}>
              I have stored it
            </button>
          </div>
        </>
      )}
      <TableWrap label="Your requests list">
        <table>
          <thead>
            <tr>
              <th scope="col">Incident</th>
              <th scope="col">Permissions</th>
              <th scope="col">Filed</th>
              <th scope="col">Approved by</th>
              <th scope="col">State</th>
              <th scope="col">Time left</th>
            </tr>
          </thead>
          <tbody>
            {mine.map((r) => (
              <tr key={r.id} data-request={r.id}>
                <td>{r.incident_id}</td>
                <td>{r.permissions.join(', ')}</td>
                <td>
                  <Time iso={r.created_at} />
                </td>
                <td>{r.approvals.length === 0 ? '—' : r.approvals.map((id) => nameOf(r, id)).join(', ')}</td>
                <td>
                  {r.status === 'pending' || r.status === 'approved' ? (
                    <button
                      type="button"
                      className="primary"
                      aria-label={`Activate ${r.incident_id}`}
                      onClick={async () => {
                        const activation = await run(async () => {
                          try {
                            return await api.call<BreakGlassActivation>(
                              'POST',
                              `${BASE}/requests/${encodeURIComponent(r.id)}/activate`,
                            );
                          } catch (e) {
                            if (e instanceof ApiError && e.code === 'BREAK_GLASS_REFUSED') {
                              throw new Error('Not activated: it needs two approvals first, or it was denied or used.');
                            }
                            throw e;
                          }
                        });
                        if (activation === undefined) return;
                        setError(undefined);
                        setAccess(activation);
                        onChange();
                      }}
                    >
                      Activate
                    </button>
                  ) : (
                    <span className={`badge badge-${r.status === 'active' ? 'ok' : 'warn'}`}>{r.status}</span>
                  )}
                </td>
                <td data-testid={r.status === 'active' ? 'my-time-left' : undefined}>
                  {r.status === 'active' ? left(r.expires_at, now) : '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </Section>
  );
}

type Listing = { kind: 'loading' } | { kind: 'ok'; requests: BreakGlassRequest[] } | { kind: 'error'; message: string };

function useListing(path: string, version: number): [Listing, () => void] {
  const api = useApi();
  const [listing, setListing] = useState<Listing>({ kind: 'loading' });
  const load = useCallback(() => {
    api.call<BreakGlassRequest[]>('GET', path).then(
      (requests) => setListing({ kind: 'ok', requests }),
      (e: unknown) =>
        setListing({
          kind: 'error',
          message:
            e instanceof ApiError && e.status === 403
              ? 'Your role may not list break-glass requests.'
              : e instanceof Error
                ? e.message
                : 'The list could not be loaded.',
        }),
    );
  }, [api, path]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: version is the reload signal
  useEffect(() => load(), [load, version]);
  return [listing, load];
}

function AllRequests({ version, onChange }: { version: number; onChange: () => void }) {
  const api = useApi();
  const withStepUp = useStepUp();
  const [listing] = useListing(`${BASE}/requests?status=pending&limit=100`, version);
  // The caller's own are in "Your requests": nobody approves their own.
  const waiting = listing.kind === 'ok' ? listing.requests.filter((r) => r.requester !== api.user?.id) : [];
  const [notice, setNotice] = useState<string | undefined>();
  const { error, run } = useAction();
  const decide = (r: BreakGlassRequest, decision: 'approve' | 'deny') =>
    run(async () => {
      // Approving needs an MFA of the last five minutes (a policy, so a plain 403): verify, then retry once.
      await withStepUp(() => api.call('POST', `${BASE}/requests/${encodeURIComponent(r.id)}/${decision}`, {}), {
        also: (e) => e.status === 403 && e.code === 'FORBIDDEN',
      });
      setNotice(decision === 'approve' ? `You approved ${r.incident_id}.` : `You denied ${r.incident_id}.`);
      onChange();
    });
  return (
    <Section title="Requests waiting for approval" wide>
      {notice === undefined ? null : <Alert kind="success">{notice}</Alert>}
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      {listing.kind === 'error' ? <Alert kind="info">{listing.message}</Alert> : null}
      {listing.kind === 'ok' && waiting.length === 0 ? <p>No request of someone else is waiting.</p> : null}
      {waiting.length > 0 ? (
        <TableWrap label="Pending requests list">
          <table>
            <thead>
              <tr>
                <th scope="col">Incident</th>
                <th scope="col">Requester</th>
                <th scope="col">Why</th>
                <th scope="col">Permissions</th>
                <th scope="col">Approvals</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {waiting.map((r) => (
                <tr key={r.id} data-request={r.id}>
                  <td>{r.incident_id}</td>
                  <td>{nameOf(r, r.requester)}</td>
                  <td>{r.reason}</td>
                  <td>{r.permissions.join(', ')}</td>
                  <td>
                    {r.approvals.length} of 2
                    {r.approvals.length === 0 ? null : ` (${r.approvals.map((id) => nameOf(r, id)).join(', ')})`}
                  </td>
                  <td className="row-actions">
                    {r.approvals.includes(api.user?.id ?? '') ? (
                      <span className="muted">approved by you</span>
                    ) : (
                      <>
                        <button
                          type="button"
                          className="primary"
                          aria-label={`Approve ${r.incident_id}`}
                          onClick={() => void decide(r, 'approve')}
                        >
                          Approve
                        </button>
                        <ConfirmButton label="Deny" confirm="Confirm deny" onConfirm={() => void decide(r, 'deny')} />
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </Section>
  );
}

function ActiveSessions({ version }: { version: number }) {
  const [listing] = useListing(`${BASE}/active`, version);
  const now = useNow();
  return (
    <Section title="Active emergency sessions" wide>
      {listing.kind === 'error' ? <Alert kind="info">{listing.message}</Alert> : null}
      {listing.kind === 'ok' && listing.requests.length === 0 ? <p>No emergency session is active.</p> : null}
      {listing.kind === 'ok' && listing.requests.length > 0 ? (
        <TableWrap label="Active sessions list">
          <table>
            <thead>
              <tr>
                <th scope="col">Incident</th>
                <th scope="col">Requester</th>
                <th scope="col">Permissions</th>
                <th scope="col">Approved by</th>
                <th scope="col">Time left</th>
              </tr>
            </thead>
            <tbody>
              {listing.requests.map((r) => (
                <tr key={r.id} data-request={r.id}>
                  <td>{r.incident_id}</td>
                  <td>{nameOf(r, r.requester)}</td>
                  <td>{r.permissions.join(', ')}</td>
                  <td>{r.approvals.map((id) => nameOf(r, id)).join(', ')}</td>
                  <td data-testid="time-left">{left(r.expires_at, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </Section>
  );
}
