// One tenant seen whole, shared by #/tenants/<tenant> (tenant.js, system admins) and #/users
// (users.js, the caller's own tenant): its usage against its quotas, quota and bandwidth
// editing (system admins), traffic per day as a chart, its users and access keys, its
// groups and managed policies (IAM), and its identity providers (LDAP, OIDC).

import { get, patch, seg } from "../api.js";
import { isSystemAdmin } from "../app.js";
import { h, mount, notify, explain, field, formatBytes, formatTime } from "../ui.js";
import { usageBar, badge, panel, count, gibToBytes, bandwidth, bytesToGib, bytesToMib, formatCount,
  mayManageUsers, note, InputError } from "./admin-common.js";
import { trafficChart } from "./admin-traffic-chart.js";
import { usersPanel } from "./admin-users-panel.js";
import { iamPanels } from "./admin-iam-panels.js";
import { identityProvidersPanel } from "./admin-identity-providers.js";

async function loadTenant(name) {
  const [tenant, usage] = await Promise.all([
    get(`/tenants/${seg(name)}`),
    get(`/usage?tenant=${encodeURIComponent(name)}`),
  ]);
  return { tenant, usage: usage.tenants.find((entry) => entry.tenant === name) || usage.tenants[0] || {} };
}

/** Renders the tenant `name` into `root`; `heading` and `crumbs` (nodes) go above it. */
export async function renderTenantView(root, ctx, name, { heading, crumbs = null } = {}) {
  const figures = h("div", { testid: "tenant-usage" });
  const quota = h("div", {});
  const traffic = h("div", {});
  const title = h("h1", {}, heading || name);
  const state = await loadTenant(name);
  async function refresh() {
    Object.assign(state, await loadTenant(name));
    drawFigures(figures, state);
  }
  drawFigures(figures, state);
  drawQuota(quota, ctx, state, refresh);
  mount(traffic, trafficChart(state.usage.days || []));
  const sections = [crumbs, title, h("p", { class: "muted", testid: "tenant-facts" }, tenantFacts(state.tenant)),
    figures,
    h("div", { class: "grid2" },
      panel("Quotas and bandwidth", "quota-panel", quota),
      panel("Traffic per day", "traffic-panel", traffic))];
  mount(root, sections);
  if (!mayManageUsers(ctx.user, name)) {
    root.append(note("Only the tenant's admins and system admins manage its users and keys.", "users-unavailable"));
    return;
  }
  const users = await usersPanel(ctx, name, { onChange: () => refresh().catch(() => {}) });
  root.append(users.node, ...(await iamPanels(ctx, name, users.userNames)));
  root.append(await identityProvidersPanel(ctx, name));
}

function tenantFacts(tenant) {
  const status = tenant.status === "active" ? badge("active", "ok") : badge(tenant.status, "danger");
  return [status, ` ${tenant.name} · account ${tenant.account_id} · created ${formatTime(tenant.created_at)}`];
}

function card(label, value, extra, testid) {
  return h("div", { class: "card", testid }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), extra);
}

function drawFigures(node, { tenant, usage }) {
  const limits = tenant.quota || {};
  const used = tenant.usage || {};
  mount(node, h("div", { class: "cards" },
    card("Storage", formatBytes(usage.storage_bytes ?? used.storage_bytes),
      usageBar(usage.storage_bytes ?? used.storage_bytes, limits.storage_bytes, { testid: "usage-storage",
        label: "storage quota used" }), "card-storage"),
    card("Objects", formatCount(usage.objects ?? used.objects),
      usageBar(usage.objects ?? used.objects, limits.objects, { format: formatCount, testid: "usage-objects",
        label: "object quota used" }), "card-objects"),
    card("Buckets", formatCount(used.buckets),
      usageBar(used.buckets, limits.buckets, { format: formatCount, label: "bucket quota used" }), "card-buckets"),
    card("Access keys", formatCount(used.access_keys),
      usageBar(used.access_keys, limits.access_keys, { format: formatCount, label: "access key quota used" }),
      "card-keys"),
    card("On disk", formatBytes(usage.stored_bytes), h("small", { class: "muted" },
      `${formatCount(usage.versions)} versions, ${formatBytes(usage.multipart_bytes)} in unfinished uploads`),
    "card-disk")));
}

