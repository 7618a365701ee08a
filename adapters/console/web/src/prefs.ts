// The operator's display preferences, kept in this browser's localStorage:
// the language and the time zone times are shown in.
import { Store } from './store';

export type Locale = 'en' | 'zh-CN';
export const locales: readonly Locale[] = ['en', 'zh-CN'];

const localeKey = 'recall.console.locale';
const tzKey = 'recall.console.tz';
const tenantKey = 'recall.console.tenant';

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: fall back to the defaults
  }
}

function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

function initialLocale(): Locale {
  const saved = read(localeKey);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function initialTimeZone(): string {
  const saved = read(tzKey);
  return saved && isTimeZone(saved) ? saved : browserTimeZone();
}

export const locale = new Store<Locale>(initialLocale());
export const timeZone = new Store<string>(initialTimeZone());

locale.subscribe((l) => write(localeKey, l));
timeZone.subscribe((tz) => write(tzKey, tz));

// The last tenant signed in to, to fill the login form (never a password).
export function lastTenant(): string {
  return read(tenantKey) ?? '';
}

export function rememberTenant(t: string): void {
  write(tenantKey, t);
}

// The zones offered in the picker: the browser's, UTC, then every zone
// the browser knows.
export function timeZones(): string[] {
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set([browserTimeZone(), 'UTC', 'Asia/Shanghai', ...all])];
}
