// The Workflows pages: /ui/workflows lists the deployed workflows (active version, schedule and
// next fire in the schedule's zone); /ui/workflows/<id> shows one with its instances;
// its versions (the active one marked, activate and roll back with a confirmation, a line diff of
// the rendered YAML of two versions); /ui/workflows/<id>/instances/<n> shows an instance: its
// steps as a DAG whose states change live and as a Gantt chart of their attempts, each step's job
// and log one click away, stop and restart, and the asset versions it used.
import { useState } from "preact/hooks";
import { Link, useLocation, useParams } from "wouter-preact";
import { enc, getJson, sendJson } from "./api.js";
import { lineDiff } from "./diff.js";
import { ConfirmButton, ErrorBox, KeyValues, ListTable, LiveIndicator, StatusBadge, Time, useLive, useLoad, useMe } from "./ui.jsx";

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
      <ListTable
        class="workflows"
        columns={["Workflow", "Environment", "Active version", "Schedule", "Next fire", "State"]}
        items={items}
        loaded={!!list.data}
        empty={
          <>
            No workflows deployed. Start with <code>weir sample workflow bash project</code>.
          </>
        }
        row={(w) => (
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
        )}
      />
    </section>
  );
}

export function WorkflowPage() {
  const id = decoded(useParams().id);
  const wf = useLoad(() => getJson(wfUrl(id)), [id]);
  const instances = useLoad(() => getJson(wfUrl(id) + "/instances?size=50"), [id]);
  // Instances follow their steps' job events; while one is still going the list is also re-read
  // every 3 s, live or not, since the scheduler records an instance's end after its last job's
  // event.
  const going = ((instances.data && instances.data.instances) || []).some(
    (x) => !FINAL_INSTANCE.includes(x.status),
  );
  const mode = useLive(
    (e) => e.grouping === id && instances.reload(),
    () => instances.reload(),
    3000,
    going,
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
      {w && <Versions id={id} onChange={() => wf.reload()} />}
      <h2 class="section">Instances</h2>
      <ErrorBox error={instances.error} />
      <ListTable
        class="instances"
        columns={["#", "Status", "Version", "Trigger", "Started", "Finished", "Message"]}
        items={items}
        loaded={!!instances.data}
        empty={
          <>
            No instances yet. Start one with <code>weir workflow run {id}</code>.
          </>
        }
        row={(i) => (
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
        )}
      />
    </section>
  );
}

