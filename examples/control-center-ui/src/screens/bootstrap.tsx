import type { AdminUser } from '@provisioning/platform-client/api';
import { useState } from 'react';
import { type ApiClient, ApiError } from '../api.js';
import { Alert, Field, useAction } from '../ui.js';

const REFUSALS: Record<string, string> = {
  INVALID_BOOTSTRAP_SECRET:
    'The bootstrap secret was refused. Use the one the platform printed at its last start (each start prints a new one).',
  BOOTSTRAP_CLOSED: 'The platform already has users: sign in instead.',
};

/**
 * The first start: creates the first administrator with the one-time
 * bootstrap secret the platform prints on its console (`POST /auth/bootstrap`),
 * then hands over to the normal sign-in. The secret is used up by the first
 * success; a wrong one does not burn it.
 */
export function Bootstrap({
  client,
  onDone,
  onCancel,
}: {
  client: ApiClient;
  onDone: (username: string) => void;
  onCancel: () => void;
}) {
  const [secret, setSecret] = useState('');
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const { busy, error, setError, run } = useAction();
  return (
    <main className="login" id="main">
      <h1>Create the first administrator</h1>
      <p>
        On its first start the platform prints a one-time bootstrap secret on its console (<code>npm start</code>). It
        creates one account with the Admin role, once.
      </p>
      <form
        aria-label="Create the first administrator"
        onSubmit={async (e) => {
          e.preventDefault();
          if (password !== repeat) {
            setError('The passwords do not match.');
            return;
          }
          const created = await run(async () => {
            try {
              return await client.open<AdminUser>('POST', '/auth/bootstrap', {
                secret: secret.trim(),
                username: username.trim(),
                password,
                ...(email.trim() === '' ? {} : { email: email.trim() }),
              });
            } catch (e) {
              const refusal = e instanceof ApiError ? REFUSALS[e.code] : undefined;
              throw refusal === undefined ? e : new Error(refusal);
            }
          });
          if (created === undefined) return;
          // Nothing of the form outlives it: the secret is spent, the password goes to the sign-in by hand.
          setSecret('');
          setPassword('');
          setRepeat('');
          onDone(created.username);
        }}
      >
        <Field
          label="Bootstrap secret"
          name="bootstrap-secret"
          type="password"
          autoComplete="off"
          spellCheck={false}
          autoFocus
          required
          hint="As printed by the platform at its last start."
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
        />
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <Field
          label="Email (optional)"
          name="email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          label="Password"
          name="new-password"
          type="password"
          autoComplete="new-password"
          minLength={12}
          maxLength={1024}
          required
          hint="At least 12 characters. A few unrelated words make a strong password."
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <Field
          label="Repeat the password"
          name="repeat-password"
          type="password"
          autoComplete="new-password"
          required
          value={repeat}
          onChange={(e) => setRepeat(e.target.value)}
        />
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Create the administrator
          </button>
          <button type="button" onClick={onCancel}>
            Back to sign-in
          </button>
        </div>
      </form>
    </main>
  );
}
