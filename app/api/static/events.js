// A job's Server-Sent Events read with fetch() (EventSource cannot send an Authorization header), resumed with
// Last-Event-ID after a dropped connection, until the job's terminal status.
import { apiFetch } from "./api.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "pruned"]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function parseBlock(lines) {
  const event = { event: "message", id: null, data: [] };
  for (const line of lines) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event.event = value;
    else if (field === "data") event.data.push(value);
    else if (field === "id") event.id = value;
  }
  if (!event.data.length) return null;
  const text = event.data.join("\n");
  try { event.data = JSON.parse(text); } catch { event.data = text; }
  return event;
}

/** Calls onEvent({event, id, data}) for each event; resolves when the job has ended or `signal` aborts. */
export async function followJob(jobId, onEvent, signal) {
  let lastId = null;
  while (!signal.aborted) {
    const headers = { Accept: "text/event-stream" };
    if (lastId) headers["Last-Event-ID"] = lastId;
    let response;
    try {
      response = await apiFetch(`/jobs/${encodeURIComponent(jobId)}/events`, { headers, signal });
    } catch {
      if (signal.aborted) return;
      await sleep(1000);
      continue;
    }
    if (response.status === 204) return;
    if (!response.ok) throw new Error(`the event stream answered HTTP ${response.status}`);
    try {
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = parseBlock(buffer.slice(0, end).split("\n"));
          buffer = buffer.slice(end + 2);
          if (!event) continue;
          if (event.id) lastId = event.id;
          onEvent(event);
          if (event.event === "status" && TERMINAL.has(event.data.status)) return;
        }
      }
    } catch {
      if (signal.aborted) return;  // otherwise the connection broke: resume from lastId
    }
    await sleep(1000);
  }
}
