// Operators (admin): the tenant's named operators; add one (its one-time
// password is shown once), disable or enable one, reset a password.
import { useState } from 'preact/hooks';
import { addOperator, listOperators, resetOperator, setOperatorDisabled, type Operator, type Role, type Session } from '../api';
import { formatDateTime, t, useI18n } from '../i18n';
import { Badge, Button, Confirm, ErrorBox, Field, Loaded, Notice, PageHead, Panel, Secret, Table, useAsync } from '../ui';

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

type Pending = { kind: 'disable' | 'enable' | 'reset'; op: Operator };

export function OperatorsPage(props: { session: Session }) {
  useI18n();
  const tenant = props.session.tenant;
  const list = useAsync(() => listOperators(tenant), [tenant]);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('auditor');
  const [nameError, setNameError] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<{ name: string; password: string } | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);

  async function add(e: Event) {
    e.preventDefault();
    const n = name.trim();
    if (!namePattern.test(n)) {
      setNameError(t('operators.badName', { name: n }));
      return;
    }
    setNameError('');
    setBusy(true);
    setError(null);
    try {
      const r = await addOperator(tenant, n, role);
      setSecret({ name: r.operator.name, password: r.password });
      setName('');
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function act(p: Pending) {
    setPending(null);
    setError(null);
    try {
      if (p.kind === 'reset') {
        const r = await resetOperator(tenant, p.op.name);
        setSecret({ name: p.op.name, password: r.password });
      } else {
        await setOperatorDisabled(tenant, p.op.name, p.kind === 'disable');
      }
      list.reload();
    } catch (err) {
      setError(err);
    }
  }

  const self = props.session.operator.name;
  return (
    <div class="page" data-testid="page-operators">
      <PageHead title={t('nav.operators')} subtitle={t('operators.subtitle')} />
      {secret && (
        <Notice kind="ok" testid="one-time-password">
          <p>{t('operators.password', { name: secret.name })}</p>
          <Secret value={secret.password} />
          <Button kind="ghost" onClick={() => setSecret(null)}>
            {t('operators.passwordDone')}
          </Button>
        </Notice>
      )}
      {error !== null && <ErrorBox error={error} />}
      <Panel title={t('operators.add')}>
        <form class="form-row" onSubmit={add} noValidate>
          <Field label={t('operators.name')} error={nameError}>
            <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label={t('operators.role')}>
            <select name="role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}>
              <option value="auditor">{t('role.auditor')}</option>
              <option value="admin">{t('role.admin')}</option>
            </select>
          </Field>
          <div class="field field-button">
            <Button type="submit" kind="primary" busy={busy}>
              {t('operators.addSubmit')}
            </Button>
          </div>
        </form>
      </Panel>
      <Panel title={t('operators.list')}>
        <Loaded state={list} isEmpty={(d) => d.length === 0} empty={{ title: t('operators.empty') }} what={t('operators.later')}>
          {(ops) => (
            <Table
              testid="operators"
              head={[t('operators.name'), t('operators.role'), t('operators.status'), t('operators.created'), t('operators.lastLogin'), '']}
            >
              {ops.map((op) => (
                <tr key={op.name}>
                  <td>
                    <strong>{op.name}</strong>
                    {op.name === self && <span class="muted small"> · {t('operators.you')}</span>}
                  </td>
                  <td>{t(op.role === 'admin' ? 'role.admin' : 'role.auditor')}</td>
                  <td>{op.disabled ? <Badge kind="bad">{t('operators.disabled')}</Badge> : <Badge kind="ok">{t('operators.active')}</Badge>}</td>
                  <td>
                    {formatDateTime(op.created_at)}
                    {op.created_by && <span class="muted small"> · {op.created_by}</span>}
                  </td>
                  <td>{formatDateTime(op.last_login_at)}</td>
                  <td class="row-actions">
                    <Button kind="ghost" onClick={() => setPending({ kind: 'reset', op })}>
                      {t('operators.reset')}
                    </Button>
                    {op.disabled ? (
                      <Button kind="ghost" onClick={() => setPending({ kind: 'enable', op })}>
                        {t('operators.enable')}
                      </Button>
                    ) : (
                      <Button kind="danger" disabled={op.name === self} onClick={() => setPending({ kind: 'disable', op })}>
                        {t('operators.disable')}
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
      </Panel>
      {pending && (
        <Confirm
          title={t(`operators.confirm.${pending.kind}`, { name: pending.op.name })}
          body={<p>{t(`operators.confirmBody.${pending.kind}`)}</p>}
          confirm={t(`operators.${pending.kind}`)}
          danger={pending.kind !== 'enable'}
          onAnswer={(yes) => (yes ? void act(pending) : setPending(null))}
        />
      )}
    </div>
  );
}
