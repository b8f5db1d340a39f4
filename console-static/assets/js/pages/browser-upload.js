// Uploads for the bucket browser: files and folders (drag-and-drop or file inputs) go up with
// XMLHttpRequest (for progress events) signed by s3.js: one PUT up to 8 MiB, multipart above
// (8 MiB parts or larger, at most 4 requests in flight in all, aborted on cancel or failure).
// One queue for the whole console, so uploads survive moving between folders; its panel shows
// a bar per file and one in total, with cancel buttons.

import { s3, xml, text, signed, objectPath, S3Error } from "../s3.js";
import { h, mount, formatBytes } from "../ui.js";
import { s3Words, drain, element, S3_NS } from "./bucket-common.js";

const SINGLE_PUT_MAX = 8 * 1024 * 1024;
const PART_MIN = 8 * 1024 * 1024;
const PARTS_MAX = 10_000;
const IN_FLIGHT_MAX = 4;
const RETRIES = 2;

class Cancelled extends Error {
  constructor() {
    super("Cancelled.");
    this.cancelled = true;
  }
}

/** A counting semaphore: at most `size` holders at once, served in order. */
class Slots {
  constructor(size) {
    this.free = size;
    this.waiting = [];
  }

  async take() {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise((resolve) => this.waiting.push(resolve));
  }

  give() {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

const slots = new Slots(IN_FLIGHT_MAX);

/** One signed request by XMLHttpRequest; resolves to the finished xhr, rejects with S3Error,
 *  a network error, or Cancelled. */
async function send(task, method, path, query, headers, body, onProgress) {
  if (task.cancelled) throw new Cancelled();
  const request = await signed(method, path, query, headers);
  if (task.cancelled) throw new Cancelled();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, request.url);
    for (const [name, value] of Object.entries(request.headers)) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    xhr.addEventListener("load", () => {
      task.requests.delete(xhr);
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
      else reject(xhrError(xhr));
    });
    xhr.addEventListener("error", () => {
      task.requests.delete(xhr);
      reject(Object.assign(new Error("The connection to the server failed."), { network: true }));
    });
    xhr.addEventListener("abort", () => {
      task.requests.delete(xhr);
      reject(new Cancelled());
    });
    task.requests.add(xhr);
    xhr.send(body);
  });
}

function xhrError(xhr) {
  const doc = xhr.responseText ? new DOMParser().parseFromString(xhr.responseText, "application/xml") : null;
  const pick = (tag) => doc?.getElementsByTagName(tag)[0]?.textContent || "";
  return new S3Error(xhr.status, pick("Code"), pick("Message") || `The server answered ${xhr.status}.`);
}

/** Retries a request that failed on the way (network, 5xx), not one the server refused. */
async function withRetries(task, attempt) {
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      const transient = error.network || error.status >= 500 || error.code === "SlowDown";
      if (task.cancelled || error.cancelled || !transient || tries >= RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000 * 3 ** tries));
    }
  }
}

/** One file going up to `key`. */
class UploadTask {
  constructor(queue, bucket, key, file, name) {
    Object.assign(this, { queue, bucket, key, file, name });
    this.loaded = 0;
    this.partLoaded = new Map();
    this.requests = new Set();
    this.cancelled = false;
    this.state = "waiting";
    this.row = this.buildRow();
  }

  get size() {
    return this.file.size;
  }

  buildRow() {
    const name = this.name;
    this.progress = h("progress", { max: Math.max(1, this.size), value: 0, testid: `upload-progress-${name}`,
      "aria-label": `Upload of ${name}` });
    this.status = h("span", { class: "upload-status", testid: `upload-status-${name}` }, "Waiting");
    this.cancelButton = h("button", { type: "button", class: "small", testid: `upload-cancel-${name}`,
      "aria-label": `Cancel the upload of ${name}`, onclick: () => this.cancel() }, "Cancel");
    return h("li", { class: "upload", testid: `upload-row-${name}` },
      h("span", { class: "upload-name" }, name, h("small", { class: "muted" }, ` ${formatBytes(this.size)}`)),
      this.progress, this.status, this.cancelButton);
  }

  setLoaded() {
    this.loaded = [...this.partLoaded.values()].reduce((sum, bytes) => sum + bytes, 0);
    this.progress.value = this.loaded;
    if (this.state === "running") {
      this.status.textContent = `${Math.floor((this.loaded / Math.max(1, this.size)) * 100)} %`;
    }
    this.queue.drawTotal();
  }

