// The two rule tables of the bucket settings: lifecycle rules (expiration, noncurrent
// expiration, abort of incomplete multipart uploads, by prefix) and CORS rules (origins,
// methods, headers, max age). Lifecycle rules using what this editor does not show (tags,
// transitions, dates) are kept as they are and can only be removed.

import { h, mount } from "../ui.js";
import { text } from "../s3.js";
import { bucketConfig, putBucketConfig, deleteBucketConfig, children, element, S3_NS } from "./bucket-common.js";
import { settingsPanel } from "./bucket-settings-panel.js";

/* Lifecycle */

const RULE_PARTS = new Set(["ID", "Status", "Filter", "Prefix", "Expiration", "NoncurrentVersionExpiration",
  "AbortIncompleteMultipartUpload"]);

/** A Rule element as an editable rule, or {raw} when it uses more than the editor shows. */
function parseLifecycleRule(node) {
  const only = (parent, names) => !parent || [...parent.children].every((child) => names.includes(child.localName));
  const filter = children(node, "Filter")[0];
  const expiration = children(node, "Expiration")[0];
  const noncurrent = children(node, "NoncurrentVersionExpiration")[0];
  const abort = children(node, "AbortIncompleteMultipartUpload")[0];
  const simple = [...node.children].every((child) => RULE_PARTS.has(child.localName)) &&
    only(filter, ["Prefix"]) && only(expiration, ["Days"]) && only(noncurrent, ["NoncurrentDays"]) &&
    only(abort, ["DaysAfterInitiation"]);
  const rule = {
    id: text(node, "ID"),
    status: text(node, "Status") || "Enabled",
    prefix: filter ? text(filter, "Prefix") : text(node, "Prefix"),
    expiration: expiration ? text(expiration, "Days") : "",
    noncurrent: noncurrent ? text(noncurrent, "NoncurrentDays") : "",
    abort: abort ? text(abort, "DaysAfterInitiation") : "",
  };
  if (!simple) rule.raw = new XMLSerializer().serializeToString(node);
  return rule;
}

function lifecycleRuleXml(rule) {
  if (rule.raw) return rule.raw;
  return "<Rule>" + element("ID", rule.id) + `<Filter>${element("Prefix", rule.prefix)}</Filter>` + element("Status", rule.status) +
    (rule.expiration ? `<Expiration>${element("Days", rule.expiration)}</Expiration>` : "") +
    (rule.noncurrent ? `<NoncurrentVersionExpiration>${element("NoncurrentDays", rule.noncurrent)}</NoncurrentVersionExpiration>` : "") +
    (rule.abort ? `<AbortIncompleteMultipartUpload>${element("DaysAfterInitiation", rule.abort)}</AbortIncompleteMultipartUpload>` : "") +
    "</Rule>";
}

function lifecycleProblem(rules) {
  const ids = new Set();
  for (const [i, rule] of rules.entries()) {
    const name = `Rule ${i + 1}${rule.id ? ` (${rule.id})` : ""}`;
    if (rule.id.length > 255) return `${name}: the ID is longer than 255 characters.`;
    if (ids.has(rule.id)) return `${name}: another rule has the same ID.`;
    ids.add(rule.id);
    if (rule.raw) continue;
    for (const [field, words] of [["expiration", "Expire after"], ["noncurrent", "Old versions expire after"], ["abort", "Abort unfinished uploads after"]]) {
      if (rule[field] && !/^[1-9]\d*$/.test(rule[field])) return `${name}: “${words}” must be a whole number of days, at least 1.`;
    }
    if (!rule.expiration && !rule.noncurrent && !rule.abort) return `${name}: give at least one number of days (or remove the rule).`;
  }
  return "";
}

