// The bucket list (#/buckets): S3's ListBuckets joined with the admin API's usage and quotas
// (GET /api/v1/buckets; refused to plain users, who then see S3's list only); create a bucket
// (with versioning or object lock) and delete one, each in words.

import { get } from "../api.js";
import { canWrite, isSystemAdmin } from "../app.js";
import { s3, xml, text, objectPath } from "../s3.js";
import { h, mount, notify, confirmDialog, field, bar, formatBytes, formatTime } from "../ui.js";
import { bucketNameProblem, s3Words, setVersioning, bucketHash, settingsHash, all, drain } from "./bucket-common.js";

export async function render(root, ctx) {
  const page = { root, ctx, buckets: [], filter: "" };
  mount(root, h("h1", {}, "Buckets"), h("p", { class: "loading" }, "Loading buckets…"));
  await load(page);
}

async function load(page) {
  const [fromS3, fromAdmin] = await Promise.all([listS3(), listAdmin(page.ctx.user)]);
  page.buckets = joinLists(fromS3, fromAdmin);
  page.usageKnown = fromAdmin !== null;
  draw(page);
}

/** S3 ListBuckets: [{name, created}]. */
async function listS3() {
  const doc = await xml(await s3("GET", "/"));
  return all(doc, "Bucket").map((node) => ({ name: text(node, "Name"), created: text(node, "CreationDate") }));
}

/** The admin API's buckets with usage and quota, or null when this user may not see them. */
async function listAdmin(user) {
  // Plain users are refused GET /buckets; asking would only cost a failed request.
  if (!user?.role || user.role === "user") return null;
  try {
    return (await get("/buckets")).buckets;
  } catch (error) {
    if (error.status === 403) return null;
    throw error;
  }
}

