// The dashboard (route #/): cards and charts of the server and of what the user may see.
// - capacity of the data disk (a donut) and S3 traffic (requests, bytes in/out, errors per
//   second, from counter deltas of the console port's /metrics polled every 5 s while the page
//   is shown); all of it hidden quietly when /metrics wants a token (401);
// - buckets and objects: the admin API's /usage and /buckets for roles that may read them,
//   else the S3 ListBuckets count;
// - for system admins: storage per tenant (a bar chart) and the alerts now firing.
// A part the user may not read (403) is left out without an error.

import { get } from "../api.js";
import { isSystemAdmin } from "../app.js";
import { s3, xml } from "../s3.js";
import { h, mount, explain, formatBytes, formatTime } from "../ui.js";
import { lineChart, barChart, donut, redrawOnResize, niceByteCeiling } from "../charts.js";

const POLL_MS = 5_000;
/** The second sample comes sooner, so the charts show a first point quickly. */
const FIRST_POLL_MS = 2_000;
const POINTS_MAX = 60;
/** The charts span the time since the first point, from 1 minute up to the 60 points' 5. */
const WINDOW_MIN_MS = 60_000;
const WINDOW_MAX_MS = POINTS_MAX * POLL_MS;
/** Samples further apart than this are not joined by a line. */
const GAP_MS = 3 * POLL_MS;
const BARS_MAX = 10;

/** Roles that may read the admin API's /usage and /buckets (of their tenant, or all). */
const USAGE_ROLES = new Set(["system-admin", "tenant-admin", "read-only"]);

const ALERT_WORDS = {
  disk_nearly_full: "Disk nearly full",
  shard_failing: "Shard failing",
  scrub_damage: "Damaged data found by the scrubber",
  tenant_near_quota: "Tenant near its quota",
  certificate_expiring: "TLS certificate expiring",
};
const ALERT_SEVERITY = {
  disk_nearly_full: "critical", shard_failing: "critical", scrub_damage: "critical",
  tenant_near_quota: "warning", certificate_expiring: "warning",
};

/**
 * Traffic history, kept in memory for as long as the tab is open (so coming back to the
 * dashboard shows the last minutes again): the last counter sample and up to POINTS_MAX
 * rate points {t, requests, bytesIn, bytesOut, errors, gapBefore}.
 */
const traffic = { last: null, points: [], restarted: false, refused: false };

// ---------------------------------------------------------------------------------------------
// Prometheus text format

/**
 * Parses Prometheus' text exposition format into a Map: metric name → [{labels, value}].
 * Comments (# HELP, # TYPE, others) and blank lines are skipped; label values may hold escaped
 * quotes, backslashes and newlines; values may be +Inf, -Inf or NaN; a timestamp is ignored.
 */
export function parsePrometheus(textBody) {
  const metrics = new Map();
  for (const rawLine of textBody.split("\n")) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) continue;
    const sample = parseSampleLine(line);
    if (!sample) continue;
    if (!metrics.has(sample.name)) metrics.set(sample.name, []);
    metrics.get(sample.name).push({ labels: sample.labels, value: sample.value });
  }
  return metrics;
}

function parseSampleLine(line) {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return null;
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  let labels = {};
  if (rest.startsWith("{")) {
    const parsed = parseLabels(rest);
    if (!parsed) return null;
    labels = parsed.labels;
    rest = rest.slice(parsed.length);
  }
  const [valueText] = rest.trim().split(/\s+/);
  const value = parseValue(valueText);
  return value === null ? null : { name, labels, value };
}

/** Parses `{a="x",b="y \"q\""}` at the start of `text`: {labels, length} or null. */
function parseLabels(text) {
  const labels = {};
  let i = 1;
  while (i < text.length) {
    while (text[i] === " " || text[i] === ",") i += 1;
    if (text[i] === "}") return { labels, length: i + 1 };
    const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!key) return null;
    i += key[0].length;
    while (text[i] === " ") i += 1;
    if (text[i] !== "=") return null;
    i += 1;
    while (text[i] === " ") i += 1;
    if (text[i] !== '"') return null;
    i += 1;
    let value = "";
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\" && i + 1 < text.length) {
        const next = text[i + 1];
        value += next === "n" ? "\n" : next;
        i += 2;
      } else {
        value += text[i];
        i += 1;
      }
    }
    if (text[i] !== '"') return null;
    i += 1;
    labels[key[0]] = value;
  }
  return null;
}