export function lifecyclePanel(context) {
  const panel = settingsPanel("settings-lifecycle", "Lifecycle rules",
    "Rules the server applies every day: delete objects some days after they were written, delete old versions some days after they stopped being current, and abort multipart uploads left unfinished. A rule applies to the names starting with its prefix (empty: the whole bucket).");
  const rows = h("tbody", {});
  const add = h("button", { type: "button", testid: "lifecycle-add" }, "Add rule");
  const save = h("button", { type: "button", class: "primary", testid: "lifecycle-save" }, "Save rules");
  let rules = [];
  panel.loading();
  bucketConfig(context.bucket, "lifecycle", ["NoSuchLifecycleConfiguration"]).then((doc) => {
    rules = doc ? [...doc.getElementsByTagName("Rule")].map(parseLifecycleRule) : [];
    draw();
    panel.show(h("div", { class: "rules-wrap" }, h("table", { class: "rules compact", testid: "lifecycle-rules" },
      h("thead", {}, h("tr", {},
        h("th", {}, "ID"), h("th", {}, "Prefix"), h("th", {}, "Expire after (days)"),
        h("th", {}, "Old versions expire after (days)"), h("th", {}, "Abort unfinished uploads after (days)"),
        h("th", {}, "Status"), context.write ? h("th", {}, "") : null)),
      rows)));
    if (context.write) panel.actions(add, save);
  }, (failure) => panel.fail(failure));

  function draw() {
    if (!rules.length) {
      mount(rows, h("tr", {}, h("td", { colspan: 7, class: "empty", testid: "lifecycle-empty" }, "No rules: objects stay until someone deletes them.")));
      return;
    }
    mount(rows, rules.map((rule, index) => rule.raw ? rawRow(rule, index) : ruleRow(rule, index)));
  }
  function input(rule, name, index, attributes = {}) {
    const node = h("input", { value: rule[name], testid: `lifecycle-${name}-${index}`, readonly: !context.write,
      "aria-label": `${name} of rule ${index + 1}`, ...attributes });
    node.addEventListener("input", () => { rule[name] = node.value.trim(); });
    return node;
  }
  function ruleRow(rule, index) {
    const status = h("select", { testid: `lifecycle-status-${index}`, disabled: !context.write, "aria-label": `Status of rule ${index + 1}` },
      h("option", { value: "Enabled" }, "Enabled"), h("option", { value: "Disabled" }, "Disabled"));
    status.value = rule.status;
    status.addEventListener("change", () => { rule.status = status.value; });
    const days = { type: "number", min: "1", step: "1", inputmode: "numeric" };
    return h("tr", { testid: `lifecycle-rule-${index}` },
      h("td", {}, input(rule, "id", index, { maxlength: 255 })),
      h("td", {}, input(rule, "prefix", index, { placeholder: "whole bucket" })),
      h("td", {}, input(rule, "expiration", index, days)),
      h("td", {}, input(rule, "noncurrent", index, days)),
      h("td", {}, input(rule, "abort", index, days)),
      h("td", {}, status),
      context.write ? h("td", {}, removeButton(index)) : null);
  }
  function rawRow(rule, index) {
    return h("tr", { testid: `lifecycle-rule-${index}` },
      h("td", {}, rule.id || "(no ID)"),
      h("td", { colspan: 5, class: "muted" }, `Prefix “${rule.prefix}”. This rule uses settings the console does not edit (tags, transitions or dates); it is kept as it is.`),
      context.write ? h("td", {}, removeButton(index)) : null);
  }
  function removeButton(index) {
    return h("button", { type: "button", class: "small", testid: `lifecycle-remove-${index}`, "aria-label": `Remove rule ${index + 1}`,
      onclick: () => { rules.splice(index, 1); draw(); } }, "Remove");
  }
  add.addEventListener("click", () => {
    rules.push({ id: nextId(rules, "rule"), status: "Enabled", prefix: "", expiration: "", noncurrent: "", abort: "7" });
    draw();
    rows.querySelector(`[data-testid="lifecycle-prefix-${rules.length - 1}"]`)?.focus();
  });
  save.addEventListener("click", () => panel.run(save, async () => {
    for (const rule of rules) if (!rule.id) rule.id = nextId(rules, "rule");
    const problem = lifecycleProblem(rules);
    if (problem) throw new Error(problem);
    if (!rules.length) {
      await deleteBucketConfig(context.bucket, "lifecycle");
      return "No lifecycle rules now.";
    }
    await putBucketConfig(context.bucket, "lifecycle",
      `<LifecycleConfiguration xmlns="${S3_NS}">${rules.map(lifecycleRuleXml).join("")}</LifecycleConfiguration>`);
    draw();
    return `Saved ${rules.length} rule${rules.length === 1 ? "" : "s"}.`;
  }));
  return panel.section;
}

function nextId(rules, stem) {
  const taken = new Set(rules.map((rule) => rule.id));
  for (let n = 1; ; n += 1) if (!taken.has(`${stem}-${n}`)) return `${stem}-${n}`;
}

/* CORS */

const METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"];
const list = (value) => value.split(/[\s,]+/).map((item) => item.trim()).filter(Boolean);

function parseCorsRule(node) {
  const values = (tag) => children(node, tag).map((child) => child.textContent);
  return {
    id: text(node, "ID"),
    origins: values("AllowedOrigin").join(", "),
    methods: new Set(values("AllowedMethod")),
    headers: values("AllowedHeader").join(", "),
    expose: values("ExposeHeader").join(", "),
    maxAge: text(node, "MaxAgeSeconds"),
  };
}

function corsRuleXml(rule) {
  const many = (tag, values) => values.map((value) => element(tag, value)).join("");
  return "<CORSRule>" + (rule.id ? element("ID", rule.id) : "") +
    many("AllowedOrigin", list(rule.origins)) + many("AllowedMethod", [...rule.methods]) +
    many("AllowedHeader", list(rule.headers)) + many("ExposeHeader", list(rule.expose)) +
    (rule.maxAge ? element("MaxAgeSeconds", rule.maxAge) : "") + "</CORSRule>";
}

