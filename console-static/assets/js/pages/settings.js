// Page #/settings: server information (the session, and whether the user is local or comes
// from an identity provider; for system admins the figures /metrics gives and the alerts
// firing), the user's own password (PATCH …/users/{name} with the current one; the server then
// ends the session; none for LDAP and OIDC users), two-factor sign-in (admin-totp.js), and for
// system admins the alert settings (admin-alerts.js) and maintenance mode.

import { get, put, patch, post, seg } from "../api.js";
import { isSystemAdmin, isFederated, sourceText } from "../app.js";
import { h, mount, notify, explain, field, formatBytes, formatTime } from "../ui.js";
import { panel, note, isRoot, badge } from "./admin-common.js";
import { totpSection, endSession } from "./admin-totp.js";
import { alertsPanel } from "./admin-alerts.js";

export async function render(root, ctx) {
  const session = await get("/auth/session");
  const system = isSystemAdmin(session.user);
  const [metrics, alerts, maintenance, s3] = await Promise.all([
    system ? readMetrics() : null,
    system ? get("/alerts").catch((error) => ({ error })) : null,
    system ? get("/maintenance") : null,
    post("/auth/s3-credentials").catch(() => null),
  ]);
  mount(root, h("h1", {}, "Settings"),
    h("div", { class: "grid2" },
      panel("This server", "server-info", serverFacts(session, metrics, s3), system ? firingAlerts(alerts) : null),
      h("div", {},
        panel("Your password", "password-panel", passwordForm(ctx, session)),
        panel("Two-factor sign-in", "totp-panel", session.user.source?.startsWith("oidc:")
          ? note("You sign in through your identity provider, which asks for any second factor.", "totp-federated")
          : totpSection(ctx, session)))),
    system ? panel("Maintenance mode", "maintenance-panel", maintenanceControl(maintenance.enabled)) : null,
    system ? await alertsPanel() : null);
}

/** GET /metrics (Prometheus text) → {name{labels}: value}, or {error} when refused. */
async function readMetrics() {
  try {
    const response = await fetch("/metrics", { credentials: "same-origin" });
    const body = await response.text();
    if (!response.ok) return { error: `the console port answered ${response.status} (a metrics token is set?)` };
    const values = new Map();
    for (const line of body.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (match) values.set(match[1] + (match[2] || ""), match[3]);
    }
    return { values };
  } catch (error) {
    return { error: error.message };
  }
}

function metric(values, name) {
  const value = values.get(name);
  return value === undefined ? null : Number(value);
}

/** A `version` label on any series (a build-info metric), if the server publishes one. */
function versionOf(values) {
  for (const key of values.keys()) {
    const match = /version="([^"]+)"/.exec(key);
    if (match) return match[1];
  }
  return null;
}

function serverFacts(session, metrics, s3) {
  const user = session.user;
  const facts = [
    ["Signed in as", `${user.tenant}/${user.name}${isRoot(user) ? " (the root)" : ""}`],
    ["Role", user.role || "none"],
    ["Signed in through", h("span", { testid: "session-source" }, sourceText(user.source))],
    ["Session ends", formatTime(session.expires_at)],
    ["Console", location.origin],
  ];
  if (s3) facts.push(["S3 endpoint", `${s3.s3_endpoint} (region ${s3.region})`]);
  if (metrics?.values) {
    const values = metrics.values;
    const version = versionOf(values);
    if (version) facts.push(["Version", version]);
    const configured = metric(values, 'maxiofs_shards{state="configured"}');
    const answering = metric(values, 'maxiofs_shards{state="answering"}');
    if (configured !== null) facts.push(["Shards", `${configured} (${answering ?? "?"} answering)`]);
    const total = metric(values, "maxiofs_disk_total_bytes");
    const available = metric(values, "maxiofs_disk_available_bytes");
    if (total) facts.push(["Disk", `${formatBytes(total - available)} used of ${formatBytes(total)} ` +
      `(${formatBytes(available)} free)`]);
    const memory = metric(values, "process_resident_memory_bytes");
    if (memory !== null) facts.push(["Memory", formatBytes(memory)]);
  } else if (metrics?.error) {
    facts.push(["Metrics", `not readable: ${metrics.error}`]);
  }
  return h("dl", { class: "facts", testid: "server-facts" }, facts.map(([name, value]) =>
    [h("dt", {}, name), h("dd", {}, value)]));
}

