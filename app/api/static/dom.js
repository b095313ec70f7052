// Tiny DOM helpers: build elements without innerHTML (names and messages come from users), format values.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function formatNumber(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(2) : String(Number(value.toPrecision(4)));
}

export function formatTime(value) {
  return value ? new Date(value).toLocaleString() : "–";
}

export function metricsText(metrics, limit = 4) {
  const entries = Object.entries(metrics || {}).slice(0, limit);
  return entries.length ? entries.map(([name, value]) => `${name} ${formatNumber(value)}`).join(" · ") : "–";
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

export function progressBar(done, total) {
  const percent = total ? Math.min(100, Math.round((100 * done) / total)) : 0;
  return h("span", { class: "progress", title: `${done}/${total} epochs` }, h("span", { class: "bar", style: `width:${percent}%` }), h("span", { class: "label" }, `${done}/${total}`));
}

let toastTimer;
export function toast(message, kind = "info") {
  const node = document.getElementById("toast");
  node.textContent = message;
  node.className = `toast-${kind}`;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 5000);
}

export function errorBox(error) {
  const problem = error.problem || {};
  const details = (problem.errors || []).map((e) => h("li", {}, `${(e.loc || []).join(".") || "body"}: ${e.msg}`));
  return h("div", { class: "error" }, h("strong", {}, problem.title || "Error"), " ", error.message, details.length ? h("ul", {}, details) : null);
}
