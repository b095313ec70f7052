// Sweeps: the list (refreshed while any sweep runs), a form to start one, and one sweep: what it searched, the
// best trial and the version it published, a scatter plot of the objective against each searched parameter, and
// every trial in a table. A sweep has no event stream (its state is an Optuna study plus its trials' jobs), so
// the page polls GET /sweeps/{id} until the sweep has ended.
import { api } from "./api.js";
import { specForm } from "./specform.js";
import { errorBox, formatNumber, formatTime, h, statusBadge, toast } from "./dom.js";
import { scatterChart } from "./scatter.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function sweepsPage(main, params, signal) {
  const list = h("section", { class: "card", id: "sweep-list" }, h("p", { class: "muted" }, "Loading sweeps…"));
  const detail = h("section", { id: "sweep-detail" });
  main.replaceChildren(h("h1", {}, "Sweeps"), newSweepForm(), list, detail);
  pollList(list, params.id, signal);
  if (params.id) pollSweep(detail, params.id, signal);
}

/** What became of a trial, in one word: Optuna's state once it has ended; before that its job's status (a trial
 * being created has no job yet; a cancelled sweep leaves its open trials "running" in Optuna, their jobs cancelled). */
function trialState(trial) {
  if (trial.state === "running") {
    const status = trial.job_status || "queued";
    return status === "succeeded" ? "complete" : status;
  }
  return trial.state === "fail" ? "failed" : trial.state;
}

const ended = (sweep) => sweep.trials.filter((t) => !["queued", "running"].includes(trialState(t))).length;

async function pollList(box, selected, signal) {
  while (!signal.aborted) {
    let active = false;
    try {
      const sweeps = await api("/sweeps?limit=50");
      box.replaceChildren(sweepTable(sweeps, selected));
      active = sweeps.some((sweep) => sweep.status === "running");
    } catch (error) {
      box.replaceChildren(errorBox(error));
    }
    await sleep(active ? 2000 : 5000);
  }
}

function sweepTable(sweeps, selected) {
  if (!sweeps.length) return h("p", { class: "muted" }, "No sweeps yet: start one above, or run maas sweep SPEC --follow.");
  const rows = sweeps.map((s) => h("tr", { class: s.id === selected ? "selected" : "", "data-sweep-id": s.id, onclick: () => { location.hash = `#/sweeps/${s.id}`; } },
    h("td", {}, h("a", { href: `#/sweeps/${s.id}` }, s.model_name)),
    h("td", {}, statusBadge(s.status)),
    h("td", {}, `${s.trials_created}/${s.spec.trials}`),
    h("td", {}, `${s.spec.objective.direction} ${s.spec.objective.metric}`),
    h("td", {}, s.model_version ? h("a", { href: `#/models/${s.model_name}` }, `v${s.model_version}`) : "–"),
    h("td", {}, formatTime(s.created_at)),
    h("td", { class: "mono" }, s.id.slice(0, 8))));
  return h("table", {}, h("thead", {}, h("tr", {}, ["model", "status", "trials", "objective", "version", "created", "id"].map((c) => h("th", {}, c)))), h("tbody", {}, rows));
}

function newSweepForm() {
  return specForm({
    summary: "New sweep",
    placeholder: '{"model_name": "iris-tuned", "base": {...}, "search_space": {"optimizer.learning_rate": {"type": "log_uniform", "low": 0.0001, "high": 0.1}}, "trials": 8}',
    path: "/sweeps",
    button: "Start sweep",
    pageOf: (sweep) => `#/sweeps/${sweep.id}`,
  });
}

async function pollSweep(box, id, signal) {
  let shown = "";
  while (!signal.aborted) {
    try {
      const sweep = await api(`/sweeps/${encodeURIComponent(id)}`);
      const text = JSON.stringify(sweep);
      if (text !== shown && !signal.aborted) box.replaceChildren(sweepDetail(sweep));
      shown = text;
      if (sweep.status !== "running") return;
    } catch (error) {
      box.replaceChildren(errorBox(error));
      if (error.status === 404) return;
    }
    await sleep(1000);
  }
}

function sweepDetail(sweep) {
  return h("div", { class: "card" }, sweepHeader(sweep), h("div", { class: "charts", id: "sweep-charts" }, scatterPlots(sweep)), trialTable(sweep));
}

