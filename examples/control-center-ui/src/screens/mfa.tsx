import type {
  MfaDevice,
  MfaStatus,
  MfaVerifyResponse,
  TotpEnrollment,
  WebAuthnEnrollment,
  WebAuthnRegistration,
} from '@provisioning/platform-client/api';
import { startRegistration } from '@simplewebauthn/browser';
import { useCallback, useEffect, useState } from 'react';
import { saveFile } from '../download.js';
import { useApi, useStepUp } from '../session.js';
import { Alert, ConfirmButton, Field, Section, TableWrap, Time, useAction } from '../ui.js';

/** MFA settings: set-up wizards (TOTP, WebAuthn), devices, backup codes. */
export function MfaSettings() {
  const api = useApi();
  const [status, setStatus] = useState<MfaStatus | undefined>();
  const [devices, setDevices] = useState<MfaDevice[] | undefined>();
  const [codes, setCodes] = useState<readonly string[] | undefined>();
  const { error, run } = useAction();
  const reload = useCallback(
    () =>
      run(async () => {
        const [s, d] = await Promise.all([
          api.call<MfaStatus>('GET', '/mfa/status'),
          api.call<MfaDevice[]>('GET', '/mfa/devices'),
        ]);
        setStatus(s);
        setDevices(d);
      }),
    [api, run],
  );
  useEffect(() => {
    void reload();
  }, [reload]);
  const enrolled = (backupCodes: readonly string[] | undefined) => {
    if (backupCodes !== undefined && backupCodes.length > 0) setCodes(backupCodes);
    void reload();
  };

  return (
    <div className="grid">
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      {codes === undefined ? null : <BackupCodes codes={codes} onDone={() => setCodes(undefined)} />}
      <TotpWizard onEnrolled={enrolled} />
      <WebAuthnWizard onEnrolled={enrolled} />
      <Devices devices={devices} onChanged={reload} />
      <BackupCodeSettings status={status} onCodes={(c) => enrolled(c)} />
    </div>
  );
}