  async run() {
    this.state = "running";
    this.status.textContent = "0 %";
    try {
      if (new TextEncoder().encode(this.key).length > 1024) {
        throw new Error("The name is too long: a full object name has at most 1024 bytes.");
      }
      if (this.size <= SINGLE_PUT_MAX) await this.single();
      else await this.multipart();
      this.finish("done", "Done");
    } catch (error) {
      if (this.cancelled || error.cancelled) this.finish("cancelled", "Cancelled");
      else this.finish("failed", error instanceof S3Error ? s3Words(error) : error.message);
    }
  }

  contentType() {
    return this.file.type || "application/octet-stream";
  }

  async single() {
    await slots.take();
    try {
      await withRetries(this, () => send(this, "PUT", objectPath(this.bucket, this.key), {},
        { "content-type": this.contentType() }, this.file, (loaded) => {
          this.partLoaded.set(1, loaded);
          this.setLoaded();
        }));
    } finally {
      slots.give();
    }
  }

  async multipart() {
    const path = objectPath(this.bucket, this.key);
    const partSize = Math.max(PART_MIN, Math.ceil(this.size / PARTS_MAX / 1048576) * 1048576);
    const count = Math.ceil(this.size / partSize);
    const created = await xml(await s3("POST", path, { query: { uploads: "" },
      headers: { "content-type": this.contentType() } }));
    this.uploadId = text(created, "UploadId");
    try {
      const etags = await this.parts(path, partSize, count);
      await this.complete(path, etags);
    } catch (error) {
      await this.abort(path);
      throw error;
    }
  }

  /** Sends the parts, each taking one of the shared slots; resolves to their ETags. After a
   *  failure no new part starts, and the ones in flight finish before the upload is aborted. */
  async parts(path, partSize, count) {
    const etags = new Array(count);
    let next = 0;
    let failure = null;
    const worker = async () => {
      while (next < count && !this.cancelled && !failure) {
        const index = next++;
        await slots.take();
        try {
          etags[index] = await this.part(path, partSize, index);
        } catch (error) {
          failure = failure || error;
        } finally {
          slots.give();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT_MAX, count) }, worker));
    if (this.cancelled) throw new Cancelled();
    if (failure) throw failure;
    return etags;
  }

  async part(path, partSize, index) {
    const number = index + 1;
    const body = this.file.slice(index * partSize, Math.min(this.size, (index + 1) * partSize));
    const xhr = await withRetries(this, () => {
      this.partLoaded.set(number, 0);
      return send(this, "PUT", path, { partNumber: String(number), uploadId: this.uploadId }, {}, body,
        (loaded) => {
          this.partLoaded.set(number, loaded);
          this.setLoaded();
        });
    });
    this.partLoaded.set(number, body.size);
    this.setLoaded();
    return xhr.getResponseHeader("ETag");
  }

  async complete(path, etags) {
    const body = `<CompleteMultipartUpload xmlns="${S3_NS}">` +
      etags.map((etag, i) => `<Part>${element("PartNumber", i + 1)}${element("ETag", etag)}</Part>`).join("") +
      "</CompleteMultipartUpload>";
    const doc = await xml(await s3("POST", path, { query: { uploadId: this.uploadId }, xmlBody: body }));
    // CompleteMultipartUpload may fail after its 200: the error is then the body.
    if (doc.documentElement?.localName === "Error") {
      throw new S3Error(200, text(doc, "Code"), text(doc, "Message"));
    }
  }

  async abort(path) {
    try {
      await drain(await s3("DELETE", path, { query: { uploadId: this.uploadId } }));
    } catch {
      // The server drops stale multipart uploads by lifecycle rules; nothing more to do here.
    }
  }

  cancel() {
    if (this.state === "done" || this.state === "failed" || this.state === "cancelled") return;
    this.cancelled = true;
    if (this.state === "waiting") this.finish("cancelled", "Cancelled");
    for (const xhr of [...this.requests]) xhr.abort();
  }

  finish(state, words) {
    if (this.state === "done" || this.state === "failed" || this.state === "cancelled") return;
    this.state = state;
    if (state === "done") {
      this.partLoaded.clear();
      this.partLoaded.set(0, this.size);
      this.loaded = this.size;
      this.progress.max = Math.max(1, this.size);
      this.progress.value = this.progress.max;
    }
    // The words go in a child with a test id of their own: upload-done-<name> once it is up.
    const outcome = { done: "upload-done", failed: "upload-error", cancelled: "upload-cancelled" }[state];
    mount(this.status, h("span", { testid: `${outcome}-${this.name}` }, words));
    this.status.className = `upload-status ${state === "failed" ? "error" : state === "done" ? "ok" : "muted"}`;
    this.row.classList.add(state);
    this.cancelButton.remove();
    this.queue.settled(this);
  }
}