function sweepHeader(sweep) {
  const { spec, best } = sweep;
  const metric = spec.objective.metric;
  const paramsText = (params) => Object.entries(params).map(([path, value]) => `${path} = ${formatNumber(value)}`).join(", ");
  const importances = Object.entries(sweep.importances || {}).map(([path, value]) => `${path} ${value.toFixed(2)}`).join(" · ");
  const cancel = async () => {
    try { await api(`/sweeps/${sweep.id}/cancel`, { method: "POST" }); toast("Sweep cancelled"); } catch (e) { toast(e.message, "error"); }
  };
  return h("div", { class: "sweep-header" },
    h("h2", {}, sweep.model_name, " ", statusBadge(sweep.status)),
    h("p", { class: "mono muted" }, sweep.id),
    h("p", {}, `${spec.objective.direction} ${metric} · ${spec.sampler} sampler · ${spec.pruner ? `${spec.pruner.type} pruner` : "no pruner"} · ${ended(sweep)}/${spec.trials} trials ended, ${spec.parallelism} at a time`),
    best ? h("p", { id: "sweep-best" }, h("strong", {}, "best: "), `trial ${best.number}, ${metric} ${formatNumber(best.objective)} (${paramsText(best.params)})`) : null,
    h("p", { id: "sweep-model" }, h("strong", {}, "published: "), ...published(sweep)),
    importances ? h("p", {}, h("strong", {}, "importance: "), importances) : null,
    sweep.error ? h("div", { class: "error" }, h("strong", {}, sweep.error.type), ": ", sweep.error.message) : null,
    sweep.status === "running" ? h("div", { class: "actions" }, h("button", { type: "button", onclick: cancel }, "Cancel sweep")) : null);
}

function published({ model, spec, status }) {
  if (!model) return [status === "running" ? "the best trial's model, once every trial has ended" : "nothing"];
  const link = h("a", { href: `#/models/${model.name}` }, `${model.name} v${model.version}`);
  return spec.alias ? [link, " ", h("span", { class: "badge" }, spec.alias)] : [link];
}

/** One scatter plot per searched parameter, the most important first (once Optuna can tell). */
function scatterPlots(sweep) {
  const { spec, best } = sweep;
  const importance = sweep.importances || {};
  const paths = Object.keys(spec.search_space).sort((a, b) => (importance[b] ?? 0) - (importance[a] ?? 0));
  const finished = sweep.trials.filter((t) => t.objective !== null && ["complete", "pruned"].includes(trialState(t)));
  return paths.map((path) => {
    const holder = h("div", { class: "chart-box", "data-param": path });
    scatterChart(holder, {
      path,
      param: spec.search_space[path],
      metric: spec.objective.metric,
      direction: spec.objective.direction,
      points: finished.map((t) => ({ trial: t.number, value: t.params[path], objective: t.objective, state: trialState(t) })),
      best: best ? best.number : null,
    });
    return holder;
  });
}

function trialTable(sweep) {
  const paths = Object.keys(sweep.spec.search_space);
  const best = sweep.best ? sweep.best.number : null;
  if (!sweep.trials.length) return h("p", { class: "muted" }, "No trials yet: the first ones are created as worker slots free up.");
  const rows = sweep.trials.map((t) => h("tr", { class: t.number === best ? "best" : "", "data-trial": t.number },
    h("td", {}, t.number === best ? `★ ${t.number}` : String(t.number)),
    h("td", {}, statusBadge(trialState(t))),
    paths.map((path) => h("td", { class: "num" }, formatNumber(t.params[path]))),
    h("td", { class: "num" }, formatNumber(t.objective)),
    h("td", { class: "num" }, formatNumber(t.epochs)),
    h("td", {}, t.job_id ? h("a", { class: "mono", href: `#/jobs/${t.job_id}` }, t.job_id.slice(0, 8)) : "–")));
  const headers = [h("th", {}, "#"), h("th", {}, "state"), ...[...paths, sweep.spec.objective.metric].map((c) => h("th", { class: "path" }, c)), h("th", {}, "epochs"), h("th", {}, "job")];
  return h("table", { id: "trial-table" }, h("thead", {}, h("tr", {}, headers)), h("tbody", {}, rows));
}
