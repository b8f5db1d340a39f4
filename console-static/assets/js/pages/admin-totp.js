// Two-factor sign-in (TOTP) of the signed-in user, for Settings: enrolment (POST /auth/totp →
// the otpauth:// URL as a QR code and the secret as text, confirmed with a code → the 10
// backup codes shown once, with a download), and switching it off with a code (DELETE
// /auth/totp, which ends every session: the console goes to the sign-in page and says why).
// Also `endSession`, used after a password change too.

import { post, del, forgetSession } from "../api.js";
import { dropCredentials } from "../s3.js";
import { h, mount, notify, explain, field, saveText } from "../ui.js";
import { isRoot, note } from "./admin-common.js";
import { qrSvg } from "./admin-qr.js";

/** The server ended every session of this user: forget it here and go to the sign-in page. */
export function endSession(ctx, reason) {
  forgetSession();
  dropCredentials();
  ctx.state.user = null;
  notify(reason, "info");
  ctx.navigate("#/login");
}

/** The TOTP section for `session` (GET /auth/session's answer). */
export function totpSection(ctx, session) {
  const body = h("div", { testid: "totp-section" });
  if (isRoot(session.user)) {
    mount(body, note("The root signs in with its secret key and has no second factor. Keep that key safe.", "totp-root"));
  } else if (session.totp_enabled) {
    drawEnabled(ctx, body);
  } else {
    drawOff(ctx, body);
  }
  return body;
}

function codeInput(testid) {
  return h("input", { testid, inputmode: "numeric", autocomplete: "one-time-code", maxlength: 20, size: 12 });
}

function drawOff(ctx, body) {
  const message = h("p", { class: "error", role: "alert", testid: "totp-error" });
  const start = h("button", { type: "button", class: "primary", testid: "totp-start", onclick: async () => {
    start.disabled = true;
    try {
      drawEnrolment(ctx, body, await post("/auth/totp"));
    } catch (error) {
      message.textContent = `Two-factor sign-in could not be set up: ${explain(error)}`;
      start.disabled = false;
    }
  } }, "Set up two-factor sign-in");
  mount(body, h("p", { testid: "totp-state" }, "Two-factor sign-in is off: your password alone signs you in."),
    h("p", { class: "hint" }, "With it on, signing in also asks for a 6-digit code from an authenticator app " +
      "(any app for TOTP codes)."),
    start, message);
}

function drawEnrolment(ctx, body, enrolment) {
  const code = codeInput("totp-code");
  const message = h("p", { class: "error", role: "alert", testid: "totp-error" });
  const confirm = h("button", { type: "submit", class: "primary", testid: "totp-confirm" }, "Turn on");
  const form = h("form", { testid: "totp-enrolment", novalidate: true },
    h("p", {}, "Scan this code with your authenticator app:"),
    qrSvg(enrolment.otpauth_url, { testid: "totp-qr", label: "QR code of your TOTP secret for an authenticator app" }),
    h("p", {}, "Or type this secret into the app by hand (time-based, SHA-1, 6 digits, 30 seconds):"),
    h("p", {}, h("code", { class: "secret", testid: "totp-secret" }, enrolment.secret)),
    field("Then type the code the app shows now", code),
    message, h("div", { class: "toolbar" }, confirm,
      h("button", { type: "button", testid: "totp-cancel", onclick: () => drawOff(ctx, body) }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    if (!/^\d{6}$/.test(code.value.trim())) {
      message.textContent = "The code is the 6 digits your app shows.";
      return;
    }
    confirm.disabled = true;
    try {
      const answer = await post("/auth/totp/confirm", { code: code.value.trim() });
      drawBackupCodes(ctx, body, answer.backup_codes);
    } catch (error) {
      message.textContent = error.code === "InvalidTotp"
        ? "That code is wrong or expired: check the app's clock, and type the code it shows now."
        : `Two-factor sign-in was not turned on: ${explain(error)}`;
      confirm.disabled = false;
    }
  });
  mount(body, form);
  code.focus();
}

function drawBackupCodes(ctx, body, codes) {
  const who = `${ctx.user.tenant}/${ctx.user.name}`;
  mount(body,
    h("p", { class: "ok", testid: "totp-state" }, "Two-factor sign-in is on."),
    h("p", {}, h("strong", {}, "Your backup codes, shown only this once. "),
      "Each signs you in once instead of an app code, if you lose your device. Keep them somewhere safe."),
    h("ul", { class: "backup-codes", testid: "totp-backup-codes" }, codes.map((value) => h("li", {}, value))),
    h("div", { class: "toolbar" },
      h("button", { type: "button", class: "primary", testid: "totp-backup-download", onclick: () =>
        saveText("maxiofs-backup-codes.txt", `maxiofs backup codes for ${who}\n\n${codes.join("\n")}\n`) },
      "Download the codes"),
      h("button", { type: "button", testid: "totp-done", onclick: () => drawEnabled(ctx, body) }, "Done")));
}

function drawEnabled(ctx, body) {
  const code = codeInput("totp-disable-code");
  const message = h("p", { class: "error", role: "alert", testid: "totp-error" });
  const disable = h("button", { type: "submit", class: "danger", testid: "totp-disable" }, "Turn off");
  const form = h("form", { novalidate: true },
    h("p", { testid: "totp-state" }, "Two-factor sign-in is on."),
    h("p", { class: "hint" }, "To turn it off (for instance to move to a new device), type a current code or one " +
      "of your backup codes. Every session of yours ends, this one too: you sign in again. Wrong codes count " +
      "as failed sign-ins."),
    field("Code from your app, or a backup code", code), message, disable);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    if (!code.value.trim()) {
      message.textContent = "Type a code from your app or a backup code.";
      return;
    }
    disable.disabled = true;
    try {
      await del("/auth/totp", { code: code.value.trim() });
      endSession(ctx, "Two-factor sign-in is off, and every session of yours has ended: sign in again.");
    } catch (error) {
      message.textContent = error.code === "InvalidTotp"
        ? "That code is wrong or expired; two-factor sign-in is still on."
        : `Two-factor sign-in is still on: ${explain(error)}`;
      disable.disabled = false;
    }
  });
  mount(body, form);
}
