// Messages and formats in the operator's language and time zone. Every
// string the console shows comes from a catalogue here; the zh-CN
// catalogue is typed against the English one, so a missing key does not
// compile.
import { en, type MessageKey } from './en';
import { zhCN } from './zh-CN';
import { locale, timeZone, type Locale } from '../prefs';
import { useStore } from '../store';

export type { MessageKey };

const catalogues: Record<Locale, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };

export type Params = Record<string, string | number>;

// t returns the message in the current language with {name} placeholders
// filled in. Values are plain text: the caller renders the result as text.
export function t(key: MessageKey, params?: Params): string {
  const msg = catalogues[locale.get()][key] ?? en[key] ?? key;
  if (!params) return msg;
  return msg.replace(/\{(\w+)\}/g, (m, name: string) => {
    const v = params[name];
    if (v === undefined) return m;
    return typeof v === 'number' ? formatNumber(v) : v;
  });
}

// useI18n re-renders the component when the language or the time zone
// changes, and returns them.
export function useI18n(): { locale: Locale; timeZone: string } {
  return { locale: useStore(locale), timeZone: useStore(timeZone) };
}

const numberFormats = new Map<string, Intl.NumberFormat>();

function numberFormat(opts: Intl.NumberFormatOptions = {}): Intl.NumberFormat {
  const key = locale.get() + JSON.stringify(opts);
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale.get(), opts);
    numberFormats.set(key, f);
  }
  return f;
}

export function formatNumber(n: number): string {
  return numberFormat().format(n);
}

export function formatPercent(ratio: number): string {
  return numberFormat({ style: 'percent', maximumFractionDigits: 1 }).format(ratio);
}

function dateFormat(opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(locale.get(), { timeZone: timeZone.get(), ...opts });
}

function toDate(v: string | number | Date): Date | null {
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

// formatDateTime shows an instant in the operator's zone, to the second.
export function formatDateTime(v: string | number | Date | undefined): string {
  if (v === undefined || v === '') return '—';
  const d = toDate(v);
  if (!d) return String(v);
  return dateFormat({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(d);
}

export function formatTime(v: string | number | Date): string {
  const d = toDate(v);
  if (!d) return String(v);
  return dateFormat({ hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(d);
}

// formatDay shows a report's day key (YYYY-MM-DD, already in the zone the
// report was asked for) as a short date.
export function formatDay(key: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  if (!m) return key;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 12));
  return new Intl.DateTimeFormat(locale.get(), { timeZone: 'UTC', month: 'short', day: 'numeric', weekday: 'short' }).format(d);
}

// formatDuration shows milliseconds as the largest sensible units.
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (Math.abs(ms) < 1000) return t('unit.ms', { n: Math.round(ms) });
  if (s < 60) return t('unit.s', { n: s });
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return s % 60 ? t('unit.min_s', { m, s: s % 60 }) : t('unit.min', { n: m });
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? t('unit.h_min', { h, m }) : t('unit.h', { n: h });
  }
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  return h ? t('unit.d_h', { d, h }) : t('unit.d', { n: d });
}

// zoneOffsetMs is how far the zone's wall clock is ahead of UTC at instant.
function zoneOffsetMs(instant: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(instant / 1000) * 1000;
}

// wallToInstant reads a datetime-local value ("2026-12-01T09:30") as a
// wall time in the zone tz and returns the instant, or null.
export function wallToInstant(wall: string, tz: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(wall);
  if (!m) return null;
  const asUTC = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  let instant = asUTC - zoneOffsetMs(asUTC, tz);
  instant = asUTC - zoneOffsetMs(instant, tz); // once more across a DST change
  return new Date(instant);
}

// instantToWall is the datetime-local value of an instant in the zone tz.
export function instantToWall(d: Date, tz: string): string {
  const local = new Date(d.getTime() + zoneOffsetMs(d.getTime(), tz));
  return local.toISOString().slice(0, 16);
}

// hourOfDay is an instant's hour (0-23) on the zone's wall clock.
export function hourOfDay(d: Date, tz: string): number {
  return new Date(d.getTime() + zoneOffsetMs(d.getTime(), tz)).getUTCHours();
}

// dayKey is an instant's YYYY-MM-DD on the zone's wall clock.
export function dayKey(d: Date, tz: string): string {
  return new Date(d.getTime() + zoneOffsetMs(d.getTime(), tz)).toISOString().slice(0, 10);
}
