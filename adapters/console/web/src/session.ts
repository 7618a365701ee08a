// The signed-in operator, as the server's session says. The session lives
// in an HttpOnly cookie the page cannot read; the page keeps the CSRF token
// it was given and the operator's name and role for the layout.
import { ApiError, currentSession, login as apiLogin, logout as apiLogout, setCsrfToken, whenUnauthorized, type Session } from './api';
import { Store } from './store';

export type SessionState =
  | { kind: 'checking' }
  | { kind: 'signed-in'; session: Session }
  // unsupported: the server answers no /console/api/ routes (a recalld
  // built without operator sign-in)
  | { kind: 'signed-out'; reason?: 'expired' | 'logged-out' | 'unsupported' };

export const session = new Store<SessionState>({ kind: 'checking' });

function signedIn(s: Session): void {
  setCsrfToken(s.csrf_token);
  session.set({ kind: 'signed-in', session: s });
}

whenUnauthorized(() => {
  if (session.get().kind === 'signed-in') {
    setCsrfToken('');
    session.set({ kind: 'signed-out', reason: 'expired' });
  }
});

export async function checkSession(): Promise<void> {
  try {
    signedIn(await currentSession());
  } catch (e) {
    const unsupported = e instanceof ApiError && e.missingRoute;
    session.set({ kind: 'signed-out', reason: unsupported ? 'unsupported' : undefined });
  }
}

export async function signIn(tenant: string, name: string, password: string): Promise<void> {
  signedIn(await apiLogin(tenant, name, password));
}

export async function signOut(): Promise<void> {
  try {
    await apiLogout();
  } finally {
    setCsrfToken('');
    session.set({ kind: 'signed-out', reason: 'logged-out' });
  }
}
