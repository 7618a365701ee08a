// Force recall (admin): paste or type messages (id, recipient, chat type),
// check them, recall them in one batch through the Easemob-compatible
// endpoint, and see the result of each.
import { useState } from 'preact/hooks';
import { batchRecall, type BatchRecallItem, type BatchRecallResult, type ChatType, type Session } from '../api';
import { t, useI18n } from '../i18n';
import { chatTypeLabel, reasonLabel } from '../labels';
import { Badge, Button, Confirm, ErrorBox, Field, Link, Notice, PageHead, Panel, Table } from '../ui';

const maxBatch = 100;
const msgIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const userPattern = /^[A-Za-z0-9_.@-]{1,64}$/;
const chatTypes: ChatType[] = ['chat', 'groupchat', 'chatroom'];

interface Line {
  n: number;
  text: string;
  item?: BatchRecallItem;
  problem?: string;
}

// parse reads one message a line: "msg_id to [chat_type]", separated by
// spaces, tabs or commas; the chat type defaults to the form's choice.
export function parse(text: string, defaultType: ChatType): Line[] {
  const out: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const [msgId, to, type = defaultType, ...rest] = line.split(/[\s,;]+/);
    let problem: string | undefined;
    if (!msgIdPattern.test(msgId)) problem = t('force.badMsgId', { value: msgId });
    else if (!to) problem = t('force.noRecipient');
    else if (!userPattern.test(to)) problem = t('force.badRecipient', { value: to });
    else if (!chatTypes.includes(type as ChatType)) problem = t('force.badChatType', { value: type });
    else if (rest.length) problem = t('force.extra', { value: rest.join(' ') });
    out.push({ n: i + 1, text: line, problem, item: problem ? undefined : { msg_id: msgId, to, chat_type: type as ChatType } });
  });
  return out;
}

export function ForceRecallPage(props: { session: Session }) {
  useI18n();
  const [text, setText] = useState('');
  const [defaultType, setDefaultType] = useState<ChatType>('chat');
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<BatchRecallResult[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const lines = parse(text, defaultType);
  const items = lines.flatMap((l) => (l.item ? [l.item] : []));
  const problems = lines.filter((l) => l.problem);
  const tooMany = items.length > maxBatch;
  const ready = items.length > 0 && problems.length === 0 && !tooMany;

  async function run() {
    setAsking(false);
    setBusy(true);
    setError(null);
    setResults(null);
    try {
      setResults(await batchRecall(props.session.tenant, items));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const ok = results?.filter((r) => r.recalled === 'yes').length ?? 0;

  return (
    <div class="page" data-testid="page-force">
      <PageHead title={t('nav.force')} subtitle={t('force.subtitle')} />
      <Panel title={t('force.pick')}>
        <div class="form-row">
          <Field label={t('force.lines')} hint={t('force.linesHint', { max: maxBatch })} class="grow">
            <textarea rows={8} class="mono" value={text} placeholder={'m-01HX… bob\nm-01HY… team-1 groupchat'} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          </Field>
          <Field label={t('force.defaultType')}>
            <select value={defaultType} onChange={(e) => setDefaultType((e.target as HTMLSelectElement).value as ChatType)}>
              {chatTypes.map((c) => (
                <option key={c} value={c}>
                  {chatTypeLabel(c)}
                </option>
              ))}
            </select>
          </Field>
        </div>
        {problems.length > 0 && (
          <Notice kind="error">
            <ul class="plain">
              {problems.map((p) => (
                <li key={p.n}>{t('force.lineProblem', { n: p.n, problem: p.problem! })}</li>
              ))}
            </ul>
          </Notice>
        )}
        {tooMany && <Notice kind="error">{t('force.tooMany', { n: items.length, max: maxBatch })}</Notice>}
        <div class="actions">
          <span class="muted">{t('force.count', { n: items.length })}</span>
          <Button kind="danger" disabled={!ready} busy={busy} onClick={() => setAsking(true)}>
            {t('force.submit', { n: items.length })}
          </Button>
        </div>
      </Panel>
      {asking && (
        <Confirm
          title={t('force.confirmTitle', { n: items.length })}
          body={<p>{t('force.confirmBody')}</p>}
          confirm={t('force.submit', { n: items.length })}
          danger
          onAnswer={(yes) => (yes ? void run() : setAsking(false))}
        />
      )}
      {error !== null && <ErrorBox error={error} />}
      {results && (
        <Panel title={t('force.results', { ok, n: results.length })}>
          <Table testid="results" head={[t('col.message'), t('force.to'), t('story.chatType'), t('col.outcome')]}>
            {results.map((r) => (
              <tr key={r.msg_id}>
                <td>
                  <Link to={`recalls/${encodeURIComponent(r.msg_id)}`} class="mono">
                    {r.msg_id}
                  </Link>
                </td>
                <td>{r.to}</td>
                <td>{chatTypeLabel(r.chattype)}</td>
                <td>
                  {r.recalled === 'yes' ? (
                    <Badge kind="ok">{t('outcome.recalled')}</Badge>
                  ) : (
                    <Badge kind={r.reason === 'exceed_time_limit' ? 'bad' : 'warn'} title={r.recallfailed ?? r.recalled}>
                      {r.reason ? reasonLabel(r.reason) : r.recallfailed ?? r.recalled}
                    </Badge>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        </Panel>
      )}
    </div>
  );
}
