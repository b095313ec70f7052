// A sweep's scatter plot in inline SVG: one point per finished trial, x = its value of one searched parameter,
// y = its objective. The x axis follows the parameter's search space: a log axis for log_uniform (and log ints),
// one column per choice for choice parameters, linear otherwise. Pruned trials are hollow (their objective is
// the last epoch they reported, not a final one); the best trial is ringed.
import { el, formatTick, niceTicks, SIZE } from "./chart.js";

const PAD = { ...SIZE, left: 64 };

/** The x axis of a parameter: `at(value)` in pixels (null for a value off the axis) and its tick marks. */
function xAxis(param, values, x0, x1) {
  if (param.type === "choice") return choiceAxis(param.choices, x0, x1);
  const low = Math.min(param.low, ...values), high = Math.max(param.high, ...values);
  if (param.type === "log_uniform" || (param.log && low > 0)) return logAxis(low, high, x0, x1);
  const ticks = niceTicks(low, high);
  const [t0, t1] = [ticks[0], ticks[ticks.length - 1]];
  const at = (v) => x0 + ((v - t0) / (t1 - t0)) * (x1 - x0);
  return { at, ticks: ticks.map((t) => ({ x: at(t), label: formatTick(t) })), label: "" };
}

function logAxis(low, high, x0, x1) {
  const [l0, l1] = [Math.log10(low), Math.log10(high)];
  const margin = Math.max(0.05 * (l1 - l0), 0.1); // room for points at the ends of the range
  const [d0, d1] = [l0 - margin, l1 + margin];
  const at = (v) => (v > 0 ? x0 + ((Math.log10(v) - d0) / (d1 - d0)) * (x1 - x0) : null);
  let ticks = [];
  for (let e = Math.ceil(d0); e <= Math.floor(d1); e++) ticks.push(10 ** e);
  if (ticks.length < 3) { // less than two decades: add 2x and 5x marks
    ticks = [];
    for (let e = Math.floor(d0); e <= Math.ceil(d1); e++) for (const f of [1, 2, 5]) ticks.push(f * 10 ** e);
    ticks = ticks.filter((t) => Math.log10(t) >= d0 && Math.log10(t) <= d1);
  }
  return { at, ticks: ticks.map((t) => ({ x: at(t), label: formatTick(Number(t.toPrecision(6))) })), label: "log scale" };
}

function choiceAxis(choices, x0, x1) {
  const keys = choices.map((c) => JSON.stringify(c));
  const band = (x1 - x0) / choices.length;
  const center = (i) => x0 + band * (i + 0.5);
  const at = (v) => { const i = keys.indexOf(JSON.stringify(v)); return i < 0 ? null : center(i); };
  const ticks = choices.map((c, i) => ({ x: center(i), label: typeof c === "string" ? c : JSON.stringify(c) }));
  return { at, ticks, label: "", band };
}

/** Spread points that share a choice across part of its column, the same way on every redraw. */
function jitter(axis, trial) {
  return axis.band ? ((((trial * 0.618034) % 1) - 0.5) * axis.band * 0.5) : 0;
}

/**
 * Draw `points` ([{trial, value, objective, state}], state "complete" or "pruned") for the parameter at `path`
 * (`param` is its search-space entry) into `container`; `best` is the best trial's number.
 */
export function scatterChart(container, { path, param, metric, direction, points, best }) {
  const { width, height, left, right, top, bottom } = PAD;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart scatter", role: "img", "aria-label": `${metric} against ${path}`, "data-param": path });
  svg.append(el("text", { x: left, y: 16, class: "chart-title" }, path));
  legend(svg, width - right);
  if (!points.length) {
    svg.append(el("text", { x: width / 2, y: height / 2, class: "chart-empty", "text-anchor": "middle" }, "no finished trials yet"));
    container.replaceChildren(svg);
    return svg;
  }
  const x = xAxis(param, points.map((p) => p.value).filter((v) => typeof v === "number"), left, width - right);
  const yTicks = niceTicks(Math.min(...points.map((p) => p.objective)), Math.max(...points.map((p) => p.objective)));
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const plotH = height - top - bottom;
  const y = (v) => top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  for (const tick of yTicks) {
    svg.append(el("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }));
    svg.append(el("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end", class: "tick" }, formatTick(tick)));
  }
  for (const tick of x.ticks) svg.append(el("text", { x: tick.x, y: height - bottom + 16, "text-anchor": "middle", class: "tick" }, tick.label));
  svg.append(el("text", { x: left + (width - left - right) / 2, y: height - 4, "text-anchor": "middle", class: "axis-label" }, x.label));
  const yLabel = `${metric} (${direction === "maximize" ? "higher" : "lower"} is better)`;
  svg.append(el("text", { x: 12, y: top + plotH / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 12 ${top + plotH / 2})` }, yLabel));
  for (const p of points) {
    const px = x.at(p.value);
    if (px === null) continue;
    const [cx, cy] = [(px + jitter(x, p.trial)).toFixed(1), y(p.objective).toFixed(1)];
    if (p.trial === best) svg.append(el("circle", { cx, cy, r: 9, class: "best-ring" }));
    const point = el("circle", { cx, cy, r: 5, class: `point ${p.state}${p.trial === best ? " best" : ""}`, "data-trial": p.trial });
    point.append(el("title", {}, `trial ${p.trial} (${p.state}): ${path} = ${p.value}, ${metric} = ${formatTick(p.objective)}`));
    svg.append(point);
  }
  container.replaceChildren(svg);
  return svg;
}

function legend(svg, rightEdge) {
  let x = rightEdge;
  for (const [label, cls] of [["best", "mark best-ring"], ["pruned", "mark pruned"], ["complete", "mark complete"]]) {
    x -= 7 * label.length + 4;
    svg.append(el("text", { x, y: 16, class: "legend" }, label));
    svg.append(el("circle", { cx: x - 9, cy: 12, r: label === "best" ? 6 : 4, class: cls }));
    x -= 24;
  }
}
