import { type MouseEvent, type ReactNode, useEffect, useState } from 'react';

/** Where the control center serves the UI. */
export const BASE = '/ui/';

/** The UI's screens, by path under {@link BASE}. */
export const SCREENS = [
  { path: 'security', title: 'Security' },
  { path: 'mfa', title: 'Multi-factor authentication' },
  { path: 'tokens', title: 'API tokens' },
  { path: 'audit', title: 'Audit log' },
  { path: 'break-glass', title: 'Break-glass' },
] as const;

/** A screen's path. */
export type ScreenPath = (typeof SCREENS)[number]['path'];

const NAVIGATED = 'cc:navigated';

function current(): ScreenPath {
  const path = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : '';
  const first = path.split('/')[0] ?? '';
  return (SCREENS.find((s) => s.path === first)?.path ?? 'security') as ScreenPath;
}

/**
 * Moves to another screen with the history API. Never a page load: the
 * session lives in memory only, and a load would end it.
 */
export function navigate(to: ScreenPath): void {
  if (current() !== to || window.location.pathname !== `${BASE}${to}`)
    window.history.pushState(null, '', `${BASE}${to}`);
  window.dispatchEvent(new Event(NAVIGATED));
}

/** The current screen; follows {@link navigate} and the back and forward buttons. */
export function useScreen(): ScreenPath {
  const [screen, setScreen] = useState<ScreenPath>(current);
  useEffect(() => {
    const update = () => setScreen(current());
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATED, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATED, update);
    };
  }, []);
  return screen;
}

/** A link to a screen (a real `<a href>`: it can be opened in a new tab, where one signs in again). */
export function Link({ to, children, current: isCurrent }: { to: ScreenPath; children: ReactNode; current?: boolean }) {
  return (
    <a
      href={`${BASE}${to}`}
      aria-current={isCurrent === true ? 'page' : undefined}
      onClick={(e: MouseEvent<HTMLAnchorElement>) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || e.button !== 0) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
