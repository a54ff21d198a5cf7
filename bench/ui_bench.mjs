// U1 of docs/performance.md: the web UI's first-load script size and the time to interactive of
// the jobs page with JOBS jobs recorded, against a reference measured alternately in the same
// run: a static page of the same shape (a 25-row table, no script) served by a plain Node HTTP
// server on loopback.
//   node bench/ui_bench.mjs BUILD_DIR [JOBS] [ROUNDS]
// Starts `weir server` (port 0, a temp data folder, the demo configuration) and submits up to 200
// short jobs over HTTP (all JOBS when fewer), waits for them to end; for the rest (JOBS defaults
// to 100,000) it stops the server and copies those finished jobs in the SQLite file with
// `sqlite3` (new ids and names, times spread back over the past, their tags too), then starts the
// server again on the same data. Then it loads /ui/jobs in Debian's Chromium ROUNDS times
// (default 7) in fresh browser contexts (nothing cached), alternating with the reference.
// Time to interactive: from navigation start to the first job row on screen (the page has
// fetched its script and the first page of GET /api/v3/jobs and rendered it). Prints
// `name: value` lines; figures are never asserted.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const build = resolve(process.argv[2] || "build");
const jobs = Number(process.argv[3] || 100000);
const submitted = Math.min(jobs, 200);
const rounds = Number(process.argv[4] || 7);
const root = resolve(new URL("..", import.meta.url).pathname);
const weirBin = join(build, "weir");
const { chromium } = await import(
  pathToFileURL(join(build, "web", "node_modules", "playwright-core", "index.mjs")).href
);

// The first load's script: every .js the built index.html pulls in (Vite emits one entry chunk).
const dist = join(build, "web", "dist");
const index = readFileSync(join(dist, "index.html"), "utf8");
let scriptRaw = 0;
let scriptGzip = 0;
for (const m of index.matchAll(/src="\/ui\/(assets\/[^"]+\.js)"/g)) {
  const data = readFileSync(join(dist, m[1]));
  scriptRaw += data.length;
  scriptGzip += gzipSync(data, { level: 9 }).length;
}
const css = readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".css"));
const cssGzip = css.reduce((n, f) => n + gzipSync(readFileSync(join(dist, "assets", f))).length, 0);
console.log(`ui_script_bytes: ${scriptRaw}`);
console.log(`ui_script_gzip_bytes: ${scriptGzip} (target <= 153600)`);
console.log(`ui_css_gzip_bytes: ${cssGzip}`);

const tmp = mkdtempSync(join(tmpdir(), "weir-u1-"));
// No memory or per-user limit gets in the way of filling the job table.
writeFileSync(join(tmp, "weir.yaml"), "jobs:\n  max_system_memory_mb: 10000000\n  max_active_jobs_per_user: 0\n");
// Starts `weir server` on the data folder; resolves to {proc, url}.
function startServer() {
  const proc = spawn(weirBin, ["server", "--config", join(tmp, "weir.yaml"), "--listen", "127.0.0.1:0",
    "--data-dir", join(tmp, "data")], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  return new Promise((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error("weir server did not start in 120 s")), 120000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ proc, url: m[1] });
      }
    });
    proc.on("exit", (code) => fail(new Error("weir server exited " + code)));
  });
}

async function stopServer(proc) {
  if (!proc || proc.exitCode !== null) return;
  const gone = new Promise((ok) => proc.on("exit", ok));
  proc.kill("SIGTERM");
  await gone;
}

let server = null;
let reference;
let browser;
try {
  server = await startServer();
  let url = server.url;
  execFileSync(weirBin, ["--server", url, "apply", "-f", join(root, "examples", "demo.yaml")], { stdio: "ignore" });

  // JOBS short jobs, 8 submissions in flight; then wait until none is active.
  const started = Date.now();
  let next = 0;
  const body = (i) => JSON.stringify({
    name: "u1-" + i, user: "bench", version: "1", commandArgs: "true",
    clusterCriterias: [{ tags: ["sched:sla"] }], commandCriteria: ["type:bash"],
  });
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < submitted) {
      const i = next++;
      const res = await fetch(url + "/api/v3/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: body(i) });
      if (res.status !== 202) throw new Error("submit answered " + res.status + ": " + (await res.text()));
    }
  }));
  const deadline = Date.now() + 30 * 60000;
  for (;;) {
    const r = await (await fetch(url + "/api/v3/jobs?status=INIT&status=RUNNING&size=1")).json();
    if (r.page.totalElements === 0) break;
    if (Date.now() > deadline) throw new Error("jobs still active after 30 minutes");
    await new Promise((ok) => setTimeout(ok, 500));
  }
  console.log(`u1_jobs_submitted: ${submitted} (submitted and ended in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (jobs > submitted) {
    // The rest as copies of the finished jobs, straight into the stopped server's SQLite file.
    await stopServer(server.proc);
    const copies = jobs - submitted;
    const t0 = Date.now();
    const sql = `PRAGMA foreign_keys = ON;
BEGIN;
CREATE TEMP TABLE seed AS SELECT row_number() OVER (ORDER BY created) - 1 AS k, * FROM jobs;
CREATE TEMP TABLE copies AS
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${copies})
  SELECT i, printf('%08x-u1u1-4000-8000-%012x', i, i) AS id, (i % (SELECT count(*) FROM seed)) AS k FROM n;
