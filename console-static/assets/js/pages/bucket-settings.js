// Bucket settings (#/buckets/<bucket>/settings): one panel per setting, each loading and
// saving on its own: versioning, object-lock default retention, lifecycle rules and CORS
// (bucket-settings-rules.js), bucket policy, default encryption, bucket tags, and the quota
// (admin API). A read-only user sees the values without the Save buttons.

import { get, put, seg } from "../api.js";
import { canWrite, isAdmin } from "../app.js";
import { s3, text, objectPath } from "../s3.js";
import { h, mount, field, bar, formatBytes, explain, confirmDialog } from "../ui.js";
import { s3Words, all, bucketConfig, putBucketConfig, deleteBucketConfig, versioningStatus, setVersioning,
  objectLock, element, bucketHash, drain, S3_NS } from "./bucket-common.js";
import { lifecyclePanel, corsPanel } from "./bucket-settings-rules.js";
import { settingsPanel } from "./bucket-settings-panel.js";

export async function render(root, ctx) {
  const bucket = ctx.params.bucket;
  const head = h("div", { class: "page-head" },
    h("h1", {}, `Settings of ${bucket}`), h("span", { class: "spacer" }),
    h("a", { href: bucketHash(bucket), class: "button", testid: "bucket-browse-link" }, "Browse objects"));
  mount(root, head, h("p", { class: "loading" }, "Loading…"));
  let versioning;
  try {
    versioning = await versioningStatus(bucket);
  } catch (error) {
    mount(root, head, h("p", { class: "error", testid: "settings-error" }, s3Words(error)),
      h("p", {}, h("a", { href: "#/buckets" }, "Back to the buckets")));
    return;
  }
  const context = { ctx, bucket, write: canWrite(ctx.user), versioning };
  // Lock needs versioning, so only a versioned bucket is asked (others would answer 404).
  context.lockKnown = objectLock(bucket, versioning).catch(() => null);
  mount(root, head,
    h("nav", { class: "breadcrumbs", "aria-label": "Folder path" },
      h("a", { href: "#/buckets" }, "Buckets"), h("span", { class: "sep", "aria-hidden": "true" }, "/"),
      h("a", { href: bucketHash(bucket) }, bucket), h("span", { class: "sep", "aria-hidden": "true" }, "/"),
      h("span", {}, "Settings")),
    sectionLinks(),
    h("div", { class: "settings", testid: "bucket-settings" },
      versioningPanel(context),
      lockPanel(context),
      lifecyclePanel(context),
      corsPanel(context),
      policyPanel(context),
      encryptionPanel(context),
      tagsPanel(context),
      quotaPanel(context)));
}

/** Buttons that scroll to each panel (links would change the hash, which is the route). */
function sectionLinks() {
  const sections = [["settings-versioning", "Versioning"], ["settings-lock", "Object lock"], ["settings-lifecycle", "Lifecycle"],
    ["settings-cors", "CORS"], ["settings-policy", "Policy"], ["settings-encryption", "Encryption"], ["settings-tags", "Tags"],
    ["settings-quota", "Quota"]];
  return h("nav", { class: "section-links", "aria-label": "Settings sections" }, sections.map(([testid, label]) =>
    h("button", { type: "button", class: "link", onclick: () => {
      const target = document.querySelector(`[data-testid="${testid}"]`);
      target?.scrollIntoView({ behavior: "smooth", block: "start" });
      target?.querySelector("input, select, textarea, button")?.focus({ preventScroll: true });
    } }, label)));
}

/* Versioning */

function versioningPanel(context) {
  const panel = settingsPanel("settings-versioning", "Versioning",
    "With versioning on, overwriting or deleting an object keeps the old version, which can be restored from the browser (Show versions).");
  const enabled = radio("versioning", "Enabled", "versioning-enabled", "On (keep every version)");
  const suspended = radio("versioning", "Suspended", "versioning-suspended", "Suspended (new writes replace the current version; existing versions stay)");
  const current = h("p", { testid: "versioning-state" });
  const save = h("button", { type: "button", class: "primary", testid: "versioning-save" }, "Save");
  const show = (status) => {
    current.textContent = status === "Enabled" ? "Versioning is on."
      : status === "Suspended" ? "Versioning is suspended." : "Versioning has never been switched on for this bucket.";
    enabled.input.checked = status === "Enabled";
    suspended.input.checked = status === "Suspended";
  };
  show(context.versioning);
  mount(panel.body, current, context.write ? h("div", { class: "radio-row", role: "radiogroup", "aria-label": "Versioning" },
    enabled.label, suspended.label) : null);
  if (context.write) panel.actions(save);
  // With object lock on, versioning cannot be suspended.
  context.lockKnown.then((lock) => {
    if (!lock) return;
    suspended.input.disabled = true;
    panel.body.append(h("p", { class: "hint" }, "Object lock is on, so versioning stays on: it cannot be suspended."));
  });
  save.addEventListener("click", () => panel.run(save, async () => {
    const status = enabled.input.checked ? "Enabled" : suspended.input.checked ? "Suspended" : "";
    if (!status) throw new Error("Choose On or Suspended.");
    await setVersioning(context.bucket, status);
    context.versioning = status;
    show(status);
    return status === "Enabled" ? "Versioning is on." : "Versioning is suspended.";
  }));
  return panel.section;
}