function parseValue(text) {
  if (text === undefined) return null;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}

/** The sum of a metric's samples over every label set (0 when absent). */
export function sumOf(metrics, name) {
  return (metrics.get(name) || []).reduce((total, sample) =>
    (Number.isFinite(sample.value) ? total + sample.value : total), 0);
}

/** The metric's single value (its first sample), or null when absent. */
function valueOf(metrics, name) {
  const samples = metrics.get(name);
  return samples && samples.length && Number.isFinite(samples[0].value) ? samples[0].value : null;
}

// ---------------------------------------------------------------------------------------------
// Formatting

function formatRate(value) {
  if (!value) return "0/s";
  if (value >= 1000) return `${Number((value / 1000).toFixed(1))}k/s`;
  return `${Number(value.toFixed(value >= 10 ? 0 : value >= 1 ? 1 : 2))}/s`;
}

const formatByteRate = (value) => `${formatBytes(value)}/s`;
const formatCount = (value) => Number(value || 0).toLocaleString();
const plural = (count, one, many) => `${formatCount(count)} ${Number(count) === 1 ? one : many}`;

// ---------------------------------------------------------------------------------------------
// The page

export async function render(root, ctx) {
  const view = layout(ctx.user);
  mount(root, view.page);
  startTraffic(root, view);
  await Promise.allSettled([
    loadCounts(ctx.user, view),
    isSystemAdmin(ctx.user) ? loadAlerts(view) : null,
  ]);
}

function card(testid, label) {
  const value = h("div", { class: "value", testid: `${testid}-value` }, "…");
  const detail = h("div", { class: "detail muted" });
  const picture = h("div", { class: "picture" });
  const node = h("div", { class: "card dash-card", testid },
    h("div", { class: "dash-card-text" }, h("div", { class: "label" }, label), value, detail), picture);
  return { node, value, detail, picture };
}

function chartPanel(testid, title, caption, legend = [], tone = "") {
  const area = h("div", { class: "chart-area-box", testid: `${testid}-plot` });
  const node = h("figure", { class: `panel dash-chart ${tone}`.trim(), testid },
    h("figcaption", {},
      h("span", { class: "dash-chart-title" }, title),
      legend.length ? h("span", { class: "legend" }, legend.map((name, index) =>
        h("span", { class: `legend-item series-${index}` }, h("span", { class: "swatch", "aria-hidden": "true" }), name)))
        : null,
      caption ? h("small", { class: "muted" }, caption) : null),
    area);
  return { node, area };
}

function layout(user) {
  const system = isSystemAdmin(user);
  const scope = system ? "all tenants" : "the whole server";
  const cards = {
    capacity: card("card-capacity", "Data disk"),
    buckets: card("card-buckets", system ? "Buckets" : "Your buckets"),
    objects: card("card-objects", system ? "Objects" : "Your objects"),
    requests: card("card-requests", "S3 requests"),
  };
  const charts = {
    requests: chartPanel("chart-requests", "Requests per second", `S3, IAM and STS, ${scope}`),
    bytes: chartPanel("chart-bytes", "Bytes per second", `request and response bodies, ${scope}`,
      ["received", "sent"]),
    errors: chartPanel("chart-errors", "Errors per second", `S3 error answers, ${scope}`, [], "tone-danger"),
  };
  const trafficNote = h("p", { class: "muted dash-note", testid: "dashboard-traffic-note", hidden: true });
  const trafficTitle = h("h2", { id: "dash-traffic" }, "Traffic");
  const trafficSection = h("section", { class: "dash-section", "aria-labelledby": "dash-traffic" },
    trafficTitle, trafficNote,
    h("div", { class: "dash-grid" }, charts.requests.node, charts.bytes.node, charts.errors.node));
  const storage = {
    tenants: chartPanel("chart-tenants", "Storage per tenant", "every version, and multipart parts in flight"),
    buckets: chartPanel("chart-buckets", "Largest buckets", "storage, every version counted"),
  };
  storage.tenants.node.hidden = !system;
  storage.buckets.node.hidden = true;
  const alertList = h("ul", { class: "dash-alerts", testid: "dashboard-alerts", "aria-live": "polite" },
    h("li", { class: "muted" }, "Loading…"));
  const alertsPanel = h("section", { class: "panel dash-alerts-panel", "aria-labelledby": "dash-alerts-title",
    hidden: !system },
  h("h2", { id: "dash-alerts-title" }, "Alerts now firing"), alertList);
  const storageSection = h("section", { class: "dash-section", "aria-labelledby": "dash-storage", hidden: true },
    h("h2", { id: "dash-storage" }, "Storage"),
    h("div", { class: "dash-grid dash-grid-top" }, storage.tenants.node, storage.buckets.node, alertsPanel));
  if (system) storageSection.hidden = false;
  const page = h("div", { class: "dashboard" },
    h("h1", {}, "Dashboard"),
    h("div", { class: "cards dash-cards" }, Object.values(cards).map((one) => one.node)),
    trafficSection, storageSection);
  return { page, cards, charts, trafficSection, trafficTitle, trafficNote, storage, storageSection, alertList, alertsPanel };
}

