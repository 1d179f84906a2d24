// The API, called with the console's session cookie. The cookie is HttpOnly: this module
// never sees a token. It holds only the CSRF token, in memory, and sends it with every call.
import { lang, t } from "./i18n.js";
import { h } from "./dom.js";

let csrf = null;
let refreshing = null;
let onSignedOut = () => {};

export function setCsrf(value) {
  csrf = value;
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || String(status));
    this.status = status;
    this.problem = problem;
  }
}

async function problemOf(res) {
  const type = res.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return new ApiError(res.status, await res.json());
    } catch {
      /* fall through */
    }
  }
  return new ApiError(res.status, { title: t("error.http", { status: res.status }), status: res.status });
}

function send(method, path, body, accept) {
  const headers = { "Accept-Language": lang(), Accept: accept || "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const init = { method, headers, credentials: "same-origin", cache: "no-store", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

/** Renew the session cookies once, whoever asks first; true when it worked. */
export function refreshSession() {
  if (!refreshing) {
    refreshing = send("POST", "/v1/console/session/refresh")
      .then(async (res) => {
        if (!res.ok) return false;
        setCsrf((await res.json()).csrf_token);
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** Call the API; JSON back (null for 204), or the Response when raw is set. Failures throw an
 * ApiError carrying the problem document. An expired session is renewed once. */
export async function api(method, path, { body, accept, raw } = {}) {
  let res;
  try {
    res = await send(method, path, body, accept);
    if (res.status === 401 && !path.startsWith("/v1/console/session")) {
      if (await refreshSession()) res = await send(method, path, body, accept);
      if (res.status === 401) onSignedOut();
    }
  } catch {
    throw new ApiError(0, { title: t("error.network"), detail: t("error.network.detail") });
  }
  if (!res.ok) throw await problemOf(res);
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, { body });
export const patch = (path, body) => api("PATCH", path, { body });

/** The problem as a person reads it: its title, its detail, and each offending field. */
export function problemView(err) {
  const p = err && err.problem ? err.problem : { title: t("error.unexpected"), detail: String(err) };
  const fields = Array.isArray(p.errors) ? p.errors : [];
  return h(
    "div",
    { class: "notice error", role: "alert" },
    h("strong", { class: "problem-title" }, p.title || t("error.unexpected")),
    p.detail && p.detail !== p.title ? h("p", { class: "problem-detail" }, p.detail) : null,
    fields.length
      ? h(
          "ul",
          { class: "problem-fields" },
          fields.map((f) => h("li", {}, [f.field || f.loc, f.message || f.msg].filter(Boolean).join(": "))),
        )
      : null,
  );
}

export function success(text) {
  return h("div", { class: "notice ok", role: "status" }, text);
}

/** Run an action from a button: the button is disabled meanwhile, and the outcome (or the
 * problem) lands in the given slot. */
export async function act(button, slot, action) {
  button.disabled = true;
  slot.replaceChildren();
  try {
    return await action();
  } catch (err) {
    slot.replaceChildren(problemView(err));
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** Download the response of a GET as a file (CSV reports). */
export async function download(path, accept, filename) {
  const res = await api("GET", path, { accept, raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: filename, class: "hidden" });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
