// The console's REST client: web/common/api.js (JSON, the error envelope as
// ApiError, the CSRF token from the consultd_csrf cookie as X-CSRF-Token on
// every state-changing request), plus one console rule: a 401 means the
// admin session ended, and 'admin:logged-out' listeners show the login view.

import { api as commonApi, ApiError } from '../common/api.js';

export { ApiError };

export async function api(method, path, body) {
  try {
    return await commonApi(path, { method, body });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && !path.endsWith('/admin/login')) {
      window.dispatchEvent(new CustomEvent('admin:logged-out'));
    }
    throw e;
  }
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}