function radio(name, value, testid, words) {
  const input = h("input", { type: "radio", name, value, testid, id: `radio-${testid}` });
  return { input, label: h("label", { for: input.id }, input, words) };
}

/* Object lock */

function lockPanel(context) {
  const panel = settingsPanel("settings-lock", "Object lock",
    "Protects versions from being deleted or overwritten until a date (retention) or while a legal hold is on. New versions can get a default retention.");
  panel.loading();
  context.lockKnown.then((lock) => {
    if (!lock) {
      panel.show(h("p", { class: "muted", testid: "lock-off" },
        "Object lock is off for this bucket. It can only be chosen when a bucket is created."));
      return;
    }
    const mode = h("select", { testid: "lock-mode" },
      h("option", { value: "" }, "No default retention"),
      h("option", { value: "GOVERNANCE" }, "Governance (users allowed to bypass it may delete early)"),
      h("option", { value: "COMPLIANCE" }, "Compliance (nobody can delete early, not even the root)"));
    const period = h("input", { type: "number", min: "1", step: "1", testid: "lock-period" });
    const unit = h("select", { testid: "lock-unit" }, h("option", { value: "Days" }, "days"), h("option", { value: "Years" }, "years"));
    mode.value = lock.mode || "";
    period.value = lock.days || lock.years || "";
    unit.value = lock.years ? "Years" : "Days";
    const sync = () => { period.disabled = unit.disabled = !mode.value || !context.write; };
    mode.addEventListener("change", sync);
    mode.disabled = !context.write;
    sync();
    panel.show(h("p", { testid: "lock-on" }, "Object lock is on."),
      h("div", { class: "inline" }, field("Default retention for new versions", mode),
        field("Kept for", period), field("Unit", unit)));
    if (!context.write) return;
    const save = h("button", { type: "button", class: "primary", testid: "lock-save" }, "Save");
    panel.actions(save);
    save.addEventListener("click", () => panel.run(save, async () => {
      let rule = "";
      if (mode.value) {
        const amount = Number(period.value);
        if (!Number.isInteger(amount) || amount < 1) throw new Error("Enter a whole number of days or years, at least 1.");
        rule = `<Rule><DefaultRetention>${element("Mode", mode.value)}${element(unit.value, amount)}</DefaultRetention></Rule>`;
      }
      await putBucketConfig(context.bucket, "object-lock",
        `<ObjectLockConfiguration xmlns="${S3_NS}"><ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule}</ObjectLockConfiguration>`);
      return mode.value ? `New versions are kept ${period.value} ${unit.value.toLowerCase()} in ${mode.value.toLowerCase()} mode.`
        : "New versions get no default retention.";
    }));
  });
  return panel.section;
}

/* Bucket policy */

/** Where a JSON.parse error is: {line, column} (1-based) from the position in its message. */
export function jsonErrorPlace(source, error) {
  const message = String(error.message);
  const lineColumn = message.match(/line (\d+) column (\d+)/);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]), offset: offsetOf(source, Number(lineColumn[1]), Number(lineColumn[2])) };
  const position = message.match(/position (\d+)/);
  const offset = position ? Number(position[1]) : source.length;
  const before = source.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1, offset };
}

/** JSON.parse's words without the place, which the editor says its own way. */
function jsonMessage(message) {
  return String(message).replace(/^JSON\.parse: /, "").replace(/ (in JSON )?at (position|line) \d+.*$/, "");
}

function offsetOf(source, line, column) {
  const lines = source.split("\n");
  return lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0) + column - 1;
}

