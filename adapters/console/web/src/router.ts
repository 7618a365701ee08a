// A small router over the History API: the app's pages are paths under
// /console/, which recalld answers with index.html.
import { Store, useStore } from './store';

export const base = '/console/';

export interface Route {
  path: string; // without the base, no leading slash: "", "audit", "recalls/m-1"
  query: URLSearchParams;
}

function current(): Route {
  const p = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : '';
  return { path: p.replace(/\/+$/, ''), query: new URLSearchParams(location.search) };
}

const route = new Store<Route>(current());

window.addEventListener('popstate', () => route.set(current()));

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  const url = base + path.replace(/^\/+/, '');
  if (url === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route.set(current());
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  return useStore(route);
}

export function href(path: string): string {
  return base + path.replace(/^\/+/, '');
}
