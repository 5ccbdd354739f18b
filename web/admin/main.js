// The admin console: a single-page app served at /admin and /admin/* (the
// daemon answers every such path with this page). Routes are real URLs
// (History API), so links can be opened in a new tab, bookmarked and
// reached with the keyboard like any link. Logged out, every route shows
// the login view at /admin/login?next=<route>.

import { t } from '../common/strings.js';
import { api } from './client.js';
import { clear, h } from './dom.js';
import * as apiKeys from './views/apikeys.js';
import * as audit from './views/audit.js';
import * as config from './views/config.js';
import * as dashboard from './views/dashboard.js';
import * as devices from './views/devices.js';
import * as login from './views/login.js';
import * as recordings from './views/recordings.js';
import * as sessionDetail from './views/session-detail.js';
import * as sessions from './views/sessions.js';

const routes = [
  { pattern: /^\/admin\/?$/, view: dashboard, nav: 'dashboard' },
  { pattern: /^\/admin\/sessions\/?$/, view: sessions, nav: 'sessions' },
  { pattern: /^\/admin\/sessions\/([^/]+)\/?$/, view: sessionDetail, nav: 'sessions' },
  { pattern: /^\/admin\/recordings\/?$/, view: recordings, nav: 'recordings' },
  { pattern: /^\/admin\/api-keys\/?$/, view: apiKeys, nav: 'api-keys' },
  { pattern: /^\/admin\/devices\/?$/, view: devices, nav: 'devices' },
  { pattern: /^\/admin\/audit\/?$/, view: audit, nav: 'audit' },
  { pattern: /^\/admin\/config\/?$/, view: config, nav: 'config' },
  { pattern: /^\/admin\/login\/?$/, view: login, nav: null, public: true },
];

const navItems = [
  ['dashboard', '/admin'],
  ['sessions', '/admin/sessions'],
  ['recordings', '/admin/recordings'],
  ['api-keys', '/admin/api-keys'],
  ['devices', '/admin/devices'],
  ['audit', '/admin/audit'],
  ['config', '/admin/config'],
];

const state = { user: null, cleanup: null };

export async function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  await route();
  const heading = document.querySelector('#main h1');
  // The login view focuses its first field itself.
  if (heading && !document.getElementById('username')) heading.focus();
}

function renderChrome(active) {
  const header = document.getElementById('app-header');
  clear(header);
  header.appendChild(h('a', { class: 'skip-link', href: '#main' }, t('admin.skipToContent')));
  const brand = h('a', { class: 'brand', href: '/admin', 'data-link': true }, t('admin.brand'));
  if (!state.user) {
    header.appendChild(h('div', { class: 'bar' }, brand));
    return;
  }
  const nav = h('nav', { 'aria-label': t('admin.nav.label') },
    h('ul', {}, navItems.map(([key, href]) => h('li', {},
      h('a', { href, 'data-link': true, 'aria-current': key === active ? 'page' : false }, t(`admin.nav.${key}`))))));
  const logout = h('button', { type: 'button', class: 'secondary', id: 'logout', onclick: doLogout }, t('admin.logout'));
  header.appendChild(h('div', { class: 'bar' }, brand,
    h('span', { class: 'user', id: 'signed-in-as' }, t('admin.signedInAs', { user: state.user })), logout));
  header.appendChild(nav);
}

async function doLogout() {
  try {
    await api('POST', '/api/v1/admin/logout');
  } catch (e) {
    // Already logged out is fine: the login view follows either way.
  }
  state.user = null;
  navigate('/admin/login', { replace: true });
}

async function whoAmI() {
  try {
    const me = await api('GET', '/api/v1/admin/session');
    return me.username || me.actor;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

async function route() {
  if (state.cleanup) {
    try { state.cleanup(); } catch (e) { /* a view's cleanup must not stop navigation */ }
    state.cleanup = null;
  }
  const path = location.pathname;
  const match = routes.map((r) => ({ r, m: path.match(r.pattern) })).find((x) => x.m)
    || { r: routes[0], m: ['/admin'] };
  const main = document.getElementById('main');
  if (!match.r.public) {
    if (!state.user) {
      try {
        state.user = await whoAmI();
      } catch (e) {
        renderChrome(null);
        clear(main).appendChild(h('p', { role: 'alert', class: 'error' }, t('admin.error.unreachable')));
        return;
      }
    }
    if (!state.user) {
      const next = encodeURIComponent(path + location.search);
      history.replaceState(null, '', `/admin/login?next=${next}`);
      return route();
    }
  }
  renderChrome(match.r.nav);
  clear(main);
  delete main.dataset.snapshots;
  const ctx = {
    params: match.m.slice(1).map(decodeURIComponent),
    navigate,
    onLogin(user) { state.user = user; },
  };
  try {
    state.cleanup = (await match.r.view.render(main, ctx)) || null;
  } catch (e) {
    main.appendChild(h('p', { role: 'alert', class: 'error' }, t('admin.error.generic', { message: e.message })));
  }
  document.documentElement.dataset.ready = '1';
  const heading = main.querySelector('h1');
  if (heading) {
    // Focusable so in-app navigation can move focus to the new page's title
    // (screen readers announce it); a fresh page load keeps the browser's
    // own start, so the first Tab reaches the skip link.
    heading.setAttribute('tabindex', '-1');
    document.title = `${heading.textContent} · ${t('admin.brand')}`;
  }
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-link]');
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', route);
window.addEventListener('admin:logged-out', () => {
  if (!state.user) return;
  state.user = null;
  const next = encodeURIComponent(location.pathname + location.search);
  navigate(`/admin/login?next=${next}`, { replace: true });
});

document.documentElement.lang = t('admin.lang');
route();
