// A small line chart in inline SVG: one polyline per series (x = epoch), axes with "nice" ticks, a legend.
// Redrawn whole on every update: a few hundred points at most, far below what needs incremental drawing.
// The SVG helpers and tick rules are exported for the sweeps' scatter plots, so both kinds of chart look alike.
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2"];
export const SIZE = { width: 520, height: 260, left: 56, right: 16, top: 28, bottom: 36 };

export function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function niceTicks(min, max, count = 5) {
  if (min === max) { min -= 0.5; max += 0.5; }
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[0] > min) ticks.unshift(ticks[0] - step);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

export function formatTick(value) {
  const abs = Math.abs(value);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e5) ? value.toExponential(1) : String(Number(value.toPrecision(4)));
}

/** Draw `series` ([{name, values}], values[i] = value after epoch i+1, null for missing) into `container`. */
export function lineChart(container, title, series) {
  const { width, height, left, right, top, bottom } = SIZE;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  svg.append(el("text", { x: left, y: 16, class: "chart-title" }, title));
  const values = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const epochs = Math.max(1, ...series.map((s) => s.values.length));
  if (!values.length) {
    svg.append(el("text", { x: width / 2, y: height / 2, class: "chart-empty", "text-anchor": "middle" }, "no epochs yet"));
    container.replaceChildren(svg);
    return svg;
  }
  const yTicks = niceTicks(Math.min(...values), Math.max(...values));
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (epoch) => left + (epochs === 1 ? plotW / 2 : ((epoch - 1) / (epochs - 1)) * plotW);
  const y = (value) => top + plotH - ((value - y0) / (y1 - y0)) * plotH;
  for (const tick of yTicks) {
    svg.append(el("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }));
    svg.append(el("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end", class: "tick" }, formatTick(tick)));
  }
  for (const tick of niceTicks(1, epochs, Math.min(epochs, 6)).filter((t) => t >= 1 && t <= epochs && Number.isInteger(t))) {
    svg.append(el("text", { x: x(tick), y: height - bottom + 16, "text-anchor": "middle", class: "tick" }, String(tick)));
  }
  svg.append(el("text", { x: left + plotW / 2, y: height - 4, "text-anchor": "middle", class: "axis-label" }, "epoch"));
  series.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    const points = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i + 1).toFixed(1)},${y(v).toFixed(1)}` : null)).filter(Boolean);
    svg.append(el("polyline", { points: points.join(" "), class: "series", "data-series": s.name, stroke: color, fill: "none" }));
    if (points.length === 1) {
      const [cx, cy] = points[0].split(",");
      svg.append(el("circle", { cx, cy, r: 3, fill: color }));
    }
  });
  // Legend on the title's line, right-aligned: entries laid out from the right edge leftwards.
  let legendRight = width - right;
  series.slice().reverse().forEach((s, reversed) => {
    const color = COLORS[(series.length - 1 - reversed) % COLORS.length];
    const textWidth = 7 * s.name.length;
    const x0 = legendRight - textWidth - 20;
    svg.append(el("line", { x1: x0, x2: x0 + 16, y1: 12, y2: 12, stroke: color, class: "legend-line" }));
    svg.append(el("text", { x: x0 + 20, y: 16, class: "legend" }, s.name));
    legendRight = x0 - 12;
  });
  container.replaceChildren(svg);
  return svg;
}
