// Sign-in: tenant (org/app), operator name and password. A lockout says
// when it ends, in the operator's time zone, and counts down.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { formatDateTime, formatDuration, t } from '../i18n';
import { lastTenant, rememberTenant } from '../prefs';
import { signIn } from '../session';
import { Button, Field, Notice, errorText } from '../ui';
import { LanguagePicker, TimeZonePicker } from '../pickers';

const tenantPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

type Problem = { kind: 'text'; text: string } | { kind: 'locked'; until: number };

export function LoginPage(props: { reason?: 'expired' | 'logged-out' | 'unsupported' }) {
  const [tenant, setTenant] = useState(lastTenant);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [tenantError, setTenantError] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [now, setNow] = useState(Date.now());

  const locked = problem?.kind === 'locked' && problem.until > now;
  useEffect(() => {
    if (problem?.kind !== 'locked') return;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [problem]);

  useEffect(() => {
    document.title = `${t('login.title')} · ${t('app.name')}`;
  });

  async function submit(e: Event) {
    e.preventDefault();
    setProblem(null);
    const tn = tenant.trim();
    if (!tenantPattern.test(tn)) {
      setTenantError(t('login.badTenant', { tenant: tn }));
      return;
    }
    setTenantError('');
    if (!name.trim() || !password) {
      setProblem({ kind: 'text', text: t('login.missing') });
      return;
    }
    setBusy(true);
    try {
      await signIn(tn, name.trim(), password);
      rememberTenant(tn);
    } catch (err) {
      setPassword('');
      setProblem(loginProblem(err, tn));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="login">
      <div class="login-prefs">
        <TimeZonePicker />
        <LanguagePicker />
      </div>
      <form class="login-card" onSubmit={submit} noValidate data-testid="login-form">
        <div class="brand brand-large">
          <span class="brand-mark" aria-hidden="true">↺</span>
          <span>{t('app.name')}</span>
        </div>
        <h1>{t('login.title')}</h1>
        <p class="muted">{t('login.subtitle')}</p>
        {props.reason === 'unsupported' && (
          <Notice kind="warn" testid="login-unsupported">
            {t('login.unsupported')}
          </Notice>
        )}
        {props.reason === 'expired' && <Notice kind="info">{t('login.expired')}</Notice>}
        {props.reason === 'logged-out' && <Notice kind="ok">{t('login.loggedOut')}</Notice>}
        <Field label={t('login.tenant')} error={tenantError} hint={t('login.tenantHint')}>
          <input name="tenant" autocomplete="organization" value={tenant} placeholder="demo/demo" onInput={(e) => setTenant((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('login.name')}>
          <input name="username" autocomplete="username" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('login.password')}>
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </Field>
        {problem?.kind === 'text' && (
          <Notice kind="error" testid="login-error">
            {problem.text}
          </Notice>
        )}
        {problem?.kind === 'locked' && (
          <Notice kind={locked ? 'error' : 'info'} testid="login-locked">
            {locked
              ? t('login.locked', { until: formatDateTime(problem.until), left: formatDuration(problem.until - now) })
              : t('login.unlocked')}
          </Notice>
        )}
        <Button type="submit" kind="primary" class="btn-block" busy={busy} disabled={locked} data-testid="login-submit">
          {t('login.submit')}
        </Button>
      </form>
    </div>
  );
}

function loginProblem(err: unknown, tenant: string): Problem {
  if (err instanceof ApiError) {
    if (err.status === 401) return { kind: 'text', text: t('login.badCredentials') };
    if (err.status === 429 && err.code === 'locked_out') {
      // retry_after_s counts from now on this browser's clock, which may
      // be off from the server's; locked_until is the fallback
      const until = Date.parse(String(err.body.locked_until ?? ''));
      const retry = Number(err.body.retry_after_s);
      const end = Number.isFinite(retry) && retry > 0 ? Date.now() + retry * 1000 : Number.isFinite(until) ? until : Date.now() + 60_000;
      return { kind: 'locked', until: end };
    }
    if (err.missingRoute) return { kind: 'text', text: t('login.unsupportedTenant', { tenant }) };
  }
  return { kind: 'text', text: errorText(err) };
}
