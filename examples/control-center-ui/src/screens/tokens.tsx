import type { ApiToken, CreatedApiToken } from '@provisioning/platform-client/api';
import { useCallback, useEffect, useState } from 'react';
import { useApi } from '../session.js';
import { Alert, ConfirmButton, Field, SecretValue, Section, SelectField, TableWrap, Time, useAction } from '../ui.js';

const EXPIRY: ReadonlyArray<readonly [string, string]> = [
  ['30', '30 days'],
  ['7', '7 days'],
  ['90', '90 days'],
  ['365', '1 year'],
  ['', 'Never (not recommended)'],
];

/** API tokens: create (the secret shown once), scopes, expiry, revoke. */
export function ApiTokens() {
  const api = useApi();
  const [tokens, setTokens] = useState<ApiToken[] | undefined>();
  const [created, setCreated] = useState<CreatedApiToken | undefined>();
  const list = useAction();
  const load = useCallback(
    () => list.run(async () => setTokens(await api.call<ApiToken[]>('GET', '/api-tokens'))),
    [api, list.run],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const now = Date.now();
  const state = (t: ApiToken) =>
    t.revoked_at !== null
      ? 'revoked'
      : t.expires_at !== null && new Date(t.expires_at).getTime() <= now
        ? 'expired'
        : 'active';

  return (
    <div className="grid">
      {created === undefined ? (
        <CreateToken
          onCreated={(t) => {
            setCreated(t);
            void load();
          }}
        />
      ) : (
        <Section title="Your new token">
          <Alert kind="info">Copy the token now: it is shown only this once and cannot be recovered.</Alert>
          <SecretValue label={`Token “${created.name}”`} value={created.token} />
          <div className="actions">
            <button type="button" className="primary" onClick={() => setCreated(undefined)}>
              I have stored it
            </button>
          </div>
        </Section>
      )}
      <Section title="Your tokens" wide>
        {list.error === undefined ? null : <Alert kind="error">{list.error}</Alert>}
        {tokens === undefined ? <p className="muted">Loading…</p> : null}
        {tokens?.length === 0 ? <p>No API tokens yet.</p> : null}
        {tokens !== undefined && tokens.length > 0 ? (
          <TableWrap label="API tokens list">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.map((t) => (
                  <tr key={t.id} data-token={t.id}>
                    <td>{t.name}</td>
                    <td>
                      <code>{t.prefix}</code>
                    </td>
                    <td>{t.scopes.length === 0 ? <span className="muted">all of yours</span> : t.scopes.join(', ')}</td>
                    <td>
                      <Time iso={t.expires_at} />
                    </td>
                    <td>
                      <Time iso={t.last_used_at} />
                    </td>
                    <td>
                      <span className={`badge badge-${state(t) === 'active' ? 'ok' : 'warn'}`}>{state(t)}</span>
                    </td>
                    <td>
                      {state(t) === 'revoked' ? null : (
                        <ConfirmButton
                          label="Revoke"
                          confirm={`Confirm: revoke ${t.name}`}
                          onConfirm={async () => {
                            await list.run(() => api.call('DELETE', `/api-tokens/${encodeURIComponent(t.id)}`));
                            await load();
                          }}
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ) : null}
      </Section>
    </div>
  );
}

function CreateToken({ onCreated }: { onCreated: (token: CreatedApiToken) => void }) {
  const api = useApi();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState('');
  const [expiry, setExpiry] = useState('30');
  const { busy, error, run } = useAction();
  return (
    <Section title="Create a token">
      <form
        aria-label="Create an API token"
        onSubmit={async (e) => {
          e.preventDefault();
          const list = scopes
            .split(/[\s,]+/)
            .map((s) => s.trim())
            .filter((s) => s !== '');
          const token = await run(() =>
            api.call<CreatedApiToken>('POST', '/api-tokens', {
              name: name.trim(),
              ...(list.length === 0 ? {} : { scopes: list }),
              ...(expiry === '' ? {} : { expires_in_days: Number(expiry) }),
            }),
          );
          if (token === undefined) return;
          setName('');
          setScopes('');
          onCreated(token);
        }}
      >
        <Field
          label="Name"
          name="token-name"
          maxLength={100}
          required
          hint="What uses it, e.g. “CI deploy job”."
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <Field
          label="Scopes"
          name="token-scopes"
          hint="Separated by spaces or commas; empty means all of your permissions."
          value={scopes}
          onChange={(e) => setScopes(e.target.value)}
        />
        <SelectField label="Expires after" value={expiry} onChange={setExpiry} options={EXPIRY} />
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Create token
          </button>
        </div>
      </form>
    </Section>
  );
}
