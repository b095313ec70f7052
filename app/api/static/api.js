// Calls to the maas API from the page: same origin, the API key (if any) as a Bearer token, 401 -> ask for a key.
const API_ROOT = new URL("../", document.baseURI);
const KEY = "maas.apiKey";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.error || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function apiUrl(path) {
  return new URL(path.replace(/^\//, ""), API_ROOT).toString();
}

function withKey(headers) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...headers, Authorization: `Bearer ${key}` } : { ...headers };
}

let pendingKey = null;
let declined = false; // the user cancelled the prompt: do not ask again on every poll, only from the button

/** Ask for a key once, however many calls are waiting for it; resolves true when one was given. */
export function askForKey(reason, { fromUser = false } = {}) {
  if (fromUser) declined = false;
  if (pendingKey) return pendingKey;
  if (declined) return Promise.resolve(false);
  const dialog = document.getElementById("key-dialog");
  document.getElementById("key-reason").textContent = reason || "This server needs an API key.";
  document.getElementById("key-input").value = "";
  pendingKey = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      pendingKey = null;
      const value = document.getElementById("key-input").value.trim();
      if (dialog.returnValue === "ok" && value) {
        sessionStorage.setItem(KEY, value);
        resolve(true);
      } else {
        declined = true;
        resolve(false);
      }
    }, { once: true });
  });
  dialog.showModal();
  return pendingKey;
}

/** fetch() with the key; a 401 asks for a key and retries. Returns the Response (not yet read). */
export async function apiFetch(path, options = {}) {
  for (;;) {
    const response = await fetch(apiUrl(path), { ...options, headers: withKey(options.headers || {}) });
    if (response.status !== 401) return response;
    if (!(await askForKey("The server answered 401: enter an API key."))) return response;
  }
}

async function problemOf(response) {
  const text = await response.text();
  try { return JSON.parse(text); } catch { return { detail: text || response.statusText }; }
}

/** JSON in, JSON out; a problem document becomes an ApiError. */
export async function api(path, { method = "GET", body, form } = {}) {
  const options = { method, headers: {} };
  if (form) options.body = form;
  else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  const response = await apiFetch(path, options);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  return response.json();
}

export async function apiBlob(path) {
  const response = await apiFetch(path);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.blob();
}