/** The console's upload queue and its panel. */
class UploadQueue {
  constructor() {
    this.tasks = [];
    this.listeners = new Set();
    this.list = h("ul", { class: "uploads-list", testid: "upload-list" });
    this.totalBar = h("progress", { max: 1, value: 0, testid: "upload-progress-total", "aria-label": "All uploads" });
    this.totalText = h("span", { testid: "upload-total-text", role: "status" });
    this.cancelAll = h("button", { type: "button", class: "small", testid: "upload-cancel-all",
      onclick: () => this.tasks.forEach((task) => task.cancel()) }, "Cancel all");
    this.clear = h("button", { type: "button", class: "small", testid: "upload-clear",
      onclick: () => this.clearFinished() }, "Clear finished");
    this.panel = h("section", { class: "panel uploads", testid: "uploads", "aria-label": "Uploads", hidden: true },
      h("div", { class: "uploads-head" }, h("h2", {}, "Uploads"), this.totalText,
        h("span", { class: "spacer" }), this.cancelAll, this.clear),
      this.totalBar, this.list);
    window.addEventListener("beforeunload", (event) => {
      if (this.active()) event.preventDefault();
    });
  }

  active() {
    return this.tasks.some((task) => task.state === "waiting" || task.state === "running");
  }

  /** Calls `listener(bucket)` whenever the queue drains after uploads to `bucket`. */
  onDrained(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Queues files: `items` are {file, path}, `path` relative to `prefix`. */
  add(bucket, prefix, items) {
    if (!items.length) return;
    for (const { file, path } of items) {
      const name = path;
      this.removeFinished((task) => task.name === name);
      const task = new UploadTask(this, bucket, prefix + path, file, name);
      this.tasks.push(task);
      this.list.append(task.row);
    }
    this.panel.hidden = false;
    this.drawTotal();
    // Every task starts now; the shared slots keep at most four requests in flight.
    for (const task of this.tasks) if (task.state === "waiting" && !task.started) {
      task.started = true;
      task.run();
    }
  }

  drawTotal() {
    // Cancelled uploads leave the total: it measures what is still meant to go up.
    const counted = this.tasks.filter((task) => task.state !== "cancelled");
    const size = counted.reduce((sum, task) => sum + task.size, 0);
    const loaded = counted.reduce((sum, task) => sum + (task.state === "done" ? task.size : task.loaded), 0);
    const done = counted.filter((task) => task.state === "done").length;
    const failed = counted.filter((task) => task.state === "failed").length;
    const cancelled = this.tasks.length - counted.length;
    this.totalBar.max = Math.max(1, size);
    this.totalBar.value = counted.length && done === counted.length ? this.totalBar.max : loaded;
    this.totalText.textContent = `${done} of ${counted.length} done, ${formatBytes(loaded)} of ${formatBytes(size)}` +
      (failed ? `, ${failed} failed` : "") + (cancelled ? `, ${cancelled} cancelled` : "");
    this.cancelAll.hidden = !this.active();
  }

  settled(task) {
    this.drawTotal();
    if (!this.active()) {
      for (const listener of this.listeners) listener(task.bucket);
    }
  }

  removeFinished(which = () => true) {
    this.tasks = this.tasks.filter((task) => {
      const finished = task.state !== "waiting" && task.state !== "running";
      if (finished && which(task)) {
        task.row.remove();
        return false;
      }
      return true;
    });
  }

  clearFinished() {
    this.removeFinished();
    this.panel.hidden = !this.tasks.length;
    this.drawTotal();
  }
}

export const uploads = new UploadQueue();

/** {file, path} for every file dropped, walking dropped folders. */
export async function droppedFiles(dataTransfer) {
  // Entries must be taken before the first await: the drop's items are gone after it.
  const entries = [...(dataTransfer.items || [])]
    .filter((item) => item.kind === "file").map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  const found = [];
  for (const entry of entries) await walk(entry, "", found);
  return found;
}

async function walk(entry, base, found) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    found.push({ file, path: base + file.name });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child, `${base}${entry.name}/`, found);
    }
  }
}

/** {file, path} for the files of an <input type=file> (a folder input keeps relative paths). */
export function pickedFiles(input) {
  return [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/** Mounts the queue's panel in `container`. */
export function mountUploads(container) {
  mount(container, uploads.panel);
}
