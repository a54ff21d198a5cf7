// The UI's only way to the server: the public HTTP APIs (Genie v3 under /api/v3, weir's own under
// /api/weir/v1). When the server requires a bearer token (auth.mode: required), the first 401
// asks the user for one (see TokenPrompt in main.jsx: pasted, or from the site's OpenID provider,
// oidc.js); it is kept in sessionStorage for the tab's session and sent as
// `Authorization: Bearer` on every call.

const TOKEN_KEY = "weir.token";
const listeners = new Set();
let waiting = []; // calls paused on a 401, resumed when a token is given

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
  const resume = waiting;
  waiting = [];
  notify(false, "");
  resume.forEach((r) => r());
}

// Subscribes to "a token is needed" changes: fn(needed, reason).
export function onTokenNeeded(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(needed, reason) {
  listeners.forEach((fn) => fn(needed, reason));
}

export function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: "Bearer " + t } : extra;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// fetch() with the token; a 401 waits for the user to give one, then retries.
export async function request(path, options = {}) {
  for (;;) {
    const sent = token();
    const res = await fetch(path, {
      ...options,
      headers: authHeaders({ Accept: "application/json", ...(options.headers || {}) }),
    });
    if (res.status !== 401) return res;
    // A call sent with an older token (one in flight while the user gave a new one) is retried
    // with the new token instead of asking again.
    if (token() !== sent) continue;
    let reason = "this server requires a token";
    try {
      const body = await res.json();
      if (body && body.message) reason = body.message;
    } catch (_) {
      // not JSON: keep the generic reason
    }
    if (token()) reason = "the token was refused: " + reason;
    await new Promise((resolve) => {
      waiting.push(resolve);
      notify(true, reason);
    });
  }
}

// GET a JSON document; throws ApiError with the server's message on a non-2xx answer.
export async function getJson(path, options = {}) {
  const res = await request(path, options);
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

export async function errorOf(res) {
  let message = res.status + " " + res.statusText;
  try {
    const body = await res.json();
    if (body && body.message) message = body.message;
  } catch (_) {
    // keep the status line
  }
  return new ApiError(res.status, message);
}

// The items of a HAL collection (`_embedded.<name>`), [] when it is empty.
export function embedded(doc, name) {
  return (doc && doc._embedded && doc._embedded[name]) || [];
}

export const FINAL_STATUSES = ["SUCCEEDED", "FAILED", "KILLED", "INVALID"];
export const JOB_STATUSES = ["INIT", "RUNNING", ...FINAL_STATUSES];

export function isFinal(status) {
  return FINAL_STATUSES.includes(status);
}

export function enc(s) {
  return encodeURIComponent(s);
}

// A JSON request with a body (POST/PUT/...); answers the parsed body (null when empty) or throws
// ApiError with the server's message.
export async function sendJson(method, path, body) {
  const res = await request(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// Who the caller is (GET /api/weir/v1/me): {name, roles, mechanism}; fetched once per token.
let mePromise = null;
let meToken = null;
export function me() {
  if (!mePromise || meToken !== token()) {
    meToken = token();
    mePromise = getJson("/api/weir/v1/me").catch(() => ({ name: "?", roles: [], mechanism: "?" }));
  }
  return mePromise;
}

export function isAdmin(who) {
  return !!(who && Array.isArray(who.roles) && who.roles.includes("admin"));
}
