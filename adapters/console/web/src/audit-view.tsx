// What the audit and recalls pages share: filters kept in the page's URL
// (so a search can be linked to), a form for them, cursor paging over the
// audit API, and the table of entries.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { auditPage, type AuditEntry, type AuditFilter } from './api';
import { formatDateTime, instantToWall, t, useI18n, wallToInstant } from './i18n';
import { actionLabel, outcomeLabel, reasonLabel, roleLabel } from './labels';
import { navigate } from './router';
import { Badge, Button, Field, Link, Table, type LoadState } from './ui';

export type FilterKey = 'from' | 'to' | 'actor' | 'conversation_id' | 'msg_id' | 'action' | 'outcome';

export function filterFromQuery(q: URLSearchParams, keys: FilterKey[]): AuditFilter {
  const f: AuditFilter = {};
  for (const k of keys) {
    const v = q.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export function filterQuery(f: AuditFilter): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== '' && k !== 'cursor' && k !== 'limit') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

const actions = ['send', 'read', 'recall', 'expire', 'policy', 'audit', 'operator'];
const outcomes = ['recorded', 'recalled', 'refused', 'expired', 'set', 'viewed', 'created', 'role_changed', 'disabled', 'enabled', 'password_reset'];

// FilterForm edits a filter; times are typed as wall times in the
// operator's zone and sent as instants.
export function FilterForm(props: { path: string; keys: FilterKey[]; filter: AuditFilter; outcomes?: string[]; extra?: ComponentChildren }) {
  const { timeZone: tz } = useI18n();
  const toWall = (iso?: string) => (iso ? instantToWall(new Date(iso), tz) : '');
  const [draft, setDraft] = useState<Record<FilterKey, string>>(() => ({
    from: toWall(props.filter.from),
    to: toWall(props.filter.to),
    actor: props.filter.actor ?? '',
    conversation_id: props.filter.conversation_id ?? '',
    msg_id: props.filter.msg_id ?? '',
    action: props.filter.action ?? '',
    outcome: props.filter.outcome ?? '',
  }));
  const [timeError, setTimeError] = useState<Partial<Record<FilterKey, string>>>({});
  const set = (k: FilterKey) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });

  function submit(e: Event) {
    e.preventDefault();
    const f: AuditFilter = {};
    const errs: Partial<Record<FilterKey, string>> = {};
    for (const k of props.keys) {
      const v = draft[k].trim();
      if (!v) continue;
      if (k === 'from' || k === 'to') {
        const d = wallToInstant(v, tz);
        if (!d) errs[k] = t('filter.badTime');
        else f[k] = d.toISOString();
      } else f[k] = v;
    }
    setTimeError(errs);
    if (Object.keys(errs).length) return;
    navigate(props.path + filterQuery(f));
  }

  const has = (k: FilterKey) => props.keys.includes(k);
  return (
    <form class="filters" onSubmit={submit} data-testid="filters">
      {has('from') && (
        <Field label={t('filter.from', { tz })} error={timeError.from}>
          <input type="datetime-local" name="from" value={draft.from} onInput={set('from')} />
        </Field>
      )}
      {has('to') && (
        <Field label={t('filter.to', { tz })} error={timeError.to}>
          <input type="datetime-local" name="to" value={draft.to} onInput={set('to')} />
        </Field>
      )}
      {has('actor') && (
        <Field label={t('filter.actor')}>
          <input name="actor" value={draft.actor} onInput={set('actor')} />
        </Field>
      )}
      {has('conversation_id') && (
        <Field label={t('filter.conversation')}>
          <input name="conversation_id" value={draft.conversation_id} onInput={set('conversation_id')} placeholder="chat:alice:bob" />
        </Field>
      )}
      {has('msg_id') && (
        <Field label={t('filter.message')}>
          <input name="msg_id" value={draft.msg_id} onInput={set('msg_id')} />
        </Field>
      )}
      {has('action') && (
        <Field label={t('filter.action')}>
          <select name="action" value={draft.action} onChange={set('action')}>
            <option value="">{t('filter.any')}</option>
            {actions.map((a) => (
              <option key={a} value={a}>
                {actionLabel(a)}
              </option>
            ))}
          </select>
        </Field>
      )}
      {has('outcome') && (
        <Field label={t('filter.outcome')}>
          <select name="outcome" value={draft.outcome} onChange={set('outcome')}>
            <option value="">{t('filter.any')}</option>
            {(props.outcomes ?? outcomes).map((o) => (
              <option key={o} value={o}>
                {outcomeLabel(o)}
              </option>
            ))}
          </select>
        </Field>
      )}
      <div class="filters-actions">
        <Button type="submit" kind="primary" data-testid="search">
          {t('action.search')}
        </Button>
        <Button kind="ghost" onClick={() => navigate(props.path)}>
          {t('action.clear')}
        </Button>
        {props.extra}
      </div>
    </form>
  );
}

