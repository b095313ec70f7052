// A collapsible form that POSTs a pasted JSON spec and opens what it created: new jobs and new sweeps alike.
import { api } from "./api.js";
import { errorBox, h } from "./dom.js";

export function specForm({ summary, placeholder, path, button, pageOf }) {
  const text = h("textarea", { rows: 10, spellcheck: "false", placeholder });
  const result = h("div");
  const submit = async (event) => {
    event.preventDefault();
    let spec;
    try { spec = JSON.parse(text.value); } catch (error) { result.replaceChildren(h("div", { class: "error" }, `Not JSON: ${error.message}`)); return; }
    try {
      const created = await api(path, { method: "POST", body: spec });
      result.replaceChildren();
      location.hash = pageOf(created);
    } catch (error) { result.replaceChildren(errorBox(error)); }
  };
  return h("details", { class: "card" }, h("summary", {}, summary),
    h("form", { onsubmit: submit }, text, h("button", { class: "primary", type: "submit" }, button), result));
}
