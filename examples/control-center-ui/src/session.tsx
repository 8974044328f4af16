import type { MfaStatus, MfaVerifyResponse, WebAuthnChallenge } from '@provisioning/platform-client/api';
import { startAuthentication } from '@simplewebauthn/browser';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { type ApiClient, ApiError } from './api.js';
import { Alert, Field, useAction } from './ui.js';

const ApiContext = createContext<ApiClient | undefined>(undefined);

/** Provides the signed-in API client to the screens. */
export function ApiProvider({ client, children }: { client: ApiClient; children: ReactNode }) {
  return <ApiContext.Provider value={client}>{children}</ApiContext.Provider>;
}

/** The signed-in API client. */
export function useApi(): ApiClient {
  const client = useContext(ApiContext);
  if (client === undefined) throw new Error('useApi outside ApiProvider');
  return client;
}

/**
 * Runs fn, asking for a second factor and running it once more when the
 * server wants a recent MFA; `also` names further refusals that mean the same
 * (a policy that demands a fresh MFA answers a plain 403 `FORBIDDEN`).
 */
type Guard = <T>(fn: () => Promise<T>, options?: { also?: (error: ApiError) => boolean }) => Promise<T>;
const StepUpContext = createContext<Guard | undefined>(undefined);

/**
 * `withStepUp(fn)`: runs fn; when the server answers that the action needs a
 * recent MFA (403 `mfa_required`), asks for a second factor in a modal
 * dialog, takes the stepped-up tokens and runs fn once more.
 */
export function useStepUp(): Guard {
  const guard = useContext(StepUpContext);
  if (guard === undefined) throw new Error('useStepUp outside StepUpProvider');
  return guard;
}

interface Pending {
  resolve: (verified: boolean) => void;
}

/** Hosts the step-up dialog for the screens below it. */
export function StepUpProvider({ children }: { children: ReactNode }) {
  const [pending, setPending] = useState<Pending | undefined>();
  const ask = useCallback(() => new Promise<boolean>((resolve) => setPending({ resolve })), []);
  const guard = useCallback<Guard>(
    async (fn, options) => {
      try {
        return await fn();
      } catch (error) {
        if (!(error instanceof ApiError && (error.needsStepUp || options?.also?.(error) === true))) throw error;
        if (!(await ask())) throw new ApiError(403, 'MFA_REQUIRED', 'This action needs a second factor.');
        return fn();
      }
    },
    [ask],
  );
  const close = (verified: boolean) => {
    pending?.resolve(verified);
    setPending(undefined);
  };
  return (
    <StepUpContext.Provider value={guard}>
      {children}
      {pending === undefined ? null : <StepUpDialog onClose={close} />}
    </StepUpContext.Provider>
  );
}

function StepUpDialog({ onClose }: { onClose: (verified: boolean) => void }) {
  const api = useApi();
  const ref = useRef<HTMLDialogElement>(null);
  const [code, setCode] = useState('');
  const [methods, setMethods] = useState<readonly string[]>([]);
  const { busy, error, setError, run } = useAction();

  useEffect(() => {
    ref.current?.showModal();
    void api.call<MfaStatus>('GET', '/mfa/status').then(
      (s) => setMethods(s.methods),
      () => setMethods([]),
    );
  }, [api]);

  const finish = (answer: MfaVerifyResponse | undefined) => {
    if (answer === undefined) return;
    if (!answer.verified) {
      setError('The code was not accepted.');
      return;
    }
    api.stepUp(answer);
    onClose(true);
  };

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="step-up-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose(false);
      }}
    >
      <h2 id="step-up-title">Confirm it is you</h2>
      <p>This action needs a recent second factor.</p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          finish(await run(() => api.call<MfaVerifyResponse>('POST', '/mfa/verify', { code: code.trim() })));
        }}
      >
        <Field
          label="Authenticator code or backup code"
          name="step-up-code"
          autoComplete="one-time-code"
          autoFocus
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Verify
          </button>
          {methods.includes('webauthn') ? (
            <button
              type="button"
              disabled={busy}
              onClick={async () =>
                finish(
                  await run(async () => {
                    const { options } = await api.call<WebAuthnChallenge>('POST', '/mfa/webauthn/challenge');
                    const response = await startAuthentication({ optionsJSON: options as never });
                    return api.call<MfaVerifyResponse>('POST', '/mfa/webauthn/authenticate', { response });
                  }),
                )
              }
            >
              Use a security key
            </button>
          ) : null}
          <button type="button" onClick={() => onClose(false)}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
