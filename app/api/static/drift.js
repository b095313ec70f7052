// Drift: a version's logged inputs against its training data over the last 1, 6 and 24 hours, and its worst features.
import { api } from "./api.js";
import { errorBox, formatNumber, h } from "./dom.js";

const WINDOWS = [1, 6, 24];
const WORST = 5;

export function driftCard(name, versions) {
  const body = h("div", { "data-drift": "" });
  const version = h("select", { name: "drift-version", onchange: () => load() },
    versions.slice().reverse().map((v) => h("option", { value: v.version }, `v${v.version}`)));
  const load = async () => {
    body.replaceChildren(h("p", { class: "muted" }, "Comparing with the training data…"));
    const path = `/models/${encodeURIComponent(name)}/versions/${version.value}/drift`;
    try {
      const reports = await Promise.all(WINDOWS.map((hours) => api(`${path}?hours=${hours}`)));
      body.replaceChildren(windowsTable(reports), worstFeatures(name, reports[reports.length - 1]));
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  };
  if (versions.length) load();
  return h("section", { class: "card", id: "drift" }, h("h2", {}, "Drift"), h("label", {}, "version ", version), body);
}

function verdict(report) {
  if (!report.window.rows) return h("span", { class: "badge" }, "no data");
  return report.drifted ? h("span", { class: "badge status-failed" }, "drifted") : h("span", { class: "badge status-succeeded" }, "stable");
}

function windowsTable(reports) {
  const rows = reports.map((r, i) => {
    const psis = r.features.map((f) => f.psi).filter((p) => p !== null);
    return h("tr", { "data-window": WINDOWS[i] },
      h("td", {}, `last ${WINDOWS[i]} h`),
      h("td", {}, String(r.window.rows)),
      h("td", {}, formatNumber(psis.length ? Math.max(...psis) : null)),
      h("td", {}, String(r.features.filter((f) => f.drifted).length)),
      h("td", {}, formatNumber(r.prediction_psi)),
      h("td", {}, verdict(r)));
  });
  const head = ["window", "rows", "worst PSI", "drifted features", "prediction PSI", ""];
  return h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))), h("tbody", {}, rows));
}

function worstFeatures(name, report) {
  if (!report.window.rows) return h("p", { class: "muted" }, `No payloads logged in the last 24 h: turn logging on (PUT /models/${name}/monitoring).`);
  const worst = report.features.slice().sort((a, b) => b.psi - a.psi).slice(0, WORST);
  const rows = worst.map((f) => h("tr", { "data-feature": f.feature },
    h("td", {}, f.feature), h("td", {}, formatNumber(f.psi)), h("td", {}, formatNumber(f.ks_statistic)),
    h("td", {}, formatNumber(f.ks_pvalue)), h("td", {}, f.drifted ? h("span", { class: "badge status-failed" }, "drifted") : "")));
  return h("div", {}, h("h3", {}, `Worst features (last 24 h, PSI > ${report.thresholds.psi} drifts)`),
    h("table", {}, h("thead", {}, h("tr", {}, ["feature", "PSI", "KS statistic", "KS p-value", ""].map((c) => h("th", {}, c)))), h("tbody", {}, rows)));
}