/** What is wrong with a policy document before the server sees it, or "". */
function policyShapeProblem(policy) {
  if (!policy || typeof policy !== "object" || Array.isArray(policy)) return "A policy is a JSON object: { \"Version\": …, \"Statement\": [ … ] }.";
  if (!policy.Statement) return "The policy has no \"Statement\".";
  const statements = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
  for (const [i, statement] of statements.entries()) {
    if (!["Allow", "Deny"].includes(statement?.Effect)) return `Statement ${i + 1}: "Effect" must be "Allow" or "Deny".`;
  }
  return "";
}

function policyPanel(context) {
  const panel = settingsPanel("settings-policy", "Bucket policy",
    "A JSON policy that grants or denies access to this bucket, for users of other tenants or anonymous clients. Everything the owner's users may do is set by their own policies.");
  const area = h("textarea", { class: "policy", testid: "policy-text", spellcheck: "false", rows: 16,
    "aria-describedby": "policy-error", readonly: !context.write });
  const error = h("p", { id: "policy-error", class: "editor-error", role: "alert", testid: "policy-error" });
  const place = h("span", { class: "muted", testid: "policy-caret", "aria-live": "off" });
  const format = h("button", { type: "button", testid: "policy-format" }, "Format");
  const save = h("button", { type: "button", class: "primary", testid: "policy-save" }, "Save policy");
  const remove = h("button", { type: "button", class: "danger", testid: "policy-delete" }, "Delete policy");
  const caret = () => {
    const before = area.value.slice(0, area.selectionStart).split("\n");
    place.textContent = `Line ${before.length}, column ${before[before.length - 1].length + 1}`;
  };
  area.addEventListener("keyup", caret);
  area.addEventListener("click", caret);
  area.addEventListener("input", () => { error.textContent = ""; });
  let stored = false;
  panel.loading();
  s3("GET", objectPath(context.bucket), { query: { policy: "" } })
    .then((response) => response.text())
    .then((body) => show(body), (failure) => {
      if (failure.code === "NoSuchBucketPolicy") show("");
      else panel.fail(failure);
    });
  function show(body) {
    stored = Boolean(body);
    area.value = body ? pretty(body) : "";
    area.placeholder = context.write ? "No policy. Write one here, for example:\n" + example(context.bucket) : "No policy.";
    remove.disabled = !body;
    panel.show(field("Policy (JSON)", area), h("div", { class: "editor-status" }, place), error);
    if (context.write) panel.actions(format, save, remove);
  }
  function check() {
    const source = area.value;
    try {
      const parsed = JSON.parse(source);
      const problem = policyShapeProblem(parsed);
      if (problem) {
        error.textContent = problem;
        return null;
      }
      return source;
    } catch (failure) {
      const at = jsonErrorPlace(source, failure);
      error.textContent = `Line ${at.line}, column ${at.column}: ${jsonMessage(failure.message)}.`;
      area.focus();
      area.setSelectionRange(at.offset, Math.min(source.length, at.offset + 1));
      caret();
      return null;
    }
  }
  format.addEventListener("click", () => {
    if (check() !== null) area.value = pretty(area.value);
  });
  save.addEventListener("click", async () => {
    await panel.run(save, () => savePolicy());
    remove.disabled = !stored;
  });
  async function savePolicy() {
    error.textContent = "";
    if (!area.value.trim()) throw new Error("The policy is empty: write one, or delete the policy.");
    const source = check();
    if (source === null) return null;
    try {
      await drain(await s3("PUT", objectPath(context.bucket), { query: { policy: "" },
        headers: { "content-type": "application/json" }, body: source }));
    } catch (failure) {
      if (failure.code !== "MalformedPolicy") throw failure;
      error.textContent = `The server refused the policy: ${failure.message}`;
      return null;
    }
    stored = true;
    return "Policy saved.";
  }
  remove.addEventListener("click", async () => {
    if (!(await confirmDialog("Delete the bucket policy?", "Every grant and denial it makes ends now."))) return;
    await panel.run(remove, async () => {
      await deleteBucketConfig(context.bucket, "policy");
      stored = false;
      area.value = "";
      error.textContent = "";
      return "Policy deleted.";
    });
    remove.disabled = !stored;
  });
  return panel.section;
}

function pretty(source) {
  try {
    return JSON.stringify(JSON.parse(source), null, 2);
  } catch {
    return source;
  }
}

function example(bucket) {
  return JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "ReadForOneUser", Effect: "Allow",
    Principal: { AWS: ["arn:aws:iam::<account id>:user/<name>"] }, Action: ["s3:GetObject"],
    Resource: [`arn:aws:s3:::${bucket}/*`] }] }, null, 2);
}

/* Default encryption */

