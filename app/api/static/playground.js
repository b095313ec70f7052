// Prediction playground: pick a model and a version or alias, paste instances as JSON, see outputs and classes.
import { api } from "./api.js";
import { errorBox, formatNumber, h } from "./dom.js";

function zeros(shape) {
  return shape.length ? Array.from({ length: shape[0] ?? 1 }, () => zeros(shape.slice(1))) : 0;
}

export async function playgroundPage(main, params) {
  main.replaceChildren(h("h1", {}, "Prediction playground"));
  let models;
  try { models = await api("/models"); } catch (error) { main.append(errorBox(error)); return; }
  if (!models.length) { main.append(h("p", { class: "card muted" }, "No models yet: train one first.")); return; }
  const model = h("select", { id: "pg-model" }, models.map((m) => h("option", { value: m.name, selected: m.name === params.model }, m.name)));
  const target = h("select", { id: "pg-target" });
  const info = h("p", { class: "muted", id: "pg-info" });
  const instances = h("textarea", { id: "pg-instances", rows: 8, spellcheck: "false" });
  const result = h("div", { id: "pg-result" });

  const loadTargets = async (preferred) => {
    const detail = await api(`/models/${encodeURIComponent(model.value)}`);
    const versions = detail.versions.slice().reverse();
    target.replaceChildren(h("option", { value: "" }, "latest"),
      ...Object.entries(detail.aliases).sort().map(([a, v]) => h("option", { value: `alias:${a}` }, `alias ${a} (v${v})`)),
      ...versions.map((v) => h("option", { value: `version:${v.version}`, selected: String(v.version) === preferred }, `v${v.version}`)));
    const latest = versions[0];
    info.textContent = `input ${JSON.stringify(latest.input_shape)}` + (latest.classes ? ` · classes: ${latest.classes.join(", ")}` : ` · ${latest.task}`);
    if (!instances.value.trim() || instances.dataset.example === "yes") {
      instances.value = JSON.stringify([zeros(latest.input_shape.slice(1))]);
      instances.dataset.example = "yes";
    }
  };
  instances.addEventListener("input", () => { instances.dataset.example = "no"; });
  model.addEventListener("change", () => loadTargets());

  const submit = async (event) => {
    event.preventDefault();
    let rows;
    try { rows = JSON.parse(instances.value); } catch (error) { result.replaceChildren(h("div", { class: "error" }, `Not JSON: ${error.message}`)); return; }
    const body = { model: model.value, instances: rows };
    const [kind, value] = target.value.split(":");
    if (kind === "version") body.version = Number(value);
    if (kind === "alias") body.alias = value;
    try {
      result.replaceChildren(predictionTable(await api("/predict", { method: "POST", body })));
    } catch (error) { result.replaceChildren(errorBox(error)); }
  };
  main.append(h("section", { class: "card" },
    h("form", { onsubmit: submit, id: "pg-form" },
      h("div", { class: "row" }, h("label", {}, "model ", model), h("label", {}, "version ", target)), info,
      h("label", { class: "block" }, "instances (JSON: one row per instance)", instances),
      h("button", { class: "primary", type: "submit", id: "pg-predict" }, "Predict")), result));
  await loadTargets(params.version);
}

function predictionTable(reply) {
  const rows = reply.predictions.map((p, i) => {
    const flat = [p].flat(Infinity);
    return h("tr", { class: "prediction" }, h("td", {}, String(i)),
      reply.classes ? h("td", { class: "class" }, reply.classes[i]) : null,
      reply.classes ? h("td", {}, formatNumber(Math.max(...flat))) : null,
      h("td", { class: "mono" }, flat.slice(0, 10).map(formatNumber).join(", ") + (flat.length > 10 ? " …" : "")));
  });
  const heads = ["#", ...(reply.classes ? ["class", "score"] : []), "outputs"];
  return h("div", {}, h("p", {}, `${reply.model} v${reply.version}`),
    h("table", {}, h("thead", {}, h("tr", {}, heads.map((c) => h("th", {}, c)))), h("tbody", {}, rows)));
}