export function InstancePage() {
  const params = useParams();
  const id = decoded(params.id);
  const n = params.n;
  const instUrl = wfUrl(id) + "/instances/" + enc(n);
  const inst = useLoad(() => getJson(instUrl), [id, n]);
  const i = inst.data;
  const running = !i || !FINAL_INSTANCE.includes(i.status);
  // Step states follow their jobs' events (grouping = the workflow); an instance that is still
  // going is also re-read every 2 s, live or not: for the states no job event marks (PENDING,
  // WAITING_RETRY), and because the scheduler records a step's end after its job's last event.
  const mode = useLive(
    (e) => e.grouping === id && inst.reload(),
    running ? () => inst.reload() : null,
    2000,
    true,
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
        <div class="actions">
          {!FINAL_INSTANCE.includes(i.status) && (
            <ConfirmButton
              label="Stop…"
              name="confirm stop"
              danger
              question="Stop this instance? Its unfinished steps become STOPPED and their running jobs are killed."
              confirm="Stop instance"
              action={() => sendJson("POST", instUrl + "/stop", { actor: "ui" }).then(() => inst.reload())}
            />
          )}
          {(i.status === "FAILED" || i.status === "STOPPED") && (
            <ConfirmButton
              label="Restart from failed…"
              name="confirm restart"
              question="Run this instance again from the steps that did not succeed?"
              confirm="Restart"
              action={() => sendJson("POST", instUrl + "/restart", { actor: "ui" }).then(() => inst.reload())}
            />
          )}
        </div>
      )}
      {i && (
        <>
          <div class="card">
            <h2>Steps</h2>
            <Dag steps={i.steps || []} />
          </div>
          <div class="card section">
            <h2>Timeline</h2>
            <Gantt steps={i.steps || []} />
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
                        <>
                          <Link href={"/jobs/" + enc(s.jobId)} class="step-job">
                            job
                          </Link>
                          {" · "}
                          {/* A failed step's log is its stderr (the message ends with its last lines). */}
                          <Link href={"/jobs/" + enc(s.jobId) + "/output/" + (s.status === "FAILED" ? "stderr" : "stdout")} class="step-log">
                            {s.status === "FAILED" ? "stderr" : "stdout"}
                          </Link>
                        </>
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
                [
                  "assets",
                  (i.assets || []).map((a) => (
                    <div key={a.uuid} class="mono small">
                      <Link href={"/assets/" + enc(a.uuid)} class="asset-link">
                        {a.uuid}
                      </Link>
                    </div>
                  )),
                ],
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

// The versions of a workflow, newest first, with the active one marked; "Activate…" on the others
// and "Roll back…" (to the version active before) each ask first, then POST and reload. Below, a
// line diff of the rendered YAML (the manifest's `definition`) of two chosen versions.
function Versions({ id, onChange }) {
  const list = useLoad(() => getJson(wfUrl(id) + "/versions"), [id]);
  const versions = (list.data && list.data.versions) || [];
  const activations = (list.data && list.data.activations) || [];
  const active = versions.find((v) => v.active);
  const changed = () => {
    list.reload();
    onChange();
  };
  const actor = () => "ui";
  return (
    <div class="card section" id="versions">
      <div class="card-head">
        <h2>Versions</h2>
        {active && versions.length > 1 && (
          <ConfirmButton
            label="Roll back…"
            name="confirm rollback"
            question={`Make the version active before ${active.version} the active one? New instances use it; running ones keep theirs.`}
            confirm="Roll back"
            action={() => sendJson("POST", wfUrl(id) + "/rollback", { actor: actor() }).then(changed)}
          />
        )}
      </div>
      <ErrorBox error={list.error} />
      <div class="table-wrap">
        <table class="versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Deployed</th>
              <th>By</th>
              <th>From</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version} data-version={v.version} data-active={v.active ? "true" : "false"}>
                <td>
                  {v.version} {v.active && <span class="badge st-active">active</span>}
                  {v.dirty && <span class="badge st-killed" title="deployed from a tree with uncommitted changes">dirty</span>}
                </td>
                <td>
                  <Time value={v.created} />
                </td>
                <td>{v.deployer || <span class="muted">–</span>}</td>
                <td class="mono small">
                  {v.branch}
                  {v.commit ? " @ " + v.commit.slice(0, 8) : ""}
                </td>
                <td>
                  {!v.active && (
                    <ConfirmButton
                      label="Activate…"
                      name={"confirm activate " + v.version}
                      question={`Make version ${v.version} the active one?`}
                      confirm="Activate"
                      action={() => sendJson("POST", wfUrl(id) + "/activate", { version: v.version, actor: actor() }).then(changed)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {activations.length > 0 && (
        <details class="section">
          <summary>Activation history ({activations.length})</summary>
          <ul class="plain small">
            {activations.map((a, i) => (
              <li key={i}>
                <Time value={a.at} /> version {a.version}
                {a.previous ? " (was " + a.previous + ")" : ""} by {a.reason}
                {a.actor ? ", " + a.actor : ""}
              </li>
            ))}
          </ul>
        </details>
      )}
      {versions.length > 1 && <VersionDiff id={id} versions={versions.map((v) => v.version)} />}
    </div>
  );
}

function VersionDiff({ id, versions }) {
  // Default: the version before the newest against the newest.
  const [from, setFrom] = useState(versions[1]);
  const [to, setTo] = useState(versions[0]);
  const diff = useLoad(
    () =>
      Promise.all([from, to].map((v) => getJson(wfUrl(id) + "/versions/" + v))).then(([a, b]) =>
        lineDiff((a.manifest && a.manifest.definition) || "", (b.manifest && b.manifest.definition) || ""),
      ),
    [id, from, to],
  );
  const lines = diff.data || [];
  const changes = lines.filter((l) => l.op !== " ").length;
  const pick = (value, set, label) => (
    <select aria-label={label} value={value} onChange={(e) => set(Number(e.currentTarget.value))}>
      {versions.map((v) => (
        <option key={v} value={v}>
          version {v}
        </option>
      ))}
    </select>
  );
  return (
    <div class="section" id="version-diff">
      <div class="diff-bar">
        <strong>Rendered YAML:</strong> {pick(from, setFrom, "diff from")} → {pick(to, setTo, "diff to")}
        <span class="muted small">{diff.data ? (changes ? changes + " changed lines" : "identical") : ""}</span>
      </div>
      <ErrorBox error={diff.error} />
      <pre class="diff">
        {lines.map((l, i) => (
          <div key={i} class={"dl" + (l.op === "+" ? " add" : l.op === "-" ? " del" : "")}>
            <span class="ln">{l.a ?? ""}</span>
            <span class="ln">{l.b ?? ""}</span>
            <span class="op">{l.op}</span>
            {l.text}
          </div>
        ))}
      </pre>
    </div>
  );
}

// The steps' attempts on a time axis: one row per step, one bar per attempt (from its job's
// creation to its end, or now while it runs), coloured by status; a bar links to its job.
function Gantt({ steps }) {
  const [, navigate] = useLocation();
  const now = Date.now();
  const rows = steps.map((s) => ({
    id: s.id,
    bars: (s.history && s.history.length ? s.history : s.jobId ? [{ jobId: s.jobId, attempt: s.attempts, status: s.status, created: s.started, finished: s.finished }] : [])
      .filter((h) => h.created)
      .map((h) => ({
        ...h,
        // An unfinished attempt's own status is SUBMITTING or SUBMITTED; its step says more
        // (RUNNING) when it is the step's current job.
        status: !h.finished && h.jobId === s.jobId ? s.status : h.status,
        t0: Date.parse(h.created),
        t1: h.finished ? Date.parse(h.finished) : now,
      })),
  }));
  const all = rows.flatMap((r) => r.bars);
  if (!all.length) return <p class="muted">No attempt has started yet.</p>;
  const start = Math.min(...all.map((b) => b.t0));
  const end = Math.max(start + 1000, ...all.map((b) => b.t1));
  const LABEL = 150;
  const W = 900;
  const ROW = 26;
  const AXIS = 22;
  const plot = W - LABEL - 10;
  const x = (t) => LABEL + ((t - start) / (end - start)) * plot;
  const height = AXIS + rows.length * ROW + 4;
  const span = (end - start) / 1000;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const fmt = (sec) => (span < 120 ? sec.toFixed(span < 2 ? 2 : span < 10 ? 1 : 0) + " s" : (sec / 60).toFixed(1) + " min");
  return (
    <div class="gantt-wrap">
      <svg class="gantt" viewBox={`0 0 ${W} ${height}`} width="100%" role="img" aria-label="the steps' attempts over time">
        {ticks.map((f) => (
          <g key={f}>
            <line class="tick" x1={LABEL + f * plot} x2={LABEL + f * plot} y1={AXIS - 4} y2={height} />
            <text class="axis" x={LABEL + f * plot} y={12} text-anchor={f === 0 ? "start" : f === 1 ? "end" : "middle"}>
              {"+" + fmt(f * span)}
            </text>
          </g>
        ))}
        {rows.map((r, k) => (
          <g key={r.id} data-gantt-step={r.id}>
            <text class="label" x={0} y={AXIS + k * ROW + 17}>
              {r.id.length > 18 ? r.id.slice(0, 17) + "…" : r.id}
            </text>
            {r.bars.map((b, j) => {
              const x0 = x(b.t0);
              const w = Math.max(3, x(b.t1) - x0);
              return (
                <a
                  key={j}
                  href={"/ui/jobs/" + enc(b.jobId || "")}
                  onClick={(e) => {
                    e.preventDefault();
                    if (b.jobId) navigate("/jobs/" + enc(b.jobId));
                  }}
                >
                  <rect
                    class={"bar st-" + String(b.status).toLowerCase()}
                    data-status={b.status}
                    x={x0}
                    y={AXIS + k * ROW + 4}
                    width={w}
                    height={ROW - 8}
                    rx="3"
                  >
                    <title>
                      {`${r.id} attempt ${b.attempt}${b.run > 1 ? " (run " + b.run + ")" : ""}: ${b.status}, ${((b.t1 - b.t0) / 1000).toFixed(1)} s`}
                    </title>
                  </rect>
                </a>
              );
            })}
          </g>
        ))}
      </svg>
    </div>
  );
}
