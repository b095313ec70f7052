// Evaluations: one version's finished evaluations (newest shown), its metrics on the evaluated data beside the
// metrics it was published with, the confusion matrix as a heat map and per-class scores (or regression errors).
import { api } from "./api.js";
import { errorBox, formatNumber, formatTime, h } from "./dom.js";
import { heatMap } from "./heatmap.js";

export function evaluationsCard(name, versions, selected) {
  const body = h("div", { "data-evaluations": "" });
  const chosen = versions.some((v) => String(v.version) === String(selected)) ? String(selected) : null;
  const version = h("select", { name: "evaluation-version", onchange: () => load() },
    versions.slice().reverse().map((v) => h("option", { value: v.version, selected: String(v.version) === chosen }, `v${v.version}`)));
  const load = async () => {
    const v = versions.find((x) => String(x.version) === version.value);
    body.replaceChildren(h("p", { class: "muted" }, "Loading evaluations…"));
    try {
      const evaluations = await api(`/models/${encodeURIComponent(name)}/versions/${v.version}/evaluations`);
      body.replaceChildren(evaluations.length ? evaluationView(v, evaluations) : none(name, v));
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  };
  if (versions.length) load();
  return h("section", { class: "card", id: "evaluations" }, h("h2", {}, "Evaluation"), h("label", {}, "version ", version), body);
}

function none(name, v) {
  return h("p", { class: "muted" }, `No evaluations of v${v.version} yet: POST /models/${name}/versions/${v.version}/evaluations `,
    "with a dataset (or ", h("code", {}, `maas evaluate ${name} --version ${v.version} --dataset ID`), ").");
}

function datasetText(dataset) {
  const ref = Object.entries(dataset.ref).map(([key, value]) => `${key} ${typeof value === "string" ? value : JSON.stringify(value)}`).join(", ");
  return `${ref} · ${dataset.rows} rows · sha256 ${dataset.sha256.slice(0, 12)}`;
}

function evaluationView(v, evaluations) {
  const shown = h("div", {});
  const pick = h("select", { name: "evaluation", onchange: () => show(evaluations[Number(pick.value)]) },
    evaluations.map((e, i) => h("option", { value: i, selected: i === evaluations.length - 1 }, `${formatTime(e.created_at)} · ${datasetText(e.dataset)}`)).reverse());
  const show = (evaluation) => shown.replaceChildren(oneEvaluation(v, evaluation));
  show(evaluations[evaluations.length - 1]);
  return h("div", {}, evaluations.length > 1 ? h("label", {}, "evaluation ", pick) : null, shown);
}

function oneEvaluation(v, e) {
  const side = h("div", { class: "evaluation-metrics" },
    h("p", { class: "muted" }, "on ", datasetText(e.dataset), " · ", h("a", { href: `#/jobs/${e.job_id}` }, "job")),
    metricsTable(v.metrics || {}, { ...e.metrics, ...(e.roc_auc !== null && e.roc_auc !== undefined ? { roc_auc: e.roc_auc } : {}) }),
    e.regression ? regressionTable(e.regression) : null);
  const matrix = e.confusion_matrix ? h("div", { class: "evaluation-matrix" }, h("h3", {}, "Confusion matrix"), heatMap(e.confusion_matrix)) : null;
  return h("div", {}, h("div", { class: "evaluation" }, side, matrix), e.per_class ? perClassTable(e) : null);
}

function metricsTable(published, evaluated) {
  const names = [...new Set([...Object.keys(evaluated), ...Object.keys(published)])];
  const rows = names.map((n) => h("tr", { "data-metric": n }, h("td", {}, n), h("td", { class: "num" }, formatNumber(published[n])), h("td", { class: "num" }, formatNumber(evaluated[n]))));
  return h("table", { class: "metrics" }, h("thead", {}, h("tr", {}, h("th", {}, "metric"), h("th", { class: "num" }, "published"), h("th", { class: "num" }, "this evaluation"))), h("tbody", {}, rows));
}

function regressionTable(r) {
  const quantiles = Object.entries(r.residual_quantiles).map(([q, value]) => [`residual ${q}`, value]);
  const rows = [["MAE", r.mae], ["RMSE", r.rmse], ["R²", r.r2], ...quantiles].map(([n, value]) => h("tr", {}, h("td", {}, n), h("td", { class: "num" }, formatNumber(value))));
  return h("table", { class: "regression" }, h("tbody", {}, rows));
}

function perClassTable(e) {
  const labels = e.confusion_matrix ? e.confusion_matrix.labels : Object.keys(e.per_class);
  const rows = labels.map((label) => {
    const s = e.per_class[label];
    return h("tr", { "data-class": label }, h("td", {}, label), [s.precision, s.recall, s.f1].map((x) => h("td", { class: "num" }, formatNumber(x))), h("td", { class: "num" }, String(s.support)));
  });
  return h("table", { class: "per-class" }, h("thead", {}, h("tr", {}, ["class", "precision", "recall", "F1", "support"].map((c, i) => h("th", { class: i ? "num" : null }, c)))), h("tbody", {}, rows));
}
