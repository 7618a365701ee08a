// Building blocks every page uses: panels, states (loading, empty,
// error), fields, buttons, links and a confirmation dialog. Everything a
// user or the server supplied is passed as a child or an attribute, which
// Preact sets as text: nothing here writes HTML.
import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { t } from './i18n';
import { href, navigate } from './router';

export function Link(props: { to: string; class?: string; children: ComponentChildren; title?: string }) {
  return (
    <a
      href={href(props.to)}
      class={props.class}
      title={props.title}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

export function Panel(props: { title?: string; actions?: ComponentChildren; children: ComponentChildren; class?: string; testid?: string }) {
  return (
    <section class={`panel ${props.class ?? ''}`} data-testid={props.testid}>
      {(props.title || props.actions) && (
        <header class="panel-head">
          {props.title && <h2>{props.title}</h2>}
          {props.actions && <div class="panel-actions">{props.actions}</div>}
        </header>
      )}
      <div class="panel-body">{props.children}</div>
    </section>
  );
}

export function PageHead(props: { title: string; subtitle?: string; actions?: ComponentChildren }) {
  return (
    <div class="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.subtitle && <p class="muted">{props.subtitle}</p>}
      </div>
      {props.actions && <div class="page-actions">{props.actions}</div>}
    </div>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      <span>{props.label ?? t('state.loading')}</span>
    </div>
  );
}

export function Empty(props: { title: string; hint?: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty" data-testid="empty">
      <div class="state-icon" aria-hidden="true">∅</div>
      <strong>{props.title}</strong>
      {props.hint && <p class="muted">{props.hint}</p>}
      {props.children}
    </div>
  );
}

// errorText says in the operator's language what went wrong with a
// request, quoting the server's own message where it gave one.
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return t('error.network');
    if (err.status === 401) return t('error.session');
    if (err.status === 403) return t('error.forbidden');
    if (err.status === 429) return t('error.rateLimited');
    if (err.missingRoute) return t('error.notAvailable');
    if (err.status >= 500) return t('error.server', { status: err.status });
    return err.message ? t('error.withMessage', { code: err.code, message: err.message }) : t('error.code', { code: err.code });
  }
  return err instanceof Error ? err.message : String(err);
}

export function ErrorBox(props: { error: unknown; onRetry?: () => void }) {
  return (
    <div class="state state-error" role="alert" data-testid="error">
      <strong>{t('state.error')}</strong>
      <p>{errorText(props.error)}</p>
      {props.onRetry && (
        <button type="button" class="btn" onClick={props.onRetry}>
          {t('action.retry')}
        </button>
      )}
    </div>
  );
}

// NotAvailable is what a page shows for a feature whose server route this
// recalld does not have yet.
export function NotAvailable(props: { what: string }) {
  return (
    <div class="state state-unavailable" data-testid="not-available">
      <strong>{t('state.notAvailable')}</strong>
      <p class="muted">{props.what}</p>
    </div>
  );
}

// Failure shows a missing route as "not available yet", anything else as an error.
export function Failure(props: { error: unknown; what: string; onRetry?: () => void }) {
  if (props.error instanceof ApiError && props.error.missingRoute) return <NotAvailable what={props.what} />;
  return <ErrorBox error={props.error} onRetry={props.onRetry} />;
}

export function Notice(props: { kind?: 'info' | 'warn' | 'error' | 'ok'; children: ComponentChildren; testid?: string }) {
  return (
    <div class={`notice notice-${props.kind ?? 'info'}`} role={props.kind === 'error' ? 'alert' : 'status'} data-testid={props.testid}>
      {props.children}
    </div>
  );
}

export function Field(props: { label: string; error?: string; hint?: string; children: ComponentChildren; class?: string }) {
  return (
    <label class={`field ${props.error ? 'field-invalid' : ''} ${props.class ?? ''}`}>
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.hint && !props.error && <span class="field-hint">{props.hint}</span>}
      {props.error && (
        <span class="field-error" role="alert">
          {props.error}
        </span>
      )}
    </label>
  );
}

export function Button(props: ButtonHTMLAttributes<HTMLButtonElement> & { kind?: 'primary' | 'danger' | 'ghost'; busy?: boolean }) {
  const { kind, busy, children, class: cls, disabled, type, ...rest } = props;
  return (
    <button type={type ?? 'button'} class={`btn ${kind ? `btn-${kind}` : ''} ${cls ?? ''}`} disabled={disabled || busy} aria-busy={busy} {...rest}>
      {busy && <span class="spinner spinner-small" aria-hidden="true" />}
      {children}
    </button>
  );
}

export function Badge(props: { kind?: 'ok' | 'warn' | 'bad' | 'muted' | 'info'; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${props.kind ?? 'muted'}`} title={props.title}>
      {props.children}
    </span>
  );
}

// Confirm is a modal question; onAnswer gets true for the confirming button.
export function Confirm(props: { title: string; body: ComponentChildren; confirm: string; danger?: boolean; onAnswer: (yes: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} class="dialog" onCancel={() => props.onAnswer(false)}>
      <h2>{props.title}</h2>
      <div class="dialog-body">{props.body}</div>
      <div class="dialog-actions">
        <Button onClick={() => props.onAnswer(false)}>{t('action.cancel')}</Button>
        <Button kind={props.danger ? 'danger' : 'primary'} onClick={() => props.onAnswer(true)}>
          {props.confirm}
        </Button>
      </div>
    </dialog>
  );
}

// Secret shows a one-time password with a copy button.
export function Secret(props: { value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret">
      <code data-testid="secret">{props.value}</code>
      <Button
        onClick={() => {
          void navigator.clipboard?.writeText(props.value).then(() => setCopied(true));
        }}
      >
        {copied ? t('action.copied') : t('action.copy')}
      </Button>
    </div>
  );
}

// useAsync runs load whenever deps change and keeps its latest result;
// an answer to an older call is dropped.
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (error: unknown) => mine === seq.current && setState({ error, loading: false }),
    );
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

export interface LoadState<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload?: () => void;
}

// Loaded shows what every list and panel shows while it loads: a spinner
// the first time, the error (or "not available yet" for a route this
// server lacks, when what says what is missing), an empty state, or the
// data.
export function Loaded<T>(props: { state: LoadState<T>; isEmpty: (d: T) => boolean; empty: { title: string; hint?: string }; what?: string; children: (d: T) => ComponentChildren }) {
  const s = props.state;
  if (s.error !== undefined && s.error !== null) {
    return props.what ? <Failure error={s.error} what={props.what} onRetry={s.reload} /> : <ErrorBox error={s.error} onRetry={s.reload} />;
  }
  if (s.data === undefined || (s.loading && props.isEmpty(s.data))) return <Loading />;
  if (props.isEmpty(s.data)) return <Empty title={props.empty.title} hint={props.empty.hint} />;
  return <>{props.children(s.data)}</>;
}

// Table is a scrollable table with a header row.
export function Table(props: { head: ComponentChildren[]; testid?: string; children: ComponentChildren; numeric?: number[] }) {
  return (
    <div class="table-wrap">
      <table class="table" data-testid={props.testid}>
        <thead>
          <tr>
            {props.head.map((h, i) => (
              <th key={i} class={props.numeric?.includes(i) ? 'num' : undefined}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
