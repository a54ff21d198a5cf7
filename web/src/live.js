// Live job changes for the pages: the server's event stream (GET /api/weir/v1/events, Server-Sent
// Events) read with fetch() so the bearer token can be sent (EventSource cannot send headers).
// When the server has no event stream (404 or 501: an older server) the
// subscribers are told to poll instead. One stream is shared by every subscriber of the tab.

import { request } from "./api.js";

const subscribers = new Set();
let mode = "connecting"; // "connecting" | "live" | "polling"
let started = false;
let lastEventId = null;
const modeListeners = new Set();

export function liveMode() {
  return mode;
}

export function onLiveMode(fn) {
  modeListeners.add(fn);
  return () => modeListeners.delete(fn);
}

function setMode(m) {
  if (mode === m) return;
  mode = m;
  modeListeners.forEach((fn) => fn(m));
}

// fn(event) for each job event ({type, jobId, toState, status, ...}); returns an unsubscribe.
export function subscribe(fn) {
  subscribers.add(fn);
  if (!started) {
    started = true;
    run();
  }
  return () => subscribers.delete(fn);
}

async function run() {
  let failures = 0;
  for (;;) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastEventId !== null) headers["Last-Event-ID"] = String(lastEventId);
      const res = await request("/api/weir/v1/events?type=JOB_STATUS_CHANGE,JOB_FINISHED", {
        headers,
      });
      if (res.status === 404 || res.status === 501 || res.status === 405) {
        setMode("polling");
        return;
      }
      if (!res.ok || !res.body) throw new Error("events: " + res.status);
      setMode("live");
      failures = 0;
      await readStream(res.body);
    } catch (_) {
      failures++;
    }
    // The stream ended (server restart, a `resume` after a slow read): reconnect from the last id.
    setMode(failures > 3 ? "polling" : "connecting");
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** failures, 5000)));
  }
}

async function readStream(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
    }
  }
}

function dispatch(block) {
  let type = "message";
  let data = "";
  let id = null;
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data += (data ? "\n" : "") + value;
    else if (field === "id") id = value;
  }
  if (type === "resume") {
    try {
      lastEventId = JSON.parse(data).lastEventId;
    } catch (_) {
      // keep the last id seen
    }
    return;
  }
  if (id !== null) lastEventId = Number(id);
  if (!data) return;
  let event;
  try {
    event = JSON.parse(data);
  } catch (_) {
    return;
  }
  subscribers.forEach((fn) => fn(event));
}
