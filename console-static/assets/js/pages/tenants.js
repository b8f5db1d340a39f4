// Page #/tenants (system admins): every tenant with its status, buckets and usage bars against
// its storage and object quotas, traffic of the last 7 days; create one with quotas, suspend
// or activate it, delete it (only without buckets: said in words before asking the server).

import { get, post, patch, del, seg } from "../api.js";
import { isSystemAdmin } from "../app.js";
import { h, mount, notify, explain, confirmDialog, field, formatBytes } from "../ui.js";
import { formDialog, usageBar, badge, count, gibToBytes, formatCount, note, InputError, stacked } from "./admin-common.js";

const TRAFFIC_DAYS = 7;

export async function render(root, ctx) {
  if (!isSystemAdmin(ctx.user)) {
    mount(root, h("h1", {}, "Tenants"),
      note("Only system admins see every tenant. Your own tenant is under Users and keys.", "tenants-unavailable"),
      h("a", { href: "#/users" }, "Go to Users and keys"));
    return;
  }
  const list = h("div", { testid: "tenants-list" });
  const reload = () => drawList(list, reload);
  mount(root,
    h("div", { class: "toolbar" }, h("h1", {}, "Tenants"), h("span", { class: "spacer" }),
      h("button", { type: "button", class: "primary", testid: "tenant-create", onclick: () => createDialog(reload) },
        "New tenant")),
    list);
  await reload();
}

async function drawList(list, reload) {
  const [{ tenants }, usage] = await Promise.all([get("/tenants"), get("/usage")]);
  const traffic = new Map(usage.tenants.map((entry) => [entry.tenant, recentTraffic(entry.days || [])]));
  mount(list, h("div", { class: "table-wrap" }, h("table", { testid: "tenants-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Tenant"), h("th", { class: "hide-narrow" }, "Display name"),
      h("th", {}, "Status"), h("th", { class: "num" }, "Buckets"), h("th", {}, "Storage"), h("th", {}, "Objects"),
      h("th", { class: "hide-narrow" }, `Traffic (${TRAFFIC_DAYS} days)`), h("th", {}, "Actions"))),
    h("tbody", {}, tenants.sort(byName).map((tenant) => tenantRow(tenant, traffic.get(tenant.name), reload))))));
  stacked(list.querySelector("table"));
}

/** The default tenant first, then by name. */
function byName(a, b) {
  return (b.name === "default") - (a.name === "default") || a.name.localeCompare(b.name);
}

