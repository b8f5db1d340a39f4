// The per-day traffic chart of a tenant (GET /usage `days`): bytes received and sent per UTC
// day over the last 30 days, drawn as inline SVG (document.createElementNS, no library), with
// the same figures as a table for screen readers and exact numbers.

import { h, formatBytes } from "../ui.js";
import { formatCount } from "./admin-common.js";

const SVG = "http://www.w3.org/2000/svg";
const DAYS_SHOWN = 30;
const WIDTH = 600, HEIGHT = 160, LEFT = 62, RIGHT = 8, TOP = 10, BOTTOM = 24;

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

/** The last `DAYS_SHOWN` UTC dates up to today, oldest first, with zeros where nothing happened. */
export function dailySeries(days = [], now = new Date()) {
  const byDate = new Map(days.map((day) => [day.date, day]));
  const series = [];
  for (let back = DAYS_SHOWN - 1; back >= 0; back -= 1) {
    const date = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - back))
      .toISOString().slice(0, 10);
    const day = byDate.get(date) || {};
    series.push({ date, requests: day.requests || 0, bytes_in: day.bytes_in || 0, bytes_out: day.bytes_out || 0 });
  }
  return series;
}

function linePath(points) {
  return points.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
}

function plot(series) {
  const top = Math.max(1, ...series.map((d) => Math.max(d.bytes_in, d.bytes_out)));
  const x = (i) => LEFT + (i * (WIDTH - LEFT - RIGHT)) / Math.max(1, series.length - 1);
  const y = (v) => TOP + (HEIGHT - TOP - BOTTOM) * (1 - v / top);
  const inPoints = series.map((d, i) => [x(i), y(d.bytes_in)]);
  const outPoints = series.map((d, i) => [x(i), y(d.bytes_out)]);
  const base = HEIGHT - BOTTOM;
  const area = `${linePath(inPoints)} L${x(series.length - 1).toFixed(1)},${base} L${LEFT},${base} Z`;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img", "aria-labelledby": "traffic-chart-title" },
  svg("title", { id: "traffic-chart-title" }, summaryText(series)),
  svg("line", { class: "axis", x1: LEFT, y1: base, x2: WIDTH - RIGHT, y2: base }),
  svg("line", { class: "axis", x1: LEFT, y1: TOP, x2: LEFT, y2: base }),
  top > 1 ? svg("text", { x: LEFT - 6, y: TOP + 8, "text-anchor": "end" }, formatBytes(top)) : "",
  svg("text", { x: LEFT - 6, y: base, "text-anchor": "end" }, "0"),
  svg("text", { x: LEFT, y: HEIGHT - 6 }, series[0].date.slice(5)),
  svg("text", { x: WIDTH - RIGHT, y: HEIGHT - 6, "text-anchor": "end" }, series[series.length - 1].date.slice(5)),
  svg("path", { class: "area", d: area }),
  svg("path", { class: "line", d: linePath(inPoints) }),
  svg("path", { class: "line out", d: linePath(outPoints) }));
  if (!series.some((d) => d.requests || d.bytes_in || d.bytes_out)) {
    chart.append(svg("text", { x: (LEFT + WIDTH) / 2, y: HEIGHT / 2, "text-anchor": "middle" },
      "No traffic in these days"));
  }
  return chart;
}

function summaryText(series) {
  const total = series.reduce((sum, d) => ({ requests: sum.requests + d.requests, in: sum.in + d.bytes_in,
    out: sum.out + d.bytes_out }), { requests: 0, in: 0, out: 0 });
  return `Last ${series.length} days: ${formatCount(total.requests)} request${total.requests === 1 ? "" : "s"}, ` +
    `${formatBytes(total.in)} received, ${formatBytes(total.out)} sent`;
}

function table(series) {
  const shown = series.filter((d) => d.requests || d.bytes_in || d.bytes_out).reverse();
  if (!shown.length) return h("p", { class: "muted" }, "No traffic in these days.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "Day (UTC)"), h("th", { class: "num" }, "Requests"),
      h("th", { class: "num" }, "Received"), h("th", { class: "num" }, "Sent"))),
    h("tbody", {}, shown.map((d) => h("tr", {}, h("td", {}, d.date), h("td", { class: "num" }, formatCount(d.requests)),
      h("td", { class: "num" }, formatBytes(d.bytes_in)), h("td", { class: "num" }, formatBytes(d.bytes_out)))))));
}

/** The chart with its legend, summary and a table of the same figures. */
export function trafficChart(days) {
  const series = dailySeries(days);
  return h("div", { class: "chart-wrap", testid: "traffic-chart" },
    plot(series),
    h("div", { class: "chart-legend" },
      h("span", {}, h("span", { class: "swatch" }), "received (uploads)"),
      h("span", {}, h("span", { class: "swatch out" }), "sent (downloads)")),
    h("p", { class: "hint", testid: "traffic-summary" }, summaryText(series)),
    h("details", {}, h("summary", {}, "Traffic per day as a table"), table(series)));
}
