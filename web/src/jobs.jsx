// The Jobs page (/ui/jobs): Genie's job search (GET /api/v3/jobs) with its filters, paging and
// sorting done by the server, so it stays fast however many jobs there are. Every filter, the
// page and the sort live in the URL, so a view can be shared. Statuses follow the event stream
// (or polling without one) without a reload. Keyboard: j/k select a row, Enter opens it, /
// focuses the filter (keys.jsx).
import { useEffect, useRef, useState } from "preact/hooks";
import { Link, useLocation, useSearch } from "wouter-preact";
import { JOB_STATUSES, embedded, enc, getJson } from "./api.js";
import { ErrorBox, LiveIndicator, StatusBadge, Time, duration, useLive, useLoad } from "./ui.jsx";

const PAGE_SIZES = [25, 50, 100];
const TEXT_FILTERS = [
  ["user", "user", "user"],
  ["tag", "tag", "tag (a:b)"],
  ["cluster", "clusterName", "cluster name"],
  ["command", "commandName", "command name"],
  ["name", "name", "job name"],
  ["grouping", "grouping", "grouping"],
];
// The started-time range: `from` / `to` (the browser's local time, as a datetime-local input
// gives it) or `last` (a preset relative to now); sent as minStarted / maxStarted (epoch ms).
const LAST = [
  ["", "any time"],
  ["1h", "last hour"],
  ["24h", "last 24 hours"],
  ["7d", "last 7 days"],
  ["30d", "last 30 days"],
];
const LAST_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const COLUMNS = [
  ["name", "Job"],
  ["status", "Status"],
  ["user", "User"],
  ["clusterName", "Cluster"],
  ["commandName", "Command"],
  ["started", "Started"],
  ["finished", "Finished"],
  [null, "Runtime"],
];

// The page's state from its URL (/ui/jobs?status=RUNNING&user=alice&page=2&sort=started,asc).
function viewFromSearch(search) {
  const q = new URLSearchParams(search);
  return {
    status: q.getAll("status"),
    user: q.get("user") || "",
    tag: q.get("tag") || "",
    cluster: q.get("cluster") || "",
    command: q.get("command") || "",
    name: q.get("name") || "",
    grouping: q.get("grouping") || "",
    from: q.get("from") || "",
    to: q.get("to") || "",
    last: LAST_MS[q.get("last")] ? q.get("last") : "",
    page: Math.max(0, Number(q.get("page") || 0) | 0),
    size: PAGE_SIZES.includes(Number(q.get("size"))) ? Number(q.get("size")) : 25,
    sort: q.get("sort") || "created,desc",
  };
}

function searchFromView(v) {
  const q = new URLSearchParams();
  v.status.forEach((s) => q.append("status", s));
  for (const [key] of TEXT_FILTERS) if (v[key]) q.set(key, v[key]);
  for (const key of ["from", "to", "last"]) if (v[key]) q.set(key, v[key]);
  if (v.page) q.set("page", String(v.page));
  if (v.size !== 25) q.set("size", String(v.size));
  if (v.sort !== "created,desc") q.set("sort", v.sort);
  const s = q.toString();
  return s ? "?" + s : "";
}

function apiQuery(v) {
  const q = new URLSearchParams();
  v.status.forEach((s) => q.append("status", s));
  for (const [key, param] of TEXT_FILTERS) {
    if (!v[key]) continue;
    if (key === "tag") v.tag.split(",").map((t) => t.trim()).filter(Boolean).forEach((t) => q.append("tag", t));
    else q.set(param, v[key]);
  }
  const from = v.last ? Math.floor((Date.now() - LAST_MS[v.last]) / 60000) * 60000 : Date.parse(v.from);
  const to = Date.parse(v.to);
  if (Number.isFinite(from)) q.set("minStarted", String(from));
  if (Number.isFinite(to)) q.set("maxStarted", String(to));
  q.set("page", String(v.page));
  q.set("size", String(v.size));
  q.set("sort", v.sort);
  return q.toString();
}