function firingAlerts(answer) {
  if (!answer) return null;
  if (answer.error) return h("p", { class: "error" }, `Alerts could not be read: ${explain(answer.error)}`);
  if (!answer.alerts.length) return h("p", { class: "ok", testid: "alerts-firing" }, "No alert is firing.");
  return h("div", { testid: "alerts-firing" }, h("p", { class: "error" }, `${answer.alerts.length} alert(s) firing:`),
    h("ul", { class: "alerts-firing" }, answer.alerts.map((alert) => h("li", {},
      h("strong", {}, alert.alert), alert.subject ? ` (${alert.subject})` : "", `: ${alert.summary} `,
      h("span", { class: "muted" }, `since ${formatTime(alert.since_ms)}`)))));
}

function passwordForm(ctx, session) {
  const user = session.user;
  if (isRoot(user)) {
    return note("The root signs in with its secret access key, which is set where the server starts " +
      "(MAXIOFS_ROOT_SECRET_KEY or --root-secret-key-file), not here.", "password-root");
  }
  if (isFederated(user)) {
    return note(`You sign in through ${sourceText(user.source)} and have no password here: change it ` +
      "where your organisation manages it.", "password-federated");
  }
  const current = h("input", { type: "password", testid: "password-current", autocomplete: "current-password" });
  const fresh = h("input", { type: "password", testid: "password-new", autocomplete: "new-password" });
  const message = h("p", { class: "error", role: "alert", testid: "password-error" });
  const save = h("button", { type: "submit", class: "primary", testid: "password-save" }, "Change password");
  const form = h("form", { testid: "password-form", novalidate: true },
    field("Current password", current),
    field("New password", fresh, "At least 8 characters. Every session of yours ends: you sign in again with it."),
    message, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    if (!current.value || !fresh.value) {
      message.textContent = "Type your current password and the new one.";
      return;
    }
    if ([...fresh.value].length < 8) {
      message.textContent = "The new password needs at least 8 characters.";
      return;
    }
    save.disabled = true;
    try {
      await patch(`/tenants/${seg(user.tenant)}/users/${seg(user.name)}`,
        { password: fresh.value, current_password: current.value });
      endSession(ctx, "Your password is changed and every session of yours has ended: sign in with the new password.");
    } catch (error) {
      message.textContent = error.code === "InvalidCredentials"
        ? "The current password is wrong; nothing was changed."
        : `The password was not changed: ${explain(error)}`;
      save.disabled = false;
    }
  });
  return form;
}

function maintenanceControl(enabled) {
  const body = h("div", {});
  const draw = (on) => {
    const toggle = h("button", { type: "button", class: on ? "primary" : "danger", testid: "maintenance-toggle",
      "aria-pressed": on ? "true" : "false" }, on ? "Resume writes" : "Pause writes");
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        const answer = await put("/maintenance", { enabled: !on });
        notify(answer.enabled ? "Maintenance mode is on: S3 writes are refused." : "Maintenance mode is off.", "ok");
        draw(answer.enabled);
      } catch (error) {
        notify(`Maintenance mode was not switched: ${explain(error)}`, "error");
        toggle.disabled = false;
      }
    });
    mount(body,
      h("p", { testid: "maintenance-state" }, on ? badge("on", "danger") : badge("off", "ok"), " ",
        on ? "S3 writes (PUT, POST, DELETE) are answered 503 with Retry-After; reads and listings are served."
          : "The server takes reads and writes."),
      h("p", { class: "hint" }, "Maintenance mode pauses S3 writes for upgrades and disk work; the admin API, IAM " +
        "and STS keep working. It survives a restart."),
      toggle);
  };
  draw(enabled);
  return body;
}
