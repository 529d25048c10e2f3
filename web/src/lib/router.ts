/**
 * Routing inside the portal with the History API: paths are relative to the page's base (`/portal/`), so
 * `/servers/_` is `/portal/servers/_` in the address bar. Links are real <a href>s (middle-click and copy work);
 * a plain click is handled here without reloading the page.
 */
import { useEffect, useState } from 'preact/hooks';
import { basePath } from './api.ts';

/** The current route, without the base: "/", "/servers/_", … */
export function currentRoute(): string {
  const base = basePath();
  const path = location.pathname;
  return path.startsWith(base) ? `/${path.slice(base.length)}` : '/';
}

/** The address of a route: `/servers/_` -> `/portal/servers/_`. */
export function href(route: string): string {
  return basePath() + route.replace(/^\//, '');
}

const listeners = new Set<() => void>();

export function navigate(route: string, options: { replace?: boolean } = {}): void {
  const url = href(route);
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const l of listeners) l();
  // A new page: start at its top and move focus to its main landmark, as a page load would.
  if (!options.replace) {
    window.scrollTo(0, 0);
    document.getElementById('main')?.focus({ preventScroll: true });
  }
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** Handles a click on an in-portal link; other clicks (new tab, modified) are left to the browser. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = (event.target as Element | null)?.closest('a');
  if (a === null || a === undefined || a.target !== '' || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  const base = basePath();
  if (url.origin !== location.origin || !url.pathname.startsWith(base)) return;
  event.preventDefault();
  navigate(`/${url.pathname.slice(base.length)}${url.search}`);
}

/** Path segments of a route, decoded: "/servers/a%20b/tools" -> ["servers", "a b", "tools"]. */
export function segments(route: string): string[] {
  return route.split('?')[0].split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
}

/** A route segment, encoded. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
