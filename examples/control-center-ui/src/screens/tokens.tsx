import type { ApiToken, CedarAction, CreatedApiToken } from '@provisioning/platform-client/api';
import { useCallback, useEffect, useState } from 'react';
import { useApi } from '../session.js';
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
                    <td>{t.scopes.length === 0 ? <span className="muted">none</span> : t.scopes.join(', ')}</td>
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

// A key acts for its owner, and only for the Cedar actions of its scopes
// (`*`: every action); the policies still decide each request.
// The contract's Cedar actions as a type-checked record (a missing or unknown
// one fails the type check) rather than its CEDAR_ACTIONS value, whose import
// would bring the contract's schema code into the bundle.
const ACTIONS = {
  create: true,
  delete: true,
  update: true,
  read: true,
  list: true,
  deploy: true,
  rollback: true,
  ssh: true,
  execute: true,
  monitor: true,
  admin: true,
} satisfies Record<CedarAction, true>;
const SCOPES: readonly string[] = [...Object.keys(ACTIONS), '*'];

function CreateToken({ onCreated }: { onCreated: (token: CreatedApiToken) => void }) {
  const api = useApi();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<readonly string[]>(['read', 'list']);
  const [expiry, setExpiry] = useState('30');
  const { busy, error, setError, run } = useAction();
  return (
    <Section title="Create a token">
      <form
        aria-label="Create an API token"
        onSubmit={async (e) => {
          e.preventDefault();
          if (scopes.length === 0) {
            setError('Choose at least one scope: a token without one can do nothing.');
            return;
          }
          const token = await run(() =>
            api.call<CreatedApiToken>('POST', '/api-tokens', {
              name: name.trim(),
              scopes,
              ...(expiry === '' ? {} : { expires_in_days: Number(expiry) }),
            }),
          );
          if (token === undefined) return;
          setName('');
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
        <CheckboxGroup
          legend="Scopes"
          hint="The actions the token may ask for on your behalf; the policies still decide each request. “*” is every action."
          name="token-scope"
          options={SCOPES}
          value={scopes}
          onChange={setScopes}
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
