import type { ChangePasswordResponse, MfaStatus, Session } from '@provisioning/platform-client/api';
import { useCallback, useEffect, useState } from 'react';
import { messageOf } from '../api.js';
import { Link } from '../router.js';
import { useApi } from '../session.js';
import { Alert, ConfirmButton, Field, Section, TableWrap, Time, useAction } from '../ui.js';
import { ComplianceSummary } from './compliance-summary.js';
import { PolicyStatus } from './policy-status.js';

/** The security dashboard: sessions, password, MFA status, policy status, compliance summary. */
export function SecuritySettings() {
  return (
    <div className="grid">
      <Sessions />
      <MfaSummary />
      <ChangePassword />
      <PolicyStatus />
      <ComplianceSummary />
    </div>
  );
}

/** A short, readable name for a user agent string. */
function browserOf(userAgent: string | null): string {
  if (userAgent === null) return 'Unknown client';
  const m = /(Firefox|Edg|Chrome|Chromium|Safari|curl|node)[/ ]([\d.]+)/.exec(userAgent);
  if (m === null) return userAgent.slice(0, 40);
  const os = /Windows|Mac OS X|Linux|Android|iPhone/.exec(userAgent)?.[0];
  return `${m[1] === 'Edg' ? 'Edge' : m[1]} ${m[2]?.split('.')[0]}${os === undefined ? '' : ` on ${os}`}`;
}

function Sessions() {
  const api = useApi();
  const [sessions, setSessions] = useState<Session[] | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const { error, run } = useAction();
  const load = useCallback(
    () => run(async () => setSessions(await api.call<Session[]>('GET', '/auth/sessions'))),
    [api, run],
  );
  useEffect(() => {
    void load();
  }, [load]);

  const revoke = (session: Session) =>
    run(async () => {
      await api.call('DELETE', `/auth/sessions/${encodeURIComponent(session.id)}`);
      if (session.current) {
        api.end('signed-out');
        return;
      }
      setNotice('The session was revoked.');
      await load();
    });

  return (
    <Section title="Sessions" wide>
      <p>Where you are signed in. Revoke a session you do not recognise.</p>
      {notice === undefined ? null : <Alert kind="success">{notice}</Alert>}
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      {sessions === undefined ? (
        <p className="muted">Loading…</p>
      ) : (
        <TableWrap label="Sessions list">
          <table>
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Address</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id} data-session={s.id}>
                  <td>
                    {browserOf(s.user_agent)}
                    {s.current ? <span className="badge">this session</span> : null}
                  </td>
                  <td>{s.ip_address ?? '—'}</td>
                  <td>
                    <Time iso={s.created_at} />
                  </td>
                  <td>
                    <Time iso={s.last_used_at} />
                  </td>
                  <td>
                    <ConfirmButton
                      label={s.current ? 'Sign out' : 'Revoke'}
                      confirm={s.current ? 'Confirm sign out' : 'Confirm revoke'}
                      onConfirm={() => void revoke(s)}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <div className="actions">
        <ConfirmButton
          label="Sign out of all sessions"
          confirm="Confirm: end every session"
          onConfirm={() =>
            void run(async () => {
              await api.call('POST', '/auth/logout', { all_sessions: true });
              api.end('signed-out');
            })
          }
        />
      </div>
    </Section>
  );
}

function MfaSummary() {
  const api = useApi();
  const [status, setStatus] = useState<MfaStatus | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    api.call<MfaStatus>('GET', '/mfa/status').then(setStatus, (e: unknown) => setError(messageOf(e)));
  }, [api]);
  const names: Record<string, string> = { totp: 'authenticator app', webauthn: 'security key or passkey' };
  return (
    <Section title="Multi-factor authentication">
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      {status === undefined ? null : status.enabled ? (
        <p data-testid="mfa-status">
          <span className="badge badge-ok">On</span> with {status.methods.map((m) => names[m] ?? m).join(' and ')};{' '}
          {status.backup_codes_remaining} backup codes left.
        </p>
      ) : (
        <p data-testid="mfa-status">
          <span className="badge badge-warn">Off</span> Your account is protected by its password only.
        </p>
      )}
      <p>
        <Link to="mfa">Manage your factors</Link>
      </p>
    </Section>
  );
}

function ChangePassword() {
  const api = useApi();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState<string | undefined>();
  const { busy, error, setError, run } = useAction();
  return (
    <Section title="Password">
      <form
        aria-label="Change password"
        onSubmit={async (e) => {
          e.preventDefault();
          setDone(undefined);
          if (next !== repeat) {
            setError('The new passwords do not match.');
            return;
          }
          const result = await run(() =>
            api.call<ChangePasswordResponse>('POST', '/auth/password', {
              current_password: current,
              new_password: next,
            }),
          );
          if (result === undefined) return;
          setCurrent('');
          setNext('');
          setRepeat('');
          setDone(
            `Your password was changed. ${result.sessions_revoked} other ${result.sessions_revoked === 1 ? 'session was' : 'sessions were'} signed out.`,
          );
        }}
      >
        <Field
          label="Current password"
          type="password"
          name="current-password"
          autoComplete="current-password"
          required
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
        />
        <Field
          label="New password"
          type="password"
          name="new-password"
          autoComplete="new-password"
          minLength={12}
          maxLength={1024}
          required
          hint="At least 12 characters. A few unrelated words make a strong password."
          value={next}
          onChange={(e) => setNext(e.target.value)}
        />
        <Field
          label="Repeat the new password"
          type="password"
          name="repeat-password"
          autoComplete="new-password"
          required
          value={repeat}
          onChange={(e) => setRepeat(e.target.value)}
        />
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        {done === undefined ? null : <Alert kind="success">{done}</Alert>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </Section>
  );
}
