// Sign in: `<tenant>/<name>` and password (the root: its access key id and secret), then a TOTP
// code when the user enrolled one. Lockouts and wrong passwords are said in words.

import { api } from "../api.js";
import { signedIn } from "../app.js";
import { h, mount, field } from "../ui.js";

export async function render(root) {
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
    field("User (tenant/name, or the root access key id)", username),
    field("Password", password),
    totpField, message, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    submit.disabled = true;
    const body = { username: username.value.trim(), password: password.value };
    if (!totpField.hidden && totp.value.trim()) body.totp = totp.value.trim();
    try {
      signedIn(await api("POST", "/auth/login", body));
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
  mount(root, h("div", { class: "login" }, h("h1", {}, "maxiofs"), form));
}

function loginMessage(error) {
  switch (error.code) {
    case "InvalidCredentials": return "Wrong user name or password.";
    case "TotpRequired": return "Enter the code from your authenticator app.";
    case "InvalidTotp": return "That code is wrong or expired; try the next one.";
    case "AccountLocked": return `Too many failed attempts: this user is locked. ${error.message}`;
    case "TooManyRequests": return "Too many attempts from here; wait a minute and try again.";
    case "AccessDenied": return `Sign-in refused: ${error.message}`;
    default: return error.message || "Sign-in failed.";
  }
}