/** Requests and bytes of the last `TRAFFIC_DAYS` UTC days. */
function recentTraffic(days) {
  const since = new Date(Date.now() - (TRAFFIC_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  return days.filter((day) => day.date >= since).reduce((sum, day) => ({
    requests: sum.requests + day.requests, bytes: sum.bytes + day.bytes_in + day.bytes_out,
  }), { requests: 0, bytes: 0 });
}

function tenantRow(tenant, traffic = { requests: 0, bytes: 0 }, reload) {
  const quota = tenant.quota || {};
  const usage = tenant.usage || {};
  const isDefault = tenant.name === "default";
  const active = tenant.status === "active";
  return h("tr", { testid: `tenant-row-${tenant.name}` },
    h("td", {}, h("a", { href: `#/tenants/${encodeURIComponent(tenant.name)}`, testid: `tenant-link-${tenant.name}` },
      tenant.name)),
    h("td", { class: "hide-narrow" }, tenant.display_name || ""),
    h("td", {}, active ? badge("active", "ok") : badge(tenant.status, "danger")),
    h("td", { class: "num" }, formatCount(usage.buckets),
      quota.buckets === null || quota.buckets === undefined ? "" : h("span", { class: "muted" }, ` / ${formatCount(quota.buckets)}`)),
    h("td", {}, usageBar(usage.storage_bytes, quota.storage_bytes, { testid: `tenant-storage-${tenant.name}`,
      label: `storage quota of ${tenant.name} used` })),
    h("td", {}, usageBar(usage.objects, quota.objects, { format: formatCount, testid: `tenant-objects-${tenant.name}`,
      label: `object quota of ${tenant.name} used` })),
    h("td", { class: "hide-narrow nowrap" }, `${formatCount(traffic.requests)} requests, ${formatBytes(traffic.bytes)}`),
    h("td", {}, isDefault ? h("span", { class: "muted" }, "the default tenant") : h("div", { class: "row-actions" },
      active
        ? h("button", { type: "button", testid: `tenant-suspend-${tenant.name}`,
          onclick: () => setStatus(tenant, "suspended", reload) }, "Suspend")
        : h("button", { type: "button", testid: `tenant-activate-${tenant.name}`,
          onclick: () => setStatus(tenant, "active", reload) }, "Activate"),
      h("button", { type: "button", class: "danger", testid: `tenant-delete-${tenant.name}`,
        onclick: () => deleteTenant(tenant, reload) }, "Delete"))));
}

function createDialog(reload) {
  const name = h("input", { testid: "tenant-name", required: true, maxlength: 64, autocomplete: "off",
    pattern: "[a-z0-9][a-z0-9_-]*" });
  const displayName = h("input", { testid: "tenant-display-name", maxlength: 256 });
  const storage = h("input", { testid: "tenant-quota-gib", type: "number", min: 0, step: "any", inputmode: "decimal" });
  const objects = h("input", { testid: "tenant-quota-objects", type: "number", min: 0, step: 1, inputmode: "numeric" });
  const buckets = h("input", { testid: "tenant-quota-buckets", type: "number", min: 0, step: 1, inputmode: "numeric" });
  formDialog({
    title: "New tenant", testid: "tenant-create-dialog", submitLabel: "Create tenant",
    submitTestid: "tenant-create-submit",
    fields: [
      field("Name", name, "1 to 64 of a-z, 0-9, - and _, starting with a letter or digit; it cannot change."),
      field("Display name", displayName),
      h("div", { class: "form-grid" },
        field("Storage quota (GiB)", storage, "Empty: unlimited."),
        field("Object quota", objects, "Empty: unlimited."),
        field("Bucket quota", buckets, "Empty: unlimited.")),
    ],
    onSubmit: async () => {
      const tenantName = name.value.trim();
      if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(tenantName)) {
        throw new InputError("The name is 1 to 64 of a-z, 0-9, - and _, starting with a letter or digit.");
      }
      const quota = { storage_bytes: gibToBytes(storage.value), objects: count(objects.value, "The object quota"),
        buckets: count(buckets.value, "The bucket quota") };
      const request = { name: tenantName, quota };
      if (displayName.value.trim()) request.display_name = displayName.value.trim();
      await post("/tenants", request);
      notify(`Tenant ${tenantName} created.`, "ok");
      await reload();
    },
  });
}

async function setStatus(tenant, status, reload) {
  if (status === "suspended") {
    const ok = await confirmDialog(`Suspend ${tenant.name}?`,
      "Its access keys, temporary credentials, presigned URLs and console sessions are refused until it is " +
      "activated again. Nothing is deleted.", "Suspend");
    if (!ok) return;
  }
  try {
    await patch(`/tenants/${seg(tenant.name)}`, { status });
    notify(`${tenant.name} is ${status === "active" ? "active again" : "suspended"}.`, "ok");
  } catch (error) {
    notify(`The status of ${tenant.name} was not changed: ${explain(error)}`, "error");
  }
  await reload();
}

async function deleteTenant(tenant, reload) {
  const buckets = tenant.usage?.buckets || 0;
  if (buckets > 0) {
    notify(`${tenant.name} still owns ${buckets} bucket${buckets > 1 ? "s" : ""}: the server deletes only a tenant ` +
      "without buckets. Delete its buckets first (through S3).", "error");
    return;
  }
  const ok = await confirmDialog(`Delete tenant ${tenant.name}?`,
    `Every IAM record of ${tenant.name} is deleted with it: users, access keys, groups, roles, policies and ` +
    "sessions. This cannot be undone.");
  if (!ok) return;
  try {
    await del(`/tenants/${seg(tenant.name)}`);
    notify(`Tenant ${tenant.name} deleted.`, "ok");
  } catch (error) {
    notify(error.code === "NotEmpty"
      ? `${tenant.name} still owns buckets: the server deletes only a tenant without buckets. Delete them first.`
      : `${tenant.name} was not deleted: ${explain(error)}`, "error");
  }
  await reload();
}
