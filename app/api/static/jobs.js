// Jobs: the list (refreshed while any job is active), a form to submit a spec, and one job's live curves.
import { api, apiBlob } from "./api.js";
import { lineChart } from "./chart.js";
import { specForm } from "./specform.js";
import { errorBox, formatTime, h, metricsText, progressBar, statusBadge, toast } from "./dom.js";
import { followJob } from "./events.js";

const ACTIVE = new Set(["queued", "running"]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function jobsPage(main, params, signal) {
  const list = h("section", { class: "card", id: "job-list" }, h("p", { class: "muted" }, "Loading jobs…"));
  const detail = h("section", { id: "job-detail" });
  main.replaceChildren(h("h1", {}, "Jobs"), newJobForm(), list, detail);
  pollList(list, params.id, signal);
  if (params.id) showJob(detail, params.id, signal);
}

async function pollList(box, selected, signal) {
  while (!signal.aborted) {
    let active = false;
    try {
      const jobs = await api("/jobs?limit=50");
      box.replaceChildren(jobTable(jobs, selected));
      active = jobs.some((job) => ACTIVE.has(job.status));
    } catch (error) {
      box.replaceChildren(errorBox(error));
    }
    await sleep(active ? 1000 : 5000);
  }
}

function jobTable(jobs, selected) {
  if (!jobs.length) return h("p", { class: "muted" }, "No jobs yet: submit a spec above, or run maas train SPEC.");
  const rows = jobs.map((job) => {
    const p = job.progress;
    const fold = p.fold ? ` fold ${p.fold}/${p.folds}` : p.folds ? " final" : "";
    return h("tr", { class: job.id === selected ? "selected" : "", "data-job-id": job.id, onclick: () => { location.hash = `#/jobs/${job.id}`; } },
      h("td", {}, h("a", { href: `#/jobs/${job.id}` }, job.model_name)),
      h("td", {}, statusBadge(job.status)),
      h("td", {}, progressBar(p.epoch, p.epochs), fold),
      h("td", {}, job.model ? h("a", { href: `#/models/${job.model.name}` }, `v${job.model.version}`) : "–"),
      h("td", {}, formatTime(job.created_at)),
      h("td", { class: "mono" }, job.id.slice(0, 8)));
  });
  return h("table", {}, h("thead", {}, h("tr", {}, ["model", "status", "progress", "version", "created", "id"].map((c) => h("th", {}, c)))), h("tbody", {}, rows));
}

function newJobForm() {
  return specForm({
    summary: "New training job",
    placeholder: '{"model_name": "iris-mlp", "dataset": {"builtin": "iris"}, ...}',
    path: "/train",
    button: "Train",
    pageOf: (job) => `#/jobs/${job.id}`,
  });
}

/** Epochs by phase ("fold 1", ..., "final"/"training"), filled from the event stream. */
class Curves {
  constructor() { this.phases = new Map(); this.chosen = null; }
  add({ epoch, fold, folds, metrics }) {
    const name = fold ? `fold ${fold}` : folds ? "final" : "training";
    if (!this.phases.has(name)) this.phases.set(name, []);
    this.phases.get(name)[epoch - 1] = metrics;
  }
  get shown() { return this.chosen && this.phases.has(this.chosen) ? this.chosen : [...this.phases.keys()].pop(); }
}

function chartsFor(epochs) {
  const names = [...new Set(epochs.filter(Boolean).flatMap((m) => Object.keys(m)))];
  const values = (name) => Array.from(epochs, (m) => (m && typeof m[name] === "number" ? m[name] : null));
  const groups = [["loss", names.filter((n) => n === "loss" || n === "val_loss")]];
  for (const base of names.filter((n) => !n.startsWith("val_") && n !== "loss")) {
    groups.push([base, [base, `val_${base}`].filter((n) => names.includes(n))]);
  }
  return groups.filter(([, series]) => series.length).map(([title, series]) => ({ title, series: series.map((name) => ({ name, values: values(name) })) }));
}

async function showJob(box, id, signal) {
  let job;
  try { job = await api(`/jobs/${encodeURIComponent(id)}`); } catch (error) { box.replaceChildren(errorBox(error)); return; }
  const curves = new Curves();
  const header = h("div");
  const phases = h("div", { class: "phases" });
  const charts = h("div", { class: "charts", id: "charts" });
  box.replaceChildren(h("div", { class: "card" }, header, phases, charts));
  const renderHeader = () => header.replaceChildren(jobHeader(job));
  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const shown = curves.shown;
      phases.replaceChildren(...(curves.phases.size > 1 ? [...curves.phases.keys()].map((name) =>
        h("button", { type: "button", class: name === shown ? "chip active" : "chip", onclick: () => { curves.chosen = name; redraw(); } }, name)) : []));
      charts.replaceChildren(...chartsFor(shown ? curves.phases.get(shown) : []).map(({ title, series }) => {
        const holder = h("div", { class: "chart-box", "data-chart": title });
        lineChart(holder, shown && curves.phases.size > 1 ? `${title} (${shown})` : title, series);
        return holder;
      }));
      if (!curves.phases.size) charts.replaceChildren(h("p", { class: "muted" }, "Curves appear here after the first epoch."));
    });
  };
  renderHeader();
  redraw();
  try {
    await followJob(id, async (event) => {
      if (event.event === "progress") {
        curves.add(event.data);
        const rate = event.data.samples_per_second ?? job.progress.samples_per_second;
        job.progress = { epoch: event.data.epoch, epochs: event.data.epochs, fold: event.data.fold, folds: event.data.folds, samples_per_second: rate };
        redraw();
      } else if (event.event === "status" && !(ACTIVE.has(event.data.status) && !ACTIVE.has(job.status))) {
        // (a finished job's stream replays its history: its early statuses must not overwrite the final one)
        job = { ...job, status: event.data.status, model: event.data.model ?? job.model, error: event.data.error ?? job.error };
        if (!ACTIVE.has(event.data.status)) job = await api(`/jobs/${encodeURIComponent(id)}`);
      }
      renderHeader();
    }, signal);
  } catch (error) {
    if (!signal.aborted) charts.append(errorBox(error));
  }
}

