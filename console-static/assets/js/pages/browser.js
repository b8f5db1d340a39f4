// The bucket browser (#/buckets/<bucket>?prefix=a/b/&search=x&versions=1): one page of
// ListObjectsV2 (or ListObjectVersions) at a time with "/" as delimiter, so folders show as
// folders and a bucket of any size lists as fast as a small one; breadcrumbs, search by
// prefix, sorting within the page, keyboard navigation, selection, uploads by drag-and-drop
// or file inputs, and each object's actions (browser-actions.js, browser-details.js).

import { canWrite } from "../app.js";
import { s3, xml, text, objectPath } from "../s3.js";
import { h, mount, notify, field, formatBytes, formatTime } from "../ui.js";
import { s3Words, all, children, versioningStatus, settingsHash } from "./bucket-common.js";
import { baseName, download, deleteObject, deleteMany, restoreVersion, deleteVersion, createFolder, shareDialog } from "./browser-actions.js";
import { openDetails } from "./browser-details.js";
import { uploads, droppedFiles, pickedFiles, mountUploads } from "./browser-upload.js";

const PAGE_SIZES = [100, 250, 500, 1000];
/** Remembered while the console is open: the page size chosen last, and whether the next
 *  render should put the focus on the table (a folder opened with the keyboard). */
const remembered = { pageSize: 1000, focusTable: false };
/** The browser page on screen, refreshed when the uploads to its bucket are over. */
const shown = { view: null };
uploads.onDrained((bucket) => {
  const view = shown.view;
  if (view?.root.isConnected && view.bucket === bucket) loadPage(view);
});

export async function render(root, ctx) {
  const view = {
    root, ctx,
    bucket: ctx.params.bucket,
    prefix: ctx.query.get("prefix") || "",
    search: ctx.query.get("search") || "",
    versions: ctx.query.get("versions") === "1",
    pageSize: remembered.pageSize,
    markers: [null], pageIndex: 0,
    sort: { by: "name", ascending: true },
    folders: [], entries: [], selected: new Set(), focus: 0,
  };
  view.showVersionsOf = (key) => view.ctx.navigate(hashFor(view, { prefix: parentOf(key), search: baseName(key), versions: true }));
  mount(root, heading(view), h("p", { class: "loading" }, "Loading…"));
  try {
    view.versioning = await versioningStatus(view.bucket);
  } catch (error) {
    mount(root, heading(view), h("p", { class: "error", testid: "browser-error" }, s3Words(error)),
      h("p", {}, h("a", { href: "#/buckets" }, "Back to the buckets")));
    return;
  }
  layout(view);
  await loadPage(view);
  if (remembered.focusTable) {
    remembered.focusTable = false;
    setTimeout(() => focusRow(view, 0), 0);
  }
}

const parentOf = (key) => key.slice(0, key.lastIndexOf("/") + 1);

/** The hash of this page with some of its state changed. */
function hashFor(view, changes = {}) {
  const next = { prefix: view.prefix, search: view.search, versions: view.versions, ...changes };
  const query = new URLSearchParams();
  if (next.prefix) query.set("prefix", next.prefix);
  if (next.search) query.set("search", next.search);
  if (next.versions) query.set("versions", "1");
  const text = query.toString().replace(/\+/g, "%20");
  return `#/buckets/${encodeURIComponent(view.bucket)}${text ? "?" + text : ""}`;
}

function heading(view) {
  const badges = [];
  if (view.versioning === "Enabled") badges.push(h("span", { class: "bk-badge", testid: "badge-versioning" }, "Versioning on"));
  if (view.versioning === "Suspended") badges.push(h("span", { class: "bk-badge", testid: "badge-versioning" }, "Versioning suspended"));
  return h("div", { class: "page-head" },
    h("h1", {}, h("span", { class: "visually-hidden" }, "Bucket "), view.bucket), badges,
    h("span", { class: "spacer" }),
    h("a", { href: settingsHash(view.bucket), class: "button", testid: "bucket-settings-link" }, "Bucket settings"));
}

