// Page #/audit (admins): the audit log (GET /audit) filtered by actor, action and time range,
// newest first, with refusals ("denied", failed logins, lockouts) visibly marked, and the same
// selection exported as CSV (GET /audit?format=csv, saved as audit.csv). The filters live in
// the address (#/audit?actor=…), so a reload or a shared link keeps them.

import { api } from "../api.js";
import { isAdmin } from "../app.js";
import { h, mount, notify, explain, field, formatTime, saveText } from "../ui.js";
import { badge, note, stacked } from "./admin-common.js";

const LIMITS = ["100", "500", "1000", "10000"];
const KNOWN_ACTIONS = ["login", "lockout", "totp:Enable", "totp:Disable", "admin:CreateTenant", "admin:UpdateTenant",
  "admin:DeleteTenant", "admin:CreateUser", "admin:UpdateUser", "admin:DeleteUser", "admin:CreateKey",
  "admin:DeleteKey", "admin:PutBucketQuota", "admin:PutMaintenance", "iam:CreateUser", "iam:CreateGroup",
  "iam:CreatePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy", "s3:CreateBucket", "s3:DeleteBucket",
  "s3:PutBucketPolicy", "s3:PutBucketVersioning"];

/** `datetime-local` text (local time) → RFC 3339 UTC for the API; "" stays "". */
function toUtc(local) {
  if (!local) return "";
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

/** RFC 3339 → `datetime-local` text in local time. */
function toLocalInput(value) {
  const date = new Date(value);
  if (!value || Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
    `${pad(date.getMinutes())}`;
}

function filterQuery(filters, extra = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...filters, ...extra })) if (value) query.set(name, value);
  return query.toString();
}

export async function render(root, ctx) {
  if (!isAdmin(ctx.user)) {
    mount(root, h("h1", {}, "Audit log"), note("Only tenant admins and system admins read the audit log.",
      "audit-unavailable"));
    return;
  }
  const actor = h("input", { testid: "audit-filter-actor", placeholder: "root, acme/alice, an ARN…", autocomplete: "off" });
  const action = h("input", { testid: "audit-filter-action", list: "audit-actions", placeholder: "login, admin:CreateUser…",
    autocomplete: "off" });
  const from = h("input", { type: "datetime-local", testid: "audit-from" });
  const to = h("input", { type: "datetime-local", testid: "audit-to" });
  const limit = h("select", { testid: "audit-limit" }, LIMITS.map((n) => h("option", { value: n }, n)));
  actor.value = ctx.query.get("actor") || "";
  action.value = ctx.query.get("action") || "";
  from.value = toLocalInput(ctx.query.get("from"));
  to.value = toLocalInput(ctx.query.get("to"));
  limit.value = LIMITS.includes(ctx.query.get("limit")) ? ctx.query.get("limit") : "100";
  const filters = () => ({ actor: actor.value.trim(), action: action.value.trim(), from: toUtc(from.value),
    to: toUtc(to.value), limit: limit.value === "100" ? "" : limit.value });
  const table = h("div", { testid: "audit-results" });
  const apply = h("button", { type: "submit", class: "primary", testid: "audit-apply" }, "Apply");
  const exportCsv = h("button", { type: "button", testid: "audit-export-csv",
    onclick: () => downloadCsv(filters(), exportCsv) }, "Export CSV");
  const form = h("form", { class: "panel", testid: "audit-filters", "aria-label": "Filters" },
    h("div", { class: "form-grid" },
      field("Actor (exact)", actor), field("Action (exact)", action),
      field("From", from), field("To", to), field("Most recent", limit)),
    h("datalist", { id: "audit-actions" }, KNOWN_ACTIONS.map((name) => h("option", { value: name }))),
    h("div", { class: "toolbar" }, apply, exportCsv,
      h("button", { type: "button", testid: "audit-clear", onclick: () => {
        for (const input of [actor, action, from, to]) input.value = "";
        limit.value = "100";
        form.requestSubmit();
      } }, "Clear")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Kept in the address without a new page load (replaceState fires no hashchange).
    const query = filterQuery(filters());
    history.replaceState(null, "", `#/audit${query ? `?${query}` : ""}`);
    apply.disabled = true;
    await load(table, filters());
    apply.disabled = false;
  });
  mount(root, h("h1", {}, "Audit log"), form, table);
  await load(table, filters());
}

async function load(table, filters) {
  if (filters.from && filters.to && filters.from > filters.to) {
    mount(table, h("p", { class: "error", testid: "audit-error" }, "The time range ends before it starts."));
    return;
  }
  let entries;
  try {
    entries = (await api("GET", `/audit?${filterQuery(filters)}`)).entries;
  } catch (error) {
    mount(table, h("p", { class: "error", testid: "audit-error" }, `The audit log could not be read: ${explain(error)}`));
    return;
  }
  const newestFirst = [...entries].reverse();
  mount(table,
    h("p", { class: "muted", testid: "audit-count" }, entries.length
      ? `${entries.length} entr${entries.length === 1 ? "y" : "ies"}, newest first.`
      : "No entry matches these filters."),
    h("div", { class: "table-wrap" }, h("table", { testid: "audit-table" },
      h("thead", {}, h("tr", {}, ["Time", "Actor", "Action", "Target", "Outcome", "Source", "Detail"]
        .map((name) => h("th", {}, name)))),
      h("tbody", {}, newestFirst.map(entryRow)))));
  stacked(table.querySelector("table"));
}

function outcomeBadge(outcome) {
  if (outcome === "success") return badge("success", "ok");
  if (outcome === "denied") return badge("denied", "danger");
  if (outcome === "failure" || outcome === "locked") return badge(outcome, "warn");
  return badge(outcome || "–");
}

function entryRow(entry) {
  const refused = entry.outcome === "denied";
  return h("tr", { testid: "audit-row", class: refused ? "denied" : null, "data-outcome": entry.outcome },
    h("td", { class: "nowrap", title: entry.request_id ? `${entry.time}, request ${entry.request_id}` : entry.time },
      formatTime(entry.time)),
    h("td", { class: "name" }, entry.actor),
    h("td", {}, h("code", {}, entry.action)),
    h("td", { class: "name" }, entry.target),
    h("td", {}, outcomeBadge(entry.outcome)),
    h("td", { class: "nowrap" }, entry.source),
    h("td", { class: "detail" }, entry.detail || null));
}

async function downloadCsv(filters, button) {
  button.disabled = true;
  try {
    const csv = await api("GET", `/audit?${filterQuery(filters, { format: "csv" })}`, undefined, { raw: true });
    saveText("audit.csv", csv, "text/csv");
    notify("The audit log is saved as audit.csv.", "ok");
  } catch (error) {
    notify(`The CSV could not be made: ${explain(error)}`, "error");
  } finally {
    button.disabled = false;
  }
}
