// Small SVG charts for the console, no library: a line chart with its area (one or more series
// over a time window), a horizontal bar chart, and a donut for used/free capacity. Built with
// createElementNS; every chart is role="img" with an aria-label in words and <title> tooltips;
// colours come only from CSS classes (dashboard.css) that use the app's var(--...) colours.
// Charts are drawn at their container's pixel width so text stays crisp; `redrawOnResize`
// draws them again when that width changes.

const SVG_NS = "http://www.w3.org/2000/svg";

/** svg("path", {d: "M0 0", class: "line"}, child...) */
function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const tooltip = (text) => svg("title", {}, text);

function chartRoot(width, height, label, extraClass = "") {
  return svg("svg", { class: `chart-svg ${extraClass}`.trim(), viewBox: `0 0 ${width} ${height}`,
    width, height, role: "img", "aria-label": label, focusable: "false" }, tooltip(label));
}

/** The smallest 1, 2 or 5 times a power of ten at or above `value` (the y axis' top). */
export function niceCeiling(value) {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const fraction = value / power;
  const step = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return step * power;
}

/** The same for bytes: 1, 2 or 5 times a power of ten of a power of 1024 (2 MiB, 500 KiB). */
export function niceByteCeiling(value) {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const unit = 1024 ** Math.max(0, Math.floor(Math.log(value) / Math.log(1024)));
  const nice = niceCeiling(value / unit);
  return (nice >= 1000 ? 1024 : nice) * unit;
}

/** Width to draw at: the container's, within reason. */
function widthOf(container, fallback = 320) {
  const width = Math.floor(container.clientWidth || 0);
  return width > 80 ? width : fallback;
}

/** Shortens `text` to about `room` pixels (a rough 7 px per character). */
function fit(text, room) {
  const characters = Math.max(3, Math.floor(room / 7));
  return text.length > characters ? text.slice(0, characters - 1) + "…" : text;
}

/** Splits points into runs without a gap longer than `gapMs` (a gap breaks the line). */
function runs(points, gapMs) {
  const result = [];
  let current = [];
  for (const point of points) {
    const previous = current[current.length - 1];
    if (previous && (point.t - previous.t > gapMs || point.gapBefore)) {
      result.push(current);
      current = [];
    }
    current.push(point);
  }
  if (current.length) result.push(current);
  return result;
}

/**
 * A line chart with its area, drawn into `container` (replacing what was there).
 * options: { series: [{name, points: [{t, v, gapBefore?}]}], nowMs, windowMs, gapMs,
 *            format(v) -> text, label (what the chart shows, for the aria-label), height,
 *            empty (text while there are no points), ceiling(peak) -> the y axis' top }
 */