function layout(view) {
  const write = canWrite(view.ctx.user);
  view.tbody = h("tbody", { onkeydown: (event) => onTableKey(view, event),
    onfocusin: (event) => onRowFocus(view, event) });
  view.selectAll = h("input", { type: "checkbox", testid: "select-all", "aria-label": "Select every object on this page",
    onchange: () => selectAll(view, view.selectAll.checked) });
  view.sortButtons = {
    name: sortButton(view, "name", "Name"),
    size: sortButton(view, "size", "Size"),
    date: sortButton(view, "date", "Last modified"),
  };
  view.status = h("p", { class: "muted", role: "status", testid: "listing-status" });
  view.pager = h("div", { class: "pager" });
  view.deleteSelected = h("button", { type: "button", class: "danger", testid: "delete-selected", disabled: true,
    onclick: () => deleteSelection(view) }, "Delete selected");
  const uploadArea = h("div", { class: "uploads-slot" });
  mountUploads(uploadArea);
  shown.view = view;
  const dropzone = h("div", { class: "dropzone-table", testid: "dropzone" },
    h("div", { class: "table-wrap" },
      h("table", { class: "objects", testid: "object-table", "aria-label": `Contents of ${view.prefix || view.bucket}` },
        h("thead", {}, view.headRow = h("tr", {},
          h("th", { class: "check-cell" }, view.versions || !write ? null : view.selectAll),
          h("th", { scope: "col", "aria-sort": "ascending" }, view.sortButtons.name),
          view.versions ? h("th", { scope: "col", class: "hide-narrow" }, "Version") : null,
          h("th", { scope: "col", class: "num" }, view.sortButtons.size),
          h("th", { scope: "col", class: "hide-narrow" }, view.sortButtons.date),
          h("th", { scope: "col", class: "hide-narrow" }, "Class"),
          h("th", { scope: "col", class: view.versions ? null : "hide-narrow" }, h("span", { class: "visually-hidden" }, "Actions")))),
        view.tbody)),
    write ? h("p", { class: "drop-hint hide-narrow" }, "Drop files or folders here to upload them to ",
      h("strong", {}, view.prefix || "the top of the bucket"), ".") : null);
  if (write) dropTarget(view, dropzone);
  mount(view.root,
    heading(view),
    breadcrumbs(view),
    toolbar(view, write),
    uploadArea,
    dropzone,
    view.pager,
    view.status);
}

function breadcrumbs(view) {
  const parts = view.prefix.split("/").filter(Boolean);
  const crumbs = [h("a", { href: "#/buckets", testid: "crumb-buckets" }, "Buckets"),
    h("span", { class: "sep", "aria-hidden": "true" }, "/"),
    h("a", { href: hashFor(view, { prefix: "", search: "" }), testid: "crumb-root",
    "aria-current": parts.length ? null : "page" }, view.bucket)];
  parts.forEach((part, i) => {
    const prefix = parts.slice(0, i + 1).join("/") + "/";
    crumbs.push(h("span", { class: "sep", "aria-hidden": "true" }, "/"),
      h("a", { href: hashFor(view, { prefix, search: "" }), testid: `crumb-${prefix}`,
        "aria-current": i === parts.length - 1 ? "page" : null }, part));
  });
  return h("nav", { class: "breadcrumbs", testid: "breadcrumbs", "aria-label": "Folder path" }, crumbs);
}

