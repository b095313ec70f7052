// Datasets: what has been uploaded, and an upload form (CSV / Parquet with a target column, or NPZ).
import { api } from "./api.js";
import { errorBox, formatTime, h, toast } from "./dom.js";

export async function datasetsPage(main) {
  const list = h("section", { class: "card" });
  main.replaceChildren(h("h1", {}, "Datasets"), uploadForm(() => refresh(list)), list);
  await refresh(list);
}

async function refresh(box) {
  try {
    const rows = await api("/datasets");
    box.replaceChildren(rows.length ? table(rows) : h("p", { class: "muted" }, "No uploads yet. Built-ins (iris, digits, wine, breast_cancer, diabetes) need none."));
  } catch (error) {
    box.replaceChildren(errorBox(error));
  }
}

function table(rows) {
  const body = rows.map((d) => h("tr", { "data-dataset": d.id },
    h("td", {}, d.name), h("td", {}, d.format), h("td", {}, String(d.rows)), h("td", { class: "mono" }, JSON.stringify(d.feature_shape)),
    h("td", {}, d.task), h("td", {}, d.classes ? d.classes.slice(0, 6).join(", ") + (d.classes.length > 6 ? " …" : "") : "–"),
    h("td", {}, formatTime(d.created_at)), h("td", { class: "mono" }, d.id)));
  return h("table", {}, h("thead", {}, h("tr", {}, ["name", "format", "rows", "features", "task", "classes", "created", "id (train with {\"dataset\": {\"id\": …}})"].map((c) => h("th", {}, c)))), h("tbody", {}, body));
}

function uploadForm(onUploaded) {
  const file = h("input", { type: "file", name: "file", accept: ".csv,.parquet,.npz", required: true });
  const name = h("input", { name: "name", placeholder: "flowers", pattern: "[a-z0-9][a-z0-9._-]{0,63}", required: true });
  const target = h("input", { name: "target", placeholder: "label column (csv, parquet)" });
  const task = h("select", { name: "task" }, h("option", { value: "" }, "task: infer"), h("option", { value: "classification" }, "classification"), h("option", { value: "regression" }, "regression"));
  const result = h("div");
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData();
    form.append("file", file.files[0]);
    form.append("name", name.value);
    if (target.value) form.append("target", target.value);
    if (task.value) form.append("task", task.value);
    try {
      const info = await api("/datasets", { method: "POST", form });
      result.replaceChildren();
      toast(`Uploaded ${info.name}: ${info.rows} rows`);
      onUploaded();
    } catch (error) { result.replaceChildren(errorBox(error)); }
  };
  return h("section", { class: "card" }, h("h2", {}, "Upload"),
    h("form", { class: "row", onsubmit: submit }, file, name, target, task, h("button", { class: "primary", type: "submit" }, "Upload")), result);
}
