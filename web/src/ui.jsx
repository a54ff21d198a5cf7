// Small shared pieces of the pages: status badges, times, tag lists, key/value tables, errors,
// and the hooks that load data and follow the live stream.
import { useEffect, useRef, useState } from "preact/hooks";
import { me } from "./api.js";
import { liveMode, onLiveMode, subscribe } from "./live.js";

export function StatusBadge({ status }) {
  return (
    <span class={"badge st-" + String(status || "").toLowerCase()} data-status={status}>
      {status || "?"}
    </span>
  );
}

// An ISO-8601 time shown in the browser's zone, with the UTC original as a tooltip.
export function Time({ value }) {
  if (!value) return <span class="muted">–</span>;
  const d = new Date(value);
  if (isNaN(d)) return <span>{value}</span>;
  const pad = (n) => String(n).padStart(2, "0");
  const text =
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return (
    <time datetime={value} title={value}>
      {text}
    </time>
  );
}

// "PT1M2.5S" → "1m 2.5s".
export function duration(iso) {
  if (!iso) return "";
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(iso);
  if (!m) return iso;
  const parts = [];
  if (m[1]) parts.push(m[1] + "h");
  if (m[2]) parts.push(m[2] + "m");
  if (m[3]) parts.push(Number(m[3]).toFixed(Number(m[3]) < 10 ? 2 : 0).replace(/\.?0+$/, "") + "s");
  return parts.join(" ") || "0s";
}

export function Tags({ tags, hideGenie = true }) {
  const shown = (tags || []).filter((t) => !hideGenie || !t.startsWith("genie."));
  if (!shown.length) return <span class="muted">none</span>;
  return (
    <span class="tags">
      {shown.map((t) => (
        <span class="tag" key={t}>
          {t}
        </span>
      ))}
    </span>
  );
}

// Rows of [label, value]; a false row is left out, and with hideEmpty so is an empty value.
export function KeyValues({ rows, hideEmpty = false }) {
  const empty = (v) => v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length);
  return (
    <dl class="kv">
      {rows
        .filter((r) => r && !(hideEmpty && empty(r[1])))
        .map(([k, v]) => [
          <dt key={k + ":k"}>{k}</dt>,
          <dd key={k + ":v"}>{v === null || v === undefined || v === "" ? <span class="muted">–</span> : v}</dd>,
        ])}
    </dl>
  );
}

// A list table in its scrolling frame: a header from `columns` (a label, or [label, class]), the
// row `row(item)` gives for each item, and once the list has loaded (`loaded`) without items one
// row saying `empty` (what to do to get some).
export function ListTable({ class: cls, columns, items, row, loaded, empty }) {
  return (
    <div class="table-wrap">
      <table class={cls}>
        <thead>
          <tr>
            {columns.map((c) => {
              const [label, thClass] = Array.isArray(c) ? c : [c];
              return (
                <th key={label} class={thClass}>
                  {label}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {items.map(row)}
          {loaded && !items.length && (
            <tr>
              <td colSpan={columns.length} class="muted empty">
                {empty}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      {String(error.message || error)}
    </div>
  );
}

// Loads `load()` (a promise) when `deps` change; returns {data, error, loading, reload}.
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => alive && setState({ data, error: null, loading: false }),
      (error) => alive && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      alive = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

// Calls onEvent for each live job event; when the server has no event stream, calls onPoll every
// `intervalMs` instead (with `pollWhenLive`, also while the stream is live: for state that no job
// event marks). Returns the current mode ("live", "connecting", "polling").
export function useLive(onEvent, onPoll, intervalMs = 2000, pollWhenLive = false) {
  const [mode, setMode] = useState(liveMode());
  const handlers = useRef({ onEvent, onPoll });
  handlers.current = { onEvent, onPoll };
  useEffect(() => {
    const unsubscribe = subscribe((e) => handlers.current.onEvent(e));
    const unwatch = onLiveMode(setMode);
    setMode(liveMode());
    return () => {
      unsubscribe();
      unwatch();
    };
  }, []);
  useEffect(() => {
    if ((mode === "live" && !pollWhenLive) || !onPoll) return undefined;
    const t = setInterval(() => handlers.current.onPoll && handlers.current.onPoll(), intervalMs);
    return () => clearInterval(t);
  }, [mode, intervalMs, pollWhenLive, !onPoll]);
  return mode;
}

export function LiveIndicator({ mode }) {
  const label = { live: "live", connecting: "connecting…", polling: "polling" }[mode] || mode;
  return (
    <span class={"live live-" + mode} title="how this page follows changes" data-live={mode}>
      {label}
    </span>
  );
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return v.toFixed(v < 10 ? 1 : 0) + " " + units[i];
}

// The caller ({name, roles, mechanism} of GET /api/weir/v1/me), null until it is known.
export function useMe() {
  const [who, setWho] = useState(null);
  useEffect(() => {
    let alive = true;
    me().then((w) => alive && setWho(w));
    return () => {
      alive = false;
    };
  }, []);
  return who;
}

// A button that asks before it acts: `label` opens an inline confirmation (role dialog named
// `name`) saying `question`; `confirm` runs `action` (a promise); its error is shown in place.
export function ConfirmButton({ label, name, question, confirm, action, danger = false, disabled = false }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  if (!asking) {
    return (
      <button class={danger ? "danger" : "secondary"} disabled={disabled} onClick={() => (setError(null), setAsking(true))}>
        {label}
      </button>
    );
  }
  return (
    <div class="confirm" role="dialog" aria-label={name}>
      <span>{question}</span>
      <button
        class={danger ? "danger" : ""}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await action();
            setAsking(false);
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        {confirm}
      </button>
      <button class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
      <ErrorBox error={error} />
    </div>
  );
}