function toolbar(view, write) {
  const search = h("input", { type: "search", testid: "search-prefix", value: view.search, spellcheck: "false",
    placeholder: "Name starts with… (Enter)", autocomplete: "off" });
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    view.ctx.navigate(hashFor(view, { search: search.value }));
  });
  search.addEventListener("search", () => {
    // The clear button of a search field: back to the whole folder.
    if (!search.value && view.search) view.ctx.navigate(hashFor(view, { search: "" }));
  });
  const versions = h("input", { type: "checkbox", id: "versions-toggle", testid: "versions-toggle",
    checked: view.versions, onchange: () => view.ctx.navigate(hashFor(view, { versions: versions.checked })) });
  const size = h("select", { testid: "page-size", onchange: () => {
    remembered.pageSize = view.pageSize = Number(size.value);
    view.markers = [null];
    view.pageIndex = 0;
    loadPage(view);
  } }, PAGE_SIZES.map((n) => h("option", { value: n, selected: n === view.pageSize }, `${n} per page`)));
  const fileInput = h("input", { type: "file", multiple: true, id: "upload-input", testid: "upload-input", class: "visually-hidden" });
  const folderInput = h("input", { type: "file", multiple: true, webkitdirectory: true, id: "upload-folder-input",
    testid: "upload-folder-input", class: "visually-hidden" });
  for (const input of [fileInput, folderInput]) {
    input.addEventListener("change", () => {
      uploads.add(view.bucket, view.prefix, pickedFiles(input));
      input.value = "";
    });
  }
  return h("div", { class: "toolbar browser-toolbar" },
    field(view.prefix ? "Search in this folder" : "Search by name", search),
    h("div", { class: "check" }, versions, h("label", { for: "versions-toggle" }, "Show versions")),
    h("label", { class: "visually-hidden", for: "page-size" }, "Objects per page"),
    Object.assign(size, { id: "page-size" }),
    h("span", { class: "spacer" }),
    write ? [
      h("button", { type: "button", testid: "folder-create", onclick: async () => {
        const prefix = await createFolder(view);
        if (prefix) view.ctx.navigate(hashFor(view, { prefix, search: "" }));
      } }, "New folder"),
      h("span", { class: "file-button" }, fileInput, h("label", { for: "upload-input", class: "button primary" }, "Upload files")),
      h("span", { class: "file-button" }, folderInput, h("label", { for: "upload-folder-input", class: "button" }, "Upload folder")),
      view.versions ? null : view.deleteSelected,
    ] : null);
}

function sortButton(view, by, label) {
  return h("button", { type: "button", testid: `sort-${by}`, onclick: () => {
    view.sort = { by, ascending: view.sort.by === by ? !view.sort.ascending : true };
    drawRows(view);
  } }, label, h("span", { class: "sort-mark", "aria-hidden": "true" }));
}

function dropTarget(view, zone) {
  let depth = 0;
  zone.addEventListener("dragenter", (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    depth += 1;
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("over");
  });
  zone.addEventListener("dragover", (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove("over");
    try {
      uploads.add(view.bucket, view.prefix, await droppedFiles(event.dataTransfer));
    } catch (error) {
      notify(`The dropped files could not be read: ${error.message}`, "error");
    }
  });
}

/** Loads the current page of the listing and draws it. */
async function loadPage(view) {
  view.status.textContent = "Loading…";
  view.tbody.setAttribute("aria-busy", "true");
  try {
    const page = view.versions ? await listVersions(view) : await listObjects(view);
    view.folders = page.folders;
    view.entries = page.entries;
    view.markers[view.pageIndex + 1] = page.next;
    view.markers.length = view.pageIndex + 2;
  } catch (error) {
    view.folders = [];
    view.entries = [];
    view.tbody.removeAttribute("aria-busy");
    mount(view.tbody, h("tr", {}, h("td", { colspan: 7, class: "error", testid: "listing-error" },
      `The listing failed. ${s3Words(error)}`)));
    view.status.textContent = "";
    return;
  }
  view.tbody.removeAttribute("aria-busy");
  const keys = new Set(view.entries.map((entry) => entry.key));
  for (const key of view.selected) if (!keys.has(key)) view.selected.delete(key);
  drawRows(view);
  drawPager(view);
}

