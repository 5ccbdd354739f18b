// Small fetch wrapper for the pages: JSON in and out, the daemon's error
// envelope turned into an ApiError, and the CSRF token sent on every
// state-changing request made with a cookie session.

export class ApiError extends Error {
  constructor(status, code, message, details, requestId, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
    this.details = details || {};
    this.requestId = requestId || "";
    this.retryAfter = retryAfter;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

/// fetch(path) with JSON handling. `body` (an object) is sent as JSON.
/// Resolves to the parsed JSON (or null for 204); rejects with ApiError.
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) {
    const csrf = cookie("consultd_csrf");
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    const retry = Number(response.headers.get("Retry-After")) || undefined;
    throw new ApiError(response.status, e.code, e.message, e.details, e.request_id, retry);
  }
  return data;
}
