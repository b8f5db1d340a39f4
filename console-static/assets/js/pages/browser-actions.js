// What the bucket browser does to objects: download (a blob through the signed S3 proxy),
// delete one, delete many (DeleteObjects), restore or delete one version, create a folder, and
// the share-link dialog (a presigned URL with an expiry, never "make public").

import { get } from "../api.js";
import { s3, xml, text, objectPath, presign, escapeXml, uriEncode } from "../s3.js";
import { h, notify, confirmDialog, modal, field, formatTime } from "../ui.js";
import { s3Words, all, drain, duration, element, S3_NS } from "./bucket-common.js";

/** The last segment of a key (a folder's keeps its slash). */
export function baseName(key) {
  const trimmed = key.endsWith("/") ? key.slice(0, -1) : key;
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return key.endsWith("/") ? name + "/" : name;
}

/** Downloads an object (or one version) as a file: GET through s3(), then a blob: URL. */
export async function download(bucket, key, versionId, button) {
  const label = button?.textContent;
  if (button) {
    button.disabled = true;
    button.textContent = "Downloading…";
  }
  try {
    const query = versionId ? { versionId } : {};
    const blob = await (await s3("GET", objectPath(bucket, key), { query })).blob();
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: baseName(key) || "download", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    notify(`${baseName(key)} was not downloaded. ${s3Words(error)}`, "error");
  } finally {
    if (button) {
      button.disabled = false;
      button.textContent = label;
    }
  }
}

/** Words for what deleting means in this bucket. */
function deleteConsequence(versioning) {
  if (versioning === "Enabled") {
    return "Versioning is on: a delete marker hides the object, and its versions stay so that it can be restored (show versions).";
  }
  if (versioning === "Suspended") {
    return "Versioning is suspended: the current (null) version is removed; older versions stay.";
  }
  return "This cannot be undone.";
}

/** Asks, then deletes one object; resolves to true when it was deleted. */
export async function deleteObject(view, key) {
  const ok = await confirmDialog(`Delete ${baseName(key)}?`,
    `${key} will be deleted. ${deleteConsequence(view.versioning)}`);
  if (!ok) return false;
  try {
    await drain(await s3("DELETE", objectPath(view.bucket, key)));
    notify(`Deleted ${baseName(key)}.`, "ok");
    return true;
  } catch (error) {
    notify(`${baseName(key)} was not deleted. ${s3Words(error)}`, "error");
    return false;
  }
}

/** Asks, then deletes `keys` with DeleteObjects (1000 per request); resolves to the number
 *  deleted, and says which failed and why. */
export async function deleteMany(view, keys) {
  if (!keys.length) return 0;
  const shown = keys.slice(0, 5).map(baseName).join(", ") + (keys.length > 5 ? `, and ${keys.length - 5} more` : "");
  const ok = await confirmDialog(`Delete ${keys.length} object${keys.length === 1 ? "" : "s"}?`,
    `${shown}. ${deleteConsequence(view.versioning)}`);
  if (!ok) return 0;
  const failures = [];
  let deleted = 0;
  for (let start = 0; start < keys.length; start += 1000) {
    const batch = keys.slice(start, start + 1000);
    const body = `<Delete xmlns="${S3_NS}"><Quiet>true</Quiet>` +
      batch.map((key) => `<Object>${element("Key", key)}</Object>`).join("") + "</Delete>";
    try {
      const doc = await xml(await s3("POST", objectPath(view.bucket), { query: { delete: "" }, xmlBody: body }));
      const errors = all(doc, "Error").map((node) => ({ key: text(node, "Key"), code: text(node, "Code"),
        message: text(node, "Message") }));
      failures.push(...errors);
      deleted += batch.length - errors.length;
    } catch (error) {
      failures.push(...batch.map((key) => ({ key, code: error.code, message: error.message })));
    }
  }
  if (deleted) notify(`Deleted ${deleted} object${deleted === 1 ? "" : "s"}.`, "ok");
  if (failures.length) {
    const first = failures[0];
    notify(`${failures.length} object${failures.length === 1 ? " was" : "s were"} not deleted, ` +
      `${baseName(first.key)} for one: ${s3Words(first)}`, "error");
  }
  return deleted;
}

