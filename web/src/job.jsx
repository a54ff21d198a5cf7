// The Job page (/ui/jobs/:id, and /ui/jobs/:id/output/<path> for a folder or file of its output):
// status, request, execution, the output browser with a live tail of a running job's files,
// download, and kill with confirmation.
import { useEffect, useRef, useState } from "preact/hooks";
import { Link, useParams } from "wouter-preact";
import { enc, errorOf, getJson, isFinal, request } from "./api.js";
import {
  ErrorBox,
  KeyValues,
  LiveIndicator,
  StatusBadge,
  Tags,
  Time,
  duration,
  formatBytes,
  useLive,
  useLoad,
} from "./ui.jsx";

const VIEW_LIMIT = 256 * 1024; // a bigger file shows its last 256 KiB (Range), with a note

export function JobPage() {
  const params = useParams();
  const id = params.id;
  const path = params["*"] || "";
  const base = "/api/v3/jobs/" + enc(id);
  const job = useLoad(() => getJson(base), [id]);
  const execution = useLoad(() => getJson(base + "/execution").catch(() => null), [id]);
  const req = useLoad(() => getJson(base + "/request"), [id]);
  const j = job.data;
  const final = j && isFinal(j.status);

  const mode = useLive(
    (e) => {
      if (e.jobId !== id) return;
      job.reload();
      execution.reload();
    },
    final ? null : () => {
      job.reload();
      execution.reload();
    },
  );

  return (
    <section>
      <div class="page-head">
        <h1>
          <Link href="/jobs">Jobs</Link> / <span class="mono">{j ? j.name : id}</span>
        </h1>
        {j && <StatusBadge status={j.status} />}
        {j && !final && <KillButton id={id} onKilled={() => job.reload()} />}
        <LiveIndicator mode={mode} />
      </div>
      <ErrorBox error={job.error} />
      {j && (
        <div class="grid">
          <div class="card">
            <h2>Status</h2>
            <KeyValues
              rows={[
                ["id", <span class="mono">{j.id}</span>],
                ["status", <span id="job-status">{j.status}</span>],
                ["message", j.statusMsg],
                ["created", <Time value={j.created} />],
                ["started", <Time value={j.started} />],
                ["finished", <Time value={j.finished} />],
                ["runtime", duration(j.runtime)],
                ["cluster", j.clusterName && <Link href={"/config/clusters?name=" + enc(j.clusterName)}>{j.clusterName}</Link>],
                ["command", j.commandName && <Link href={"/config/commands?name=" + enc(j.commandName)}>{j.commandName}</Link>],
                ["archive", j.archiveLocation && <span class="mono small">{j.archiveLocation}</span>],
              ]}
            />
          </div>
          <div class="card">
            <h2>Execution</h2>
            {execution.data ? (
              <KeyValues
                rows={[
                  ["host", execution.data.hostName],
                  ["pid", execution.data.processId],
                  ["exit code", execution.data.exitCode],
                  ["memory", execution.data.memory ? execution.data.memory + " MB" : null],
                  ["check delay", execution.data.checkDelay ? execution.data.checkDelay + " ms" : null],
                  ["timeout", <Time value={execution.data.timeout} />],
                ]}
              />
            ) : (
              <p class="muted">Not started yet.</p>
            )}
          </div>
        </div>
      )}
      {j && <OutputBrowser id={id} path={path} running={!final} />}
      {j && (
        <div class="card">
          <h2>Request</h2>
          {req.data ? <RequestView r={req.data} /> : <ErrorBox error={req.error} />}
        </div>
      )}
    </section>
  );
}

function RequestView({ r }) {
  return (
    <KeyValues
      hideEmpty
      rows={[
        ["name", r.name],
        ["user", r.user],
        ["version", r.version],
        ["description", r.description],
        ["tags", <Tags tags={r.tags} />],
        ["command args", r.commandArgs && <code class="block">{r.commandArgs}</code>],
        [
          "cluster criteria",
          (r.clusterCriterias || []).map((c, i) => (
            <div key={i}>
              {i + 1}. <Tags tags={c.tags} hideGenie={false} />
            </div>
          )),
        ],
        ["command criterion", <Tags tags={r.commandCriteria} hideGenie={false} />],
        ["applications", (r.applications || []).join(", ")],
        ["grouping", r.grouping && (r.groupingInstance ? r.grouping + " / " + r.groupingInstance : r.grouping)],
        ["memory", r.memory ? r.memory + " MB" : null],
        ["timeout", r.timeout ? r.timeout + " s" : null],
        ["environment", Object.keys(r.environmentVariables || {}).length ? Object.entries(r.environmentVariables).map(([k, v]) => k + "=" + v).join(" ") : null],
      ]}
    />
  );
}

function KillButton({ id, onKilled }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  if (!asking) {
    return (
      <button class="danger" onClick={() => setAsking(true)}>
        Kill…
      </button>
    );
  }
  return (
    <div class="confirm" role="dialog" aria-label="confirm kill">
      <span>Kill this job? Its processes get SIGTERM, then SIGKILL.</span>
      <button
        class="danger"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          const res = await request("/api/v3/jobs/" + enc(id), { method: "DELETE" });
          setBusy(false);
          if (!res.ok) {
            setError(await errorOf(res));
            return;
          }
          setAsking(false);
          onKilled();
        }}
      >
        Kill job
      </button>
      <button class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
      <ErrorBox error={error} />
    </div>
  );
}

