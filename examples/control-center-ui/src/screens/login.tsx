import type { LoginResponse, MfaChallenge, PasskeyOptions } from '@provisioning/platform-client/api';
import { startAuthentication } from '@simplewebauthn/browser';
import { useState } from 'react';
import { type ApiClient, ApiError, type SessionEnd } from '../api.js';
import { Alert, Field, useAction } from '../ui.js';
import { Bootstrap } from './bootstrap.js';

type Method = 'totp' | 'webauthn' | 'backup_code';

const METHOD_LABELS: Record<Method, string> = {
  totp: 'Authenticator app',
  webauthn: 'Security key or passkey',
  backup_code: 'Backup code',
};

/**
 * Sign-in: username and password, then — for an account with MFA — a
 * second step with the user's factors (TOTP code, security key, backup
 * code); or a passkey alone, without username and password.
 */
export function Login({ client, ended }: { client: ApiClient; ended: SessionEnd | undefined }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [challenge, setChallenge] = useState<MfaChallenge | undefined>();
  const [bootstrapping, setBootstrapping] = useState(false);
  const [created, setCreated] = useState<string | undefined>();
  const { busy, error, setError, run } = useAction();

  const passwordStep = async () => {
    try {
      client.signIn(await client.open<LoginResponse>('POST', '/auth/login', { username, password }));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'MFA_REQUIRED' && e.data !== undefined) {
        // The password is not needed any more: the challenge id carries the first step.
        setPassword('');
        setChallenge(e.data as MfaChallenge);
        return;
      }
      throw e;
    }
  };

  const passkey = async () => {
    const { options } = await client.open<PasskeyOptions>('POST', '/auth/passkey/options');
    const response = await startAuthentication({ optionsJSON: options as never });
    client.signIn(await client.open<LoginResponse>('POST', '/auth/passkey/login', { response }));
  };

  if (bootstrapping) {
    return (
      <Bootstrap
        client={client}
        onCancel={() => setBootstrapping(false)}
        onDone={(name) => {
          setUsername(name);
          setCreated(name);
          setBootstrapping(false);
        }}
      />
    );
  }

  if (challenge !== undefined) {
    return (
      <main className="login" id="main">
        <h1>Second step</h1>
        <MfaStep
          client={client}
          challenge={challenge}
          onRestart={(message) => {
            setChallenge(undefined);
            setError(message === '' ? undefined : message);
          }}
        />
      </main>
    );
  }

  return (
    <main className="login" id="main">
      <h1>Sign in to the Control Center</h1>
      {ended === 'expired' ? <Alert kind="info">Your session ended. Sign in again.</Alert> : null}
      {ended === 'signed-out' ? <Alert kind="info">You are signed out.</Alert> : null}
      {created === undefined ? null : (
        <Alert kind="success">The administrator {created} was created. Sign in with the new password.</Alert>
      )}
      <form
        aria-label="Sign in with a password"
        onSubmit={(e) => {
          e.preventDefault();
          void run(passwordStep);
        }}
      >
        <Field
          label="Username"
          name="username"
          autoComplete="username webauthn"
          autoFocus={created === undefined}
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          // After the bootstrap the username is filled in: the password is next.
          autoFocus={created !== undefined}
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Sign in
          </button>
        </div>
      </form>
      <div className="divider" aria-hidden="true">
        or
      </div>
      <div className="actions">
        <button type="button" disabled={busy} onClick={() => void run(passkey)}>
          Sign in with a passkey
        </button>
      </div>
      <p className="muted">
        First start, no account yet?{' '}
        <button type="button" className="link" onClick={() => setBootstrapping(true)}>
          Create the first administrator
        </button>
      </p>
    </main>
  );
}

function MfaStep({
  client,
  challenge,
  onRestart,
}: {
  client: ApiClient;
  challenge: MfaChallenge;
  onRestart: (message: string) => void;
}) {
  // The factors this UI knows, in the order the server named them.
  const methods = challenge.methods.filter((m): m is Method => m in METHOD_LABELS);
  const [method, setMethod] = useState<Method>(methods.includes('totp') ? 'totp' : (methods[0] ?? 'totp'));
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();

  const complete = async (answer: { code: string } | { webauthn: unknown }) => {
    try {
      client.signIn(
        await client.open<LoginResponse>('POST', '/auth/login/mfa', {
          challenge_id: challenge.challenge_id,
          ...answer,
        }),
      );
    } catch (e) {
      // The challenge is gone (expired, used, locked out): start over with the password.
      if (e instanceof ApiError && e.code === 'MFA_CHALLENGE_INVALID') {
        onRestart('The sign-in took too long. Enter your password again.');
        return;
      }
      setCode('');
      throw e;
    }
  };

  return (
    <>
      <fieldset className="methods">
        <legend>How do you want to confirm it is you?</legend>
        {methods.map((m) => (
          <label key={m} className="radio">
            <input type="radio" name="method" value={m} checked={method === m} onChange={() => setMethod(m)} />
            {METHOD_LABELS[m]}
          </label>
        ))}
      </fieldset>
      {method === 'webauthn' ? (
        <div className="actions">
          <button
            type="button"
            className="primary"
            disabled={busy}
            onClick={() =>
              void run(async () =>
                complete({ webauthn: await startAuthentication({ optionsJSON: challenge.webauthn as never }) }),
              )
            }
          >
            Use my security key
          </button>
        </div>
      ) : (
        <form
          aria-label="Enter a code"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => complete({ code: code.trim() }));
          }}
        >
          <Field
            key={method}
            label={method === 'totp' ? 'Code from your authenticator app' : 'Backup code'}
            name="code"
            autoComplete="one-time-code"
            inputMode={method === 'totp' ? 'numeric' : 'text'}
            hint={method === 'totp' ? '6 digits' : 'One of the codes you saved when you set up MFA; each works once.'}
            autoFocus
            required
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              Verify
            </button>
          </div>
        </form>
      )}
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      <p>
        <button type="button" className="link" onClick={() => onRestart('')}>
          Start over
        </button>
      </p>
    </>
  );
}
