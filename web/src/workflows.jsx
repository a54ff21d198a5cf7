// The Workflows pages: /ui/workflows lists the deployed workflows (active version, schedule and
// next fire in the schedule's zone); /ui/workflows/<id> shows one with its instances;
// /ui/workflows/<id>/instances/<n> shows an instance: its steps as a DAG whose states change live,
// each step's job one click away.
import { Link, useLocation, useParams } from "wouter-preact";
import { enc, getJson } from "./api.js";
import { ErrorBox, KeyValues, LiveIndicator, StatusBadge, Time, useLive, useLoad } from "./ui.jsx";

const FINAL_INSTANCE = ["SUCCEEDED", "FAILED", "STOPPED"];

function decoded(s) {
  try {
    return decodeURIComponent(s);
  } catch (_) {
    return s;
  }
}

function wfUrl(id) {
  return "/api/weir/v1/workflows/" + enc(id);
}

// A time in the workflow's own zone ("2026-12-07 06:00 UTC"), the instant as a tooltip.
export function ZonedTime({ value, zone }) {
  if (!value) return <span class="muted">–</span>;
  let text = value;
  try {
    const f = new Intl.DateTimeFormat("sv-SE", {
      timeZone: zone || "UTC",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    text = f.format(new Date(value)) + " " + (zone || "UTC");
  } catch (_) {
    // an unknown zone: the instant as sent
  }
  return (
    <time datetime={value} title={value}>
      {text}
    </time>
  );
}

export function WorkflowsPage() {
  const list = useLoad(() => getJson("/api/weir/v1/workflows"), []);
  const items = (list.data && list.data.workflows) || [];
  return (
    <section>
      <div class="page-head">
        <h1>Workflows</h1>
      </div>
      <ErrorBox error={list.error} />
      <div class="table-wrap">
        <table class="workflows">
          <thead>
            <tr>
              <th>Workflow</th>
              <th>Environment</th>
              <th>Active version</th>
              <th>Schedule</th>
              <th>Next fire</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {items.map((w) => (
              <tr key={w.id} data-workflow-id={w.id}>
                <td>
                  <Link href={"/workflows/" + enc(w.id)}>{w.workflowId}</Link>
                  <div class="muted small mono">{w.owner + "/" + w.repo}</div>
                </td>
                <td>{w.environment}</td>
                <td>
                  {w.activeVersion ?? <span class="muted">none</span>}
                  {w.latestVersion !== w.activeVersion && <span class="muted small"> (latest {w.latestVersion})</span>}
                </td>
                <td>{w.schedule ? <code>{w.schedule}</code> : <span class="muted">manual</span>}</td>
                <td>
                  <ZonedTime value={w.nextFire} zone={w.timezone} />
                </td>
                <td>{w.undeployed ? "undeployed" : w.paused ? "paused" : "active"}</td>
              </tr>
            ))}
            {list.data && !items.length && (
              <tr>
                <td colSpan={6} class="muted empty">
                  No workflows deployed. Start with <code>weir sample workflow bash project</code>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function WorkflowPage() {
  const id = decoded(useParams().id);
  const wf = useLoad(() => getJson(wfUrl(id)), [id]);
  const instances = useLoad(() => getJson(wfUrl(id) + "/instances?size=50"), [id]);
  const mode = useLive(
    (e) => e.grouping === id && instances.reload(),
    () => instances.reload(),
    3000,
  );
  const w = wf.data;
  const items = (instances.data && instances.data.instances) || [];
  return (
    <section>
      <div class="page-head">
        <h1>
          <Link href="/workflows">Workflows</Link> / <span class="mono">{id}</span>
        </h1>
        <LiveIndicator mode={mode} />
      </div>
      <ErrorBox error={wf.error} />
      {w && (
        <div class="card">
          <KeyValues
            rows={[
              ["environment", w.environment],
              ["active version", w.activeVersion],
              ["latest version", w.latestVersion],
              ["schedule", w.schedule && <code>{w.schedule}</code>],
              ["time zone", w.timezone],
              ["next fire", <ZonedTime value={w.nextFire} zone={w.timezone} />],
              ["run strategy", w.runStrategy + (w.maxConcurrency ? " (max " + w.maxConcurrency + ")" : "")],
              ["state", w.undeployed ? "undeployed" : w.paused ? "paused" : "active"],
            ]}
          />
        </div>
      )}
      <h2 class="section">Instances</h2>
      <ErrorBox error={instances.error} />
      <div class="table-wrap">
        <table class="instances">
          <thead>
            <tr>
              <th>#</th>
              <th>Status</th>
              <th>Version</th>
              <th>Trigger</th>
              <th>Started</th>
              <th>Finished</th>
              <th>Message</th>
            </tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr key={i.number} data-instance={i.number}>
                <td>
                  <Link href={"/workflows/" + enc(id) + "/instances/" + i.number}>#{i.number}</Link>
                </td>
                <td>
                  <StatusBadge status={i.status} />
                </td>
                <td>{i.version}</td>
                <td>{i.trigger}</td>
                <td>
                  <Time value={i.started} />
                </td>
                <td>
                  <Time value={i.finished} />
                </td>
                <td class="small">{i.message}</td>
              </tr>
            ))}
            {instances.data && !items.length && (
              <tr>
                <td colSpan={7} class="muted empty">
                  No instances yet. Start one with <code>weir workflow run {id}</code>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function InstancePage() {
  const params = useParams();
  const id = decoded(params.id);
  const n = params.n;
  const inst = useLoad(() => getJson(wfUrl(id) + "/instances/" + enc(n)), [id, n]);
  const i = inst.data;
  const running = !i || !FINAL_INSTANCE.includes(i.status);
  // Step states follow their jobs' events (grouping = the workflow); an instance that is still
  // going is also re-read every 2 s, for the states no job event marks (PENDING, WAITING_RETRY).
  const mode = useLive(
    (e) => e.grouping === id && inst.reload(),
    running ? () => inst.reload() : null,
    2000,
  );
  return (
    <section>
      <div class="page-head">
        <h1>
          <Link href="/workflows">Workflows</Link> / <Link href={"/workflows/" + enc(id)}>{id}</Link> /{" "}
          <span class="mono">#{n}</span>
        </h1>
        {i && <StatusBadge status={i.status} />}
        <LiveIndicator mode={mode} />
      </div>
      <ErrorBox error={inst.error} />
      {i && (
        <>
          <div class="card">
            <h2>Steps</h2>
            <Dag steps={i.steps || []} />
          </div>
          <div class="table-wrap section">
            <table class="steps">
              <thead>
                <tr>
                  <th>Step</th>
                  <th>Status</th>
                  <th>Attempts</th>
                  <th>Job</th>
                  <th>Started</th>
                  <th>Finished</th>
                  <th>Message</th>
                </tr>
              </thead>
              <tbody>
                {(i.steps || []).map((s) => (
                  <tr key={s.id} data-step={s.id}>
                    <td class="mono">{s.id}</td>
                    <td>
                      <StatusBadge status={s.status} />
                    </td>
                    <td>
                      {s.attempts} / {s.maxAttempts}
                    </td>
                    <td>
                      {s.jobId ? (
                        // A failed step's log is its stderr (the message ends with its last lines).
                        <Link href={"/jobs/" + enc(s.jobId) + "/output/" + (s.status === "FAILED" ? "stderr" : "stdout")}>
                          {s.status === "FAILED" ? "stderr" : "stdout"}
                        </Link>
                      ) : (
                        <span class="muted">–</span>
                      )}
                    </td>
                    <td>
                      <Time value={s.started} />
                    </td>
                    <td>
                      <Time value={s.finished} />
                    </td>
                    <td class="small">{s.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="card section">
            <h2>Instance</h2>
            <KeyValues
              hideEmpty
              rows={[
                ["version", i.version],
                ["trigger", i.trigger],
                ["requested by", i.requestedBy],
                ["logical time", i.triggerTime],
                ["message", i.message],
                ["assets", (i.assets || []).map((a) => <div key={a.uuid} class="mono small">{a.uuid}</div>)],
                ["parameters", Object.entries(i.params || {}).map(([k, v]) => <div key={k} class="mono small">{k}={v}</div>)],
              ]}
            />
          </div>
        </>
      )}
    </section>
  );
}

// The steps as a left-to-right graph: a step's column is the length of the longest dependency
// path to it; edges are drawn from each dependency to the step. Each node links to its job.
function Dag({ steps }) {
  const [, navigate] = useLocation();
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0; // a cycle cannot be deployed; stay safe anyway
    seen.add(id);
    const s = byId.get(id);
    const d = s && s.dependsOn && s.dependsOn.length ? 1 + Math.max(...s.dependsOn.map((p) => depthOf(p, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  steps.forEach((s) => depthOf(s.id));
  const columns = [];
  steps.forEach((s) => {
    const d = depth.get(s.id);
    (columns[d] = columns[d] || []).push(s);
  });
  const W = 170;
  const H = 46;
  const GX = 60;
  const GY = 18;
  const pos = new Map();
  columns.forEach((col, c) => col.forEach((s, r) => pos.set(s.id, { x: 10 + c * (W + GX), y: 10 + r * (H + GY) })));
  const width = 20 + columns.length * (W + GX) - GX;
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + GY) - GY;
  return (
    <div class="dag-wrap">
      <svg class="dag" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="steps and their dependencies">
        <defs>
          <marker id="dag-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" class="arrow" />
          </marker>
        </defs>
        {steps.flatMap((s) =>
          (s.dependsOn || [])
            .filter((p) => pos.has(p))
            .map((p) => {
              const a = pos.get(p);
              const b = pos.get(s.id);
              const x1 = a.x + W;
              const y1 = a.y + H / 2;
              const x2 = b.x;
              const y2 = b.y + H / 2;
              return <path key={p + ">" + s.id} class="edge" marker-end="url(#dag-arrow)" d={`M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`} />;
            }),
        )}
        {steps.map((s) => {
          const { x, y } = pos.get(s.id);
          const node = (
            <g class={"node st-" + String(s.status).toLowerCase()} data-step-node={s.id} data-status={s.status}>
              <rect x={x} y={y} width={W} height={H} rx="6" />
              <text x={x + 10} y={y + 19} class="node-name">
                {s.id.length > 20 ? s.id.slice(0, 19) + "…" : s.id}
              </text>
              <text x={x + 10} y={y + 36} class="node-status">
                {s.status}
                {s.attempts > 1 ? " · attempt " + s.attempts : ""}
              </text>
            </g>
          );
          return s.jobId ? (
            <a
              key={s.id}
              href={"/ui/jobs/" + enc(s.jobId)}
              onClick={(e) => {
                e.preventDefault();
                navigate("/jobs/" + enc(s.jobId));
              }}
            >
              {node}
            </a>
          ) : (
            <g key={s.id}>{node}</g>
          );
        })}
      </svg>
    </div>
  );
}