INSERT INTO jobs (id, name, user, status, created, updated, started, finished, cluster_name,
                  cluster_id, command_name, command_id, grouping, grouping_instance, request, state)
  SELECT c.id, 'u1-copy-' || c.i, s.user, s.status, s.created - c.i * 1000, s.updated - c.i * 1000,
         s.started - c.i * 1000, s.finished - c.i * 1000, s.cluster_name, s.cluster_id,
         s.command_name, s.command_id, s.grouping, s.grouping_instance, s.request, s.state
  FROM copies c JOIN seed s ON s.k = c.k;
INSERT INTO job_tags (job_id, tag) SELECT c.id, t.tag FROM copies c JOIN seed s ON s.k = c.k JOIN job_tags t ON t.job_id = s.id;
COMMIT;
SELECT count(*) FROM jobs;`;
    const count = execFileSync("sqlite3", [join(tmp, "data", "weir.db")], { input: sql, encoding: "utf8" }).trim();
    console.log(`u1_jobs_copied: ${copies} in ${((Date.now() - t0) / 1000).toFixed(1)} s (sqlite3; jobs table: ${count})`);
    server = await startServer();
    url = server.url;
  }
  const total = (await (await fetch(url + "/api/v3/jobs?size=1")).json()).page.totalElements;
  console.log(`u1_jobs: ${total} recorded`);

  // The reference: the same table as static HTML (25 rows of the jobs' real fields).
  const page0 = await (await fetch(url + "/api/v3/jobs?size=25")).json();
  const rows = page0._embedded.jobSearchResultList.map((j) =>
    `<tr data-job-id="${j.id}"><td>${j.name}<div>${j.id}</div></td><td>${j.status}</td><td>${j.user}</td>` +
    `<td>${j.clusterName}</td><td>${j.commandName}</td><td>${j.started}</td><td>${j.finished}</td><td>${j.runtime}</td></tr>`).join("");
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>ref</title></head><body>` +
    `<table class="jobs"><tbody>${rows}</tbody></table></body></html>`;
  reference = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    res.end(html);
  });
  await new Promise((ok) => reference.listen(0, "127.0.0.1", ok));
  const refUrl = `http://127.0.0.1:${reference.address().port}/`;

  browser = await chromium.launch({
    executablePath: process.env.WEIR_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const measure = async (target) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(target, { waitUntil: "commit" });
    await page.locator("table.jobs tbody tr[data-job-id]").first().waitFor({ timeout: 60000 });
    const ms = await page.evaluate(() => performance.now());
    await context.close();
    return ms;
  };
  await measure(url + "/ui/jobs"); // warm-up of both (the server's and the browser's first run)
  await measure(refUrl);
  const ui = [];
  const ref = [];
  for (let r = 0; r < rounds; r++) {
    ui.push(await measure(url + "/ui/jobs"));
    ref.push(await measure(refUrl));
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  // The part of it the server's first page costs: the page's own API call, timed from Node.
  const api = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    await (await fetch(url + "/api/v3/jobs?page=0&size=25&sort=created%2Cdesc")).json();
    api.push(performance.now() - t);
  }
  console.log(`u1_first_page_api_ms_median: ${median(api).toFixed(1)} (GET /api/v3/jobs?size=25 of ${total})`);
  console.log(`u1_jobs_page_tti_ms_median: ${median(ui).toFixed(0)} (rounds: ${ui.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`u1_static_reference_ms_median: ${median(ref).toFixed(0)} (rounds: ${ref.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`u1_tti_over_reference: ${(median(ui) / median(ref)).toFixed(2)}`);
} finally {
  if (browser) await browser.close();
  if (reference) reference.close();
  if (server) await stopServer(server.proc);
  rmSync(tmp, { recursive: true, force: true });
}