const KEPT_HEADERS = ["content-type", "cache-control", "content-disposition", "content-encoding", "content-language",
  "expires", "x-amz-website-redirect-location"];

/** The version's metadata, sent again with the REPLACE directive: this server refuses a copy
 *  onto the same key that changes nothing, even from an older version. */
async function versionHeaders(bucket, key, versionId) {
  const head = await s3("HEAD", objectPath(bucket, key), { query: { versionId } });
  const headers = { "x-amz-metadata-directive": "REPLACE" };
  for (const [name, value] of head.headers) {
    if (KEPT_HEADERS.includes(name) || name.startsWith("x-amz-meta-")) headers[name] = value;
  }
  const storageClass = head.headers.get("x-amz-storage-class");
  if (storageClass && storageClass !== "STANDARD") headers["x-amz-storage-class"] = storageClass;
  return headers;
}

/** Restores a version: copies it over the key, so it becomes the current version. */
export async function restoreVersion(view, key, versionId) {
  const ok = await confirmDialog(`Restore this version of ${baseName(key)}?`,
    `Version ${versionId} is copied over ${key} and becomes its current version; the version now current stays as an older one.`,
    "Restore", false);
  if (!ok) return false;
  const source = `/${uriEncode(view.bucket)}/${uriEncode(key, true)}?versionId=${encodeURIComponent(versionId)}`;
  try {
    const headers = { "x-amz-copy-source": source, ...(await versionHeaders(view.bucket, key, versionId)) };
    const doc = await xml(await s3("PUT", objectPath(view.bucket, key), { headers }));
    // A copy can fail after its 200: the error is then the body.
    if (doc.documentElement?.localName === "Error") {
      throw Object.assign(new Error(text(doc, "Message")), { code: text(doc, "Code") });
    }
    notify(`Restored ${baseName(key)} from version ${versionId}.`, "ok");
    return true;
  } catch (error) {
    notify(`The version was not restored. ${s3Words(error)}`, "error");
    return false;
  }
}

/** Deletes one version (or delete marker) for good, after asking. */
export async function deleteVersion(view, key, versionId, isDeleteMarker) {
  const what = isDeleteMarker ? "delete marker" : "version";
  const ok = await confirmDialog(`Delete this ${what} of ${baseName(key)}?`,
    isDeleteMarker
      ? `Removing the delete marker ${versionId} brings back the version before it, if any.`
      : `Version ${versionId} of ${key} will be deleted for good. This cannot be undone.`);
  if (!ok) return false;
  try {
    await drain(await s3("DELETE", objectPath(view.bucket, key), { query: { versionId } }));
    notify(`Deleted the ${what} ${versionId}.`, "ok");
    return true;
  } catch (error) {
    notify(`The ${what} was not deleted. ${s3Words(error)}`, "error");
    return false;
  }
}

