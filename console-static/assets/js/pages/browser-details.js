// An object's details in the bucket browser: metadata from HEAD, the tag editor
// (Get/Put/DeleteObjectTagging), and, when the bucket has object lock, legal hold and
// retention. Versions are shown in the list itself (its "Show versions" switch).

import { canWrite } from "../app.js";
import { s3, xml, text, objectPath } from "../s3.js";
import { h, mount, modal, field, formatBytes, formatTime } from "../ui.js";
import { s3Words, all, drain, element, objectLock, S3_NS } from "./bucket-common.js";
import { baseName, download, shareDialog, deleteObject, restoreVersion, deleteVersion, taggingXml } from "./browser-actions.js";

const TAGS_MAX = 10;

/** Opens the details dialog of `key` (the current version, or `versionId`). `done(changed)` is
 *  called when it closes; `options.latest` says the version is the current one. */
export async function openDetails(view, key, versionId, done = () => {}, options = {}) {
  const body = h("div", { class: "details" }, h("p", { class: "loading" }, "Loading…"));
  const { dialog, close } = modal(baseName(key) || key, body, "object-details");
  let changed = false;
  dialog.addEventListener("close", () => done(changed));
  const query = versionId ? { versionId } : {};
  let head;
  try {
    head = await s3("HEAD", objectPath(view.bucket, key), { query });
  } catch (error) {
    mount(body, h("p", { class: "error", testid: "details-error" },
      error.status === 404 ? "The object is gone (deleted, or it is a delete marker)." : s3Words(error)));
    return;
  }
  const write = canWrite(view.ctx.user);
  const actions = h("div", { class: "toolbar" },
    h("button", { type: "button", testid: "details-download",
      onclick: (event) => download(view.bucket, key, versionId, event.currentTarget) }, "Download"),
    versionId ? null : h("button", { type: "button", testid: "details-share", onclick: () => shareDialog(view.bucket, key) }, "Share link"),
    view.versioning && !versionId ? h("button", { type: "button", testid: "details-versions", onclick: () => {
      close();
      view.showVersionsOf(key);
    } }, "Show versions") : null,
    write && !versionId ? h("button", { type: "button", class: "danger", testid: "details-delete", onclick: async () => {
      if (await deleteObject(view, key)) {
        changed = true;
        close();
      }
    } }, "Delete") : null,
    write && versionId && !options.latest ? h("button", { type: "button", testid: "details-restore", onclick: async () => {
      if (await restoreVersion(view, key, versionId)) {
        changed = true;
        close();
      }
    } }, "Restore this version") : null,
    write && versionId ? h("button", { type: "button", class: "danger", testid: "details-delete-version", onclick: async () => {
      if (await deleteVersion(view, key, versionId, false)) {
        changed = true;
        close();
      }
    } }, "Delete this version") : null);
  mount(body, metadata(key, head.headers), actions, tagEditor(view, key, versionId, write));
  // Object lock is asked for only here (a versioned bucket without it answers 404), once.
  if (await lockedBucket(view)) body.append(lockPanel(view, key, versionId, head.headers, write));
}

const lockByBucket = new Map();

async function lockedBucket(view) {
  if (!lockByBucket.has(view.bucket)) {
    try {
      lockByBucket.set(view.bucket, Boolean(await objectLock(view.bucket, view.versioning)));
    } catch {
      return false;
    }
  }
  return lockByBucket.get(view.bucket);
}

