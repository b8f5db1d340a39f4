// The admin API client (/api/v1 on the console port): the session cookie (HttpOnly, set by the
// login) plus the CSRF token on every call. Errors become ApiError with the server's code and
// message, so pages show words, not numbers.

const CSRF_KEY = "maxiofs.csrf";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `HTTP${status}`;
  }
}

export function csrfToken() {
  return sessionStorage.getItem(CSRF_KEY) || "";
}

export function rememberSession(answer) {
  if (answer && answer.csrf_token) sessionStorage.setItem(CSRF_KEY, answer.csrf_token);
}

export function forgetSession() {
  sessionStorage.removeItem(CSRF_KEY);
}

/** Calls the admin API; `body` is sent as JSON. Resolves to the parsed JSON (or text for CSV). */
export async function api(method, path, body, { raw = false } = {}) {
  const headers = { "X-CSRF-Token": csrfToken() };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    let code = "", message = "";
    if (type.includes("json")) {
      const error = (await response.json()).error || {};
      code = error.code;
      message = error.message;
    }
    if (response.status === 401 && path !== "/auth/login") {
      forgetSession();
      window.dispatchEvent(new CustomEvent("maxiofs:signed-out"));
    }
    throw new ApiError(response.status, code, message);
  }
  if (raw || !type.includes("json")) return response.text();
  return response.json();
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const put = (path, body) => api("PUT", path, body ?? {});
export const patch = (path, body) => api("PATCH", path, body ?? {});
export const del = (path, body) => api("DELETE", path, body);

/** `encodeURIComponent` for one path segment of the admin API. */
export const seg = (text) => encodeURIComponent(text);