// ---------------------------------------------------------------------------------------------
// Buckets, objects, per-tenant and per-bucket storage

async function loadCounts(user, view) {
  if (USAGE_ROLES.has(user?.role)) {
    const [usage, buckets] = await Promise.allSettled([get("/usage"), get("/buckets")]);
    if (usage.status === "fulfilled") showUsage(user, view, usage.value.tenants || []);
    if (buckets.status === "fulfilled") showBuckets(view, buckets.value.buckets || []);
    if (usage.status === "fulfilled" || buckets.status === "fulfilled") {
      if (usage.status === "rejected") hideOrExplain(view.cards.objects, usage.reason);
      return;
    }
    if (!isForbidden(usage.reason)) {
      showFailure(view.cards.buckets, usage.reason);
      showFailure(view.cards.objects, usage.reason);
      return;
    }
  }
  await countWithS3(view);
}

function isForbidden(error) {
  return error && (error.status === 403 || error.status === 401);
}

function hideOrExplain(one, error) {
  if (isForbidden(error)) one.node.hidden = true;
  else showFailure(one, error);
}

function showFailure(one, error) {
  one.value.textContent = "–";
  one.detail.textContent = `Could not load: ${explain(error)}`;
}

function showUsage(user, view, tenants) {
  const total = (field) => tenants.reduce((sum, tenant) => sum + Number(tenant[field] || 0), 0);
  const { buckets, objects } = view.cards;
  buckets.value.textContent = formatCount(total("buckets"));
  buckets.detail.textContent = isSystemAdmin(user)
    ? `in ${plural(tenants.length, "tenant", "tenants")}`
    : `tenant ${user.tenant}`;
  objects.value.textContent = formatCount(total("objects"));
  objects.detail.textContent = `${formatBytes(total("storage_bytes"))} stored`;
  if (isSystemAdmin(user)) drawTenants(view, tenants);
}

function drawTenants(view, tenants) {
  const items = tenants
    .map((tenant) => ({ label: tenant.tenant, value: Number(tenant.storage_bytes || 0),
      detail: plural(tenant.objects, "object", "objects") }))
    .sort((a, b) => b.value - a.value)
    .slice(0, BARS_MAX);
  const { area } = view.storage.tenants;
  const draw = () => barChart(area, { items, format: formatBytes, label: "Storage per tenant",
    empty: "No tenants yet." });
  draw();
  watchResize(view, area, draw);
}

function showBuckets(view, buckets) {
  const { buckets: bucketCard } = view.cards;
  if (bucketCard.value.textContent === "…") bucketCard.value.textContent = formatCount(buckets.length);
  if (!buckets.length) return;
  const items = buckets
    .map((bucket) => ({ label: bucket.name, value: Number(bucket.usage?.storage_bytes || 0),
      detail: plural(bucket.usage?.objects, "object", "objects") }))
    .sort((a, b) => b.value - a.value)
    .slice(0, BARS_MAX);
  const { node, area } = view.storage.buckets;
  node.hidden = false;
  view.storageSection.hidden = false;
  const draw = () => barChart(area, { items, format: formatBytes, label: "Largest buckets" });
  draw();
  watchResize(view, area, draw);
}

