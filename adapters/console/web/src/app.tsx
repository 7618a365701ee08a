// The app: the login page when signed out, otherwise the layout (sidebar,
// top bar) around the page the path names. Admin pages are hidden from
// auditors here; the server refuses them too.
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import type { Role, Session } from './api';
import { formatDateTime, t, useI18n, type MessageKey } from './i18n';
import { navigate, useRoute } from './router';
import { session, signOut } from './session';
import { useStore } from './store';
import { Link, Loading } from './ui';
import { LanguagePicker, TimeZonePicker } from './pickers';
import { LoginPage } from './pages/login';
import { OverviewPage } from './pages/overview';
import { RecallsPage, MessageStoryPage } from './pages/recalls';
import { ForceRecallPage } from './pages/force';
import { AuditPage } from './pages/audit';
import { PolicyPage } from './pages/policy';
import { OperatorsPage } from './pages/operators';

interface NavItem {
  path: string;
  label: MessageKey;
  icon: string;
  roles: Role[];
}

const nav: NavItem[] = [
  { path: '', label: 'nav.overview', icon: '▦', roles: ['admin', 'auditor'] },
  { path: 'recalls', label: 'nav.recalls', icon: '↺', roles: ['admin', 'auditor'] },
  { path: 'force-recall', label: 'nav.force', icon: '⚡', roles: ['admin'] },
  { path: 'audit', label: 'nav.audit', icon: '☰', roles: ['admin', 'auditor'] },
  { path: 'policy', label: 'nav.policy', icon: '⚙', roles: ['admin'] },
  { path: 'operators', label: 'nav.operators', icon: '☺', roles: ['admin'] },
];

export function App() {
  useI18n(); // re-render everything on a language or zone change
  const state = useStore(session);
  const route = useRoute();

  useEffect(() => {
    if (state.kind === 'signed-out' && route.path !== 'login') navigate('login', { replace: true });
    if (state.kind === 'signed-in' && route.path === 'login') navigate('', { replace: true });
  }, [state.kind, route.path]);

  if (state.kind === 'checking') return <Loading label={t('state.checkingSession')} />;
  if (state.kind === 'signed-out') return <LoginPage reason={state.reason} />;
  return <Shell session={state.session} path={route.path} query={route.query} />;
}

function Shell(props: { session: Session; path: string; query: URLSearchParams }) {
  const { session: s, path } = props;
  const role = s.operator.role;
  const section = path.split('/')[0];
  const item = nav.find((n) => n.path === section);
  const allowed = item ? item.roles.includes(role) : false;

  let page: ComponentChildren;
  if (!item) page = <NotFound />;
  else if (!allowed) page = <Forbidden />;
  else if (section === 'recalls' && path.includes('/')) page = <MessageStoryPage session={s} msgId={decodeURIComponent(path.slice('recalls/'.length))} />;
  else {
    switch (section) {
      case '':
        page = <OverviewPage session={s} />;
        break;
      case 'recalls':
        page = <RecallsPage session={s} query={props.query} />;
        break;
      case 'force-recall':
        page = <ForceRecallPage session={s} />;
        break;
      case 'audit':
        page = <AuditPage session={s} query={props.query} />;
        break;
      case 'policy':
        page = <PolicyPage session={s} />;
        break;
      case 'operators':
        page = <OperatorsPage session={s} />;
        break;
    }
  }

  useEffect(() => {
    document.title = `${item ? t(item.label) : t('page.notFound')} · ${t('app.name')}`;
  });

  return (
    <div class="shell">
      <aside class="sidebar">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true">↺</span>
          <span>{t('app.name')}</span>
        </div>
        <nav aria-label={t('nav.label')}>
          {nav
            .filter((n) => n.roles.includes(role))
            .map((n) => (
              <Link key={n.path} to={n.path} class={`nav-item ${n.path === section ? 'active' : ''}`}>
                <span class="nav-icon" aria-hidden="true">
                  {n.icon}
                </span>
                {t(n.label)}
              </Link>
            ))}
        </nav>
        <div class="sidebar-foot muted">{t('app.tagline')}</div>
      </aside>
      <div class="main">
        <header class="topbar">
          <div class="tenant" title={t('top.tenant')}>
            <span class="muted">{t('top.tenant')}</span> <strong data-testid="tenant">{s.tenant}</strong>
          </div>
          <div class="topbar-right">
            <TimeZonePicker />
            <LanguagePicker />
            <div class="operator" title={t('top.sessionEnds', { at: formatDateTime(s.expires_at) })}>
              <strong data-testid="operator">{s.operator.name}</strong>
              <span class={`badge badge-${role === 'admin' ? 'info' : 'muted'}`}>{t(role === 'admin' ? 'role.admin' : 'role.auditor')}</span>
            </div>
            <button type="button" class="btn btn-ghost" data-testid="logout" onClick={() => void signOut()}>
              {t('action.logout')}
            </button>
          </div>
        </header>
        <main class="content">{page}</main>
      </div>
    </div>
  );
}

function NotFound() {
  return (
    <div class="state state-empty">
      <strong>{t('page.notFound')}</strong>
      <Link to="">{t('nav.overview')}</Link>
    </div>
  );
}

function Forbidden() {
  return (
    <div class="state state-error" role="alert">
      <strong>{t('page.forbidden')}</strong>
      <p class="muted">{t('page.forbiddenHint')}</p>
    </div>
  );
}
