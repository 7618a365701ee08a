// Policy (admin): an editor for the tenant's recall policy that shows the
// server's validation message under the field it names, the pending
// changes as a diff, the version history as diffs (who changed what,
// when), and a what-if preview that replays a period's recorded attempts
// against the edited policy before it is saved.
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getPolicy, policyHistory, putPolicy, simulatePolicy, type Policy, type Session, type Simulation } from '../api';
import { formatDateTime, formatDuration, formatNumber, instantToWall, t, useI18n, wallToInstant, type MessageKey } from '../i18n';
import { reasonLabel } from '../labels';
import { Badge, Button, ErrorBox, Failure, Field, Link, Loaded, Loading, Notice, PageHead, Panel, Table, useAsync } from '../ui';

type Kind = 'bool' | 'seconds' | 'list' | 'enum';

interface FieldSpec {
  name: string;
  kind: Kind;
  options?: string[];
}

// The policy's fields the editor knows (DESIGN.md); a field the server
// returns that is not listed here is kept as it is on save.
const specs: FieldSpec[] = [
  { name: 'recall_enabled', kind: 'bool' },
  { name: 'sender_window_s', kind: 'seconds' },
  { name: 'admin_window_s', kind: 'seconds' },
  { name: 'message_retention_s', kind: 'seconds' },
  { name: 'audit_retention_s', kind: 'seconds' },
  { name: 'block_after_read', kind: 'bool' },
  { name: 'recallable_types', kind: 'list' },
  { name: 'deny_recall_users', kind: 'list' },
  { name: 'audit_keeps_recalled_content', kind: 'bool' },
  { name: 'feed_content', kind: 'enum', options: ['plaintext', 'sha256', 'none'] },
];

type Draft = Record<string, string | boolean>;

function toDraft(p: Policy): Draft {
  const d: Draft = {};
  for (const s of specs) {
    const v = p[s.name];
    if (v === undefined) continue;
    if (s.kind === 'bool') d[s.name] = Boolean(v);
    else if (s.kind === 'list') d[s.name] = Array.isArray(v) ? v.join(', ') : '';
    else d[s.name] = String(v);
  }
  return d;
}