function encryptionPanel(context) {
  const panel = settingsPanel("settings-encryption", "Default encryption",
    "SSE-S3: the server encrypts new objects with AES-256 and keys of its own. Clients can still ask for encryption per object.");
  const enabled = h("input", { type: "checkbox", id: "encryption-enabled", testid: "encryption-enabled", disabled: !context.write });
  const state = h("p", { testid: "encryption-state" });
  const save = h("button", { type: "button", class: "primary", testid: "encryption-save" }, "Save");
  panel.loading();
  const read = async () => {
    const doc = await bucketConfig(context.bucket, "encryption", ["ServerSideEncryptionConfigurationNotFoundError"]);
    return doc ? text(doc, "SSEAlgorithm") : "";
  };
  const show = (algorithm, asked) => {
    enabled.checked = Boolean(algorithm);
    state.textContent = algorithm === "AES256" ? "New objects are encrypted with SSE-S3 (AES-256)."
      : algorithm ? `New objects are encrypted with ${algorithm}.` : "New objects are not encrypted by default.";
    if (asked === false && algorithm) {
      state.textContent += " This server encrypts every new object at rest anyway (its own default), so the bucket cannot turn that off.";
    }
  };
  read().then((algorithm) => {
    show(algorithm);
    panel.show(state, h("div", { class: "check" }, enabled,
      h("label", { for: "encryption-enabled" }, "Encrypt new objects with SSE-S3 (AES-256)")));
    if (context.write) panel.actions(save);
  }, (failure) => panel.fail(failure));
  save.addEventListener("click", () => panel.run(save, async () => {
    if (enabled.checked) {
      await putBucketConfig(context.bucket, "encryption",
        `<ServerSideEncryptionConfiguration xmlns="${S3_NS}"><Rule><ApplyServerSideEncryptionByDefault>` +
        "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>");
    } else {
      await deleteBucketConfig(context.bucket, "encryption");
    }
    show(await read(), enabled.checked);
    return "Saved.";
  }));
  return panel.section;
}

/* Bucket tags */

function tagsPanel(context) {
  const panel = settingsPanel("settings-tags", "Bucket tags",
    "Up to 50 key and value pairs describing the bucket (for cost reports, owners, projects).");
  panel.loading();
  bucketConfig(context.bucket, "tagging", ["NoSuchTagSet"]).then((doc) => {
    const tags = doc ? all(doc, "Tag").map((node) => ({ key: text(node, "Key"), value: text(node, "Value") })) : [];
    tagEditor(context, panel, tags);
  }, (failure) => {
    if (failure.code === "NotImplemented" || failure.status === 501) {
      panel.section.classList.add("unavailable");
      panel.show(h("p", { class: "muted", testid: "bucket-tags-unavailable" }, "Bucket tags are not available on this server yet."));
    } else {
      panel.fail(failure);
    }
  });
  return panel.section;
}

function tagEditor(context, panel, tags) {
  const rows = h("tbody", {});
  const none = h("p", { class: "muted", testid: "bucket-tags-none", hidden: tags.length > 0 }, "No tags.");
  const addRow = (tag) => {
    none.hidden = true;
    const index = rows.children.length;
    const key = h("input", { value: tag.key, maxlength: 128, "aria-label": "Tag key", testid: `bucket-tag-key-${index}`, readonly: !context.write });
    const value = h("input", { value: tag.value, maxlength: 256, "aria-label": "Tag value", testid: `bucket-tag-value-${index}`, readonly: !context.write });
    const row = h("tr", { class: "tag" }, h("td", {}, key), h("td", {}, value),
      context.write ? h("td", {}, h("button", { type: "button", class: "small", "aria-label": "Remove this tag",
        onclick: () => { row.remove(); none.hidden = rows.children.length > 0; } }, "Remove")) : null);
    rows.append(row);
    return key;
  };
  tags.forEach(addRow);
  panel.show(h("table", { class: "compact" }, h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Value"),
    context.write ? h("th", {}, "") : null)), rows), none);
  if (!context.write) return;
  const add = h("button", { type: "button", testid: "bucket-tag-add", onclick: () => addRow({ key: "", value: "" }).focus() }, "Add tag");
  const save = h("button", { type: "button", class: "primary", testid: "bucket-tags-save" }, "Save tags");
  panel.actions(add, save);
  save.addEventListener("click", () => panel.run(save, async () => {
    const chosen = [...rows.querySelectorAll("tr.tag")].map((row) => {
      const [key, value] = row.querySelectorAll("input");
      return { key: key.value.trim(), value: value.value };
    }).filter((tag) => tag.key || tag.value);
    const keys = new Set(chosen.map((tag) => tag.key));
    if (chosen.some((tag) => !tag.key)) throw new Error("Every tag needs a key.");
    if (keys.size !== chosen.length) throw new Error("A key is there twice.");
    if (!chosen.length) {
      await deleteBucketConfig(context.bucket, "tagging");
      return "Tags removed.";
    }
    await putBucketConfig(context.bucket, "tagging", `<Tagging xmlns="${S3_NS}"><TagSet>` +
      chosen.map((tag) => `<Tag>${element("Key", tag.key)}${element("Value", tag.value)}</Tag>`).join("") + "</TagSet></Tagging>");
    return `Saved ${chosen.length} tag${chosen.length === 1 ? "" : "s"}.`;
  }));
}