function jobHeader(job) {
  const p = job.progress;
  const phase = p.fold ? `fold ${p.fold}/${p.folds}` : p.folds ? "final model" : "";
  const actions = [];
  if (ACTIVE.has(job.status)) {
    actions.push(h("button", { type: "button", onclick: async () => { try { await api(`/jobs/${job.id}/cancel`, { method: "POST" }); toast("Cancelled"); } catch (e) { toast(e.message, "error"); } } }, "Cancel"));
  }
  actions.push(h("button", { type: "button", onclick: () => downloadLogs(job.id) }, "TensorBoard logs"));
  return h("div", { class: "job-header" },
    h("h2", {}, job.model_name, " ", statusBadge(job.status), job.model ? h("a", { class: "version-link", href: `#/models/${job.model.name}` }, ` → v${job.model.version}`) : null),
    h("p", { class: "mono muted" }, job.id),
    h("div", { class: "row" }, progressBar(p.epoch, p.epochs), h("span", { class: "muted" }, ` ${phase}`),
      p.samples_per_second ? h("span", { class: "muted samples-per-second" }, ` ${samplesPerSecond(p.samples_per_second)}`) : null),
    job.metrics && Object.keys(job.metrics.final || {}).length ? h("p", {}, h("strong", {}, "final: "), metricsText(job.metrics.final, 8)) : null,
    job.metrics && job.metrics.cv && job.metrics.cv.mean ? h("p", {}, h("strong", {}, `cross-validation mean (${p.folds} folds): `), metricsText(job.metrics.cv.mean, 8)) : null,
    job.metrics && job.metrics.test ? h("p", {}, h("strong", {}, "test: "), metricsText(job.metrics.test, 8)) : null,
    job.error ? h("div", { class: "error" }, h("strong", {}, job.error.type), ": ", job.error.message) : null,
    h("div", { class: "actions" }, actions));
}

function samplesPerSecond(rate) {
  return `${Math.round(rate).toLocaleString("en-US")} samples/s`;
}

async function downloadLogs(id) {
  try {
    const blob = await apiBlob(`/jobs/${id}/tensorboard`);
    const link = h("a", { href: URL.createObjectURL(blob), download: `${id}-tensorboard.tar.gz` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (error) {
    toast(error.message, "error");
  }
}