// fromDraft builds the policy to send, or the fields the form itself
// refuses (not a whole number).
function fromDraft(base: Policy, d: Draft): { policy: Policy; errors: Record<string, string> } {
  const policy: Policy = { ...base };
  const errors: Record<string, string> = {};
  for (const s of specs) {
    if (!(s.name in d)) continue;
    const v = d[s.name];
    if (s.kind === 'bool') policy[s.name] = Boolean(v);
    else if (s.kind === 'list')
      policy[s.name] = String(v)
        .split(/[\s,]+/)
        .filter(Boolean);
    else if (s.kind === 'seconds') {
      const text = String(v).trim();
      if (!/^\d+$/.test(text)) errors[s.name] = t('policy.wholeSeconds');
      else policy[s.name] = Number(text);
    } else policy[s.name] = v;
  }
  return { policy, errors };
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(', ') : '∅';
  if (typeof v === 'boolean') return v ? t('policy.on') : t('policy.off');
  if (v === undefined || v === null) return '—';
  return String(v);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function fieldLabel(name: string): string {
  const key = `policy.field.${name}` as MessageKey;
  const l = t(key);
  return l === key ? name : l;
}

// namedFields finds which fields a 400's message (or its "field") names.
function namedFields(err: unknown): string[] {
  if (!(err instanceof ApiError) || err.status !== 400) return [];
  if (typeof err.body.field === 'string') return [err.body.field];
  return specs.map((s) => s.name).filter((n) => new RegExp(`\\b${n}\\b`).test(err.message));
}

export function PolicyPage(props: { session: Session }) {
  useI18n();
  const tenant = props.session.tenant;
  const loaded = useAsync(() => getPolicy(tenant), [tenant]);
  const [current, setCurrent] = useState<{ policy: Policy; etag: string } | null>(null);
  const [draft, setDraft] = useState<Draft>({});
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saved, setSaved] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [historyTick, setHistoryTick] = useState(0);

  useEffect(() => {
    if (loaded.data) {
      setCurrent(loaded.data);
      setDraft(toDraft(loaded.data.policy));
    }
  }, [loaded.data]);

  if (loaded.loading && !current) return <Loading />;
  if (loaded.error && !current) return <Failure error={loaded.error} what={t('policy.notAvailable')} onRetry={loaded.reload} />;
  if (!current) return <Loading />;

  const { policy: proposed, errors: formErrors } = fromDraft(current.policy, draft);
  const changes = specs.filter((s) => s.name in draft && !same(current.policy[s.name], proposed[s.name]));
  const serverFields = namedFields(saveError);
  const conflict = saveError instanceof ApiError && saveError.status === 412;

  async function save() {
    setBusy(true);
    setSaveError(null);
    setSaved(null);
    try {
      const next = await putPolicy(tenant, proposed, current!.etag);
      setCurrent(next);
      setDraft(toDraft(next.policy));
      setSaved(next.policy.version ?? null);
      setHistoryTick((n) => n + 1);
    } catch (e) {
      setSaveError(e);
    } finally {
      setBusy(false);
    }
  }

  function reload() {
    setSaveError(null);
    loaded.reload();
  }

  const fieldError = (name: string) => formErrors[name] ?? (serverFields.includes(name) && saveError instanceof ApiError ? saveError.message : undefined);

  return (
    <div class="page" data-testid="page-policy">
      <PageHead title={t('nav.policy')} subtitle={t('policy.subtitle', { version: current.policy.version ?? 0 })} />
      <div class="split">
        <Panel title={t('policy.editor')} class="grow">
          <form
            class="policy-form"
            onSubmit={(e) => {
              e.preventDefault();
              void save();
            }}
            noValidate
          >
            {specs
              .filter((s) => s.name in draft)
              .map((s) => (
                <PolicyField key={s.name} spec={s} value={draft[s.name]} error={fieldError(s.name)} onChange={(v) => setDraft({ ...draft, [s.name]: v })} />
              ))}
            {saveError !== null && !serverFields.length && !conflict && <ErrorBox error={saveError} />}
            {saveError !== null && serverFields.length > 0 && (
              <Notice kind="error" testid="policy-refused">
                {t('policy.refused')}
              </Notice>
            )}
            {conflict && (
              <Notice kind="warn">
                {t('policy.conflict')}{' '}
                <Button kind="ghost" onClick={reload}>
                  {t('action.reload')}
                </Button>
              </Notice>
            )}
            {saved !== null && (
              <Notice kind="ok" testid="policy-saved">
                {t('policy.saved', { version: saved })}
              </Notice>
            )}
            <div class="actions">
              <Button kind="ghost" disabled={!changes.length} onClick={() => setDraft(toDraft(current.policy))}>
                {t('policy.discard')}
              </Button>
              <Button type="submit" kind="primary" busy={busy} disabled={!changes.length || Object.keys(formErrors).length > 0} data-testid="policy-save">
                {t('policy.save', { n: changes.length })}
              </Button>
            </div>
          </form>
        </Panel>
        <div class="side">
          <Panel title={t('policy.pending')}>
            {changes.length === 0 ? (
              <p class="muted">{t('policy.noChanges')}</p>
            ) : (
              <Diff changes={changes.map((s) => ({ field: s.name, old: current.policy[s.name], new: proposed[s.name] }))} />
            )}
          </Panel>
          <WhatIf tenant={tenant} policy={proposed} disabled={Object.keys(formErrors).length > 0} />
        </div>
      </div>
      <History tenant={tenant} tick={historyTick} />
    </div>
  );
}

