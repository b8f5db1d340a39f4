// Helpers shared by the admin pages (tenants, one tenant, users and keys, audit, settings):
// form dialogs that show the server's refusal in words, labelled controls for table rows,
// quota numbers (GiB and counts) and their bars, status badges, who may do what.

import { isAdmin, isSystemAdmin } from "../app.js";
import { h, explain, formatBytes } from "../ui.js";

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** The root signs in with its key: its session names it `default/root`. */
export function isRoot(user) {
  return user?.tenant === "default" && user?.name === "root" && user?.role === "system-admin";
}

/** Whether `user` may see and manage the users and keys of `tenant`. */
export function mayManageUsers(user, tenant) {
  return isSystemAdmin(user) || (isAdmin(user) && user.tenant === tenant);
}

/**
 * Whether the console may call IAM for `tenant` as `user`, and if not, why (in words, to follow
 * "… are IAM calls."). The console's S3 credentials are a GetSessionToken-style session of the
 * signed-in identity: IAM refuses such sessions of users (as AWS does without MFA), so only the
 * root's works, and an identity's IAM calls reach only its own account. Deciding here, rather
 * than trying, keeps the browser free of refused requests.
 */
export function iamAccess(user, tenant) {
  if (user.tenant !== tenant) {
    return { usable: false, reason: `The console reaches only your own tenant's IAM: ${tenant}'s own tenant admins ` +
      `manage these with the aws cli or any IAM client and one of ${tenant}'s access keys.` };
  }
  // The console's own session credentials may call IAM (the server allows them, as a console
  // sign-in may on AWS); the server still decides each call by the user's policies.
  return { usable: true, reason: "" };
}

/** A control with a label only screen readers see (in table rows, where a visible one would clutter). */
export function labelled(labelText, control) {
  const id = control.id || `c-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return [h("label", { class: "sr-only", for: id }, labelText), control];
}

/** A checkbox with its label after it. */
export function checkbox(labelText, input) {
  const id = input.id || `c-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h("div", { class: "checkbox" }, input, h("label", { for: id }, labelText));
}

/**
 * A modal form: `fields` (nodes) and a submit button; `onSubmit()` runs on submit, and the
 * dialog closes when it resolves, or shows the error in words and stays open when it throws.
 */
export function formDialog({ title, testid, fields, submitLabel, submitTestid, onSubmit, wide = false }) {
  const message = h("p", { class: "error", role: "alert", testid: `${testid}-error` });
  const submit = h("button", { type: "submit", class: "primary", testid: submitTestid }, submitLabel);
  const cancel = h("button", { type: "button", testid: `${testid}-cancel`, onclick: () => close() }, "Cancel");
  const form = h("form", { novalidate: true }, h("h2", {}, title), fields, message,
    h("div", { class: "actions" }, cancel, submit));
  const dialog = h("dialog", { class: wide ? "dialog wide" : "dialog", testid, "aria-label": title }, form);
  function close() {
    if (dialog.open) dialog.close();
    dialog.remove();
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    submit.disabled = true;
    try {
      await onSubmit();
      close();
    } catch (error) {
      message.textContent = error instanceof InputError ? error.message : explain(error);
    } finally {
      submit.disabled = false;
    }
  });
  dialog.addEventListener("cancel", close);
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close, message };
}

/** A mistake in what was typed, found before asking the server. */
export class InputError extends Error {}

/** Bytes from a GiB field: empty is `null` (unlimited). */
export function gibToBytes(text, what = "The storage quota") {
  return scaled(text, GIB, what);
}

/** Bytes per second from a MiB/s field: empty is `null` (unlimited). */
export function mibToBytes(text, what = "The bandwidth limit") {
  return scaled(text, MIB, what);
}

function scaled(text, unit, what) {
  const value = String(text ?? "").trim();
  if (!value) return null;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new InputError(`${what} must be a number of at least 0, or empty.`);
  return Math.round(number * unit);
}

/** The server's floor for a bandwidth limit: 64 KiB/s. */
export const BANDWIDTH_MIN = 65536;

/** Bytes per second from a MiB/s field, at least 64 KiB/s; empty is `null` (unlimited). */
export function bandwidth(text, what) {
  const value = mibToBytes(text, what);
  if (value !== null && value < BANDWIDTH_MIN) throw new InputError(`${what} is at least 0.0625 MiB/s (64 KiB/s), or empty.`);
  return value;
}

/** The server's password rule, checked first so the answer comes at once. */
export function checkPassword(password) {
  if ([...password].length < 8) throw new InputError("A password needs at least 8 characters.");
  if (new TextEncoder().encode(password).length > 256) throw new InputError("A password is at most 256 bytes.");
}

/** A whole number from a field: empty is `null` (unlimited). */
export function count(text, what) {
  const value = String(text ?? "").trim();
  if (!value) return null;
  if (!/^\d+$/.test(value)) throw new InputError(`${what} must be a whole number of at least 0, or empty.`);
  return Number(value);
}

/** The GiB value to show in a field (at most 3 decimals), or "" when unlimited. */
export const bytesToGib = (bytes) => (bytes === null || bytes === undefined ? "" : String(+(bytes / GIB).toFixed(3)));
export const bytesToMib = (bytes) => (bytes === null || bytes === undefined ? "" : String(+(bytes / MIB).toFixed(3)));

/** A count with thousands separators. */
export const formatCount = (value) => (value === null || value === undefined ? "–" : Number(value).toLocaleString());

/** A usage bar against a limit; `format` shows the numbers (bytes or counts). */
export function usageBar(used, limit, { format = formatBytes, testid, label = "quota used" } = {}) {
  if (limit === null || limit === undefined) {
    return h("div", { class: "quota", testid }, h("small", {}, `${format(used)} `, h("span", { class: "muted" }, "(no quota)")));
  }
  const percent = limit === 0 ? (used > 0 ? 100 : 0) : Math.min(100, Math.round((used / limit) * 100));
  return h("div", { class: "quota", testid },
    h("div", { class: "bar", role: "progressbar", "aria-valuenow": percent, "aria-valuemin": 0,
      "aria-valuemax": 100, "aria-label": label },
    h("span", { class: percent >= 90 ? "fill warn" : "fill", style: { width: `${percent}%` } })),
    h("small", {}, `${format(used)} of ${format(limit)} (${percent} %)`));
}

/** A coloured word: "active", "suspended", "denied", … */
export function badge(text, kind = "") {
  return h("span", { class: kind ? `badge ${kind}` : "badge" }, text);
}

/**
 * Marks `table` to stack its rows as cards on a phone (admin.css), each cell labelled with its
 * column's heading; returns the table.
 */
export function stacked(table) {
  table.classList.add("stack");
  const headings = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, i) => {
      if (headings[i]) cell.dataset.label = headings[i];
      // One box per cell, beside its label.
      if (cell.childNodes.length > 1) cell.append(h("div", {}, ...cell.childNodes));
    });
  }
  return table;
}

/** A panel with a heading; `testid` on the panel. */
export function panel(title, testid, ...children) {
  return h("section", { class: "panel admin-panel", testid, "aria-label": title }, h("h2", {}, title), children);
}

/** Paragraph saying why something is not there (in words). */
export const note = (text, testid) => h("p", { class: "muted", testid }, text);
