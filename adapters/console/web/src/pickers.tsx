// The language and time-zone pickers of the top bar and the login page.
import { useState } from 'preact/hooks';
import { t } from './i18n';
import { locale, locales, timeZone, timeZones, type Locale } from './prefs';
import { useStore } from './store';

export function LanguagePicker() {
  const current = useStore(locale);
  return (
    <label class="picker">
      <span class="sr-only">{t('prefs.language')}</span>
      <select
        data-testid="language"
        value={current}
        onChange={(e) => locale.set((e.target as HTMLSelectElement).value as Locale)}
        aria-label={t('prefs.language')}
      >
        {locales.map((l) => (
          <option key={l} value={l}>
            {l === 'en' ? 'English' : '简体中文'}
          </option>
        ))}
      </select>
    </label>
  );
}

export function TimeZonePicker() {
  const tz = useStore(timeZone);
  const [zones] = useState(timeZones);
  return (
    <label class="picker">
      <span class="sr-only">{t('prefs.timeZone')}</span>
      <select
        data-testid="timezone"
        value={tz}
        title={t('prefs.timeZone')}
        aria-label={t('prefs.timeZone')}
        onChange={(e) => timeZone.set((e.target as HTMLSelectElement).value)}
      >
        {zones.map((z) => (
          <option key={z} value={z}>
            {z}
          </option>
        ))}
      </select>
    </label>
  );
}