function joinLists(fromS3, fromAdmin) {
  const byName = new Map(fromS3.map((bucket) => [bucket.name, { ...bucket, own: true }]));
  for (const bucket of fromAdmin || []) {
    const known = byName.get(bucket.name) || { name: bucket.name, own: false };
    byName.set(bucket.name, { ...known, created: known.created || bucket.created_at,
      tenant: bucket.tenant, usage: bucket.usage, quota: bucket.quota });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function draw(page) {
  const { root, ctx } = page;
  const filter = h("input", { type: "search", testid: "bucket-filter", placeholder: "Filter by name",
    value: page.filter, oninput: () => { page.filter = filter.value; drawRows(page); } });
  page.tbody = h("tbody", { testid: "bucket-rows" });
  page.summary = h("p", { class: "muted", testid: "bucket-summary" });
  const showTenant = isSystemAdmin(ctx.user);
  page.showTenant = showTenant;
  mount(root,
    h("h1", {}, "Buckets"),
    h("div", { class: "toolbar" },
      field("Filter", filter),
      h("span", { class: "spacer" }),
      canWrite(ctx.user) ? h("button", { type: "button", class: "primary", testid: "bucket-create",
        onclick: () => createDialog(page) }, "Create bucket") : null),
    h("div", { class: "table-wrap" },
      h("table", { class: "buckets", testid: "bucket-table" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Name"),
          showTenant ? h("th", { scope: "col", class: "hide-narrow" }, "Tenant") : null,
          h("th", { scope: "col", class: "hide-narrow" }, "Created"),
          h("th", { scope: "col", class: "num" }, "Objects"),
          h("th", { scope: "col", class: "num" }, "Size"),
          h("th", { scope: "col", class: "hide-narrow" }, "Quota"),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
        page.tbody)),
    page.summary);
  drawRows(page);
}

function drawRows(page) {
  const needle = page.filter.trim().toLowerCase();
  const shown = page.buckets.filter((bucket) => bucket.name.includes(needle));
  const columns = page.showTenant ? 7 : 6;
  if (!page.buckets.length) {
    mount(page.tbody, h("tr", {}, h("td", { colspan: columns, class: "empty", testid: "buckets-empty" },
      canWrite(page.ctx.user) ? "No buckets yet: create one to start storing objects." : "There are no buckets you can see.")));
  } else if (!shown.length) {
    mount(page.tbody, h("tr", {}, h("td", { colspan: columns, class: "empty" }, `No bucket name contains “${needle}”.`)));
  } else {
    mount(page.tbody, shown.map((bucket) => bucketRow(page, bucket)));
  }
  page.summary.textContent = summary(page.buckets, page.usageKnown);
}

function summary(buckets, usageKnown) {
  const count = `${buckets.length} bucket${buckets.length === 1 ? "" : "s"}`;
  if (!usageKnown) return count + ".";
  const objects = buckets.reduce((sum, b) => sum + (b.usage?.objects || 0), 0);
  const bytes = buckets.reduce((sum, b) => sum + (b.usage?.storage_bytes || 0), 0);
  return `${count}, ${objects.toLocaleString()} object${objects === 1 ? "" : "s"}, ${formatBytes(bytes)}.`;
}

function bucketRow(page, bucket) {
  const usage = bucket.usage;
  const quota = bucket.quota || {};
  return h("tr", { testid: `bucket-row-${bucket.name}` },
    h("td", { class: "bucket-cell" },
      h("a", { href: bucketHash(bucket.name), testid: `bucket-link-${bucket.name}` }, bucket.name),
      bucket.own || !page.showTenant ? null : h("small", { class: "muted" }, " (another owner)")),
    page.showTenant ? h("td", { class: "hide-narrow" }, bucket.tenant || "–") : null,
    h("td", { class: "hide-narrow" }, formatTime(bucket.created)),
    h("td", { class: "num" }, usage ? objectsText(usage.objects, quota.objects) : "–"),
    h("td", { class: "num" }, usage ? formatBytes(usage.storage_bytes) : "–"),
    h("td", { class: "hide-narrow" }, usage ? bar(usage.storage_bytes, quota.storage_bytes, `bucket-quota-${bucket.name}`) : "–"),
    h("td", { class: "actions-cell" },
      h("a", { href: settingsHash(bucket.name), class: "button small hide-narrow", testid: `bucket-settings-${bucket.name}`,
        "aria-label": `Settings of ${bucket.name}` }, "Settings"),
      canWrite(page.ctx.user) ? h("button", { type: "button", class: "danger small", testid: `bucket-delete-${bucket.name}`,
        "aria-label": `Delete bucket ${bucket.name}`, onclick: () => deleteBucket(page, bucket) }, "Delete") : null));
}

function objectsText(objects, limit) {
  const count = (objects || 0).toLocaleString();
  return limit === null || limit === undefined ? count : `${count} of ${limit.toLocaleString()}`;
}

async function deleteBucket(page, bucket) {
  const ok = await confirmDialog(`Delete the bucket ${bucket.name}?`,
    "Only an empty bucket can be deleted: delete its objects (and old versions) first. This cannot be undone.");
  if (!ok) return;
  try {
    await drain(await s3("DELETE", objectPath(bucket.name)));
    notify(`Deleted the bucket ${bucket.name}.`, "ok");
    await load(page);
  } catch (error) {
    notify(`The bucket ${bucket.name} was not deleted. ${s3Words(error)}`, "error");
  }
}

function createDialog(page) {
  const name = h("input", { name: "bucket", testid: "bucket-name", autocomplete: "off", spellcheck: "false",
    required: true, maxlength: 63, "aria-describedby": "bucket-name-problem" });
  const problem = h("p", { id: "bucket-name-problem", class: "error", role: "alert", testid: "bucket-name-error" });
  const versioning = h("input", { type: "checkbox", testid: "bucket-versioning", id: "bucket-versioning" });
  const lock = h("input", { type: "checkbox", testid: "bucket-lock", id: "bucket-lock" });
  const submit = h("button", { type: "submit", class: "primary", testid: "bucket-create-submit" }, "Create");
  const cancel = h("button", { type: "button", testid: "bucket-create-cancel", onclick: () => close() }, "Cancel");
  lock.addEventListener("change", () => {
    if (lock.checked) versioning.checked = true;
    versioning.disabled = lock.checked;
  });
  name.addEventListener("input", () => {
    // Say what is wrong once something has been typed, not while the field is still empty.
    problem.textContent = name.value ? bucketNameProblem(name.value) : "";
  });
  const form = h("form", { testid: "bucket-create-form" },
    field("Name", name, "3 to 63 characters: lowercase letters, digits, hyphens and dots. Names are unique on this server."),
    problem,
    checkRow(versioning, "Keep every version of each object (versioning)",
      "Overwritten and deleted objects stay as old versions you can restore."),
    checkRow(lock, "Object lock (write once, read many)",
      "Lets versions be protected from deletion by retention and legal holds. Needs versioning, which then cannot be suspended. It can only be chosen now."),
    h("div", { class: "actions" }, cancel, submit));
  const dialog = h("dialog", { class: "dialog", testid: "bucket-create-dialog", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "Create a bucket"), form);
  function close() {
    dialog.close();
    dialog.remove();
  }
  dialog.addEventListener("cancel", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const wanted = name.value.trim();
    const wrong = bucketNameProblem(wanted);
    problem.textContent = wrong;
    if (wrong) {
      name.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Creating…";
    try {
      await createBucket(wanted, versioning.checked, lock.checked);
      close();
      notify(`Created the bucket ${wanted}.`, "ok");
      await load(page);
    } catch (error) {
      if (error.created) {
        // The bucket exists: the dialog's job is done, the rest is said on the page.
        close();
        notify(error.message, "error");
        await load(page);
      } else {
        problem.textContent = s3Words(error);
      }
    } finally {
      submit.disabled = false;
      submit.textContent = "Create";
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}

function checkRow(input, label, hint) {
  return h("div", { class: "check" }, input,
    h("label", { for: input.id }, label, h("small", { class: "hint" }, hint)));
}

async function createBucket(name, versioning, lock) {
  const headers = lock ? { "x-amz-bucket-object-lock-enabled": "true" } : {};
  await drain(await s3("PUT", objectPath(name), { headers }));
  if (versioning || lock) {
    try {
      await setVersioning(name, "Enabled");
    } catch (error) {
      throw Object.assign(new Error(`The bucket ${name} was created, but versioning could not be switched on: ` +
        `${s3Words(error)} Switch it on in the bucket's settings.`), { created: true });
    }
  }
}
