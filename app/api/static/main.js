// The dashboard's router: #/jobs[/ID], #/models[/NAME][?version=N], #/datasets, #/sweeps[/ID], #/playground?model=..&version=..
// Each page gets an AbortSignal that fires when the user navigates away (stops its polling and event streams).
import { askForKey } from "./api.js";
import { datasetsPage } from "./datasets.js";
import { h } from "./dom.js";
import { jobsPage } from "./jobs.js";
import { modelsPage } from "./models.js";
import { playgroundPage } from "./playground.js";
import { sweepsPage } from "./sweeps.js";

let current = new AbortController();

function parseHash() {
  const [path, query = ""] = (location.hash.replace(/^#\/?/, "") || "jobs").split("?");
  const [page, ...rest] = path.split("/").map(decodeURIComponent);
  return { page, arg: rest.join("/"), query: Object.fromEntries(new URLSearchParams(query)) };
}

async function route() {
  current.abort();
  current = new AbortController();
  const { page, arg, query } = parseHash();
  const main = document.getElementById("main");
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
  try {
    if (page === "jobs") jobsPage(main, { id: arg || null }, current.signal);
    else if (page === "models") await modelsPage(main, { name: arg || null, version: query.version });
    else if (page === "datasets") await datasetsPage(main);
    else if (page === "sweeps") sweepsPage(main, { id: arg || null }, current.signal);
    else if (page === "playground") await playgroundPage(main, query);
    else main.replaceChildren(h("p", {}, "No such page. ", h("a", { href: "#/jobs" }, "Jobs")));
  } catch (error) {
    main.replaceChildren(h("div", { class: "error" }, String(error.message || error)));
  }
}

window.addEventListener("hashchange", route);
document.getElementById("key-button").addEventListener("click", () => askForKey("Enter the API key to send with every request.", { fromUser: true }).then(route));
route();