/** Groups a base32 key in fours for reading and typing. */
function grouped(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

function TotpWizard({ onEnrolled }: { onEnrolled: (codes: readonly string[] | undefined) => void }) {
  const api = useApi();
  const withStepUp = useStepUp();
  const [enrollment, setEnrollment] = useState<TotpEnrollment | undefined>();
  const [code, setCode] = useState('');
  const [done, setDone] = useState(false);
  const { busy, error, setError, run } = useAction();

  if (enrollment === undefined) {
    return (
      <Section title="Authenticator app">
        <p>Use an app such as Aegis, Google Authenticator or 1Password to make 6-digit codes.</p>
        {done ? <Alert kind="success">Your authenticator app is set up.</Alert> : null}
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        <div className="actions">
          <button
            type="button"
            className="primary"
            disabled={busy}
            onClick={async () => {
              setDone(false);
              const started = await run(() => withStepUp(() => api.call<TotpEnrollment>('POST', '/mfa/enroll/totp')));
              if (started !== undefined) setEnrollment(started);
            }}
          >
            Set up an authenticator app
          </button>
        </div>
      </Section>
    );
  }
  return (
    <Section title="Set up an authenticator app">
      <ol className="steps">
        <li>
          <p>Scan this QR code with your authenticator app:</p>
          <img
            className="qr"
            src={enrollment.qr_code}
            alt="QR code of the key for your authenticator app"
            width={200}
            height={200}
          />
        </li>
        <li>
          <p>Or type this key into the app (time-based, 6 digits, 30 seconds):</p>
          <code className="key" data-testid="totp-key">
            {grouped(enrollment.secret)}
          </code>
        </li>
        <li>
          <form
            aria-label="Confirm the authenticator app"
            onSubmit={async (e) => {
              e.preventDefault();
              const answer = await run(() => api.call<MfaVerifyResponse>('POST', '/mfa/verify', { code: code.trim() }));
              if (answer === undefined) return;
              if (!answer.verified) {
                setError('That code was not accepted. Check the time on your device and try the next code.');
                return;
              }
              api.stepUp(answer);
              setEnrollment(undefined);
              setCode('');
              setDone(true);
              onEnrolled(answer.backup_codes);
            }}
          >
            <Field
              label="Enter the code the app shows"
              name="totp-confirm"
              autoComplete="one-time-code"
              inputMode="numeric"
              pattern="[0-9 ]{6,8}"
              autoFocus
              required
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
            {error === undefined ? null : <Alert kind="error">{error}</Alert>}
            <div className="actions">
              <button type="submit" className="primary" disabled={busy}>
                Confirm
              </button>
              <button type="button" onClick={() => setEnrollment(undefined)}>
                Cancel
              </button>
            </div>
          </form>
        </li>
      </ol>
    </Section>
  );
}

function WebAuthnWizard({ onEnrolled }: { onEnrolled: (codes: readonly string[] | undefined) => void }) {
  const api = useApi();
  const withStepUp = useStepUp();
  const [name, setName] = useState('Security key');
  const [done, setDone] = useState<string | undefined>();
  const { busy, error, run } = useAction();
  return (
    <Section title="Security key or passkey">
      <p>
        A hardware key, or a passkey kept by your device or password manager. A passkey also lets you sign in without a
        password.
      </p>
      <form
        aria-label="Register a security key or passkey"
        onSubmit={async (e) => {
          e.preventDefault();
          setDone(undefined);
          const result = await run(async () => {
            const { options } = await withStepUp(() => api.call<WebAuthnEnrollment>('POST', '/mfa/enroll/webauthn'));
            const response = await startRegistration({ optionsJSON: options as never });
            return api.call<WebAuthnRegistration>('POST', '/mfa/webauthn/register', {
              response,
              name: name.trim(),
            });
          });
          if (result === undefined) return;
          setDone(`“${result.device.name}” is registered.`);
          onEnrolled(result.backup_codes);
        }}
      >
        <Field
          label="Name of the key"
          name="webauthn-name"
          maxLength={64}
          required
          hint="So you can tell your keys apart, e.g. “YubiKey on my keyring”."
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        {done === undefined ? null : <Alert kind="success">{done}</Alert>}
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Register a key
          </button>
        </div>
      </form>
    </Section>
  );
}

function Devices({ devices, onChanged }: { devices: MfaDevice[] | undefined; onChanged: () => void }) {
  const api = useApi();
  const withStepUp = useStepUp();
  const [editing, setEditing] = useState<string | undefined>();
  const [name, setName] = useState('');
  const { error, run } = useAction();
  const types: Record<string, string> = { totp: 'Authenticator app', webauthn: 'Security key' };
  return (
    <Section title="Your factors" wide>
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      {devices === undefined ? <p className="muted">Loading…</p> : null}
      {devices?.length === 0 ? <p>No factor yet: set one up above.</p> : null}
      {devices !== undefined && devices.length > 0 ? (
        <TableWrap label="Factors list">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Added</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {devices.map((d) => (
                <tr key={d.id} data-device={d.id}>
                  <td>
                    {editing === d.id ? (
                      <form
                        className="inline"
                        aria-label={`Rename ${d.name}`}
                        onSubmit={async (e) => {
                          e.preventDefault();
                          const renamed = await run(() =>
                            api.call<MfaDevice>('PATCH', `/mfa/devices/${encodeURIComponent(d.id)}`, {
                              name: name.trim(),
                            }),
                          );
                          if (renamed === undefined) return;
                          setEditing(undefined);
                          onChanged();
                        }}
                      >
                        <Field
                          label="New name"
                          maxLength={64}
                          required
                          autoFocus
                          value={name}
                          onChange={(e) => setName(e.target.value)}
                        />
                        <button type="submit" className="primary">
                          Save
                        </button>
                        <button type="button" onClick={() => setEditing(undefined)}>
                          Cancel
                        </button>
                      </form>
                    ) : (
                      d.name
                    )}
                  </td>
                  <td>{types[d.type] ?? d.type}</td>
                  <td>
                    <Time iso={d.created_at} />
                  </td>
                  <td>
                    <Time iso={d.last_used_at} />
                  </td>
                  <td className="row-actions">
                    <button
                      type="button"
                      aria-label={`Rename ${d.name}`}
                      onClick={() => {
                        setEditing(d.id);
                        setName(d.name);
                      }}
                    >
                      Rename
                    </button>
                    <ConfirmButton
                      label="Remove"
                      confirm={`Confirm: remove ${d.name}`}
                      disabled={devices.length === 1}
                      onConfirm={async () => {
                        const removed = await run(() =>
                          withStepUp(() => api.call('DELETE', `/mfa/devices/${encodeURIComponent(d.id)}`)),
                        );
                        if (removed !== undefined) onChanged();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      {devices?.length === 1 ? (
        <p className="hint">Your last factor cannot be removed: add another one first.</p>
      ) : null}
    </Section>
  );
}

function BackupCodeSettings({
  status,
  onCodes,
}: {
  status: MfaStatus | undefined;
  onCodes: (codes: readonly string[]) => void;
}) {
  const api = useApi();
  const withStepUp = useStepUp();
  const { busy, error, run } = useAction();
  if (status === undefined || !status.enabled) return null;
  return (
    <Section title="Backup codes">
      <p data-testid="backup-remaining">
        {status.backup_codes_remaining} of 10 backup codes left. Each signs you in once when your other factors are out
        of reach.
      </p>
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      <div className="actions">
        <ConfirmButton
          label="Make new backup codes"
          confirm="Confirm: replace every backup code"
          disabled={busy}
          onConfirm={async () => {
            const codes = await run(() => withStepUp(() => api.call<string[]>('POST', '/mfa/backup-codes')));
            if (codes !== undefined) onCodes(codes);
          }}
        />
      </div>
    </Section>
  );
}

/** Backup codes, shown once: download or copy them now; they are forgotten when dismissed. */
export function BackupCodes({ codes, onDone }: { codes: readonly string[]; onDone: () => void }) {
  return (
    <Section title="Your backup codes" wide>
      <Alert kind="info">
        Save these codes somewhere safe now. They are shown only this once; each works a single time.
      </Alert>
      <ol className="codes" data-testid="backup-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="actions">
        <button
          type="button"
          className="primary"
          onClick={() =>
            saveFile(
              'provisioning-backup-codes.txt',
              `Provisioning Control Center backup codes (each works once)\n\n${codes.join('\n')}\n`,
            )
          }
        >
          Download codes
        </button>
        <button type="button" onClick={onDone}>
          I have saved them
        </button>
      </div>
    </Section>
  );
}
