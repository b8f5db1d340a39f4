// Alert settings for system admins, in Settings: webhooks, SMTP e-mail, thresholds and a private
// CA (GET/PUT /alerts/settings), and a test notice to every channel (POST /alerts/test) with
// how each went. Secrets (webhook tokens, the SMTP password) are never shown: the server says
// only whether one is set (`*_set`); an empty field keeps it, a checkbox removes it.

import { get, put, post } from "../api.js";
import { h, mount, notify, explain, field } from "../ui.js";
import { checkbox, count, InputError } from "./admin-common.js";

const WEBHOOKS_MAX = 8;

export async function alertsPanel() {
  const body = h("div", {});
  const section = h("section", { class: "panel admin-panel", testid: "alerts-panel", "aria-label": "Alerts" },
    h("h2", {}, "Alerts"), body);
  drawForm(body, await get("/alerts/settings"));
  return section;
}

function webhookRow(hook, index, rows) {
  const url = h("input", { type: "url", testid: `alert-webhook-url-${index}`, placeholder: "https://hooks.example.com/…" });
  url.value = hook.url || "";
  const token = h("input", { type: "password", testid: `alert-webhook-token-${index}`, autocomplete: "off",
    placeholder: hook.token_set ? "set: empty keeps it" : "none" });
  const clear = h("input", { type: "checkbox", testid: `alert-webhook-token-clear-${index}` });
  const row = h("div", { class: "webhook", testid: `alert-webhook-${index}` },
    field("Webhook URL", url), field("Bearer token", token),
    h("button", { type: "button", class: "danger", testid: `alert-webhook-remove-${index}`,
      onclick: () => { row.remove(); rows.splice(rows.indexOf(entry), 1); } }, "Remove"),
    hook.token_set ? checkbox("Remove the stored token", clear) : null);
  const entry = { row, value: () => {
    const answer = { url: url.value.trim() };
    if (token.value) answer.token = token.value;
    else if (hook.token_set && clear.checked) answer.token = null;
    return answer;
  } };
  return entry;
}

function numberInput(testid, value, min, max) {
  const input = h("input", { type: "number", testid, min, max, step: 1, inputmode: "numeric" });
  input.value = value ?? "";
  return input;
}