function corsProblem(rules) {
  for (const [i, rule] of rules.entries()) {
    const name = `Rule ${i + 1}`;
    if (!list(rule.origins).length) return `${name}: give at least one origin (https://app.example.com, or * for any).`;
    if (!rule.methods.size) return `${name}: choose at least one method.`;
    if (list(rule.origins).some((origin) => (origin.match(/\*/g) || []).length > 1)) return `${name}: an origin may hold at most one *.`;
    if (rule.maxAge && !/^\d+$/.test(rule.maxAge)) return `${name}: the max age is a whole number of seconds.`;
  }
  return "";
}

export function corsPanel(context) {
  const panel = settingsPanel("settings-cors", "CORS",
    "Which web pages (origins) may read or write this bucket from a browser with JavaScript. Lists are separated by commas.");
  const rows = h("tbody", {});
  const add = h("button", { type: "button", testid: "cors-add" }, "Add rule");
  const save = h("button", { type: "button", class: "primary", testid: "cors-save" }, "Save CORS");
  let rules = [];
  panel.loading();
  bucketConfig(context.bucket, "cors", ["NoSuchCORSConfiguration"]).then((doc) => {
    rules = doc ? [...doc.getElementsByTagName("CORSRule")].map(parseCorsRule) : [];
    draw();
    panel.show(h("div", { class: "rules-wrap" }, h("table", { class: "rules compact", testid: "cors-rules" },
      h("thead", {}, h("tr", {},
        h("th", {}, "Allowed origins"), h("th", {}, "Methods"), h("th", {}, "Allowed headers"),
        h("th", {}, "Exposed headers"), h("th", {}, "Max age (s)"), context.write ? h("th", {}, "") : null)),
      rows)));
    if (context.write) panel.actions(add, save);
  }, (failure) => panel.fail(failure));

  function draw() {
    if (!rules.length) {
      mount(rows, h("tr", {}, h("td", { colspan: 6, class: "empty", testid: "cors-empty" }, "No CORS rules: browsers on other sites cannot use this bucket with JavaScript.")));
      return;
    }
    mount(rows, rules.map((rule, index) => corsRow(rule, index)));
  }
  function input(rule, name, index, attributes = {}) {
    const node = h("input", { value: rule[name], testid: `cors-${name}-${index}`, readonly: !context.write,
      "aria-label": `${name} of CORS rule ${index + 1}`, ...attributes });
    node.addEventListener("input", () => { rule[name] = node.value.trim(); });
    return node;
  }
  function corsRow(rule, index) {
    const methods = h("div", { class: "methods" }, METHODS.map((method) => {
      const box = h("input", { type: "checkbox", id: `cors-${index}-${method}`, testid: `cors-method-${index}-${method}`,
        checked: rule.methods.has(method), disabled: !context.write });
      box.addEventListener("change", () => { if (box.checked) rule.methods.add(method); else rule.methods.delete(method); });
      return h("label", { for: box.id }, box, method);
    }));
    return h("tr", { testid: `cors-rule-${index}` },
      h("td", {}, input(rule, "origins", index, { placeholder: "https://app.example.com" })),
      h("td", {}, methods),
      h("td", {}, input(rule, "headers", index, { placeholder: "* or content-type, …" })),
      h("td", {}, input(rule, "expose", index, { placeholder: "etag, …" })),
      h("td", {}, input(rule, "maxAge", index, { type: "number", min: "0", step: "1" })),
      context.write ? h("td", {}, h("button", { type: "button", class: "small", testid: `cors-remove-${index}`,
        "aria-label": `Remove CORS rule ${index + 1}`, onclick: () => { rules.splice(index, 1); draw(); } }, "Remove")) : null);
  }
  add.addEventListener("click", () => {
    rules.push({ id: "", origins: "", methods: new Set(["GET", "HEAD"]), headers: "*", expose: "ETag", maxAge: "3600" });
    draw();
    rows.querySelector(`[data-testid="cors-origins-${rules.length - 1}"]`)?.focus();
  });
  save.addEventListener("click", () => panel.run(save, async () => {
    const problem = corsProblem(rules);
    if (problem) throw new Error(problem);
    if (!rules.length) {
      await deleteBucketConfig(context.bucket, "cors");
      return "No CORS rules now.";
    }
    await putBucketConfig(context.bucket, "cors",
      `<CORSConfiguration xmlns="${S3_NS}">${rules.map(corsRuleXml).join("")}</CORSConfiguration>`);
    return `Saved ${rules.length} CORS rule${rules.length === 1 ? "" : "s"}.`;
  }));
  return panel.section;
}