function listQuery(view) {
  const query = { delimiter: "/", "max-keys": String(view.pageSize) };
  const prefix = view.prefix + view.search;
  if (prefix) query.prefix = prefix;
  return query;
}

/** One page of ListObjectsV2: folders (common prefixes) and objects. */
async function listObjects(view) {
  const query = { "list-type": "2", ...listQuery(view) };
  const token = view.markers[view.pageIndex];
  if (token) query["continuation-token"] = token;
  const doc = await xml(await s3("GET", objectPath(view.bucket), { query }));
  const result = doc.documentElement;
  const folders = children(result, "CommonPrefixes").map((node) => text(node, "Prefix"));
  const entries = children(result, "Contents").map((node) => ({
    key: text(node, "Key"), size: Number(text(node, "Size")), modified: text(node, "LastModified"),
    etag: text(node, "ETag"), storageClass: text(node, "StorageClass") || "STANDARD",
  // The folder's own marker object ("a/b/" inside "a/b/") is the folder itself.
  })).filter((entry) => entry.key !== view.prefix);
  const truncated = text(result, "IsTruncated") === "true";
  return { folders, entries, next: truncated ? text(result, "NextContinuationToken") : null };
}

/** One page of ListObjectVersions: folders, versions and delete markers in the server's order. */
async function listVersions(view) {
  const query = { versions: "", ...listQuery(view) };
  const marker = view.markers[view.pageIndex];
  if (marker) {
    query["key-marker"] = marker.key;
    if (marker.versionId) query["version-id-marker"] = marker.versionId;
  }
  const doc = await xml(await s3("GET", objectPath(view.bucket), { query }));
  const result = doc.documentElement;
  const folders = children(result, "CommonPrefixes").map((node) => text(node, "Prefix"));
  const entries = [...result.children].filter((node) => node.localName === "Version" || node.localName === "DeleteMarker")
    .map((node) => ({
      key: text(node, "Key"), versionId: text(node, "VersionId"), latest: text(node, "IsLatest") === "true",
      deleteMarker: node.localName === "DeleteMarker", size: Number(text(node, "Size") || 0),
      modified: text(node, "LastModified"), storageClass: text(node, "StorageClass") || (node.localName === "DeleteMarker" ? "" : "STANDARD"),
    }));
  const truncated = text(result, "IsTruncated") === "true";
  const next = truncated ? { key: text(result, "NextKeyMarker"), versionId: text(result, "NextVersionIdMarker") } : null;
  return { folders, entries, next };
}

function compare(view) {
  const { by, ascending } = view.sort;
  const sign = ascending ? 1 : -1;
  const byName = (a, b) => a.key.localeCompare(b.key, undefined, { numeric: true });
  if (by === "size") return (a, b) => sign * (a.size - b.size) || byName(a, b);
  if (by === "date") return (a, b) => sign * (Date.parse(a.modified) - Date.parse(b.modified)) || byName(a, b);
  return (a, b) => sign * byName(a, b);
}

/** Draws the rows: folders first, then the page's objects in the chosen order. */
function drawRows(view) {
  for (const [by, button] of Object.entries(view.sortButtons)) {
    const active = view.sort.by === by;
    button.closest("th")?.setAttribute("aria-sort", active ? (view.sort.ascending ? "ascending" : "descending") : "none");
    button.querySelector(".sort-mark").textContent = active ? (view.sort.ascending ? " ▲" : " ▼") : "";
  }
  const folderOrder = view.sort.by === "name" && !view.sort.ascending ? -1 : 1;
  const folders = [...view.folders].sort((a, b) => folderOrder * a.localeCompare(b, undefined, { numeric: true }));
  const entries = [...view.entries].sort(compare(view));
  view.rows = [
    ...folders.map((prefix) => ({ kind: "folder", prefix })),
    ...entries.map((entry) => ({ kind: view.versions ? "version" : "object", entry })),
  ];
  if (!view.rows.length) {
    mount(view.tbody, h("tr", {}, h("td", { colspan: 7, class: "empty", testid: "folder-empty" }, emptyWords(view))));
  } else {
    view.focus = Math.min(view.focus, view.rows.length - 1);
    mount(view.tbody, view.rows.map((row, index) => drawRow(view, row, index)));
  }
  drawSelection(view);
}