function drawForm(body, settings) {
  const rows = [];
  const hooks = h("div", { testid: "alert-webhooks" });
  let nextIndex = 0;
  const addHook = (hook) => {
    const entry = webhookRow(hook, nextIndex++, rows);
    rows.push(entry);
    hooks.append(entry.row);
  };
  (settings.webhooks || []).forEach(addHook);
  const smtp = settings.smtp || {};
  const smtpOn = h("input", { type: "checkbox", testid: "alert-smtp-enabled", checked: !!settings.smtp });
  const text = (testid, value, attributes = {}) => {
    const input = h("input", { testid, autocomplete: "off", ...attributes });
    input.value = value ?? "";
    return input;
  };
  const host = text("alert-smtp-host", smtp.host);
  const port = numberInput("alert-smtp-port", smtp.port ?? 587, 1, 65535);
  const security = h("select", { testid: "alert-smtp-security" }, ["starttls", "tls", "plain"]
    .map((value) => h("option", { value, selected: (smtp.security || "starttls") === value }, value)));
  const username = text("alert-smtp-username", smtp.username);
  const password = text("alert-smtp-password", "", { type: "password",
    placeholder: smtp.password_set ? "set: empty keeps it" : "none" });
  const clearPassword = h("input", { type: "checkbox", testid: "alert-smtp-password-clear" });
  const from = text("alert-smtp-from", smtp.from, { type: "email" });
  const to = text("alert-smtp-to", (smtp.to || []).join(", "), { placeholder: "oncall@example.com, …" });
  const smtpFields = h("div", { class: "form-grid" }, field("SMTP host", host), field("Port", port),
    field("Security", security, "plain only for a lab relay"), field("User name", username),
    field("Password", password), field("From", from), field("To (comma-separated)", to));
  const smtpBox = h("fieldset", {}, h("legend", {}, "E-mail"), checkbox("Send alerts by e-mail", smtpOn), smtpFields,
    smtp.password_set ? checkbox("Remove the stored password", clearPassword) : null);
  const toggleSmtp = () => { smtpFields.hidden = !smtpOn.checked; };
  smtpOn.addEventListener("change", toggleSmtp);
  toggleSmtp();
  const disk = numberInput("alert-disk-percent", settings.disk_used_percent_max, 1, 100);
  const quota = numberInput("alert-quota-percent", settings.quota_used_percent_max, 1, 100);
  const certificate = numberInput("alert-certificate-days", settings.certificate_days_min, 1, 365);
  const caPem = h("textarea", { testid: "alert-ca-pem", rows: 4, placeholder: "-----BEGIN CERTIFICATE-----" });
  caPem.value = settings.ca_pem || "";
  const message = h("p", { class: "error", role: "alert", testid: "alerts-error" });
  const result = h("div", { testid: "alerts-test-result", role: "status" });
  const save = h("button", { type: "submit", class: "primary", testid: "alerts-save" }, "Save alert settings");
  const test = h("button", { type: "button", testid: "alerts-test", disabled: !hasChannel(settings),
    title: hasChannel(settings) ? null : "Save a webhook or e-mail first." }, "Send a test notice");
  test.addEventListener("click", () => sendTest(test, result));
  const form = h("form", { novalidate: true },
    h("fieldset", {}, h("legend", {}, `Webhooks (at most ${WEBHOOKS_MAX})`), hooks,
      h("button", { type: "button", testid: "alert-webhook-add", onclick: () => {
        if (rows.length >= WEBHOOKS_MAX) notify(`At most ${WEBHOOKS_MAX} webhooks.`, "error");
        else addHook({});
      } }, "Add a webhook")),
    smtpBox,
    h("fieldset", {}, h("legend", {}, "Thresholds"), h("div", { class: "form-grid" },
      field("Disk used (%)", disk, "disk_nearly_full fires from here"),
      field("Tenant quota used (%)", quota, "tenant_near_quota fires from here"),
      field("Certificate expiry (days)", certificate, "certificate_expiring fires within"))),
    field("Private CA for HTTPS webhooks and SMTP (PEM, optional)", caPem),
    message, h("div", { class: "toolbar" }, save, test,
      hasChannel(settings) ? null : h("span", { class: "hint" }, "Save a webhook or e-mail first, then test it.")),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    save.disabled = true;
    try {
      const request = {
        webhooks: rows.map((entry) => entry.value()).filter((hook) => hook.url),
        smtp: smtpOn.checked ? smtpSettings({ host, port, security, username, password, clearPassword, from, to }) : null,
        disk_used_percent_max: count(disk.value, "The disk threshold"),
        quota_used_percent_max: count(quota.value, "The quota threshold"),
        certificate_days_min: count(certificate.value, "The certificate threshold"),
        ca_pem: caPem.value.trim() ? caPem.value : null,
      };
      for (const name of ["disk_used_percent_max", "quota_used_percent_max", "certificate_days_min"]) {
        if (request[name] === null) delete request[name];
      }
      const saved = await put("/alerts/settings", request);
      notify("The alert settings are saved.", "ok");
      drawForm(body, saved);
    } catch (error) {
      message.textContent = `Not saved: ${error instanceof InputError ? error.message : explain(error)}`;
      save.disabled = false;
    }
  });
  mount(body, form);
}

function smtpSettings({ host, port, security, username, password, clearPassword, from, to }) {
  if (!host.value.trim()) throw new InputError("E-mail needs the SMTP host.");
  const recipients = to.value.split(/[,;\s]+/).map((address) => address.trim()).filter(Boolean);
  if (!recipients.length) throw new InputError("E-mail needs at least one address to send to.");
  const answer = { host: host.value.trim(), port: count(port.value, "The SMTP port") ?? 587, security: security.value,
    username: username.value.trim() || null, from: from.value.trim(), to: recipients };
  if (password.value) answer.password = password.value;
  else if (clearPassword.checked) answer.password = null;
  return answer;
}

function hasChannel(settings) {
  return (settings.webhooks || []).length > 0 || !!settings.smtp;
}

async function sendTest(button, result) {
  button.disabled = true;
  mount(result, h("p", { class: "muted" }, "Sending a test notice to every channel (up to a minute)…"));
  try {
    const answer = await post("/alerts/test");
    mount(result, h("p", { class: answer.delivered ? "ok" : "error" },
      answer.delivered ? "Every channel got the test notice." : "Not every channel got the test notice:"),
    h("ul", {}, answer.deliveries.map((delivery) => h("li", { class: delivery.delivered ? "ok" : "error" },
      `${delivery.channel}: ${delivery.delivered ? "delivered" : delivery.error || "not delivered"}`))));
  } catch (error) {
    mount(result, h("p", { class: "error" }, `The test was not sent: ${explain(error)}`));
  } finally {
    button.disabled = false;
  }
}