export function JobsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const view = viewFromSearch(search);
  const query = apiQuery(view);
  const { data, error, reload } = useLoad(() => getJson("/api/v3/jobs?" + query), [query]);
  const [statusOf, setStatusOf] = useState({}); // live statuses newer than the last load
  const refetch = useRef(null);

  useEffect(() => setStatusOf({}), [data]);

  // A job's change: its badge changes at once; the page is reloaded shortly after (coalesced), so
  // new jobs appear and times and sorting stay right.
  const mode = useLive(
    (e) => {
      const status = e.toState || e.status;
      if (e.jobId && status) setStatusOf((m) => ({ ...m, [e.jobId]: status }));
      if (!refetch.current) {
        refetch.current = setTimeout(() => {
          refetch.current = null;
          reload();
        }, 300);
      }
    },
    () => reload(),
  );
  useEffect(() => () => refetch.current && clearTimeout(refetch.current), []);

  const go = (change) => navigate("/jobs" + searchFromView({ ...view, page: 0, ...change }));

  const jobs = embedded(data, "jobSearchResultList");
  const page = (data && data.page) || { number: 0, totalPages: 0, totalElements: 0 };
  const [sortField, sortDir] = view.sort.split(",");

  return (
    <section>
      <div class="page-head">
        <h1>Jobs</h1>
        <LiveIndicator mode={mode} />
      </div>
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget);
          const change = {};
          for (const [key] of TEXT_FILTERS) change[key] = String(f.get(key) || "").trim();
          for (const key of ["from", "to"]) change[key] = String(f.get(key) || "");
          // An explicit range replaces the preset.
          change.last = change.from || change.to ? "" : view.last;
          go(change);
        }}
      >
        <fieldset class="statuses" aria-label="status">
          {JOB_STATUSES.map((s) => (
            <label key={s} class="check">
              <input
                type="checkbox"
                name="status"
                value={s}
                checked={view.status.includes(s)}
                onChange={(ev) =>
                  go({
                    status: ev.currentTarget.checked
                      ? [...view.status, s]
                      : view.status.filter((x) => x !== s),
                  })
                }
              />
              {s}
            </label>
          ))}
        </fieldset>
        <div class="text-filters">
          {TEXT_FILTERS.map(([key, , label]) => (
            <input key={key + view[key]} name={key} placeholder={label} aria-label={label} defaultValue={view[key]} />
          ))}
          <select
            name="last"
            aria-label="started within"
            value={view.last}
            onChange={(ev) => go({ last: ev.currentTarget.value, from: "", to: "" })}
          >
            {LAST.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
          <label class="range">
            started from
            <input key={"from" + view.from} type="datetime-local" name="from" aria-label="started from" defaultValue={view.from} />
          </label>
          <label class="range">
            to
            <input key={"to" + view.to} type="datetime-local" name="to" aria-label="started to" defaultValue={view.to} />
          </label>
          <button type="submit">Filter</button>
          <button type="button" class="secondary" onClick={() => navigate("/jobs")}>
            Clear
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      <div class="table-wrap">
        <table class="jobs">
          <thead>
            <tr>
              {COLUMNS.map(([field, label]) => (
                <th key={label} aria-sort={field === sortField ? (sortDir === "asc" ? "ascending" : "descending") : undefined}>
                  {field ? (
                    <a
                      href="#"
                      onClick={(ev) => {
                        ev.preventDefault();
                        const dir = field === sortField && sortDir === "desc" ? "asc" : "desc";
                        go({ sort: field + "," + dir, page: view.page });
                      }}
                    >
                      {label}
                      {field === sortField ? (sortDir === "asc" ? " ▲" : " ▼") : ""}
                    </a>
                  ) : (
                    label
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.id} data-job-id={j.id}>
                <td>
                  <Link href={"/jobs/" + enc(j.id)} class="job-name">
                    {j.name}
                  </Link>
                  <div class="muted small mono">{j.id}</div>
                </td>
                <td>
                  <StatusBadge status={statusOf[j.id] || j.status} />
                </td>
                <td>{j.user}</td>
                <td>{j.clusterName || <span class="muted">–</span>}</td>
                <td>{j.commandName || <span class="muted">–</span>}</td>
                <td>
                  <Time value={j.started} />
                </td>
                <td>
                  <Time value={j.finished} />
                </td>
                <td>{duration(j.runtime)}</td>
              </tr>
            ))}
            {data && !jobs.length && (
              <tr>
                <td colSpan={COLUMNS.length} class="muted empty">
                  No jobs match. Submit one with <code>weir job submit</code>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="pages">
        <button disabled={view.page <= 0} onClick={() => go({ page: view.page - 1, sort: view.sort })}>
          ‹ Previous
        </button>
        <span>
          page {page.totalPages ? page.number + 1 : 0} of {page.totalPages} · {page.totalElements} jobs
        </span>
        <button
          disabled={page.number + 1 >= page.totalPages}
          onClick={() => go({ page: view.page + 1, sort: view.sort })}
        >
          Next ›
        </button>
        <select
          aria-label="page size"
          value={view.size}
          onChange={(ev) => go({ size: Number(ev.currentTarget.value), sort: view.sort })}
        >
          {PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {n} per page
            </option>
          ))}
        </select>
      </nav>
    </section>
  );
}