// The folder `path` ("" or ending in "/") as a listing, or the file `path` in the viewer.
function OutputBrowser({ id, path, running }) {
  const isDir = path === "" || path.endsWith("/");
  const crumbs = path.split("/").filter(Boolean);
  const href = (p) => "/jobs/" + enc(id) + "/output/" + p.split("/").map(enc).join("/");
  return (
    <div class="card output">
      <h2>
        Output:{" "}
        <Link href={href("")}>{id.slice(0, 8)}</Link>
        {crumbs.map((c, i) => (
          <span key={i}>
            {" / "}
            <Link href={href(crumbs.slice(0, i + 1).join("/") + (i + 1 < crumbs.length || isDir ? "/" : ""))}>{c}</Link>
          </span>
        ))}
      </h2>
      {isDir ? (
        <Listing id={id} path={path} href={href} running={running} />
      ) : (
        <FileViewer id={id} path={path} running={running} />
      )}
    </div>
  );
}

function outputUrl(id, path) {
  return "/api/v3/jobs/" + enc(id) + "/output/" + path.split("/").map(enc).join("/");
}

function Listing({ id, path, href, running }) {
  const listing = useLoad(() => getJson(outputUrl(id, path)), [id, path]);
  useEffect(() => {
    if (!running) return undefined;
    const t = setInterval(listing.reload, 2000);
    return () => clearInterval(t);
  }, [running, id, path]);
  const l = listing.data;
  return (
    <div>
      <ErrorBox error={listing.error} />
      {l && (
        <table class="listing">
          <thead>
            <tr>
              <th>name</th>
              <th class="num">size</th>
              <th>modified</th>
            </tr>
          </thead>
          <tbody>
            {(l.directories || []).map((d) => (
              <tr key={d.name}>
                <td>
                  <Link href={href(path + d.name)} class="dir-link">{d.name}</Link>
                </td>
                <td />
                <td>
                  <Time value={d.lastModified} />
                </td>
              </tr>
            ))}
            {(l.files || []).map((f) => (
              <tr key={f.name}>
                <td>
                  <Link href={href(path + f.name)} class="file-link">
                    {f.name}
                  </Link>
                </td>
                <td class="num">{formatBytes(f.size)}</td>
                <td>
                  <Time value={f.lastModified} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

// Shows a file; a big one from its last VIEW_LIMIT bytes. While the job runs, follows the file's
// end with Range requests (bytes=N-), appending what was written since.
function FileViewer({ id, path, running }) {
  const url = outputUrl(id, path);
  const [text, setText] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState(null);
  const [follow, setFollow] = useState(true);
  const offset = useRef(0);
  const pre = useRef(null);

  useEffect(() => {
    let alive = true;
    let decoder = new TextDecoder();
    offset.current = 0;
    setText("");
    setNote("");
    setError(null);
    const read = async (first) => {
      const headers = {};
      if (first) {
        const head = await request(url, { method: "HEAD" });
        if (!head.ok) throw await errorOf(head);
        const size = Number(head.headers.get("content-length") || 0);
        if (size > VIEW_LIMIT) {
          offset.current = size - VIEW_LIMIT;
          setNote(`showing the last ${formatBytes(VIEW_LIMIT)} of ${formatBytes(size)}`);
        }
      }
      if (offset.current > 0) headers.Range = "bytes=" + offset.current + "-";
      const res = await request(url, { headers });
      if (res.status === 416) return; // nothing new
      if (!res.ok) throw await errorOf(res);
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (!alive) return;
      if (res.status === 200 && offset.current > 0) {
        // The whole file instead of the range asked for: start over.
        decoder = new TextDecoder();
        offset.current = 0;
        setText("");
      }
      // Offsets count bytes; the streaming decoder keeps a character split between two reads.
      offset.current += bytes.length;
      const chunk = decoder.decode(bytes, { stream: true });
      if (chunk) setText((t) => t + chunk);
    };
    read(true).catch((e) => alive && setError(e));
    let timer = null;
    if (running) {
      const tick = () => {
        read(false)
          .catch(() => {})
          .finally(() => {
            if (alive) timer = setTimeout(tick, 1000);
          });
      };
      timer = setTimeout(tick, 1000);
    }
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
  }, [url, running]);

  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, follow]);

  const download = async () => {
    const res = await request(url);
    if (!res.ok) {
      setError(await errorOf(res));
      return;
    }
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = path.split("/").pop();
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  };

  return (
    <div class="viewer">
      <div class="viewer-bar">
        {running && <span class="live live-live">tailing</span>}
        {note && <span class="muted">{note}</span>}
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} />
          follow end
        </label>
        <button class="secondary" onClick={download}>
          Download
        </button>
      </div>
      <ErrorBox error={error} />
      <pre ref={pre} class="file" data-file={path}>
        {text}
      </pre>
    </div>
  );
}
