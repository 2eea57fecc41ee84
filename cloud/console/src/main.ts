// The console shell: routes the URL hash to a view, owns the token gate and the theme. Views are plain
// functions that render into <main> and return a handle that releases what they hold.
import './style.css';
import { auth, tryToken } from './api.js';
import { parseRoute } from './route.js';
import { alertsView } from './views/alerts.js';
import { fleetView, prefetchFleet } from './views/fleet.js';
import type { ViewHandle } from './views/view.js';

// The fleet is the usual first screen: its device list is on the way before anything else is built.
if (parseRoute().view === 'fleet') prefetchFleet();

// The chart views (uPlot) load on first use: the fleet, the first screen, stays small.
const loadDevice = () => import('./views/device.js');
const loadTrack = () => import('./views/track.js');

const main = document.getElementById('main')!;
const gate = document.getElementById('token-gate')!;
const form = document.getElementById('token-form') as HTMLFormElement;
const input = document.getElementById('token-input') as HTMLInputElement;
const reason = document.getElementById('token-reason')!;
const error = document.getElementById('token-error')!;
const forget = document.getElementById('forget-token') as HTMLButtonElement;
let current: ViewHandle | undefined;

let showing = 0;
function show(): void {
  current?.close();
  current = undefined;
  const seq = ++showing;
  const r = parseRoute();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (a.dataset.nav === (r.view === 'track' ? 'fleet' : r.view === 'device' ? 'fleet' : r.view)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `Tidemark · ${r.device ? `${r.device} · ` : ''}${r.view}`;
  const lazy = (load: () => Promise<(root: HTMLElement, id: string) => ViewHandle>, id: string) => {
    main.replaceChildren();
    void load().then((view) => {
      if (seq === showing && gate.hidden) current = view(main, id);
    });
  };
  if (r.view === 'device' && r.device) lazy(() => loadDevice().then((m) => m.deviceView), r.device);
  else if (r.view === 'track' && r.device) lazy(() => loadTrack().then((m) => m.trackView), r.device);
  else if (r.view === 'alerts') current = alertsView(main);
  else current = fleetView(main);
}

function askForToken(why: 'missing' | 'rejected'): void {
  if (!gate.hidden) return;
  current?.close();
  current = undefined;
  main.replaceChildren();
  reason.textContent =
    why === 'rejected'
      ? 'The server did not accept the token (401): it is wrong, expired or was removed. Enter a valid token.'
      : 'This server requires a bearer token. It is kept only until this tab closes.';
  error.textContent = '';
  gate.hidden = false;
  input.value = '';
  input.focus();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = input.value.trim();
  if (!token) return;
  void tryToken(token).then((ok) => {
    if (!ok) {
      error.textContent = 'That token was not accepted (401 unauthorized). Check it and try again.';
      input.select();
      return;
    }
    auth.set(token);
    gate.hidden = true;
    forget.hidden = false;
    show();
  });
});

forget.addEventListener('click', () => {
  auth.set(null);
  forget.hidden = true;
  location.reload();
});

const THEME_KEY = 'tidemark.theme';
function applyTheme(t: string | null): void {
  if (t === 'dark' || t === 'light') document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem(THEME_KEY));
document.getElementById('theme-toggle')!.addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === 'dark'
    : matchMedia('(prefers-color-scheme: dark)').matches;
  const next = dark ? 'light' : 'dark';
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
  show(); // charts read their colours at creation
});

auth.onNeeded(askForToken);
forget.hidden = auth.token === null;
window.addEventListener('hashchange', show);
show();
