// The console's shell: the session, the layout (navigation shaped by the role), and a hash
// router (`#/buckets/photos?prefix=a/`) that loads one page module per route. Every page is a
// module in ./pages exporting `render(root, context)`.

import { api, rememberSession, forgetSession } from "./api.js";
import { dropCredentials } from "./s3.js";
import { h, mount, notify, explain } from "./ui.js";

const ROUTES = [
  { pattern: /^\/login$/, page: "login", public: true },
  { pattern: /^\/$/, page: "dashboard" },
  { pattern: /^\/buckets$/, page: "buckets" },
  { pattern: /^\/buckets\/([^/]+)$/, page: "browser", params: ["bucket"] },
  { pattern: /^\/buckets\/([^/]+)\/settings$/, page: "bucket-settings", params: ["bucket"] },
  { pattern: /^\/tenants$/, page: "tenants" },
  { pattern: /^\/tenants\/([^/]+)$/, page: "tenant", params: ["tenant"] },
  { pattern: /^\/users$/, page: "users" },
  { pattern: /^\/audit$/, page: "audit" },
  { pattern: /^\/settings$/, page: "settings" },
];

/** Navigation entries: `system` ones only for system admins, `admin` ones for admins. */
const NAV = [
  { href: "#/", label: "Dashboard", testid: "nav-dashboard" },
  { href: "#/buckets", label: "Buckets", testid: "nav-buckets" },
  { href: "#/tenants", label: "Tenants", testid: "nav-tenants", system: true },
  { href: "#/users", label: "Users and keys", testid: "nav-users", admin: true },
  { href: "#/audit", label: "Audit log", testid: "nav-audit", admin: true },
  { href: "#/settings", label: "Settings", testid: "nav-settings" },
];

const state = { user: null };

export function isSystemAdmin(user = state.user) {
  return user?.role === "system-admin";
}

export function isAdmin(user = state.user) {
  return user?.role === "system-admin" || user?.role === "tenant-admin";
}

/** Whether the user may change things (a read-only user sees no write buttons). */
export function canWrite(user = state.user) {
  return user?.role !== "read-only";
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

async function loadSession() {
  // Back from a single sign-on, the server's redirect carries the session's CSRF token in the
  // fragment (`#/?sso_csrf=…`; the session cookie is set and HttpOnly). It is kept like a
  // password sign-in's and taken out of the address bar and the history.
  const ssoCsrf = parseHash().query.get("sso_csrf");
  if (ssoCsrf && /^[0-9a-f]{64}$/.test(ssoCsrf)) {
    sessionStorage.setItem("maxiofs.csrf", ssoCsrf);
    history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  }
  // Without a CSRF token from a sign-in in this tab there is no session to ask about.
  if (!sessionStorage.getItem("maxiofs.csrf")) return false;
  try {
    const session = await api("GET", "/auth/session");
    rememberSession(session);
    state.user = session.user;
    state.totpEnabled = session.totp_enabled;
    return true;
  } catch {
    state.user = null;
    return false;
  }
}

export async function signedIn(answer) {
  rememberSession(answer);
  state.user = answer.user;
  dropCredentials();
  // The login answer does not say where the user comes from (local, LDAP): the session does.
  if (state.user && !state.user.source) {
    try {
      const session = await api("GET", "/auth/session");
      rememberSession(session);
      state.user = session.user || state.user;
    } catch {
      // The header then shows no source; everything else works.
    }
  }
  navigate("#/");
}

/** Words for `user.source`: "local", "ldap:<provider>", "oidc:<provider>" (or nothing). */
export function sourceText(source) {
  if (!source || source === "local") return "local user";
  const [kind, ...rest] = String(source).split(":");
  const name = rest.join(":");
  if (kind === "ldap") return `LDAP directory ${name}`;
  if (kind === "oidc") return `single sign-on (OIDC) ${name}`;
  return String(source);
}

/** Whether `user` signs in through an identity provider (and has no console password here). */
export function isFederated(user = state.user) {
  return Boolean(user?.source && user.source !== "local");
}

export async function signOut() {
  try {
    await api("POST", "/auth/logout");
  } catch {
    // The session may already be over; the console forgets it either way.
  }
  forgetSession();
  dropCredentials();
  state.user = null;
  navigate("#/login");
}

function layout(main) {
  const user = state.user;
  const items = NAV.filter((item) => (!item.system || isSystemAdmin()) && (!item.admin || isAdmin()));
  const current = "#" + parseHash().path.split("/").slice(0, 2).join("/");
  return h("div", { class: "layout" },
    h("header", { class: "top" },
      h("a", { class: "brand", href: "#/", "aria-label": "maxiofs dashboard" }, "maxiofs"),
      h("nav", { "aria-label": "Main", testid: "nav" },
        items.map((item) => h("a", { href: item.href, testid: item.testid,
          "aria-current": (item.href === current || (item.href === "#/" && current === "#/")) ? "page" : null },
        item.label))),
      h("div", { class: "who", testid: "who" },
        h("span", {}, `${user.tenant}/${user.name}`),
        h("span", { class: "role" }, user.role || "no role"),
        isFederated(user) ? h("span", { class: "role source", testid: "who-source", title: sourceText(user.source) },
          user.source) : null,
        h("button", { type: "button", testid: "logout", onclick: signOut }, "Sign out"))),
    h("main", { id: "main", tabindex: "-1" }, main));
}

async function route() {
  const { path, query } = parseHash();
  const entry = ROUTES.find((candidate) => candidate.pattern.test(path));
  const app = document.getElementById("app");
  if (!entry) {
    mount(app, layout(h("p", { testid: "not-found" }, "There is no such page.")));
    return;
  }
  if (!entry.public && !state.user && !(await loadSession())) {
    navigate("#/login");
    return;
  }
  const match = path.match(entry.pattern);
  const params = Object.fromEntries((entry.params || []).map((name, i) => [name, decodeURIComponent(match[i + 1])]));
  const root = h("section", { class: "page", testid: `page-${entry.page}` });
  mount(app, entry.public ? root : layout(root));
  try {
    const module = await import(`./pages/${entry.page}.js`);
    await module.render(root, { user: state.user, params, query, navigate, state });
  } catch (error) {
    mount(root, h("p", { class: "error", testid: "page-error" }, explain(error)));
    if (!(error && (error.status || error.code))) console.error(error);
  }
  document.getElementById("main")?.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
window.addEventListener("maxiofs:signed-out", () => {
  if (state.user) {
    state.user = null;
    notify("Your session has ended: sign in again.", "info");
    navigate("#/login");
  }
});
route();