function metadata(key, headers) {
  const rows = [
    ["Full name", key],
    ["Size", `${formatBytes(Number(headers.get("content-length")))} (${Number(headers.get("content-length")).toLocaleString()} bytes)`],
    ["Type", headers.get("content-type") || "–"],
    ["ETag", headers.get("etag") || "–"],
    ["Last modified", formatTime(headers.get("last-modified"))],
    ["Storage class", headers.get("x-amz-storage-class") || "STANDARD"],
    ["Encryption", encryptionWords(headers)],
    ["Version", headers.get("x-amz-version-id") || "– (versioning off)"],
  ];
  for (const name of ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"]) {
    if (headers.get(name)) rows.push([name, headers.get(name)]);
  }
  const user = [...headers.entries()].filter(([name]) => name.startsWith("x-amz-meta-"));
  return h("section", { testid: "object-metadata", "aria-label": "Metadata" },
    h("dl", { class: "meta" }, rows.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
    h("h3", {}, "User metadata"),
    user.length
      ? h("dl", { class: "meta", testid: "object-user-metadata" },
        user.map(([name, value]) => [h("dt", {}, name.slice("x-amz-meta-".length)), h("dd", {}, value)]))
      : h("p", { class: "muted", testid: "object-user-metadata" }, "None."));
}

function encryptionWords(headers) {
  const sse = headers.get("x-amz-server-side-encryption");
  if (headers.get("x-amz-server-side-encryption-customer-algorithm")) return "SSE-C (your own key)";
  if (sse === "AES256") return "SSE-S3 (AES-256, keys kept by the server)";
  if (sse) return sse;
  return "None (stored in clear)";
}

/** The tag editor: up to 10 key/value pairs, saved together. */
function tagEditor(view, key, versionId, write) {
  const rows = h("tbody", {});
  const message = h("p", { role: "status", testid: "tags-message" });
  const none = h("p", { class: "muted", testid: "tags-none", hidden: true }, "No tags.");
  const add = h("button", { type: "button", testid: "tag-add", onclick: () => addRow({ key: "", value: "" }, true) }, "Add tag");
  const save = h("button", { type: "button", class: "primary", testid: "tags-save" }, "Save tags");
  const section = h("section", { class: "tags", testid: "object-tags", "aria-label": "Tags" },
    h("h3", {}, "Tags"),
    h("table", { class: "compact" },
      h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Value"), write ? h("th", {}, "") : null)), rows),
    none, write ? h("div", { class: "toolbar" }, add, save) : null, message);
  function addRow(tag, focus = false) {
    if (!write) {
      rows.append(h("tr", {}, h("td", {}, tag.key), h("td", {}, tag.value)));
      return;
    }
    const index = rows.children.length;
    const keyInput = h("input", { value: tag.key, maxlength: 128, "aria-label": "Tag key", testid: `tag-key-${index}` });
    const valueInput = h("input", { value: tag.value, maxlength: 256, "aria-label": "Tag value", testid: `tag-value-${index}` });
    const row = h("tr", { class: "tag" }, h("td", {}, keyInput), h("td", {}, valueInput),
      h("td", {}, h("button", { type: "button", class: "small", "aria-label": "Remove this tag",
        onclick: () => { row.remove(); refresh(); } }, "Remove")));
    rows.append(row);
    if (focus) keyInput.focus();
    refresh();
  }
  function refresh() {
    add.disabled = rows.children.length >= TAGS_MAX;
    none.hidden = rows.children.length > 0;
  }
  function current() {
    return [...rows.querySelectorAll("tr.tag")].map((row) => {
      const [keyInput, valueInput] = row.querySelectorAll("input");
      return { key: keyInput.value.trim(), value: valueInput.value };
    }).filter((tag) => tag.key || tag.value);
  }
  save.addEventListener("click", async () => {
    const tags = current();
    const problem = tagProblem(tags);
    message.className = problem ? "error" : "";
    message.textContent = problem;
    if (problem) return;
    save.disabled = true;
    try {
      const query = { tagging: "", ...(versionId ? { versionId } : {}) };
      const path = objectPath(view.bucket, key);
      if (tags.length) await drain(await s3("PUT", path, { query, xmlBody: taggingXml(tags) }));
      else await drain(await s3("DELETE", path, { query }));
      message.className = "ok";
      message.textContent = tags.length ? `Saved ${tags.length} tag${tags.length === 1 ? "" : "s"}.` : "Tags removed.";
    } catch (error) {
      message.className = "error";
      message.textContent = `The tags were not saved. ${s3Words(error)}`;
    } finally {
      save.disabled = false;
    }
  });
  loadTags(view, key, versionId).then((tags) => {
    tags.forEach((tag) => addRow(tag));
    refresh();
  }).catch((error) => {
    message.className = "error";
    message.textContent = `The tags could not be read. ${s3Words(error)}`;
  });
  return section;
}

async function loadTags(view, key, versionId) {
  const query = { tagging: "", ...(versionId ? { versionId } : {}) };
  const doc = await xml(await s3("GET", objectPath(view.bucket, key), { query }));
  return all(doc, "Tag").map((node) => ({ key: text(node, "Key"), value: text(node, "Value") }));
}

function tagProblem(tags) {
  if (tags.length > TAGS_MAX) return `At most ${TAGS_MAX} tags.`;
  const seen = new Set();
  for (const tag of tags) {
    if (!tag.key) return "Every tag needs a key.";
    if (seen.has(tag.key)) return `The key “${tag.key}” is there twice.`;
    seen.add(tag.key);
  }
  return "";
}

/** Legal hold and retention of one version, in a bucket with object lock. */
function lockPanel(view, key, versionId, headers, write) {
  const query = versionId ? { versionId } : {};
  const path = objectPath(view.bucket, key);
  const holdState = h("strong", { testid: "legal-hold-state" }, headers.get("x-amz-object-lock-legal-hold") || "…");
  const holdButton = h("button", { type: "button", testid: "legal-hold-toggle", hidden: !write }, "…");
  const holdMessage = h("p", { role: "status", testid: "legal-hold-message" });
  const mode = h("select", { testid: "retention-mode" },
    h("option", { value: "" }, "None"),
    h("option", { value: "GOVERNANCE" }, "Governance (users with a bypass permission may shorten it)"),
    h("option", { value: "COMPLIANCE" }, "Compliance (nobody can shorten it)"));
  const until = h("input", { type: "datetime-local", testid: "retention-until" });
  const bypass = h("input", { type: "checkbox", id: `bypass-${Math.random().toString(36).slice(2)}`, testid: "retention-bypass" });
  const save = h("button", { type: "button", class: "primary", testid: "retention-save" }, "Save retention");
  const retentionMessage = h("p", { role: "status", testid: "retention-message" });
  const current = h("p", { testid: "retention-state" }, retentionWords(headers.get("x-amz-object-lock-mode"),
    headers.get("x-amz-object-lock-retain-until-date")));
  setRetentionInputs(headers.get("x-amz-object-lock-mode"), headers.get("x-amz-object-lock-retain-until-date"));

  function setRetentionInputs(modeValue, untilValue) {
    mode.value = modeValue || "";
    until.value = untilValue ? localInputValue(new Date(untilValue)) : "";
  }
  function showHold(status) {
    holdState.textContent = status === "ON" ? "On" : "Off";
    holdButton.textContent = status === "ON" ? "Remove legal hold" : "Place legal hold";
    holdButton.dataset.status = status;
  }
  showHold(headers.get("x-amz-object-lock-legal-hold") || "OFF");

  holdButton.addEventListener("click", async () => {
    const next = holdButton.dataset.status === "ON" ? "OFF" : "ON";
    holdButton.disabled = true;
    try {
      await drain(await s3("PUT", path, { query: { "legal-hold": "", ...query },
        xmlBody: `<LegalHold xmlns="${S3_NS}">${element("Status", next)}</LegalHold>` }));
      showHold(next);
      holdMessage.className = "ok";
      holdMessage.textContent = next === "ON" ? "Legal hold placed: this version cannot be deleted until it is removed." : "Legal hold removed.";
    } catch (error) {
      holdMessage.className = "error";
      holdMessage.textContent = `The legal hold was not changed. ${s3Words(error)}`;
    } finally {
      holdButton.disabled = false;
    }
  });

  save.addEventListener("click", async () => {
    const chosen = mode.value;
    if (chosen && !until.value) {
      retentionMessage.className = "error";
      retentionMessage.textContent = "Choose the date until which the version is kept.";
      return;
    }
    const date = chosen ? new Date(until.value) : null;
    if (date && date <= new Date()) {
      retentionMessage.className = "error";
      retentionMessage.textContent = "The date must be in the future.";
      return;
    }
    const body = chosen
      ? `<Retention xmlns="${S3_NS}">${element("Mode", chosen)}${element("RetainUntilDate", date.toISOString())}</Retention>`
      : `<Retention xmlns="${S3_NS}"/>`;
    const headersSent = bypass.checked ? { "x-amz-bypass-governance-retention": "true" } : {};
    save.disabled = true;
    try {
      await drain(await s3("PUT", path, { query: { retention: "", ...query }, headers: headersSent, xmlBody: body }));
      current.textContent = retentionWords(chosen, date?.toISOString());
      retentionMessage.className = "ok";
      retentionMessage.textContent = "Retention saved.";
    } catch (error) {
      retentionMessage.className = "error";
      retentionMessage.textContent = `The retention was not saved. ${s3Words(error)}`;
    } finally {
      save.disabled = false;
    }
  });

  const bypassLabel = h("label", { for: bypass.id }, "Bypass governance retention (to shorten or remove it)");
  return h("section", { class: "lock", testid: "object-lock", "aria-label": "Object lock" },
    h("h3", {}, "Object lock"),
    h("p", {}, "Legal hold: ", holdState, " ", holdButton), holdMessage,
    current,
    write ? h("div", { class: "inline" }, field("Retention mode", mode), field("Retain until (your local time)", until)) : null,
    write ? h("div", { class: "check" }, bypass, bypassLabel) : null,
    write ? h("div", { class: "toolbar" }, save) : null,
    retentionMessage);
}

function retentionWords(mode, until) {
  if (!mode) return "Retention: none.";
  const words = mode === "COMPLIANCE" ? "compliance (nobody can delete it or shorten this)"
    : "governance (only users allowed to bypass governance can delete it or shorten this)";
  return `Retention: ${words}, until ${formatTime(until)}.`;
}

/** A Date as the value of a datetime-local input, in local time. */
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
