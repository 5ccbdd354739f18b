// Small helpers of the join and kiosk pages: strings into the DOM, one
// visible screen at a time, the appliance's JSON API with its error envelope.

import { api as request, ApiError } from '/static/common/api.js';

/** Fills the page's texts (data-i18n, data-i18n-attr) from strings.js. */
export { applyStrings } from '/static/common/strings.js';

/** Shows the section with `id` and hides the other screens; moves focus to its heading. */
export function show(id) {
  for (const section of document.querySelectorAll('section.screen')) section.hidden = section.id !== id;
  const screen = document.getElementById(id);
  const name = id.replace(/^screen-/, '');
  if (document.body.dataset.screen === name) return;
  document.body.dataset.screen = name;
  const heading = screen?.querySelector('h2');
  if (heading && !heading.classList.contains('visually-hidden')) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

/** A failed API call: the envelope's code and HTTP status (0 and NETWORK when the server was not reached). */
export class ApiFailure extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    /** Whether trying again later may help. */
    this.retryable = status === 0 || status === 429 || status >= 500;
  }
}

/** JSON request to the appliance (same origin, cookies included) through common/api.js. */
export async function api(method, path, body) {
  try {
    return await request(path, { method, body });
  } catch (e) {
    if (e instanceof ApiError) throw new ApiFailure(e.status, e.code || `HTTP_${e.status}`, e.message, e.retryAfter);
    throw new ApiFailure(0, 'NETWORK', String(e));
  }
}

/** POST /api/v1/invites/redeem: the invite id goes in the body, never in an API URL. */
export function redeem(invite, grant) {
  return api('POST', '/api/v1/invites/redeem', { invite, grant });
}

export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' });
}

/** Loads a provider's client script once (the page's CSP lists the provider origins). */
export function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (document.querySelector(`script[src="${CSS.escape(src)}"]`)) return resolve();
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
    return undefined;
  });
}
