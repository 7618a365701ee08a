// Names for the ledger's stable codes (refusal reasons, outcomes, actions,
// chat types) in the operator's language; an unknown code shows as itself.
import { t, type MessageKey } from './i18n';
import { en } from './i18n/en';

function known(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

function label(prefix: string, code: string | undefined): string {
  if (!code) return '—';
  const key = `${prefix}.${code}`;
  return known(key) ? t(key) : code;
}

export const reasonLabel = (code: string | undefined) => (code === 'recalled' ? t('outcome.recalled') : label('reason', code));
export const outcomeLabel = (code: string | undefined) => label('outcome', code);
export const actionLabel = (code: string | undefined) => label('action', code);
export const chatTypeLabel = (code: string | undefined) => label('chat', code);
export const roleLabel = (code: string | undefined) => label('actorRole', code);