export interface Paged {
  entries: AuditEntry[];
  loading: boolean;
  error: unknown;
  page: number;
  hasNext: boolean;
  next(): void;
  prev(): void;
  reload(): void;
}

// usePagedAudit pages through the entries filter selects; the server's
// cursors are kept so that "previous" goes back exactly.
export function usePagedAudit(tenant: string, filter: AuditFilter, limit: number): Paged {
  const key = JSON.stringify(filter);
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const [state, setState] = useState<{ entries: AuditEntry[]; next?: number; loading: boolean; error: unknown }>({ entries: [], loading: true, error: null });
  const [tick, setTick] = useState(0);

  useEffect(() => setCursors([undefined]), [key, tenant]);

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let gone = false;
    setState((s) => ({ ...s, loading: true }));
    auditPage(tenant, { ...filter, cursor, limit }).then(
      (p) => !gone && setState({ entries: p.entries ?? [], next: p.next_cursor || undefined, loading: false, error: null }),
      (error: unknown) => !gone && setState({ entries: [], loading: false, error }),
    );
    return () => {
      gone = true;
    };
  }, [key, tenant, cursor, limit, tick]);

  return {
    entries: state.entries,
    loading: state.loading,
    error: state.error,
    page: cursors.length,
    hasNext: state.next !== undefined,
    next: () => state.next !== undefined && setCursors([...cursors, state.next]),
    prev: () => cursors.length > 1 && setCursors(cursors.slice(0, -1)),
    reload: () => setTick((n) => n + 1),
  };
}

export function pagedState(p: Paged): LoadState<AuditEntry[]> {
  return { data: p.entries, error: p.error ?? undefined, loading: p.loading, reload: p.reload };
}

export function Pager(props: { paged: Paged }) {
  const p = props.paged;
  return (
    <div class="pager">
      <Button onClick={p.prev} disabled={p.page <= 1 || p.loading} data-testid="prev">
        {t('action.prev')}
      </Button>
      <span class="muted">{t('pager.page', { n: p.page })}</span>
      <Button onClick={p.next} disabled={!p.hasNext || p.loading} data-testid="next">
        {t('action.next')}
      </Button>
    </div>
  );
}

export function OutcomeBadge(props: { entry: AuditEntry }) {
  const o = props.entry.outcome;
  const kind = o === 'recalled' ? 'ok' : o === 'refused' ? (props.entry.reason === 'exceed_time_limit' ? 'bad' : 'warn') : 'muted';
  return (
    <Badge kind={kind}>
      {o === 'refused' ? reasonLabel(props.entry.reason) : outcomeLabel(o)}
    </Badge>
  );
}

export type Column = 'at' | 'action' | 'actor' | 'msg_id' | 'conversation_id' | 'outcome' | 'platform' | 'seq';

export function EntryTable(props: { entries: AuditEntry[]; columns: Column[]; onSelect?: (e: AuditEntry) => void; selected?: number }) {
  const head: Record<Column, string> = {
    at: t('col.at'),
    action: t('col.action'),
    actor: t('col.actor'),
    msg_id: t('col.message'),
    conversation_id: t('col.conversation'),
    outcome: t('col.outcome'),
    platform: t('col.platform'),
    seq: t('col.seq'),
  };
  const cell = (e: AuditEntry, c: Column): ComponentChildren => {
    switch (c) {
      case 'at':
        return <span class="nowrap">{formatDateTime(e.at)}</span>;
      case 'action':
        return actionLabel(e.action);
      case 'actor':
        return (
          <>
            {e.actor ?? '—'}
            {e.actor_role && <span class="muted small"> · {roleLabel(e.actor_role)}</span>}
          </>
        );
      case 'msg_id':
        return e.msg_id ? (
          <Link to={`recalls/${encodeURIComponent(e.msg_id)}`} class="mono">
            {e.msg_id}
          </Link>
        ) : (
          '—'
        );
      case 'conversation_id':
        return <span class="mono">{e.conversation_id ?? '—'}</span>;
      case 'outcome':
        return <OutcomeBadge entry={e} />;
      case 'platform':
        return e.platform ?? '—';
      case 'seq':
        return <span class="mono">{e.seq}</span>;
    }
  };
  return (
    <Table head={props.columns.map((c) => head[c])} testid="entries">
      {props.entries.map((e) => (
            <tr
              key={e.seq}
              class={`${props.onSelect ? 'clickable' : ''} ${props.selected === e.seq ? 'selected' : ''}`}
              onClick={props.onSelect ? () => props.onSelect!(e) : undefined}
            >
          {props.columns.map((c) => (
            <td key={c}>{cell(e, c)}</td>
          ))}
        </tr>
      ))}
    </Table>
  );
}
