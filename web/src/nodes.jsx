// The Nodes and health page (/ui/nodes): the server's health with its components
// (GET /admin/health), the nodes sharing the database with their heartbeat, running jobs,
// capacity and the leader (GET /api/weir/v1/admin/nodes), this node's periodic tasks
// (admin/tasks), the dependency cache (admin/cache), and the queue length and other counters of
// GET /metrics (Prometheus text, read by the page). Re-read every 5 s. The admin routes need the
// admin role: another caller sees what it may read and a note for the rest.
import { useEffect } from "preact/hooks";
import { getJson, request } from "./api.js";
import { ErrorBox, KeyValues, Time, formatBytes, useLoad } from "./ui.jsx";

// Health answers 503 with the same body when a component is DOWN: read it either way.
async function health() {
  const res = await request("/admin/health");
  return res.json();
}

// Prometheus text format: [{name, labels, value}] of the weir_* samples (no buckets).
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || !m[1].startsWith("weir_") || /_bucket$/.test(m[1])) continue;
    out.push({ name: m[1], labels: m[2] ? m[2].slice(1, -1) : "", value: Number(m[3]) });
  }
  return out;
}

async function metrics() {
  const res = await request("/metrics", { headers: { Accept: "text/plain" } });
  if (!res.ok) throw new Error("metrics: " + res.status + " " + res.statusText);
  return parseMetrics(await res.text());
}

function num(v) {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(3);
}

export function NodesPage() {
  const h = useLoad(health, []);
  const nodes = useLoad(() => getJson("/api/weir/v1/admin/nodes"), []);
  const tasks = useLoad(() => getJson("/api/weir/v1/admin/tasks"), []);
  const cache = useLoad(() => getJson("/api/weir/v1/admin/cache"), []);
  const m = useLoad(metrics, []);
  const refresh = () => [h, nodes, tasks, cache, m].forEach((x) => x.reload());
  // Nodes and counters have no events: the page re-reads them every 5 s.
  useEffect(() => {
    const t = setInterval(refresh, 5000);
    return () => clearInterval(t);
  }, []);
  const samples = m.data || [];
  const queue = samples.find((s) => s.name === "weir_job_queue_length");
  const active = samples.filter((s) => s.name === "weir_jobs_active");
  return (
    <section>
      <div class="page-head">
        <h1>Nodes and health</h1>
        {h.data && (
          <span class={"badge st-" + (h.data.status === "UP" ? "up" : "failed")} id="health-status">
            {h.data.status}
          </span>
        )}
      </div>
      <div class="grid">
        <div class="card" id="queue">
          <h2>Jobs</h2>
          <ErrorBox error={m.error} />
          <KeyValues
            rows={[
              ["queue length", queue ? <strong data-queue-length={queue.value}>{num(queue.value)}</strong> : null],
              ...active.map((s) => [s.labels.replace(/^phase="(.*)"$/, "$1"), num(s.value)]),
            ]}
          />
        </div>
        <div class="card">
          <h2>Health</h2>
          {h.data &&
            Object.entries(h.data.components || {}).map(([name, c]) => (
              <div key={name} class="component">
                <span class={"badge st-" + (c.status === "UP" ? "up" : "failed")}>{c.status}</span> <strong>{name}</strong>
                <div class="muted small">
                  {Object.entries(c.details || {})
                    .map(([k, v]) => k + " " + (typeof v === "number" ? (["free", "total", "threshold"].includes(k) ? formatBytes(v) : num(v)) : v))
                    .join(" · ")}
                </div>
              </div>
            ))}
        </div>
        <div class="card">
          <h2>Dependency cache</h2>
          <ErrorBox error={cache.error} />
          {cache.data && (
            <KeyValues
              rows={Object.entries(cache.data).map(([k, v]) => [
                k,
                typeof v === "number" ? (k === "hitRatio" ? (v * 100).toFixed(1) + " %" : /bytes/i.test(k) ? formatBytes(v) : num(v)) : String(v),
              ])}
            />
          )}
        </div>
      </div>
      <h2 class="section">Nodes</h2>
      <ErrorBox error={nodes.error} />
      {nodes.data && (
        <p class="muted small">
          Leader election: {nodes.data.leader.mode}
          {nodes.data.leader.node ? ", leader " + nodes.data.leader.node : ""}
          {nodes.data.leader.leaseExpires ? ", lease until " : ""}
          {nodes.data.leader.leaseExpires && <Time value={nodes.data.leader.leaseExpires} />}
        </p>
      )}
      <div class="table-wrap">
        <table class="nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>Last heartbeat</th>
              <th class="num">Running jobs</th>
              <th class="num">Capacity</th>
              <th class="num">Free memory</th>
              <th>Role</th>
            </tr>
          </thead>
          <tbody>
            {((nodes.data && nodes.data.nodes) || []).map((n) => (
              <tr key={n.id} data-node={n.id}>
                <td>
                  <span class="mono">{n.id}</span>
                  {n.self && <span class="muted small"> (this node)</span>}
                  <div class="muted small mono">{n.url}</div>
                </td>
                <td>
                  <Time value={n.lastHeartbeat} /> {n.stale && <span class="badge st-failed">stale</span>}
                </td>
                <td class="num">{n.runningJobs}</td>
                <td class="num">{n.capacityMb ? num(n.capacityMb) + " MB" : "unlimited"}</td>
                <td class="num">{n.freeMemoryMb < 0 ? "unlimited" : num(n.freeMemoryMb) + " MB"}</td>
                <td>{n.leader ? <span class="badge st-active">leader</span> : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2 class="section">Tasks of this node</h2>
      <ErrorBox error={tasks.error} />
      <div class="table-wrap">
        <table class="tasks">
          <thead>
            <tr>
              <th>Task</th>
              <th>Last run</th>
              <th class="num">Runs</th>
              <th>Counters</th>
              <th>Last error</th>
            </tr>
          </thead>
          <tbody>
            {((tasks.data && tasks.data.tasks) || []).map((t) => (
              <tr key={t.name} data-task={t.name}>
                <td>
                  {t.name}
                  {t.leaderOnly && <span class="muted small"> (leader only)</span>}
                </td>
                <td>
                  <Time value={t.lastRun} />
                </td>
                <td class="num">{num(t.runs)}</td>
                <td class="small">
                  {Object.entries(t.counters || {})
                    .map(([k, v]) => k + " " + num(v))
                    .join(" · ")}
                </td>
                <td class="small">{t.lastError || <span class="muted">–</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2 class="section">Counters</h2>
      <MetricsTable samples={samples.filter((s) => !detail(s))} />
      <details class="section">
        <summary>HTTP requests and timings ({samples.filter(detail).length})</summary>
        <MetricsTable samples={samples.filter(detail)} />
      </details>
    </section>
  );
}

// Per-route HTTP samples and histogram sums/counts: many rows, shown on demand.
function detail(s) {
  return s.name.startsWith("weir_http_") || /_seconds_(sum|count)$/.test(s.name);
}

function MetricsTable({ samples }) {
  return (
    <div class="table-wrap">
      <table class="metrics">
        <thead>
          <tr>
            <th>Metric</th>
            <th>Labels</th>
            <th class="num">Value</th>
          </tr>
        </thead>
        <tbody>
          {samples.map((s, i) => (
            <tr key={i} data-metric={s.name}>
              <td class="mono small">{s.name}</td>
              <td class="mono small">{s.labels}</td>
              <td class="num">{num(s.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