/** Without the admin API: the number of buckets S3 lists for this user. */
async function countWithS3(view) {
  const { buckets, objects } = view.cards;
  objects.node.hidden = true;
  try {
    const answer = await xml(await s3("GET", "/"));
    const count = answer.getElementsByTagName("Bucket").length;
    buckets.value.textContent = formatCount(count);
    buckets.detail.textContent = "that you can list";
  } catch (error) {
    hideOrExplain(buckets, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Alerts (system admins)

async function loadAlerts(view) {
  try {
    const answer = await get("/alerts");
    showAlerts(view.alertList, answer.alerts || []);
  } catch (error) {
    if (isForbidden(error)) view.alertsPanel.hidden = true;
    else mount(view.alertList, h("li", { class: "muted" }, `Could not load the alerts: ${explain(error)}`));
  }
}

function showAlerts(list, alerts) {
  if (!alerts.length) {
    mount(list, h("li", { class: "dash-alert none", testid: "dashboard-alerts-none" },
      h("span", { class: "severity ok" }, "OK"), "No alerts"));
    return;
  }
  const rank = { critical: 0, warning: 1, info: 2 };
  const withSeverity = alerts.map((alert) => ({ ...alert,
    severity: alert.severity || ALERT_SEVERITY[alert.alert] || "warning" }))
    .sort((a, b) => (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3));
  mount(list, withSeverity.map((alert) =>
    h("li", { class: `dash-alert ${alert.severity}`, testid: "dashboard-alert" },
      h("span", { class: `severity ${alert.severity}` }, alert.severity),
      h("div", {},
        h("strong", {}, ALERT_WORDS[alert.alert] || alert.alert),
        alert.subject ? h("span", { class: "muted" }, ` · ${alert.subject}`) : null,
        alert.summary ? h("div", {}, alert.summary) : null,
        alert.since_ms ? h("small", { class: "muted" }, `since ${formatTime(alert.since_ms)}`) : null))));
}

// ---------------------------------------------------------------------------------------------
// Capacity and traffic from /metrics

function watchResize(view, area, draw) {
  view.stopWatching = view.stopWatching || [];
  view.stopWatching.push(redrawOnResize(area, draw));
}

function startTraffic(root, view) {
  // Asked once per tab: a server with a metrics token keeps refusing the console.
  if (traffic.refused) {
    hideMetricsParts(view);
    return;
  }
  drawTraffic(view);
  for (const chart of Object.values(view.charts)) watchResize(view, chart.area, () => drawTraffic(view));
  let timer = 0;
  const stop = () => {
    clearTimeout(timer);
    for (const unwatch of view.stopWatching || []) unwatch();
  };
  const tick = async (first) => {
    if (!root.isConnected) return stop();
    const keepGoing = document.hidden ? true : await pollMetrics(view);
    if (!root.isConnected) return stop();
    if (keepGoing) timer = setTimeout(() => tick(false), first ? FIRST_POLL_MS : POLL_MS);
    else stop();
  };
  tick(true);
}

/** One /metrics sample; resolves to whether to keep polling. */
async function pollMetrics(view) {
  let response;
  try {
    response = await fetch("/metrics", { credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    noteTraffic(view, `The metrics could not be read (${error.message}); trying again.`);
    return true;
  }
  const body = await response.text();
  if (response.status === 401 || response.status === 403) {
    traffic.refused = true;
    hideMetricsParts(view);
    return false;
  }
  if (!response.ok) {
    noteTraffic(view, `The metrics could not be read (HTTP ${response.status}); trying again.`);
    return true;
  }
  noteTraffic(view, "");
  const metrics = parsePrometheus(body);
  showCapacity(view, metrics);
  addSample(metrics, Date.now());
  drawTraffic(view);
  return true;
}

function noteTraffic(view, message) {
  view.trafficNote.textContent = message;
  view.trafficNote.hidden = !message;
}

/** The server wants a metrics token the console does not have: leave those parts out. */
function hideMetricsParts(view) {
  view.cards.capacity.node.hidden = true;
  view.cards.requests.node.hidden = true;
  view.trafficSection.hidden = true;
}

function showCapacity(view, metrics) {
  const total = valueOf(metrics, "maxiofs_disk_total_bytes");
  const available = valueOf(metrics, "maxiofs_disk_available_bytes");
  const capacity = view.cards.capacity;
  if (total === null || available === null || total <= 0) {
    capacity.node.hidden = true;
    return;
  }
  const used = Math.max(0, total - available);
  const percent = Math.round((used / total) * 100);
  capacity.value.textContent = `${percent}% used`;
  capacity.detail.textContent = `${formatBytes(available)} free of ${formatBytes(total)}`;
  const words = `Data disk: ${formatBytes(used)} used, ${formatBytes(available)} free, of ${formatBytes(total)}`;
  mount(capacity.picture, donut({ used, total, label: words }));
}

function countersOf(metrics) {
  return {
    requests: sumOf(metrics, "maxiofs_s3_requests_total"),
    bytesIn: sumOf(metrics, "maxiofs_s3_received_bytes_total"),
    bytesOut: sumOf(metrics, "maxiofs_s3_sent_bytes_total"),
    errors: sumOf(metrics, "maxiofs_s3_errors_total"),
  };
}

/** Turns a counter sample into a rate point against the previous one. */
function addSample(metrics, nowMs) {
  const sample = { t: nowMs, ...countersOf(metrics) };
  const previous = traffic.last;
  traffic.last = sample;
  if (!previous) return;
  const seconds = (sample.t - previous.t) / 1000;
  if (seconds <= 0) return;
  const rates = {};
  for (const name of ["requests", "bytesIn", "bytesOut", "errors"]) {
    const delta = sample[name] - previous[name];
    // A counter that went down: the server restarted. Start again from this sample.
    if (delta < 0) {
      traffic.restarted = true;
      return;
    }
    rates[name] = delta / seconds;
  }
  const lastPoint = traffic.points[traffic.points.length - 1];
  const gapBefore = traffic.restarted || !lastPoint || sample.t - lastPoint.t > GAP_MS;
  traffic.restarted = false;
  traffic.points.push({ t: sample.t, gapBefore, ...rates });
  if (traffic.points.length > POINTS_MAX) traffic.points.splice(0, traffic.points.length - POINTS_MAX);
}

function pointsOf(name) {
  return traffic.points.map((point) => ({ t: point.t, v: point[name], gapBefore: point.gapBefore }));
}

/** The charts' time span: since the oldest point, in whole minutes, from 1 to 5. */
function windowFor(nowMs) {
  const oldest = traffic.points[0];
  const span = oldest ? nowMs - oldest.t : 0;
  return Math.min(WINDOW_MAX_MS, Math.max(WINDOW_MIN_MS, Math.ceil(span / 60_000) * 60_000));
}

function drawTraffic(view) {
  const nowMs = Date.now();
  const windowMs = windowFor(nowMs);
  const minutes = windowMs / 60_000;
  view.trafficTitle.textContent = `Traffic, last ${minutes} ${minutes === 1 ? "minute" : "minutes"}`;
  const common = { nowMs, windowMs, gapMs: GAP_MS, empty: "Collecting… a point every 5 seconds" };
  lineChart(view.charts.requests.area, { ...common, label: "S3 requests per second",
    series: [{ name: "requests", points: pointsOf("requests") }], format: formatRate });
  lineChart(view.charts.bytes.area, { ...common, label: "Bytes per second",
    series: [{ name: "received", points: pointsOf("bytesIn") }, { name: "sent", points: pointsOf("bytesOut") }],
    format: formatByteRate, ceiling: niceByteCeiling });
  lineChart(view.charts.errors.area, { ...common, label: "S3 errors per second",
    series: [{ name: "errors", points: pointsOf("errors") }], format: formatRate });
  showRequestCard(view);
}

function showRequestCard(view) {
  const latest = traffic.points[traffic.points.length - 1];
  const { value, detail } = view.cards.requests;
  if (!latest) {
    value.textContent = "…";
    detail.textContent = "measuring";
    return;
  }
  value.textContent = formatRate(latest.requests);
  detail.textContent = `${formatRate(latest.errors)} errors · in ${formatByteRate(latest.bytesIn)}, ` +
    `out ${formatByteRate(latest.bytesOut)}`;
}