function limitText(value, format) {
  return value === null || value === undefined ? "unlimited" : format(value);
}

function drawQuota(node, ctx, state, refresh) {
  const { tenant } = state;
  if (!isSystemAdmin(ctx.user)) {
    const q = tenant.quota || {}, b = tenant.bandwidth || {};
    mount(node, h("dl", { class: "facts", testid: "quota-facts" },
      h("dt", {}, "Storage"), h("dd", {}, limitText(q.storage_bytes, formatBytes)),
      h("dt", {}, "Objects"), h("dd", {}, limitText(q.objects, formatCount)),
      h("dt", {}, "Buckets"), h("dd", {}, limitText(q.buckets, formatCount)),
      h("dt", {}, "Access keys"), h("dd", {}, limitText(q.access_keys, formatCount)),
      h("dt", {}, "Uploads"), h("dd", {}, limitText(b.in_bytes_per_second, (v) => `${formatBytes(v)}/s`)),
      h("dt", {}, "Downloads"), h("dd", {}, limitText(b.out_bytes_per_second, (v) => `${formatBytes(v)}/s`))),
    note("Only system admins change quotas."));
    return;
  }
  const input = (testid, value, attributes = {}) => {
    const control = h("input", { testid, type: "number", min: 0, step: "any", inputmode: "decimal", ...attributes });
    control.value = value ?? "";
    return control;
  };
  const displayName = h("input", { testid: "tenant-display-name-edit", maxlength: 256 });
  displayName.value = tenant.display_name || "";
  const storage = input("quota-storage-gib", bytesToGib(tenant.quota?.storage_bytes));
  const objects = input("quota-objects", tenant.quota?.objects, { step: 1 });
  const buckets = input("quota-buckets", tenant.quota?.buckets, { step: 1 });
  const keys = input("quota-access-keys", tenant.quota?.access_keys, { step: 1 });
  const bandwidthIn = input("bandwidth-in-mib", bytesToMib(tenant.bandwidth?.in_bytes_per_second));
  const bandwidthOut = input("bandwidth-out-mib", bytesToMib(tenant.bandwidth?.out_bytes_per_second));
  const message = h("p", { class: "error", role: "alert", testid: "quota-error" });
  const save = h("button", { type: "submit", class: "primary", testid: "tenant-quota-save" }, "Save quotas");
  const form = h("form", { testid: "quota-form", novalidate: true },
    field("Display name", displayName),
    h("div", { class: "form-grid" },
      field("Storage (GiB)", storage, "Empty: unlimited."),
      field("Objects", objects, "Empty: unlimited."),
      field("Buckets", buckets, "Empty: unlimited."),
      field("Access keys", keys, "Empty: unlimited."),
      field("Uploads (MiB/s)", bandwidthIn, "At least 0.0625 (64 KiB/s); empty: unlimited."),
      field("Downloads (MiB/s)", bandwidthOut, "At least 0.0625 (64 KiB/s); empty: unlimited.")),
    message, h("div", { class: "actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    save.disabled = true;
    try {
      const change = {
        display_name: displayName.value.trim(),
        quota: { storage_bytes: gibToBytes(storage.value), objects: count(objects.value, "The object quota"),
          buckets: count(buckets.value, "The bucket quota"), access_keys: count(keys.value, "The access key quota") },
        bandwidth: { in_bytes_per_second: bandwidth(bandwidthIn.value, "The upload limit"),
          out_bytes_per_second: bandwidth(bandwidthOut.value, "The download limit") },
      };
      state.tenant = await patch(`/tenants/${seg(tenant.name)}`, change);
      notify(`The quotas of ${tenant.name} are saved.`, "ok");
      await refresh();
    } catch (error) {
      message.textContent = `Not saved: ${error instanceof InputError ? error.message : explain(error)}`;
    } finally {
      save.disabled = false;
    }
  });
  mount(node, form);
}