function PolicyField(props: { spec: FieldSpec; value: string | boolean; error?: string; onChange: (v: string | boolean) => void }) {
  const { spec: s, value } = props;
  const label = fieldLabel(s.name);
  const hintKey = `policy.hint.${s.name}` as MessageKey;
  const hint = t(hintKey) === hintKey ? undefined : t(hintKey);
  if (s.kind === 'bool') {
    return (
      <div class={`field field-check ${props.error ? 'field-invalid' : ''}`}>
        <label>
          <input type="checkbox" name={s.name} checked={Boolean(value)} onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)} />
          <span class="field-label">{label}</span>
        </label>
        {hint && !props.error && <span class="field-hint">{hint}</span>}
        {props.error && (
          <span class="field-error" role="alert">
            {props.error}
          </span>
        )}
      </div>
    );
  }
  let input;
  if (s.kind === 'enum') {
    input = (
      <select name={s.name} value={String(value)} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {s.options!.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else {
    input = <input name={s.name} value={String(value)} inputMode={s.kind === 'seconds' ? 'numeric' : undefined} onInput={(e) => props.onChange((e.target as HTMLInputElement).value)} />;
  }
  const secs = s.kind === 'seconds' && /^\d+$/.test(String(value)) ? formatDuration(Number(value) * 1000) : undefined;
  return (
    <Field label={s.kind === 'seconds' ? `${label} (${t('unit.seconds')})` : label} error={props.error} hint={[secs && `= ${secs}`, hint].filter(Boolean).join(' · ') || undefined}>
      {input}
    </Field>
  );
}

function Diff(props: { changes: { field: string; old: unknown; new: unknown }[] }) {
  return (
    <dl class="diff">
      {props.changes.map((c) => (
        <Fragment key={c.field}>
          <dt>{fieldLabel(c.field)}</dt>
          <dd>
            <del>{show(c.old)}</del> → <ins>{show(c.new)}</ins>
          </dd>
        </Fragment>
      ))}
    </dl>
  );
}

function History(props: { tenant: string; tick: number }) {
  const h = useAsync(() => policyHistory(props.tenant), [props.tenant, props.tick]);
  return (
    <Panel title={t('policy.history')}>
      <Loaded state={h} isEmpty={(d) => d.length === 0} empty={{ title: t('policy.historyEmpty') }} what={t('policy.historyLater')}>
        {(versions) => (
          <ol class="timeline">
            {[...versions]
              .sort((a, b) => b.version - a.version)
              .map((v) => (
                <li key={v.version} class="timeline-item">
                  <time class="muted small">{formatDateTime(v.at)}</time>
                  <div>
                    <strong>{t('policy.versionBy', { version: v.version, who: v.changed_by || '—' })}</strong>
                    {v.changes?.length ? <Diff changes={v.changes} /> : <p class="muted small">{t('policy.noFieldChanges')}</p>}
                  </div>
                </li>
              ))}
          </ol>
        )}
      </Loaded>
    </Panel>
  );
}

function WhatIf(props: { tenant: string; policy: Policy; disabled: boolean }) {
  const { timeZone: tz } = useI18n();
  const [days, setDays] = useState<'7' | '30' | 'custom'>('30');
  const [from, setFrom] = useState(() => instantToWall(new Date(Date.now() - 30 * 86400_000), tz));
  const [to, setTo] = useState(() => instantToWall(new Date(), tz));
  const [state, setState] = useState<{ busy: boolean; result?: Simulation; error?: unknown }>({ busy: false });

  async function run() {
    let f: Date | null;
    let tt: Date | null;
    if (days === 'custom') {
      f = wallToInstant(from, tz);
      tt = wallToInstant(to, tz);
    } else {
      tt = new Date();
      f = new Date(tt.getTime() - Number(days) * 86400_000);
    }
    if (!f || !tt || f >= tt) {
      setState({ busy: false, error: new Error(t('policy.whatIfBadPeriod')) });
      return;
    }
    setState({ busy: true });
    try {
      setState({ busy: false, result: await simulatePolicy(props.tenant, props.policy, f.toISOString(), tt.toISOString()) });
    } catch (error) {
      setState({ busy: false, error });
    }
  }

  const r = state.result;
  return (
    <Panel title={t('policy.whatIf')}>
      <p class="muted small">{t('policy.whatIfHint')}</p>
      <div class="form-row">
        <Field label={t('policy.period')}>
          <select value={days} onChange={(e) => setDays((e.target as HTMLSelectElement).value as typeof days)}>
            <option value="7">{t('range.7d')}</option>
            <option value="30">{t('range.30d')}</option>
            <option value="custom">{t('policy.custom')}</option>
          </select>
        </Field>
        {days === 'custom' && (
          <>
            <Field label={t('filter.from', { tz })}>
              <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
            </Field>
            <Field label={t('filter.to', { tz })}>
              <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
            </Field>
          </>
        )}
      </div>
      <Button kind="primary" busy={state.busy} disabled={props.disabled} onClick={() => void run()} data-testid="whatif-run">
        {t('policy.whatIfRun')}
      </Button>
      {state.error !== undefined && <Failure error={state.error} what={t('policy.whatIfLater')} />}
      {r && (
        <div class="whatif" data-testid="whatif-result">
          <p>
            <strong>{t('policy.whatIfSummary', { changed: r.changed, attempts: r.attempts })}</strong>
          </p>
          {!r.transitions?.length ? (
            <p class="muted">{t('policy.whatIfNone')}</p>
          ) : (
            <Table head={[t('policy.was'), t('policy.wouldBe'), t('policy.count'), t('policy.samples')]} numeric={[2]}>
              {r.transitions.map((tr) => (
                <tr key={`${tr.from}>${tr.to}`}>
                  <td>
                    <Badge kind={tr.from === 'recalled' ? 'ok' : 'warn'}>{reasonLabel(tr.from)}</Badge>
                  </td>
                  <td>
                    <Badge kind={tr.to === 'recalled' ? 'ok' : 'warn'}>{reasonLabel(tr.to)}</Badge>
                  </td>
                  <td class="num">{formatNumber(tr.count)}</td>
                  <td>
                    {(tr.sample_msg_ids ?? []).slice(0, 5).map((id) => (
                      <Link key={id} to={`recalls/${encodeURIComponent(id)}`} class="mono sample" title={id}>
                        {id.length > 12 ? `${id.slice(0, 8)}…` : id}
                      </Link>
                    ))}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </div>
      )}
    </Panel>
  );
}
