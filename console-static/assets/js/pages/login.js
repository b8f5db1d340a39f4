// Sign in: `<tenant>/<name>` and password (the root: its access key id and secret; a directory
// (LDAP) user: `<tenant>/<login>` and its directory password), then a TOTP code when the user
// enrolled one. Lockouts and wrong passwords are said in words.
//
// Single sign-on (OIDC): the user names its tenant, the page asks the public
// GET /auth/providers?tenant=… and shows one button per provider, which leaves for the
// provider's start_url. The server ends the flow by redirecting to `/` with the session cookie
// set and the CSRF token in the fragment (app.js then resumes the session), or to
// `/?login_error=<message>`, shown here as text. A user who enrolled TOTP comes back to
// `#/login?sso_totp=<pending>` instead and enters its code here (POST /auth/oidc/totp).

import { api, get } from "../api.js";
import { signedIn } from "../app.js";
import { h, mount, field } from "../ui.js";

const SSO_TENANT_KEY = "maxiofs.sso-tenant";

export async function render(root) {
  const pending = new URLSearchParams(location.hash.split("?")[1] || "").get("sso_totp");
  if (pending) {
    mount(root, h("div", { class: "login" }, h("h1", {}, "maxiofs"), ssoTotpStep(pending)));
    return;
  }
  const username = h("input", { name: "username", autocomplete: "username", required: true,
    testid: "login-username", autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password",
    required: true, testid: "login-password" });
  const totp = h("input", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code",
    testid: "login-totp" });
  const totpField = field("Authenticator code (or a backup code)", totp);
  totpField.hidden = true;
  const message = h("p", { class: "error", role: "alert", testid: "login-error" });
  const submit = h("button", { type: "submit", class: "primary", testid: "login-submit" }, "Sign in");
  const form = h("form", { class: "panel", testid: "login-form" },
    field("User (tenant/name, or the root access key id)", username,
      h("span", { testid: "login-hint" }, "Directory (LDAP) users: ", h("code", {}, "<tenant>/<login>"),
        " and the directory password.")),
    field("Password", password),
    totpField, message, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    submit.disabled = true;
    const body = { username: username.value.trim(), password: password.value };
    if (!totpField.hidden && totp.value.trim()) body.totp = totp.value.trim();
    try {
      await signedIn(await api("POST", "/auth/login", body));
    } catch (error) {
      message.textContent = loginMessage(error);
      if (error.code === "TotpRequired") {
        totpField.hidden = false;
        totp.focus();
      }
    } finally {
      submit.disabled = false;
    }
  });
  const ssoError = takeLoginError();
  if (ssoError) message.textContent = `Single sign-on failed: ${ssoError}`;
  mount(root, h("div", { class: "login" }, h("h1", {}, "maxiofs"), form, ssoSection()));
}

/**
 * The `login_error` the OIDC callback put in the page's query (`/?login_error=…`), removed from
 * the address so a reload does not show it again. Shown as text only.
 */
function takeLoginError() {
  const query = new URLSearchParams(location.search);
  if (!query.has("login_error")) return "";
  const text = query.get("login_error").trim() || "the identity provider refused the sign-in.";
  query.delete("login_error");
  const rest = query.toString();
  history.replaceState(history.state, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
  return text.slice(0, 500);
}

/** "Sign in with single sign-on": a tenant name, then a button per OIDC provider of it. */
function ssoSection() {
  const tenant = h("input", { name: "sso-tenant", testid: "sso-tenant", autocomplete: "organization",
    placeholder: "tenant", required: true, maxlength: 64, spellcheck: "false", autocapitalize: "off" });
  const find = h("button", { type: "submit", testid: "sso-continue" }, "Continue");
  const list = h("div", { class: "sso-providers", testid: "sso-providers", "aria-live": "polite" });
  const form = h("form", { class: "panel sso", testid: "sso-form", novalidate: true },
    h("h2", {}, "Sign in with single sign-on"),
    h("div", { class: "field" },
      h("label", { for: "sso-tenant" }, "Your tenant"),
      h("div", { class: "sso-row" }, tenant, find)),
    list);
  tenant.id = "sso-tenant";
  let asked = 0;
  async function lookUp() {
    const name = tenant.value.trim();
    mount(list);
    if (!name) return;
    const ask = ++asked;
    find.disabled = true;
    let providers = [];
    try {
      providers = (await get(`/auth/providers?tenant=${encodeURIComponent(name)}`)).providers || [];
    } catch {
      // An older server, or none reachable: no single sign-on to offer; the form above still works.
      providers = [];
    } finally {
      find.disabled = false;
    }
    if (ask !== asked) return;
    const usable = providers.filter((provider) => provider && provider.name && safeStart(provider.start_url));
    if (usable.length) {
      try { localStorage.setItem(SSO_TENANT_KEY, name); } catch { /* storage may be off */ }
    }
    mount(list, usable.length
      ? usable.map((provider) => h("button", { type: "button", class: "primary sso-button",
        testid: `sso-provider-${provider.name}`, "data-provider": provider.name,
        onclick: () => window.location.assign(provider.start_url) }, `Sign in with ${provider.name}`))
      : h("p", { class: "muted", testid: "sso-none" }, `No single sign-on is set up for ${name}.`));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    lookUp();
  });
  let remembered = "";
  try { remembered = localStorage.getItem(SSO_TENANT_KEY) || ""; } catch { /* storage may be off */ }
  if (remembered) {
    tenant.value = remembered;
    lookUp();
  }
  return form;
}

/** The second factor of a single sign-on whose user enrolled TOTP. */
function ssoTotpStep(pending) {
  const code = h("input", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code",
    required: true, testid: "sso-totp-code", autofocus: true });
  const message = h("p", { class: "error", role: "alert", testid: "login-error" });
  const submit = h("button", { type: "submit", class: "primary", testid: "sso-totp-submit" }, "Continue");
  const form = h("form", { class: "panel", testid: "sso-totp-form" },
    h("p", {}, "Your identity provider signed you in. Enter the code from your authenticator app."),
    field("Authenticator code (or a backup code)", code), message, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    submit.disabled = true;
    try {
      const answer = await api("POST", "/auth/oidc/totp", { pending, totp: code.value.trim() });
      history.replaceState(null, "", `${location.pathname}${location.search}#/`);
      await signedIn(answer);
    } catch (error) {
      message.textContent = loginMessage(error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** Only a path on this server (the API's start URL), never another origin. */
function safeStart(url) {
  return typeof url === "string" && url.startsWith("/api/v1/auth/oidc/") && !url.startsWith("//");
}

function loginMessage(error) {
  switch (error.code) {
    case "InvalidCredentials": return "Wrong user name or password.";
    case "TotpRequired": return "Enter the code from your authenticator app.";
    case "InvalidTotp": return "That code is wrong or expired; try the next one.";
    case "AccountLocked": return `Too many failed attempts: this user is locked. ${error.message}`;
    case "TooManyRequests": return "Too many attempts from here; wait a minute and try again.";
    case "AccessDenied": return `Sign-in refused: ${error.message}`;
    case "IdentityProviderUnavailable":
      return "The directory does not answer: try again later (local users can still sign in).";
    default: return error.message || "Sign-in failed.";
  }
}
