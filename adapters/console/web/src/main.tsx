import { render } from 'preact';
import { App } from './app';
import { locale } from './prefs';
import { checkSession } from './session';
import './styles.css';

function setDocumentLanguage(): void {
  document.documentElement.lang = locale.get();
}
setDocumentLanguage();
locale.subscribe(setDocumentLanguage);

render(<App />, document.getElementById('app')!);
void checkSession();