function emptyWords(view) {
  if (view.search) return `Nothing here has a name starting with “${view.search}”.`;
  if (view.pageIndex > 0) return "This page is empty.";
  if (!canWrite(view.ctx.user)) return view.prefix ? "This folder is empty." : "This bucket is empty.";
  return view.prefix ? "This folder is empty — drop files here, or use Upload files."
    : "This bucket is empty — drop files here, or use Upload files.";
}

function drawRow(view, row, index) {
  const attributes = { tabindex: index === view.focus ? "0" : "-1", "data-index": index };
  if (row.kind === "folder") return folderRow(view, row.prefix, attributes);
  if (row.kind === "version") return versionRow(view, row.entry, attributes);
  return objectRow(view, row.entry, attributes);
}

function displayName(view, key) {
  return key.startsWith(view.prefix) ? key.slice(view.prefix.length) : key;
}

function folderRow(view, prefix, attributes) {
  return h("tr", { ...attributes, class: "folder", testid: `folder-row-${prefix}` },
    h("td", { class: "check-cell" }),
    h("td", { class: "obj-name" }, h("span", { class: "icon folder", "aria-hidden": "true" }),
      h("a", { href: hashFor(view, { prefix, search: "" }), testid: `folder-link-${prefix}` }, displayName(view, prefix))),
    view.versions ? h("td", { class: "hide-narrow" }) : null,
    h("td", { class: "num muted" }, "Folder"),
    h("td", { class: "hide-narrow" }),
    h("td", { class: "hide-narrow" }),
    h("td", { class: view.versions ? null : "hide-narrow" }));
}

function objectRow(view, entry, attributes) {
  const write = canWrite(view.ctx.user);
  const key = entry.key;
  const selected = view.selected.has(key);
  const name = displayName(view, key);
  return h("tr", { ...attributes, class: selected ? "object selected" : "object", "aria-selected": String(selected),
    testid: `object-row-${key}` },
    h("td", { class: "check-cell" }, write ? h("input", { type: "checkbox", checked: selected, testid: `object-select-${key}`,
      "aria-label": `Select ${name}`, onchange: (event) => toggle(view, key, event.target.checked) }) : null),
    h("td", { class: "obj-name" }, h("span", { class: "icon file", "aria-hidden": "true" }),
      h("button", { type: "button", class: "link key", testid: `object-open-${key}`, title: "Details",
        onclick: () => details(view, key) }, name)),
    h("td", { class: "num" }, formatBytes(entry.size)),
    h("td", { class: "hide-narrow", title: entry.modified }, formatTime(entry.modified)),
    h("td", { class: "hide-narrow" }, entry.storageClass),
    h("td", { class: "object-actions hide-narrow" },
      h("button", { type: "button", class: "small", testid: `object-download-${key}`, "aria-label": `Download ${name}`,
        onclick: (event) => download(view.bucket, key, null, event.currentTarget) }, "Download"),
      h("button", { type: "button", class: "small", testid: `object-share-${key}`, "aria-label": `Share ${name}`,
        onclick: () => shareDialog(view.bucket, key) }, "Share"),
      write ? h("button", { type: "button", class: "small danger", testid: `object-delete-${key}`, "aria-label": `Delete ${name}`,
        onclick: async () => { if (await deleteObject(view, key)) loadPage(view); } }, "Delete") : null));
}

