// Audit (auditor and admin): the audit API's filters, a paged table with
// an entry's details, verified CSV/JSONL exports of the filtered entries, the
// chain's verification, and the latest signed checkpoint once the server
// has one.
import { Fragment } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { auditCheckpoint, auditExportURL, verifyAudit, type AuditEntry, type Session, type VerifyResult } from '../api';
import { EntryTable, FilterForm, Pager, filterFromQuery, pagedState, usePagedAudit, type FilterKey } from '../audit-view';
import { formatDateTime, formatNumber, t, useI18n } from '../i18n';
import { actionLabel, reasonLabel, roleLabel } from '../labels';
import { Button, ErrorBox, Failure, Loaded, Loading, Notice, PageHead, Panel, useAsync } from '../ui';

const keys: FilterKey[] = ['from', 'to', 'actor', 'conversation_id', 'msg_id', 'action', 'outcome'];

export function AuditPage(props: { session: Session; query: URLSearchParams }) {
  useI18n();
  const tenant = props.session.tenant;
  const filter = useMemo(() => filterFromQuery(props.query, keys), [props.query.toString()]);
  const paged = usePagedAudit(tenant, filter, 50);
  const [selected, setSelected] = useState<AuditEntry | null>(null);

  const exports = (
    <>
      <a class="btn" href={auditExportURL(tenant, filter, 'csv')} download data-testid="export-csv">
        {t('audit.exportCsv')}
      </a>
      <a class="btn" href={auditExportURL(tenant, filter, 'jsonl')} download data-testid="export-jsonl">
        {t('audit.exportJsonl')}
      </a>
    </>
  );

  return (
    <div class="page" data-testid="page-audit">
      <PageHead title={t('nav.audit')} subtitle={t('audit.subtitle')} />
      <div class="grid">
        <ChainPanel tenant={tenant} />
        <CheckpointPanel tenant={tenant} />
      </div>
      <Panel>
        <FilterForm key={props.query.toString()} path="audit" keys={keys} filter={filter} extra={exports} />
        <p class="muted small">{t('audit.exportHint')}</p>
      </Panel>
      <div class="split">
        <Panel title={t('audit.entries')} actions={<Pager paged={paged} />} class="grow">
          <Loaded state={pagedState(paged)} isEmpty={(d) => d.length === 0} empty={{ title: t('audit.empty'), hint: t('audit.emptyHint') }}>
            {(entries) => <EntryTable entries={entries} columns={['seq', 'at', 'action', 'actor', 'msg_id', 'outcome']} onSelect={setSelected} selected={selected?.seq} />}
          </Loaded>
        </Panel>
        {selected && <EntryDetail entry={selected} onClose={() => setSelected(null)} />}
      </div>
    </div>
  );
}

function EntryDetail(props: { entry: AuditEntry; onClose: () => void }) {
  const e = props.entry;
  const rows: [string, string | undefined][] = [
    [t('col.seq'), String(e.seq)],
    [t('col.at'), formatDateTime(e.at)],
    [t('col.action'), actionLabel(e.action)],
    [t('col.actor'), e.actor],
    [t('story.role'), e.actor_role && roleLabel(e.actor_role)],
    [t('col.platform'), e.platform],
    [t('col.message'), e.msg_id],
    [t('col.conversation'), e.conversation_id],
    [t('col.outcome'), e.outcome],
    [t('audit.reason'), e.reason && reasonLabel(e.reason)],
    [t('story.reasonText'), e.reason_text],
    [t('audit.detail'), e.detail],
    [t('story.content'), e.content],
    [t('audit.contentHash'), e.content_sha256],
    [t('audit.prevHash'), e.prev_hash],
    [t('audit.hash'), e.hash],
    [t('audit.eventId'), e.event_id],
    [t('audit.position'), e.position !== undefined ? String(e.position) : undefined],
  ];
  return (
    <Panel title={t('audit.entry', { seq: e.seq })} actions={<Button kind="ghost" onClick={props.onClose}>{t('action.close')}</Button>} class="detail">
      <dl class="facts facts-wide" data-testid="entry-detail">
        {rows
          .filter(([, v]) => v !== undefined && v !== '')
          .map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd class="mono content-text">{v}</dd>
            </Fragment>
          ))}
      </dl>
    </Panel>
  );
}

function ChainPanel(props: { tenant: string }) {
  const [state, setState] = useState<{ busy: boolean; result?: VerifyResult; error?: unknown; at?: Date }>({ busy: false });
  async function verify() {
    setState({ busy: true });
    try {
      setState({ busy: false, result: await verifyAudit(props.tenant), at: new Date() });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  const r = state.result;
  return (
    <Panel
      title={t('audit.chain')}
      actions={
        <Button kind="primary" busy={state.busy} onClick={() => void verify()} data-testid="verify">
          {t('audit.verify')}
        </Button>
      }
    >
      {state.error !== undefined ? (
        <ErrorBox error={state.error} />
      ) : r ? (
        r.ok ? (
          <Notice kind="ok" testid="verify-result">
            {t('audit.chainOk', { n: r.entries, at: formatDateTime(state.at) })}
            {r.head && <div class="mono small">{t('audit.head', { head: r.head })}</div>}
          </Notice>
        ) : (
          <Notice kind="error" testid="verify-result">
            {t('audit.chainBroken', { seq: r.broken_seq ?? '?', problem: r.problem ?? '' })}
          </Notice>
        )
      ) : (
        <p class="muted">{t('audit.chainHint')}</p>
      )}
    </Panel>
  );
}

function CheckpointPanel(props: { tenant: string }) {
  const cp = useAsync(() => auditCheckpoint(props.tenant), [props.tenant]);
  return (
    <Panel title={t('audit.checkpoint')}>
      {cp.loading ? (
        <Loading />
      ) : cp.error ? (
        <Failure error={cp.error} what={t('audit.checkpointLater')} onRetry={cp.reload} />
      ) : cp.data ? (
        <dl class="facts">
          <dt>{t('audit.treeSize')}</dt>
          <dd>{formatNumber(cp.data.size)}</dd>
          <dt>{t('audit.rootHash')}</dt>
          <dd class="mono content-text">{cp.data.root_hash}</dd>
          {cp.data.at && (
            <>
              <dt>{t('col.at')}</dt>
              <dd>{formatDateTime(cp.data.at)}</dd>
            </>
          )}
          {cp.data.signed_note && (
            <>
              <dt>{t('audit.signedNote')}</dt>
              <dd>
                <pre class="note">{cp.data.signed_note}</pre>
              </dd>
            </>
          )}
        </dl>
      ) : null}
    </Panel>
  );
}
