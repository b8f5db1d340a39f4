// Small DOM helpers shared by the pages: element building (text is always set as text, never
// parsed as HTML), notices, confirmation dialogs, byte and time formatting.

/** h("button", {class: "primary", onclick}, "Save") */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "testid") node.dataset.testid = value;
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    else if (name === "style" && typeof value === "object") Object.assign(node.style, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces the children of `node`. */
export function mount(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat(Infinity)) if (child) node.append(child);
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = Number(bytes), unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatTime(value) {
  if (!value) return "–";
  const date = typeof value === "number" ? new Date(value) : new Date(value);
  return date.toLocaleString();
}

/** A notice at the top of the page: kind is "error", "ok" or "info". */
export function notify(message, kind = "info") {
  let area = document.getElementById("notices");
  if (!area) {
    area = h("div", { id: "notices", role: "status", "aria-live": "polite", testid: "notices" });
    document.body.append(area);
  }
  const note = h("div", { class: `notice ${kind}`, testid: `notice-${kind}` }, message,
    h("button", { class: "close", "aria-label": "Dismiss", onclick: () => note.remove() }, "×"));
  area.append(note);
  if (kind !== "error") setTimeout(() => note.remove(), 6000);
}

/** Words for an error from the admin API or S3. */
export function explain(error) {
  if (!error) return "Something went wrong.";
  const code = error.code && !String(error.code).startsWith("HTTP") ? ` (${error.code})` : "";
  return `${error.message || "The request failed."}${code}`;
}

/** A modal dialog; resolves to true when confirmed. */
export function confirmDialog(title, message, confirmLabel = "Delete", danger = true) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", testid: "confirm-dialog", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, message),
      h("div", { class: "actions" },
        h("button", { type: "button", testid: "confirm-cancel", onclick: () => close(false) }, "Cancel"),
        h("button", { type: "button", class: danger ? "danger" : "primary", testid: "confirm-ok",
          onclick: () => close(true) }, confirmLabel)));
    function close(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A generic modal with `content` (a node) and buttons; returns {dialog, close}. */
export function modal(title, content, testid = "modal") {
  const dialog = h("dialog", { class: "dialog wide", testid, "aria-label": title },
    h("h2", {}, title), content,
    h("div", { class: "actions" }, h("button", { type: "button", testid: `${testid}-close`,
      onclick: () => close() }, "Close")));
  function close() {
    dialog.close();
    dialog.remove();
  }
  dialog.addEventListener("cancel", close);
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close };
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("small", { class: "hint" }, hint) : null);
}

/** A horizontal bar (usage of a quota). */
export function bar(used, total, testid) {
  if (!total) return h("span", { class: "muted" }, `${formatBytes(used)} (no quota)`);
  const percent = Math.min(100, Math.round((used / total) * 100));
  return h("div", { class: "quota", testid },
    h("div", { class: "bar", role: "progressbar", "aria-valuenow": percent, "aria-valuemin": 0,
      "aria-valuemax": 100, "aria-label": "quota used" },
      h("span", { class: percent >= 90 ? "fill warn" : "fill", style: { width: `${percent}%` } })),
    h("small", {}, `${formatBytes(used)} of ${formatBytes(total)} (${percent} %)`));
}

/** Downloads `text` as a file. */
export function saveText(name, text, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
