// Recalls: search recall attempts (the audit log's recall entries) by
// actor, conversation, message, outcome and time; and a message's whole
// story — sent, each read, each recall attempt with its outcome, role,
// platform, window and policy version, and who had read it by then.
import { useMemo } from 'preact/hooks';
import { auditPage, messageHistory, ApiError, type AuditEntry, type Session, type StoredEvent } from '../api';
import { EntryTable, FilterForm, OutcomeBadge, Pager, filterFromQuery, pagedState, usePagedAudit, type FilterKey } from '../audit-view';
import { formatDateTime, formatDuration, t, useI18n } from '../i18n';
import { actionLabel, chatTypeLabel, reasonLabel, roleLabel } from '../labels';
import { Badge, Empty, ErrorBox, Failure, Link, Loaded, Loading, Notice, PageHead, Panel, useAsync } from '../ui';

const keys: FilterKey[] = ['from', 'to', 'actor', 'conversation_id', 'msg_id', 'outcome'];

export function RecallsPage(props: { session: Session; query: URLSearchParams }) {
  useI18n();
  const filter = useMemo(() => ({ ...filterFromQuery(props.query, keys), action: 'recall' }), [props.query.toString()]);
  const paged = usePagedAudit(props.session.tenant, filter, 50);
  return (
    <div class="page" data-testid="page-recalls">
      <PageHead title={t('nav.recalls')} subtitle={t('recalls.subtitle')} />
      <Panel>
        <FilterForm key={props.query.toString()} path="recalls" keys={keys} filter={filter} outcomes={['recalled', 'refused']} />
      </Panel>
      <Panel title={t('recalls.attempts')} actions={<Pager paged={paged} />}>
        <Loaded state={pagedState(paged)} isEmpty={(d) => d.length === 0} empty={{ title: t('recalls.empty'), hint: t('recalls.emptyHint') }}>
          {(entries) => <EntryTable entries={entries} columns={['at', 'msg_id', 'actor', 'platform', 'outcome', 'conversation_id']} />}
        </Loaded>
      </Panel>
    </div>
  );
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

export function MessageStoryPage(props: { session: Session; msgId: string }) {
  useI18n();
  const tenant = props.session.tenant;
  const history = useAsync(() => messageHistory(tenant, props.msgId), [tenant, props.msgId]);
  // The audit log names every step too; it is the story when this recalld
  // has no history endpoint yet, and the place to read further.
  const audit = useAsync(() => auditPage(tenant, { msg_id: props.msgId, limit: 200 }), [tenant, props.msgId]);

  const fallback = history.error instanceof ApiError && history.error.missingRoute;
  const unknown = history.error instanceof ApiError && history.error.status === 404 && !fallback;

  return (
    <div class="page" data-testid="page-story">
      <PageHead
        title={t('story.title')}
        subtitle={props.msgId}
        actions={<Link to={`audit?msg_id=${encodeURIComponent(props.msgId)}`}>{t('story.inAudit')}</Link>}
      />
      {history.loading ? (
        <Loading />
      ) : unknown ? (
        <Empty title={t('story.unknown')} />
      ) : history.data ? (
        <EventStory events={history.data} />
      ) : fallback ? (
        <>
          <Notice kind="info">{t('story.fromAudit')}</Notice>
          {audit.loading ? (
            <Loading />
          ) : audit.error ? (
            <ErrorBox error={audit.error} onRetry={audit.reload} />
          ) : (
            <AuditStory entries={(audit.data?.entries ?? []).filter((e) => e.action !== 'audit')} />
          )}
        </>
      ) : (
        <Failure error={history.error} what={t('story.notAvailable')} onRetry={history.reload} />
      )}
    </div>
  );
}

function EventStory(props: { events: StoredEvent[] }) {
  if (props.events.length === 0) return <Empty title={t('story.unknown')} />;
  const reads: { reader: string; at: string }[] = [];
  return (
    <Panel>
      <ol class="timeline" data-testid="story">
        {props.events.map((e) => {
          const d = e.data;
          let body;
          switch (e.type) {
            case 'MessageSent':
              body = (
                <>
                  <strong>{t('story.sent', { from: str(d.from), to: str(d.to) })}</strong>
                  <dl class="facts">
                    <dt>{t('col.conversation')}</dt>
                    <dd class="mono">{str(d.conversation_id)}</dd>
                    <dt>{t('story.chatType')}</dt>
                    <dd>{chatTypeLabel(str(d.chat_type))}</dd>
                    <dt>{t('story.msgType')}</dt>
                    <dd>{str(d.msg_type)}</dd>
                    <dt>{t('col.platform')}</dt>
                    <dd>{str(d.platform) || '—'}</dd>
                    {d.content !== undefined && (
                      <>
                        <dt>{t('story.content')}</dt>
                        <dd class="content-text">{str(d.content)}</dd>
                      </>
                    )}
                  </dl>
                </>
              );
              break;
            case 'MessageRead':
              reads.push({ reader: str(d.reader), at: e.occurred_at });
              body = <strong>{t('story.read', { reader: str(d.reader), platform: str(d.platform) || '—' })}</strong>;
              break;
            case 'MessageRecalled':
            case 'RecallRejected': {
              const ok = e.type === 'MessageRecalled';
              const elapsed = num(d.elapsed_ms);
              const win = num(d.window_ms);
              const exposure = Array.isArray(d.read_by) ? (d.read_by as unknown[]).map(str) : reads.map((r) => r.reader);
              body = (
                <>
                  <strong>
                    {t(ok ? 'story.recalled' : 'story.refused', { actor: str(d.actor) })}{' '}
                    <Badge kind={ok ? 'ok' : str(d.reason) === 'exceed_time_limit' ? 'bad' : 'warn'}>{ok ? t('outcome.recalled') : reasonLabel(str(d.reason))}</Badge>
                  </strong>
                  <dl class="facts">
                    <dt>{t('story.role')}</dt>
                    <dd>{roleLabel(str(d.actor_role))}</dd>
                    <dt>{t('col.platform')}</dt>
                    <dd>{str(d.platform) || '—'}</dd>
                    <dt>{t('story.elapsed')}</dt>
                    <dd>
                      {elapsed !== undefined ? formatDuration(elapsed) : '—'}
                      {win !== undefined && <span class="muted"> / {t('story.window', { window: formatDuration(win) })}</span>}
                    </dd>
                    <dt>{t('story.policyVersion')}</dt>
                    <dd>{str(d.policy_version) || '—'}</dd>
                    {str(d.reason_text) && (
                      <>
                        <dt>{t('story.reasonText')}</dt>
                        <dd class="content-text">{str(d.reason_text)}</dd>
                      </>
                    )}
                    {ok && (
                      <>
                        <dt>{t('story.exposure')}</dt>
                        <dd data-testid="exposure">{exposure.length ? exposure.join(', ') : t('story.noExposure')}</dd>
                      </>
                    )}
                  </dl>
                </>
              );
              break;
            }
            case 'MessageExpired':
              body = <strong>{t('story.expired', { retention: formatDuration((num(d.retention_s) ?? 0) * 1000) })}</strong>;
              break;
            default:
              body = <strong>{e.type}</strong>;
          }
          return (
            <li key={e.event_id} class={`timeline-item timeline-${e.type}`}>
              <time class="muted small">{formatDateTime(e.occurred_at)}</time>
              <div>{body}</div>
            </li>
          );
        })}
      </ol>
    </Panel>
  );
}

function AuditStory(props: { entries: AuditEntry[] }) {
  if (props.entries.length === 0) return <Empty title={t('story.unknown')} />;
  return (
    <Panel>
      <ol class="timeline" data-testid="story">
        {props.entries.map((e) => (
          <li key={e.seq} class="timeline-item">
            <time class="muted small">{formatDateTime(e.at)}</time>
            <div>
              <strong>
                {actionLabel(e.action)} · {e.actor ?? '—'}
                {e.actor_role && <span class="muted"> ({roleLabel(e.actor_role)})</span>} <OutcomeBadge entry={e} />
              </strong>
              {e.platform && <div class="muted small">{t('col.platform')}: {e.platform}</div>}
              {e.detail && <div class="muted small content-text">{e.detail}</div>}
              {e.content !== undefined && e.content !== '' && <div class="content-text">{e.content}</div>}
            </div>
          </li>
        ))}
      </ol>
    </Panel>
  );
}
