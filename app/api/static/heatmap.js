// A confusion matrix as a heat map in inline SVG: one cell per (true, predicted) pair holding its count, shaded by
// the count's share of its true class's rows, so that a rare class's mistakes show as plainly as a common one's.
import { el } from "./chart.js";

const CELL = { max: 44, min: 22, span: 440 };

/** `matrix[i][j]`: rows of true label `labels[i]` predicted as `labels[j]` (the evaluation's confusion_matrix). */
export function heatMap({ labels, matrix }) {
  const cell = Math.max(CELL.min, Math.min(CELL.max, Math.floor(CELL.span / labels.length)));
  const left = 28 + 7 * Math.max(...labels.map((l) => l.length)), top = 44;
  const size = cell * labels.length;
  const width = left + size + 8, height = top + size + 8;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, class: "chart heatmap", role: "img", "aria-label": "confusion matrix" });
  svg.append(el("text", { x: left + size / 2, y: 12, "text-anchor": "middle", class: "axis-label" }, "predicted"));
  svg.append(el("text", { x: 10, y: top + size / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 10 ${top + size / 2})` }, "true"));
  labels.forEach((label, i) => {
    svg.append(el("text", { x: left + cell * (i + 0.5), y: top - 8, "text-anchor": "middle", class: "tick", "data-axis": "predicted" }, label));
    svg.append(el("text", { x: left - 6, y: top + cell * (i + 0.5) + 4, "text-anchor": "end", class: "tick", "data-axis": "true" }, label));
  });
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, j) => {
      const share = total ? count / total : 0;
      const g = el("g", { class: i === j ? "cell diagonal" : "cell", "data-true": labels[i], "data-predicted": labels[j] });
      g.append(el("title", {}, `true ${labels[i]}, predicted ${labels[j]}: ${count} of ${total} rows (${Math.round(100 * share)}%)`));
      g.append(el("rect", { x: left + cell * j, y: top + cell * i, width: cell, height: cell, fill: shade(share) }));
      g.append(el("text", { x: left + cell * (j + 0.5), y: top + cell * (i + 0.5) + 4, "text-anchor": "middle", class: share > 0.5 ? "count dark" : "count" }, String(count)));
      svg.append(g);
    });
  });
  return svg;
}

/** White (0) to the accent blue (1). */
function shade(share) {
  const [r, g, b] = [[255, 37], [255, 99], [255, 235]].map(([from, to]) => Math.round(from + (to - from) * share));
  return `rgb(${r},${g},${b})`;
}
