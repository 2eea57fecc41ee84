// The URL holds the view: `#/fleet?q=…&status=…&sort=…`, `#/device/<id>?sensor=…&res=…&range=…`,
// `#/track/<id>?range=…`, `#/alerts?state=…`. A deep link opens exactly that view; changing a control
// rewrites the hash with replaceState (no history entry per keystroke), navigating pushes one.

export type View = 'fleet' | 'device' | 'track' | 'alerts';

export interface Route {
  view: View;
  device?: string;
  params: URLSearchParams;
}

export function parseRoute(hash: string = location.hash): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = raw.split('?', 2);
  const parts = path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  const params = new URLSearchParams(query);
  const view = parts[0];
  if ((view === 'device' || view === 'track') && parts[1]) return { view, device: parts[1], params };
  if (view === 'alerts') return { view, params };
  return { view: 'fleet', params };
}

export function formatRoute(r: Route): string {
  const path = r.device ? `${r.view}/${encodeURIComponent(r.device)}` : r.view;
  const q = r.params.toString();
  return `#/${path}${q ? `?${q}` : ''}`;
}

export function navigate(r: Route): void {
  location.hash = formatRoute(r);
}

/** Records a control's new value in the URL without a history entry. */
export function updateParams(change: Record<string, string | null>): void {
  const r = parseRoute();
  for (const [k, v] of Object.entries(change)) {
    if (v === null || v === '') r.params.delete(k);
    else r.params.set(k, v);
  }
  history.replaceState(null, '', formatRoute(r));
}