function versionRow(view, entry, attributes) {
  const write = canWrite(view.ctx.user);
  const { key, versionId } = entry;
  const name = displayName(view, key);
  const badges = [
    entry.latest ? h("span", { class: "bk-badge" }, "current") : null,
    entry.deleteMarker ? h("span", { class: "bk-badge warn" }, "delete marker") : null,
  ];
  return h("tr", { ...attributes, class: entry.deleteMarker ? "version marker" : "version", testid: `version-row-${versionId}`,
    "data-key": key },
    h("td", { class: "check-cell" }),
    h("td", { class: "obj-name" }, h("span", { class: "icon file", "aria-hidden": "true" }),
      entry.deleteMarker ? h("span", { class: "key" }, name)
        : h("button", { type: "button", class: "link key", testid: `version-open-${versionId}`,
          onclick: () => details(view, key, versionId, entry.latest) }, name),
      " ", badges),
    h("td", { class: "hide-narrow version-id" }, versionId),
    h("td", { class: "num" }, entry.deleteMarker ? "–" : formatBytes(entry.size)),
    h("td", { class: "hide-narrow", title: entry.modified }, formatTime(entry.modified)),
    h("td", { class: "hide-narrow" }, entry.storageClass),
    h("td", { class: "object-actions" },
      entry.deleteMarker ? null : h("button", { type: "button", class: "small", testid: `version-download-${versionId}`,
        "aria-label": `Download version ${versionId} of ${name}`,
        onclick: (event) => download(view.bucket, key, versionId, event.currentTarget) }, "Download"),
      write && !entry.deleteMarker && !entry.latest ? h("button", { type: "button", class: "small", testid: `version-restore-${versionId}`,
        "aria-label": `Restore version ${versionId} of ${name}`,
        onclick: async () => { if (await restoreVersion(view, key, versionId)) loadPage(view); } }, "Restore") : null,
      write ? h("button", { type: "button", class: "small danger", testid: `version-delete-${versionId}`,
        "aria-label": `Delete version ${versionId} of ${name}`,
        onclick: async () => { if (await deleteVersion(view, key, versionId, entry.deleteMarker)) loadPage(view); } }, "Delete") : null));
}

function details(view, key, versionId, latest = false) {
  openDetails(view, key, versionId, (changed) => {
    if (changed) loadPage(view);
    else focusRow(view, view.focus);
  }, { latest });
}

function drawPager(view) {
  const first = view.pageIndex * view.pageSize + 1;
  const count = view.folders.length + view.entries.length;
  const hasNext = Boolean(view.markers[view.pageIndex + 1]);
  view.pager.hidden = view.pageIndex === 0 && !hasNext;
  const what = (view.versions ? "version" : "object") + (view.entries.length === 1 ? "" : "s");
  mount(view.pager,
    h("button", { type: "button", testid: "page-prev", disabled: view.pageIndex === 0,
      onclick: () => turnPage(view, -1) }, "‹ Previous"),
    h("span", { testid: "page-number" }, `Page ${view.pageIndex + 1}`),
    h("button", { type: "button", testid: "page-next", disabled: !hasNext,
      onclick: () => turnPage(view, 1) }, "Next ›"));
  view.status.textContent = count
    ? `${view.folders.length ? `${view.folders.length} folder${view.folders.length === 1 ? "" : "s"}, ` : ""}` +
      `${view.entries.length.toLocaleString()} ${what} on this page` +
      (view.pageIndex > 0 || hasNext ? ` (page ${view.pageIndex + 1}, from entry ${first.toLocaleString()}${hasNext ? "; there are more" : ""})` : "") + "."
    : "";
}

async function turnPage(view, step) {
  view.pageIndex = Math.max(0, view.pageIndex + step);
  view.selected.clear();
  view.focus = 0;
  await loadPage(view);
  focusRow(view, 0);
}

/* Selection */

function toggle(view, key, on) {
  if (on) view.selected.add(key);
  else view.selected.delete(key);
  const row = view.tbody.querySelector(`tr[data-testid="object-row-${CSS.escape(key)}"]`);
  if (row) {
    row.classList.toggle("selected", on);
    row.setAttribute("aria-selected", String(on));
    const box = row.querySelector("input[type=checkbox]");
    if (box) box.checked = on;
  }
  drawSelection(view);
}

