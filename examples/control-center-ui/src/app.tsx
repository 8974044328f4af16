import type { User } from '@provisioning/platform-client/api';
import { type JSX, useEffect, useMemo, useRef, useState } from 'react';
import { createApiClient, type SessionEnd } from './api.js';
import { Link, SCREENS, type ScreenPath, useScreen } from './router.js';
import { AuditLog } from './screens/audit.js';
import { BreakGlass } from './screens/break-glass.js';
import { Login } from './screens/login.js';
import { MfaSettings } from './screens/mfa.js';
import { SecuritySettings } from './screens/security.js';
import { ApiTokens } from './screens/tokens.js';
import { ApiProvider, StepUpProvider, useApi } from './session.js';

const SCREEN_COMPONENTS: Record<ScreenPath, () => JSX.Element> = {
  security: SecuritySettings,
  mfa: MfaSettings,
  tokens: ApiTokens,
  audit: AuditLog,
  'break-glass': BreakGlass,
};

/** The Control Center UI: the sign-in screen, or the screens of the signed-in user. */
export function App() {
  const [user, setUser] = useState<User | undefined>();
  const [ended, setEnded] = useState<SessionEnd | undefined>();
  const client = useMemo(
    () =>
      createApiClient({
        onChange: (next, reason) => {
          setUser(next);
          setEnded(reason);
        },
      }),
    [],
  );
  if (user === undefined) return <Login client={client} ended={ended} />;
  return (
    <ApiProvider client={client}>
      <StepUpProvider>
        <Shell user={user} />
      </StepUpProvider>
    </ApiProvider>
  );
}

function Shell({ user }: { user: User }) {
  const screen = useScreen();
  const heading = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  const title = SCREENS.find((s) => s.path === screen)?.title ?? '';
  const Screen = SCREEN_COMPONENTS[screen];
  useEffect(() => {
    document.title = `${title} · Control Center`;
    // After a move to another screen, focus its heading, as a page load would.
    if (!first.current) heading.current?.focus();
    first.current = false;
  }, [title]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Control Center</span>
        <nav aria-label="Main">
          <ul>
            {SCREENS.map((s) => (
              <li key={s.path}>
                <Link to={s.path} current={s.path === screen}>
                  {s.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <SignOut user={user} />
      </header>
      <main id="main">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        <Screen key={screen} />
      </main>
    </>
  );
}

function SignOut({ user }: { user: User }) {
  const api = useApi();
  return (
    <div className="who">
      <span>
        {user.username} <span className="who-roles">({user.roles.join(', ')})</span>
      </span>
      <button
        type="button"
        onClick={async () => {
          await api.call('POST', '/auth/logout').catch(() => undefined);
          api.end('signed-out');
        }}
      >
        Sign out
      </button>
    </div>
  );
}