/* Quota */

const UNITS = [["MiB", 2 ** 20], ["GiB", 2 ** 30], ["TiB", 2 ** 40]];

function quotaPanel(context) {
  const panel = settingsPanel("settings-quota", "Quota",
    "Limits on this bucket's stored bytes and number of objects, on top of its tenant's quota: a write must fit both.");
  const role = context.ctx.user?.role;
  if (!role || role === "user") {
    panel.show(h("p", { class: "muted", testid: "quota-admins-only" }, "Only administrators see and set bucket quotas."));
    return panel.section;
  }
  panel.loading();
  get(`/buckets/${seg(context.bucket)}`).then((info) => quotaForm(context, panel, info), (failure) => {
    panel.section.classList.add("unavailable");
    panel.show(h("p", { class: "muted" }, failure.status === 403 || failure.status === 404
      ? "The quota of this bucket is not yours to see (it belongs to another tenant)." : explain(failure)));
  });
  return panel.section;
}

function quotaForm(context, panel, info) {
  const editable = isAdmin(context.ctx.user);
  const usage = h("div", { testid: "quota-usage" });
  const storage = h("input", { type: "number", min: "0", step: "any", testid: "quota-storage", placeholder: "unlimited", readonly: !editable });
  const unit = h("select", { testid: "quota-unit", disabled: !editable }, UNITS.map(([name]) => h("option", { value: name }, name)));
  const objects = h("input", { type: "number", min: "0", step: "1", testid: "quota-objects", placeholder: "unlimited", readonly: !editable });
  const show = (bucket) => {
    const quota = bucket.quota || {};
    mount(usage,
      h("p", {}, `Stored: ${formatBytes(bucket.usage?.storage_bytes)} in ${(bucket.usage?.objects ?? 0).toLocaleString()} objects.`),
      bar(bucket.usage?.storage_bytes || 0, quota.storage_bytes, "quota-bar"),
      quota.objects !== null && quota.objects !== undefined
        ? h("p", { class: "hint" }, `Objects: ${(bucket.usage?.objects ?? 0).toLocaleString()} of ${quota.objects.toLocaleString()}.`) : null);
    const [unitName, unitSize] = [...UNITS].reverse().find(([, size]) => quota.storage_bytes && quota.storage_bytes % size === 0) || UNITS[1];
    unit.value = unitName;
    storage.value = quota.storage_bytes === null || quota.storage_bytes === undefined ? "" : String(quota.storage_bytes / unitSize);
    objects.value = quota.objects === null || quota.objects === undefined ? "" : String(quota.objects);
  };
  show(info);
  panel.show(usage, h("div", { class: "inline" }, field("Storage limit", storage), field("Unit", unit),
    field("Objects limit", objects)), editable ? h("p", { class: "hint" }, "An empty limit is unlimited.") : null);
  if (!editable) return;
  const save = h("button", { type: "button", class: "primary", testid: "quota-save" }, "Save quota");
  panel.actions(save);
  save.addEventListener("click", () => panel.run(save, async () => {
    const body = {};
    if (storage.value.trim()) {
      const bytes = Math.round(Number(storage.value) * UNITS.find(([name]) => name === unit.value)[1]);
      if (!(bytes >= 0)) throw new Error("The storage limit must be a number of at least 0.");
      body.storage_bytes = bytes;
    } else {
      body.storage_bytes = null;
    }
    if (objects.value.trim()) {
      const count = Number(objects.value);
      if (!Number.isInteger(count) || count < 0) throw new Error("The objects limit must be a whole number of at least 0.");
      body.objects = count;
    } else {
      body.objects = null;
    }
    show(await put(`/buckets/${seg(context.bucket)}/quota`, body));
    return body.storage_bytes === null && body.objects === null ? "The bucket has no quota now." : "Quota saved.";
  }));
}