function selectAll(view, on) {
  for (const entry of view.entries) toggle(view, entry.key, on);
}

function drawSelection(view) {
  const count = view.selected.size;
  const total = view.versions ? 0 : view.entries.length;
  view.deleteSelected.disabled = !count;
  view.deleteSelected.textContent = count ? `Delete selected (${count})` : "Delete selected";
  view.selectAll.checked = total > 0 && count === total;
  view.selectAll.indeterminate = count > 0 && count < total;
}

async function deleteSelection(view) {
  const keys = [...view.selected];
  if (!keys.length) return;
  if (await deleteMany(view, keys)) {
    view.selected.clear();
    await loadPage(view);
  }
}

/* Keyboard: arrows move between rows, Enter opens, Space selects, Delete deletes. */

function focusRow(view, index) {
  const rows = view.tbody.querySelectorAll("tr[data-index]");
  if (!rows.length) return;
  const target = rows[Math.max(0, Math.min(rows.length - 1, index))];
  for (const row of rows) row.tabIndex = row === target ? 0 : -1;
  view.focus = Number(target.dataset.index);
  target.focus();
}

function onRowFocus(view, event) {
  const row = event.target.closest("tr[data-index]");
  if (!row) return;
  view.focus = Number(row.dataset.index);
  for (const other of view.tbody.querySelectorAll("tr[data-index]")) other.tabIndex = other === row ? 0 : -1;
}

function onTableKey(view, event) {
  const rowNode = event.target.closest("tr[data-index]");
  if (!rowNode || event.altKey || event.ctrlKey || event.metaKey) return;
  const index = Number(rowNode.dataset.index);
  // Keys other than the arrows belong to the control in the row that has the focus, if any.
  const onRow = event.target === rowNode;
  const row = view.rows[index];
  let handled = true;
  switch (event.key) {
    case "ArrowDown": focusRow(view, index + 1); break;
    case "ArrowUp": focusRow(view, index - 1); break;
    case "Home": if (onRow) focusRow(view, 0); else handled = false; break;
    case "End": if (onRow) focusRow(view, view.rows.length - 1); else handled = false; break;
    case "PageDown": if (onRow) focusRow(view, index + 10); else handled = false; break;
    case "PageUp": if (onRow) focusRow(view, index - 10); else handled = false; break;
    case "Enter": handled = onRow && openRow(view, row); break;
    case " ": handled = onRow && toggleFromKeyboard(view, row); break;
    case "Delete": handled = (onRow || event.target.type === "checkbox") && deleteFromKeyboard(view, row); break;
    default: handled = false;
  }
  if (handled) event.preventDefault();
}

function toggleFromKeyboard(view, row) {
  if (row.kind !== "object" || !canWrite(view.ctx.user)) return false;
  toggle(view, row.entry.key, !view.selected.has(row.entry.key));
  return true;
}

function openRow(view, row) {
  if (row.kind === "folder") {
    remembered.focusTable = true;
    view.ctx.navigate(hashFor(view, { prefix: row.prefix, search: "" }));
  } else if (row.kind === "version") {
    if (!row.entry.deleteMarker) details(view, row.entry.key, row.entry.versionId, row.entry.latest);
  } else {
    details(view, row.entry.key);
  }
  return true;
}

function deleteFromKeyboard(view, row) {
  if (!canWrite(view.ctx.user)) return false;
  if (view.selected.size) {
    deleteSelection(view);
  } else if (row.kind === "object") {
    deleteObject(view, row.entry.key).then((deleted) => deleted && loadPage(view));
  } else if (row.kind === "version") {
    deleteVersion(view, row.entry.key, row.entry.versionId, row.entry.deleteMarker).then((deleted) => deleted && loadPage(view));
  } else {
    return false;
  }
  return true;
}