export function lineChart(container, options) {
  const { series, nowMs, windowMs, gapMs = Infinity, format = String, label, height = 170,
    empty = "No data yet.", ceiling = niceCeiling } = options;
  const width = widthOf(container);
  const margin = { left: 64, right: 12, top: 12, bottom: 24 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const startMs = nowMs - windowMs;
  const visible = series.map((one) => ({ ...one, points: one.points.filter((p) => p.t >= startMs) }));
  const peak = Math.max(0, ...visible.flatMap((one) => one.points.map((p) => p.v)));
  const top = ceiling(peak);
  const x = (t) => margin.left + ((t - startMs) / windowMs) * plotWidth;
  const y = (v) => margin.top + plotHeight - (v / top) * plotHeight;
  const base = y(0);

  const root = chartRoot(width, height, describeLines(label, visible, format));
  const grid = svg("g", { class: "chart-grid", "aria-hidden": "true" });
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    const level = y(value);
    grid.append(svg("line", { class: fraction === 0 ? "chart-axis" : "chart-rule", x1: margin.left,
      x2: width - margin.right, y1: level, y2: level }));
    grid.append(svg("text", { class: "chart-tick", x: margin.left - 6, y: level + 4, "text-anchor": "end" },
      fraction === 0 ? "0" : format(value)));
  }
  const minutes = Math.round(windowMs / 60_000);
  grid.append(svg("text", { class: "chart-tick", x: margin.left, y: height - 6 }, `${minutes} min ago`));
  grid.append(svg("text", { class: "chart-tick", x: width - margin.right, y: height - 6,
    "text-anchor": "end" }, "now"));
  root.append(grid);

  visible.forEach((one, index) => {
    const group = svg("g", { class: `chart-series series-${index}` });
    for (const run of runs(one.points, gapMs)) {
      const line = run.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)} ${y(p.v).toFixed(1)}`).join(" ");
      if (run.length > 1) {
        const first = x(run[0].t).toFixed(1), last = x(run[run.length - 1].t).toFixed(1);
        group.append(svg("path", { class: "chart-area", d: `${line} L${last} ${base} L${first} ${base} Z` }));
      }
      group.append(svg("path", { class: "chart-line", d: line }));
    }
    for (const p of one.points) {
      group.append(svg("circle", { class: "chart-point", cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 3 },
        tooltip(`${one.name}: ${format(p.v)} at ${new Date(p.t).toLocaleTimeString()}`)));
    }
    const latest = one.points[one.points.length - 1];
    if (latest) group.append(svg("circle", { class: "chart-latest", cx: x(latest.t), cy: y(latest.v), r: 3.5 }));
    root.append(group);
  });

  if (!visible.some((one) => one.points.length)) {
    root.append(svg("text", { class: "chart-empty", x: margin.left + plotWidth / 2,
      y: margin.top + plotHeight / 2, "text-anchor": "middle" }, empty));
  }
  container.replaceChildren(root);
  return root;
}

function describeLines(label, series, format) {
  const parts = series.map((one) => {
    const values = one.points.map((p) => p.v);
    if (!values.length) return `${one.name}: no data yet`;
    return `${one.name}: now ${format(values[values.length - 1])}, peak ${format(Math.max(...values))}`;
  });
  return `${label}. ${parts.join("; ")}.`;
}

/**
 * A horizontal bar chart drawn into `container`.
 * options: { items: [{label, value, detail?}], format(v) -> text, label, empty }
 */
export function barChart(container, options) {
  const { items, format = String, label, empty = "Nothing to show." } = options;
  const width = widthOf(container);
  const rowHeight = 30, barHeight = 16, top = 4;
  const height = Math.max(1, items.length) * rowHeight + top * 2;
  const valueText = (item) => (item.detail ? `${format(item.value)} · ${item.detail}` : format(item.value));
  const longest = (texts) => Math.max(0, ...texts.map((text) => text.length));
  const labelWidth = Math.min(160, Math.floor(width * 0.3), 7 * longest(items.map((item) => item.label)) + 14);
  const valueWidth = Math.min(200, Math.floor(width * 0.4), 7 * longest(items.map(valueText)) + 10);
  const plotWidth = Math.max(20, width - labelWidth - valueWidth - 16);
  const largest = Math.max(0, ...items.map((item) => item.value));
  const summary = items.length
    ? items.map((item) => `${item.label} ${format(item.value)}`).join(", ")
    : empty;
  const root = chartRoot(width, height, `${label}: ${summary}.`, "chart-bars");
  if (!items.length) {
    root.append(svg("text", { class: "chart-empty", x: width / 2, y: height / 2 + 4, "text-anchor": "middle" }, empty));
  }
  items.forEach((item, index) => {
    const rowTop = top + index * rowHeight;
    const middle = rowTop + rowHeight / 2;
    const length = largest > 0 ? Math.max(item.value > 0 ? 2 : 0, (item.value / largest) * plotWidth) : 0;
    const words = `${item.label}: ${format(item.value)}${item.detail ? ` (${item.detail})` : ""}`;
    root.append(svg("g", { class: `chart-bar-row series-${index % 2}` },
      tooltip(words),
      svg("text", { class: "chart-label", x: labelWidth - 8, y: middle + 4, "text-anchor": "end" },
        fit(item.label, labelWidth - 8)),
      svg("rect", { class: "chart-track", x: labelWidth, y: middle - barHeight / 2, width: plotWidth,
        height: barHeight, rx: 3 }),
      svg("rect", { class: "chart-bar", x: labelWidth, y: middle - barHeight / 2, width: length.toFixed(1),
        height: barHeight, rx: 3 }),
      svg("text", { class: "chart-value", x: labelWidth + plotWidth + 8, y: middle + 4 },
        7 * valueText(item).length <= valueWidth ? valueText(item) : fit(format(item.value), valueWidth))));
  });
  container.replaceChildren(root);
  return root;
}

/**
 * A donut of used against total (capacity): returns the <svg> (fixed size), with the used
 * percentage in its middle. `label` is the words for screen readers and the tooltip.
 */
export function donut({ used, total, label, size = 88 }) {
  const fraction = total > 0 ? Math.min(1, Math.max(0, used / total)) : 0;
  const percent = Math.round(fraction * 100);
  const radius = size / 2 - 8;
  const centre = size / 2;
  const level = percent >= 90 ? "critical" : percent >= 75 ? "high" : "normal";
  const root = chartRoot(size, size, label, `chart-donut level-${level}`);
  root.append(
    svg("circle", { class: "donut-free", cx: centre, cy: centre, r: radius, pathLength: 100 }),
    svg("circle", { class: "donut-used", cx: centre, cy: centre, r: radius, pathLength: 100,
      "stroke-dasharray": `${(fraction * 100).toFixed(2)} 100`,
      transform: `rotate(-90 ${centre} ${centre})` }),
    svg("text", { class: "donut-text", x: centre, y: centre + 5, "text-anchor": "middle" }, `${percent}%`));
  return root;
}

/**
 * Calls `draw()` again whenever `container` changes width (on the next frame, so drawing never
 * feeds back into the observation). Returns a function that stops watching.
 */
export function redrawOnResize(container, draw) {
  if (typeof ResizeObserver === "undefined") return () => {};
  let lastWidth = container.clientWidth;
  let pending = 0;
  const observer = new ResizeObserver(() => {
    const width = container.clientWidth;
    if (width === lastWidth || pending) return;
    pending = requestAnimationFrame(() => {
      pending = 0;
      lastWidth = container.clientWidth;
      if (container.isConnected) draw();
    });
  });
  observer.observe(container);
  return () => {
    observer.disconnect();
    if (pending) cancelAnimationFrame(pending);
  };
}