/** Asks for a folder name and creates it as an empty `name/` object; resolves to its prefix. */
export function createFolder(view) {
  return new Promise((resolve) => {
    const input = h("input", { testid: "folder-name", autocomplete: "off", spellcheck: "false", required: true });
    const problem = h("p", { class: "error", role: "alert", testid: "folder-name-error" });
    const submit = h("button", { type: "submit", class: "primary", testid: "folder-create-submit" }, "Create");
    const form = h("form", {},
      field("Folder name", input, `Created in ${view.prefix ? view.prefix : "the top of the bucket"}. A folder is a name prefix: it shows while something is inside it.`),
      problem,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => close(null) }, "Cancel"), submit));
    const dialog = h("dialog", { class: "dialog", testid: "folder-dialog", "aria-label": "New folder" },
      h("h2", {}, "New folder"), form);
    function close(prefix) {
      dialog.close();
      dialog.remove();
      resolve(prefix);
    }
    dialog.addEventListener("cancel", () => close(null));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = input.value.trim().replace(/^\/+|\/+$/g, "");
      if (!name) {
        problem.textContent = "Enter a name.";
        return;
      }
      const prefix = `${view.prefix}${name}/`;
      if (new TextEncoder().encode(prefix).length > 1024) {
        problem.textContent = "That name is too long: a full object name has at most 1024 bytes.";
        return;
      }
      submit.disabled = true;
      try {
        await drain(await s3("PUT", objectPath(view.bucket, prefix), { body: "" }));
        close(prefix);
      } catch (error) {
        problem.textContent = s3Words(error);
        submit.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/** When the console session ends (its share links cannot outlive it), or null. */
async function sessionEnd() {
  try {
    return new Date((await get("/auth/session")).expires_at);
  } catch {
    return null;
  }
}

/** The share-link dialog: a presigned GET URL valid for the chosen number of hours. */
export async function shareDialog(bucket, key) {
  const ends = await sessionEnd();
  const expiry = h("input", { type: "number", testid: "share-expiry", min: "0.05", step: "any", value: "24",
    inputmode: "decimal", required: true });
  const create = h("button", { type: "button", class: "primary", testid: "share-create" }, "Create link");
  const url = h("input", { type: "text", readonly: true, testid: "share-url", class: "share-url",
    "aria-label": "Share link", placeholder: "The link appears here" });
  const copy = h("button", { type: "button", testid: "share-copy", disabled: true }, "Copy");
  const note = h("p", { testid: "share-note", role: "status" });
  const limit = ends ? ` Your console session ends ${formatTime(ends)} (in ${duration((ends - Date.now()) / 1000)}), and a link works at most until then.` : "";
  const content = h("div", { class: "share" },
    h("p", {}, `A share link is a presigned URL for ${key} (its current version): anyone who has it can download this object, `,
      "without signing in, until it expires. The object itself stays private; signing out or an ended session stops the link too."),
    h("div", { class: "inline" },
      field("Valid for (hours)", expiry, `Default 24 hours.${limit}`),
      h("div", { class: "field" }, create)),
    h("div", { class: "inline share-result" }, url, copy),
    note);
  modal(`Share ${baseName(key)}`, content, "share-dialog");
  create.addEventListener("click", async () => {
    const hours = Number(expiry.value);
    if (!(hours > 0)) {
      note.className = "error";
      note.textContent = "Enter a number of hours greater than 0.";
      return;
    }
    const wanted = Math.round(hours * 3600);
    create.disabled = true;
    try {
      const link = await presign("GET", bucket, key, wanted);
      url.value = link.url;
      copy.disabled = false;
      url.focus();
      url.select();
      note.className = "";
      note.textContent = expiryWords(link.expiresS, wanted);
    } catch (error) {
      note.className = "error";
      note.textContent = `No link was made. ${s3Words(error)}`;
    } finally {
      create.disabled = false;
    }
  });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(url.value);
      copy.textContent = "Copied";
    } catch {
      url.select();
      copy.textContent = "Press Ctrl+C to copy";
    }
    setTimeout(() => { copy.textContent = "Copy"; }, 2500);
  });
}

function expiryWords(effectiveS, wantedS) {
  const until = formatTime(Date.now() + effectiveS * 1000);
  if (effectiveS < wantedS) {
    return `The link works for ${duration(effectiveS)}, until ${until}, not the ${duration(wantedS)} asked: ` +
      "a share link cannot outlive your console session (nor 7 days).";
  }
  return `The link works for ${duration(effectiveS)}, until ${until}.`;
}

/** Escaped XML of tags for PutObjectTagging. */
export function taggingXml(tags) {
  return `<Tagging xmlns="${S3_NS}"><TagSet>` +
    tags.map((tag) => `<Tag><Key>${escapeXml(tag.key)}</Key><Value>${escapeXml(tag.value)}</Value></Tag>`).join("") +
    "</TagSet></Tagging>";
}
