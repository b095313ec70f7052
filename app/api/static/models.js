// Models: the registry's models; one model's versions with metrics, a version's evaluations, its aliases (set,
// move, remove) and drift. #/models/NAME?version=N opens version N's evaluation.
import { api } from "./api.js";
import { errorBox, formatTime, h, metricsText, toast } from "./dom.js";
import { driftCard } from "./drift.js";
import { evaluationsCard } from "./evaluations.js";

export async function modelsPage(main, params) {
  main.replaceChildren(h("h1", {}, params.name ? h("span", {}, h("a", { href: "#/models" }, "Models"), ` / ${params.name}`) : "Models"));
  try {
    main.append(params.name ? await modelDetail(params.name, params.version) : modelList(await api("/models")));
  } catch (error) {
    main.append(errorBox(error));
  }
}

function aliasText(aliases) {
  const entries = Object.entries(aliases || {}).sort();
  return entries.length ? entries.map(([alias, version]) => `${alias} → v${version}`).join(", ") : "–";
}

function modelList(models) {
  if (!models.length) return h("p", { class: "card muted" }, "No models yet: a job that succeeds publishes one.");
  const rows = models.map((m) => h("tr", { "data-model": m.name },
    h("td", {}, h("a", { href: `#/models/${m.name}` }, m.name)),
    h("td", {}, m.latest_version ? `v${m.latest_version}` : "–"),
    h("td", {}, String(m.versions)),
    h("td", {}, aliasText(m.aliases))));
  return h("section", { class: "card" }, h("table", {}, h("thead", {}, h("tr", {}, ["name", "latest", "versions", "aliases"].map((c) => h("th", {}, c)))), h("tbody", {}, rows)));
}

async function modelDetail(name, selected) {
  const model = await api(`/models/${encodeURIComponent(name)}`);
  const byVersion = {};
  for (const [alias, version] of Object.entries(model.aliases)) (byVersion[version] ||= []).push(alias);
  const rows = model.versions.slice().reverse().map((v) => h("tr", { "data-version": v.version },
    h("td", {}, h("a", { href: `#/models/${encodeURIComponent(name)}?version=${v.version}`, title: "its evaluations" }, `v${v.version}`), v.parent ? h("div", { class: "muted lineage" }, `fine-tuned from ${v.parent.name} v${v.parent.version}`) : null),
    h("td", {}, formatTime(v.created_at)),
    h("td", {}, v.task, v.classes ? ` (${v.classes.length} classes)` : ""),
    h("td", { class: "mono" }, JSON.stringify(v.input_shape)),
    h("td", {}, metricsText(v.metrics, 4)),
    h("td", {}, (byVersion[v.version] || []).sort().map((a) => h("span", { class: "badge" }, a))),
    h("td", {}, h("a", { href: `#/playground?model=${encodeURIComponent(name)}&version=${v.version}` }, "try it"), v.job_id ? [" · ", h("a", { href: `#/jobs/${v.job_id}` }, "job")] : null)));
  return h("div", {},
    h("section", { class: "card" }, h("table", {}, h("thead", {}, h("tr", {}, ["version", "created", "task", "input", "metrics", "aliases", ""].map((c) => h("th", {}, c)))), h("tbody", {}, rows))),
    evaluationsCard(name, model.versions, selected),
    aliasForm(name, model),
    driftCard(name, model.versions));
}

function aliasForm(name, model) {
  const alias = h("input", { name: "alias", value: "production", required: true, pattern: "[a-z0-9][a-z0-9._-]{0,63}", list: "alias-names" });
  const version = h("select", { name: "version" }, model.versions.slice().reverse().map((v) => h("option", { value: v.version }, `v${v.version}`)));
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const submit = async (event) => {
    event.preventDefault();
    try {
      await api(`/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias.value)}`, { method: "PUT", body: { version: Number(version.value) } });
      toast(`${alias.value} → v${version.value}`);
      reload();
    } catch (error) { toast(error.message, "error"); }
  };
  const remove = async (aliasName) => {
    try {
      await api(`/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(aliasName)}`, { method: "DELETE" });
      reload();
    } catch (error) { toast(error.message, "error"); }
  };
  const existing = Object.entries(model.aliases).sort().map(([a, v]) =>
    h("li", {}, h("strong", {}, a), ` → v${v} `, h("button", { type: "button", class: "link", onclick: () => remove(a) }, "remove")));
  return h("section", { class: "card" }, h("h2", {}, "Aliases"),
    existing.length ? h("ul", { class: "aliases" }, existing) : h("p", { class: "muted" }, "No aliases."),
    h("datalist", { id: "alias-names" }, Object.keys(model.aliases).map((a) => h("option", { value: a }))),
    h("form", { class: "row", onsubmit: submit, id: "alias-form" }, h("label", {}, "alias ", alias), h("label", {}, "version ", version), h("button", { class: "primary", type: "submit" }, "Point alias")));
}
