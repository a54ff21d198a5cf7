// Browser scenarios of the web UI, run by tests/ui_test.cc against a real `weir server` it started:
//   node ui_test.mjs SCENARIO
// Environment (set by ui_test.cc): WEIR_URL (the server), WEIR_BIN (the weir binary, for CLI
// submissions), WEIR_UI_MODULES (build/web/node_modules, for playwright-core), WEIR_CHROMIUM
// (Debian's /usr/bin/chromium: Playwright never downloads a browser here), WEIR_UI_SHOTS (the
// folder the screenshots go to), WEIR_TOKEN (a bearer token, for the auth scenario).
// Every wait has a deadline and fails loudly; the exit code is 0 only when the scenario passed.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const url = process.env.WEIR_URL;
const bin = process.env.WEIR_BIN;
const shots = process.env.WEIR_UI_SHOTS || "ui-screenshots";
const { chromium } = await import(
  pathToFileURL(join(process.env.WEIR_UI_MODULES, "playwright-core", "index.mjs")).href
);
const WAIT = 90000; // the longest any single condition may take, on a busy machine

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

// `weir --server URL ARGS...`: its stdout (the CLI prints a submitted job's id there).
function weir(...args) {
  return weirIn(undefined, ...args);
}

function weirIn(cwd, ...args) {
  const extra = process.env.WEIR_TOKEN ? ["--token", process.env.WEIR_TOKEN] : [];
  return execFileSync(bin, ["--server", url, ...extra, ...args], { encoding: "utf8", cwd }).trim();
}

async function api(path) {
  const headers = process.env.WEIR_TOKEN ? { Authorization: "Bearer " + process.env.WEIR_TOKEN } : {};
  const res = await fetch(url + path, { headers });
  check(res.ok, `GET ${path} answered ${res.status}`);
  return res.json();
}

// The sample bash project (`weir sample workflow bash project`) in a temporary folder, its
// workflow file changed by `edit` (text → text) and committed, deployed (a new version each time
// the rendered text changes). Returns the folder, for more deploys; the caller removes it.
function sampleProject() {
  const dir = mkdtempSync(join(tmpdir(), "weir-ui-wf-"));
  weirIn(dir, "sample", "workflow", "bash", "project");
  return join(dir, "project");
}

function deploy(project, edit) {
  if (edit) {
    const file = join(project, "flows", "hello.sch.yaml");
    writeFileSync(file, edit(readFileSync(file, "utf8")));
    execFileSync("git", ["-c", "user.name=ui", "-c", "user.email=ui@test", "commit", "-qam", "change"], { cwd: project });
  }
  weirIn(project, "project", "deploy");
}

// The sample's workflow with one more step, `check`, after `count`, that writes `marker` to
// stderr and fails; `count` first waits until the file `gate` exists (when given).
function withFailingCheck(marker, gate) {
  return (text) => {
    const count = gate
      ? `    args: ["for i in $(seq 1 1500); do [ -e '${gate}' ] && break; sleep 0.2; done; echo counted"]`
      : null;
    let out = text.replace(
      "dag:\n  - greet -> count",
      `  check:\n    command: [type:bash]\n    cluster: [type:local]\n    args: ["echo ${marker} >&2; exit 3"]\n` +
        "dag:\n  - greet -> count\n  - count -> check",
    );
    if (count) out = out.replace(/    args: \["echo '\$\{GREETING\}' \| wc -w"\]/, count);
    check(out !== text && out.includes("count -> check"), "the sample workflow changed as expected");
    if (gate) check(out.includes(gate), "the count step waits for the gate");
    return out;
  };
}

async function apiPost(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (process.env.WEIR_TOKEN) headers.Authorization = "Bearer " + process.env.WEIR_TOKEN;
  const res = await fetch(url + path, { method: "POST", headers, body: JSON.stringify(body || {}) });
  check(res.ok, `POST ${path} answered ${res.status}`);
  return res.json();
}

// Waits until `fn()` (async) is true; fails loudly after the deadline.
async function until(fn, what, ms = WAIT) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const WF = "prod:sample.bash-sample.hello-bash";
const wfPath = "/api/weir/v1/workflows/" + encodeURIComponent(WF);

async function shot(page, name) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, name + ".png"), fullPage: true });
}

// A page whose full reloads are counted: a live update must never need one.
async function openPage(browser, path, options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport || { width: 1280, height: 800 },
    colorScheme: options.colorScheme || "light",
  });
  const page = await context.newPage();
  if (options.beforeLoad) await options.beforeLoad(page);
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  // A 4xx answer the page handles (no event stream on an old server) logs "Failed to load
  // resource": not a problem of the page.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push("console: " + m.text());
  });
  await page.goto(url + path);
  await page.evaluate(() => (window.__notReloaded = true));
  page.notReloaded = async () => page.evaluate(() => window.__notReloaded === true);
  page.problems = problems;
  return page;
}

const scenarios = {
  // A job submitted by the CLI while the jobs page is open appears and turns SUCCEEDED without a
  // reload; its page shows the request and execution, and its stdout in the file viewer.
  async jobs_live(browser) {
    weir("job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", "warm-up", "--wait", "--", "echo warm");
    const page = await openPage(browser, "/ui/jobs");
    await page.locator("table.jobs tbody tr[data-job-id]").first().waitFor({ timeout: WAIT });
    // The SQLite store has the event stream: the page follows it rather than polling.
    await page.locator('[data-live="live"]').waitFor({ timeout: WAIT });
    const marker = "hello-from-the-ui-test-" + Date.now();
    const id = weir("job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", "ui-live",
      "--tag", "team:ui", "--", `sleep 1; echo ${marker}`);
    check(/^[0-9a-f-]{36}$/.test(id), "the CLI printed a job id, got: " + id);
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.waitFor({ timeout: WAIT });
    await row.locator('.badge[data-status="SUCCEEDED"]').waitFor({ timeout: WAIT });
    check(await page.notReloaded(), "the jobs page was reloaded to show the job");
    await shot(page, "jobs");

    // Filters live in the URL: a shared link shows the same view.
    await page.goto(url + "/ui/jobs?status=SUCCEEDED&user=" + encodeURIComponent(process.env.USER || "root"));
    await page.locator(`tr[data-job-id="${id}"]`).waitFor({ timeout: WAIT });
    check(await page.locator('input[name="status"][value="SUCCEEDED"]').isChecked(), "status filter from the URL");
    await page.goto(url + "/ui/jobs?status=FAILED");
    await page.locator("table.jobs tbody td.empty, table.jobs tbody tr[data-job-id]").first().waitFor({ timeout: WAIT });
    check((await page.locator(`tr[data-job-id="${id}"]`).count()) === 0, "a FAILED filter hides the job");

    await page.goto(url + "/ui/jobs");
    await page.locator(`tr[data-job-id="${id}"] a.job-name`).click({ timeout: WAIT });
    await page.waitForURL("**/ui/jobs/" + id, { timeout: WAIT });
    await page.locator("#job-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: WAIT });
    await page.getByText("exit code").waitFor({ timeout: WAIT });
    await page.locator("a.file-link", { hasText: /^stdout$/ }).click({ timeout: WAIT });
    await page.waitForURL("**/ui/jobs/" + id + "/output/stdout", { timeout: WAIT });
    await page.locator("pre.file", { hasText: marker }).waitFor({ timeout: WAIT });
    await shot(page, "job");

    // The page of a running job follows it to its end without a reload.
    const second = weir("job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", "ui-second",
      "--", "sleep 3; echo second");
    await page.goto(url + "/ui/jobs/" + second);
    await page.evaluate(() => (window.__notReloaded = true));
    await page.locator("#job-status", { hasText: /^(INIT|RUNNING)$/ }).waitFor({ timeout: WAIT });
    await page.locator("#job-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: WAIT });
    check(await page.notReloaded(), "the job page was reloaded to show SUCCEEDED");
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("jobs_live: job", id, "appeared, SUCCEEDED live, stdout shown; job", second, "followed live");
  },

  // A running job's stdout is tailed live; the job is killed from the UI after a confirmation and
  // ends KILLED.
  async kill(browser) {
    const id = weir("job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", "ui-kill", "--",
      "for i in $(seq 1 600); do echo tick-$i; sleep 0.2; done");
    const page = await openPage(browser, "/ui/jobs/" + id + "/output/stdout");
    await page.locator("#job-status", { hasText: "RUNNING" }).waitFor({ timeout: WAIT });
    await page.locator('[data-live="live"]').waitFor({ timeout: WAIT });
    // The tail follows the file as it grows (tick-10 is written ~2 s after the start).
    await page.locator("pre.file", { hasText: "tick-10\n" }).waitFor({ timeout: WAIT });
    await page.getByRole("button", { name: "Kill…" }).click();
    const dialog = page.getByRole("dialog", { name: "confirm kill" });
    await dialog.waitFor({ timeout: WAIT });
    await shot(page, "kill-confirm");
    check((await api("/api/v3/jobs/" + id + "/status")).status === "RUNNING", "nothing is killed before the confirmation");
    await dialog.getByRole("button", { name: "Kill job" }).click();
    await page.locator("#job-status", { hasText: "KILLED" }).waitFor({ timeout: WAIT });
    check(await page.notReloaded(), "the job page was reloaded to show KILLED");
    const status = (await api("/api/v3/jobs/" + id + "/status")).status;
    check(status === "KILLED", "the server says the job is KILLED, not " + status);
    check((await page.getByRole("button", { name: "Kill…" }).count()) === 0, "no kill button on a finished job");
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("kill: job", id, "tailed, killed from the UI, KILLED");
  },

  // The configuration pages show a cluster's tags and its commands, and the way back from a
  // command to its clusters.
  async config(browser) {
    const page = await openPage(browser, "/ui/config/clusters");
    const row = page.locator('tr[data-entity-id="local"]');
    await row.waitFor({ timeout: WAIT });
    await row.locator(".tag", { hasText: "sched:sla" }).waitFor({ timeout: WAIT });
    await row.getByRole("link", { name: "local" }).click();
    await page.waitForURL("**/ui/config/clusters/local", { timeout: WAIT });
    for (const tag of ["sched:sla", "sched:adhoc", "type:local"]) {
      await page.locator("#entity-tags .tag", { hasText: tag }).waitFor({ timeout: WAIT });
    }
    await page.locator("ul.linked a", { hasText: "bash" }).waitFor({ timeout: WAIT });
    await shot(page, "cluster");
    await page.locator("ul.linked a", { hasText: "bash" }).click();
    await page.waitForURL("**/ui/config/commands/bash", { timeout: WAIT });
    await page.locator("ul.linked a", { hasText: "local" }).waitFor({ timeout: WAIT });
    // A cluster filter from a shared URL.
    await page.goto(url + "/ui/config/clusters?tag=sched:nothing");
    await page.locator("td.empty").waitFor({ timeout: WAIT });
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("config: cluster tags, commands and back links shown");
  },

  // A deployed sample workflow is listed with its schedule; a run started by the CLI appears on
  // the workflow's page without a reload, and its instance page draws the DAG with every step
  // SUCCEEDED, each step's job one click away.
  async workflows(browser) {
    const dir = mkdtempSync(join(tmpdir(), "weir-ui-wf-"));
    try {
      weirIn(dir, "sample", "workflow", "bash", "project");
      weirIn(join(dir, "project"), "project", "deploy");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const wf = "prod:sample.bash-sample.hello-bash";
    const page = await openPage(browser, "/ui/workflows");
    const row = page.locator(`tr[data-workflow-id="${wf}"]`);
    await row.waitFor({ timeout: WAIT });
    await row.getByText("0 6 * * *").waitFor({ timeout: WAIT });
    await shot(page, "workflows");
    await row.getByRole("link", { name: "hello-bash" }).click();
    await page.getByText("No instances yet").waitFor({ timeout: WAIT });
    weir("workflow", "run", wf);
    const instance = page.locator('tr[data-instance="1"]');
    await instance.waitFor({ timeout: WAIT });
    check(await page.notReloaded(), "the workflow page was reloaded to show the instance");
    // The scheduler records a step's end after its job's last event, so a re-read that the event
    // starts may still show the last step RUNNING; the page must not stay there. Made certain:
    // until a moment after the server has recorded `count` SUCCEEDED, the page is answered
    // that it (and so its instance) still runs.
    let countStale = true;
    const instanceOne = (u) => u.pathname.endsWith("/instances/1");
    await page.route(
      instanceOne,
      async (route) => {
        const res = await route.fetch();
        const body = await res.json();
        for (const st of body.steps || []) {
          if (countStale && st.id === "count" && st.status === "SUCCEEDED") {
            st.status = "RUNNING"; // and so the instance too, as the scheduler's rows were then
            body.status = "RUNNING";
          }
        }
        await route.fulfill({ response: res, json: body });
      },
    );
    await instance.getByRole("link", { name: "#1" }).click();
    await page.waitForURL("**/instances/1", { timeout: WAIT });
    await page.locator('[data-step-node="greet"][data-status="SUCCEEDED"]').waitFor({ timeout: WAIT });
    const instPath = `/api/weir/v1/workflows/${encodeURIComponent(wf)}/instances/1`;
    await until(async () => {
      const i = await api(instPath);
      return (i.steps || []).some((st) => st.id === "count" && st.status === "SUCCEEDED");
    }, "the server never recorded count SUCCEEDED");
    await new Promise((r) => setTimeout(r, 1500));
    countStale = false;
    await page.locator('[data-step-node="count"][data-status="SUCCEEDED"]').waitFor({ timeout: 10000 });
    await page.unroute(instanceOne);
    await shot(page, "instance");
    await page.locator('[data-step-node="greet"]').click();
    await page.waitForURL("**/ui/jobs/*", { timeout: WAIT });
    await page.locator("#job-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: WAIT });
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("workflows: listed, instance live, DAG SUCCEEDED, step job one click away");
  },

  // A workflow's versions: the active one marked, a diff of the rendered YAML of two versions;
  // rollback and activate from the UI, each after a confirmation, change the active version (the
  // server agrees).
  async versions(browser) {
    const project = sampleProject();
    try {
      deploy(project);
      deploy(project, withFailingCheck("version-two-marker"));
    } finally {
      rmSync(join(project, ".."), { recursive: true, force: true });
    }
    check((await api(wfPath)).activeVersion === 2, "version 2 is active after the second deploy");
    const page = await openPage(browser, "/ui/workflows/" + encodeURIComponent(WF));
    const v1 = page.locator('table.versions tr[data-version="1"]');
    const v2 = page.locator('table.versions tr[data-version="2"]');
    await v2.locator(".badge", { hasText: "active" }).waitFor({ timeout: WAIT });
    check((await v1.getAttribute("data-active")) === "false", "version 1 is not marked active");
    // The diff of version 1 → 2 shows the added step as added lines, and nothing removed.
    await page.locator("#version-diff .dl.add", { hasText: "version-two-marker" }).waitFor({ timeout: WAIT });
    await page.locator("#version-diff .dl.add", { hasText: "- count -> check" }).waitFor({ timeout: WAIT });
    check((await page.locator("#version-diff .dl.del").count()) === 0, "nothing removed between version 1 and 2");
    // Swapped (2 → 1), the same lines are removed.
    await page.getByLabel("diff from").selectOption("2");
    await page.getByLabel("diff to").selectOption("1");
    await page.locator("#version-diff .dl.del", { hasText: "version-two-marker" }).waitFor({ timeout: WAIT });
    check((await page.locator("#version-diff .dl.add").count()) === 0, "nothing added between version 2 and 1");
    await page.getByLabel("diff from").selectOption("1");
    await page.getByLabel("diff to").selectOption("2");
    await page.locator("#version-diff .dl.add").first().waitFor({ timeout: WAIT });
    await shot(page, "workflow-versions");

    await page.getByRole("button", { name: "Roll back…" }).click();
    const dialog = page.getByRole("dialog", { name: "confirm rollback" });
    await dialog.waitFor({ timeout: WAIT });
    check((await api(wfPath)).activeVersion === 2, "nothing is rolled back before the confirmation");
    await dialog.getByRole("button", { name: "Roll back" }).click();
    await v1.locator(".badge", { hasText: "active" }).waitFor({ timeout: WAIT });
    check((await v2.getAttribute("data-active")) === "false", "version 2 is no longer marked active");
    const afterRollback = JSON.parse(weir("-o", "json", "workflow", "list")).workflows.find((w) => w.id === WF);
    check(afterRollback && afterRollback.activeVersion === 1, "the CLI says version 1 is active after the rollback, not " + (afterRollback && afterRollback.activeVersion));
    const acts = (await api(wfPath + "/versions")).activations;
    check(acts[0].reason === "rollback" && acts[0].version === 1, "the newest activation is the rollback to 1");

    await v2.getByRole("button", { name: "Activate…" }).click();
    const again = page.getByRole("dialog", { name: "confirm activate 2" });
    await again.getByRole("button", { name: "Activate" }).click();
    await v2.locator(".badge", { hasText: "active" }).waitFor({ timeout: WAIT });
    check((await api(wfPath)).activeVersion === 2, "the server says version 2 is active again");
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("versions: diff shown both ways, rolled back to 1 and activated 2 from the UI");
  },

  // An instance is stopped from the UI while a step runs, then restarted from failed; its DAG
  // follows the step from RUNNING to SUCCEEDED live; the Gantt chart has a bar per attempt; the
  // failed step's stderr is one click from the instance page (two from the workflow page); the
  // asset the instance used links to its page, which lists the workflow version that pins it.
  async instance(browser) {
    const gateDir = mkdtempSync(join(tmpdir(), "weir-ui-gate-"));
    const gate = join(gateDir, "open");
    const project = sampleProject();
    try {
      deploy(project, withFailingCheck("check-failed-marker", gate));
    } finally {
      rmSync(join(project, ".."), { recursive: true, force: true });
    }
    try {
      const run = JSON.parse(weir("-o", "json", "workflow", "run", WF));
      const instPath = wfPath + "/instances/" + run.number;
      const page = await openPage(browser, "/ui/workflows/" + encodeURIComponent(WF) + "/instances/" + run.number);
      const count = page.locator('[data-step-node="count"]');
      await page.locator('[data-step-node="count"][data-status="RUNNING"]').waitFor({ timeout: WAIT });
      await page.locator('[data-gantt-step="count"] rect.bar[data-status="RUNNING"]').waitFor({ timeout: WAIT });
      await shot(page, "instance-running");

      // Stop, after the confirmation: the instance and its running step end STOPPED.
      await page.getByRole("button", { name: "Stop…" }).click();
      const stop = page.getByRole("dialog", { name: "confirm stop" });
      await stop.waitFor({ timeout: WAIT });
      check((await api(instPath)).status === "RUNNING", "nothing is stopped before the confirmation");
      await stop.getByRole("button", { name: "Stop instance" }).click();
      await page.locator('[data-step-node="count"][data-status="STOPPED"]').waitFor({ timeout: WAIT });
      check((await api(instPath)).status === "STOPPED", "the server says the instance is STOPPED");

      // Restart from failed: the server runs it again (run 2) from the steps that did not succeed.
      await page.getByRole("button", { name: "Restart from failed…" }).click();
      const restart = page.getByRole("dialog", { name: "confirm restart" });
      await restart.waitFor({ timeout: WAIT });
      check((await api(instPath)).run === 1, "nothing restarts before the confirmation");
      await restart.getByRole("button", { name: "Restart" }).click();
      await until(async () => (await api(instPath)).run === 2, "the instance's run 2");

      // Run 2: count RUNNING (waiting for the gate), then SUCCEEDED once it opens, live.
      await page.locator('[data-step-node="count"][data-status="RUNNING"]').waitFor({ timeout: WAIT });
      writeFileSync(gate, "");
      await page.locator('[data-step-node="count"][data-status="SUCCEEDED"]').waitFor({ timeout: WAIT });
      await page.locator('[data-step-node="check"][data-status="FAILED"]').waitFor({ timeout: WAIT });
      check((await count.getAttribute("data-status")) === "SUCCEEDED", "count SUCCEEDED");
      check(await page.notReloaded(), "the instance page was reloaded to show the steps' states");
      // The Gantt chart: count's stopped attempt and its successful one; check's failure.
      await until(async () => (await page.locator('[data-gantt-step="count"] rect.bar').count()) === 2, "two count bars");
      await page.locator('[data-gantt-step="count"] rect.bar[data-status="SUCCEEDED"]').waitFor({ timeout: WAIT });
      await page.locator('[data-gantt-step="greet"] rect.bar').first().waitFor({ timeout: WAIT });
      await page.locator('[data-gantt-step="check"] rect.bar[data-status="FAILED"]').waitFor({ timeout: WAIT });
      await page.getByRole("button", { name: "Restart from failed…" }).waitFor({ timeout: WAIT });
      check((await page.getByRole("button", { name: "Stop…" }).count()) === 0, "no stop button on a finished instance");
      await shot(page, "instance-gantt");

      // The failed step's log: one click on the instance page.
      await page.locator('tr[data-step="check"] a.step-log', { hasText: "stderr" }).click();
      await page.waitForURL("**/output/stderr", { timeout: WAIT });
      await page.locator("pre.file", { hasText: "check-failed-marker" }).waitFor({ timeout: WAIT });
      await page.goBack();
      await page.locator('[data-step-node="check"][data-status="FAILED"]').waitFor({ timeout: WAIT });

      // The asset the instance used, and which workflow versions pin it.
      const uuid = (await api(instPath)).assets[0].uuid;
      await page.locator("a.asset-link", { hasText: uuid }).click();
      await page.waitForURL("**/ui/assets/**", { timeout: WAIT });
      await page.locator(`#asset-refs li[data-ref="${WF}@1"]`).waitFor({ timeout: WAIT });
      await page.getByRole("button", { name: "Download" }).waitFor({ timeout: WAIT });
      await shot(page, "asset");
      await page.getByRole("link", { name: "sample-greet" }).click();
      await page.locator(`table.asset-versions tr[data-uuid="${uuid}"]`).waitFor({ timeout: WAIT });
      await page.getByRole("link", { name: "Assets" }).first().click();
      await page.locator('table.namespaces tr[data-namespace="sample-greet"]').waitFor({ timeout: WAIT });
      await shot(page, "assets");
      check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
      console.log("instance: stopped, restarted, RUNNING → SUCCEEDED live, Gantt, stderr in one click, asset pinned by version 1");
    } finally {
      rmSync(gateDir, { recursive: true, force: true });
    }
  },

  // An admin's form shows the server's validation error on the field it names; fixed, it saves.
  async forms(browser) {
    const page = await openPage(browser, "/ui/config/clusters/local");
    await page.getByRole("link", { name: "Edit" }).click();
    await page.waitForURL("**/ui/config/clusters/local/edit", { timeout: WAIT });
    const version = page.locator("#field-version");
    await version.fill("");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator("#error-version", { hasText: "version: must not be blank" }).waitFor({ timeout: WAIT });
    check((await version.getAttribute("aria-invalid")) === "true", "the version input is marked invalid");
    check((await page.locator(".field-error").count()) === 1, "only the version field shows an error");
    check((await api("/api/v3/clusters/local")).version === "1", "the server kept the cluster unchanged");
    await shot(page, "config-form-error");
    await version.fill("2");
    await page.locator("#field-tags").fill("sched:sla, sched:adhoc, type:local, team:ui");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL("**/ui/config/clusters/local", { timeout: WAIT });
    await page.locator("#entity-tags .tag", { hasText: "team:ui" }).waitFor({ timeout: WAIT });
    const saved = await api("/api/v3/clusters/local");
    check(saved.version === "2" && saved.tags.includes("team:ui"), "the server has version 2 and the new tag");

    // A new command whose check delay the server refuses: the error is on that field.
    await page.goto(url + "/ui/config/commands");
    await page.getByRole("link", { name: "New command" }).click();
    await page.locator("#field-name").fill("ui-made");
    await page.locator("#field-user").fill("ui");
    await page.locator("#field-version").fill("1");
    await page.locator("#field-executable").fill("/bin/true");
    await page.locator("#field-checkDelay").fill("0");
    await page.getByRole("button", { name: "Create command" }).click();
    await page.locator("#error-checkDelay", { hasText: "checkDelay" }).waitFor({ timeout: WAIT });
    await page.locator("#field-checkDelay").fill("1000");
    await page.getByRole("button", { name: "Create command" }).click();
    await page.locator("tr[data-entity-id]", { hasText: "ui-made" }).waitFor({ timeout: WAIT });
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("forms: the server's errors shown on version and checkDelay; saved once fixed");
  },

  // With auth on, a non-admin token sees no edit controls; the admin token does.
  async roles(browser) {
    const asUser = await openPage(browser, "/ui/config/clusters");
    await asUser.evaluate((t) => sessionStorage.setItem("weir.token", t), process.env.WEIR_USER_TOKEN);
    await asUser.goto(url + "/ui/config/clusters");
    await asUser.locator('tr[data-entity-id="local"]').waitFor({ timeout: WAIT });
    await asUser.goto(url + "/ui/config/clusters/local");
    await asUser.locator("#entity-tags").waitFor({ timeout: WAIT });
    const me = await asUser.evaluate(async (t) => (await fetch("/api/weir/v1/me", { headers: { Authorization: "Bearer " + t } })).json(), process.env.WEIR_USER_TOKEN);
    check(!me.roles.includes("admin"), "the user token is not an admin's");
    check((await asUser.locator(".edit-control").count()) === 0, "a non-admin sees no Edit");
    await asUser.goto(url + "/ui/config/commands");
    await asUser.locator('tr[data-entity-id="bash"]').waitFor({ timeout: WAIT });
    check((await asUser.locator(".edit-control").count()) === 0, "a non-admin sees no New command");
    await asUser.goto(url + "/ui/config/clusters/local/edit");
    await asUser.getByText("needs the admin role").waitFor({ timeout: WAIT });
    check((await asUser.locator("form.entity-form").count()) === 0, "no form for a non-admin");
    await shot(asUser, "config-non-admin");

    const asAdmin = await openPage(browser, "/ui/config/clusters");
    await asAdmin.evaluate((t) => sessionStorage.setItem("weir.token", t), process.env.WEIR_TOKEN);
    await asAdmin.goto(url + "/ui/config/clusters/local");
    await asAdmin.locator(".edit-control", { hasText: "Edit" }).waitFor({ timeout: WAIT });
    check(asUser.problems.length === 0 && asAdmin.problems.length === 0, "no page errors: " + [...asUser.problems, ...asAdmin.problems].join("; "));
    console.log("roles: no edit controls for a user, Edit for an admin");
  },

  // The nodes page: this node with its heartbeat and the leader badge, its tasks, the queue
  // length and the counters.
  async nodes(browser) {
    weir("job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", "counted", "--wait", "--", "true");
    const page = await openPage(browser, "/ui/nodes");
    const self = (await api("/api/weir/v1/admin/nodes")).self;
    const row = page.locator(`table.nodes tr[data-node="${self}"]`);
    await row.locator(".badge", { hasText: "leader" }).waitFor({ timeout: WAIT });
    await page.locator('table.tasks tr[data-task="heartbeat"]').waitFor({ timeout: WAIT });
    await page.locator("[data-queue-length]").waitFor({ timeout: WAIT });
    await page.locator('table.metrics tr[data-metric="weir_job_submissions_total"]').first().waitFor({ timeout: WAIT });
    await page.locator("#health-status", { hasText: "UP" }).waitFor({ timeout: WAIT });
    await shot(page, "nodes");
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("nodes: node", self, "leader, tasks, queue length and counters shown");
  },

  // Keyboard: j/k move the selection, Enter opens the job, / focuses the filter, ? shows the keys.
  // The time-range and grouping filters narrow the table.
  async keys(browser) {
    const ids = [];
    for (const n of ["k1", "k2", "k3"]) {
      ids.push(weir("job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", n, "--grouping", "keys-group", "--", "true"));
    }
    for (const id of ids) {
      check(/^[0-9a-f-]{36}$/.test(id), "the CLI printed a job id, got: " + id);
      await until(async () => (await api("/api/v3/jobs/" + id + "/status")).status === "SUCCEEDED", "job " + id + " SUCCEEDED");
    }
    const page = await openPage(browser, "/ui/jobs");
    const rows = page.locator("table.jobs tbody tr[data-job-id]");
    await page.locator(`tr[data-job-id="${ids[2]}"]`).waitFor({ timeout: WAIT });
    const selected = () => page.locator("table.jobs tbody tr.selected").getAttribute("data-job-id");
    await page.keyboard.press("j");
    check((await selected()) === (await rows.nth(0).getAttribute("data-job-id")), "j selects the first row");
    await page.keyboard.press("j");
    await page.keyboard.press("ArrowDown");
    check((await selected()) === (await rows.nth(2).getAttribute("data-job-id")), "j, ↓ move to the third row");
    await page.keyboard.press("k");
    const second = await rows.nth(1).getAttribute("data-job-id");
    check((await selected()) === second, "k moves back to the second row");
    await page.keyboard.press("Enter");
    await page.waitForURL("**/ui/jobs/" + second, { timeout: WAIT });
    await page.goBack();
    await page.locator(`tr[data-job-id="${ids[2]}"]`).waitFor({ timeout: WAIT });
    await page.keyboard.press("/");
    check(await page.evaluate(() => document.activeElement && document.activeElement.name === "user"), "/ focuses the filter");
    await page.keyboard.press("Escape");
    await page.keyboard.press("?");
    const help = page.getByRole("dialog", { name: "keyboard shortcuts" });
    await help.getByText("open the selected row").waitFor({ timeout: WAIT });
    await shot(page, "keys-help");
    await page.keyboard.press("Escape");
    check((await help.count()) === 0, "Escape closes the help");

    // Grouping and time range, from the URL as a shared link would give them.
    await page.goto(url + "/ui/jobs?grouping=keys-group");
    await page.locator(`tr[data-job-id="${ids[0]}"]`).waitFor({ timeout: WAIT });
    check((await rows.count()) === 3, "the grouping filter shows its 3 jobs");
    await page.goto(url + "/ui/jobs?grouping=other-group");
    await page.locator("table.jobs td.empty").waitFor({ timeout: WAIT });
    await page.goto(url + "/ui/jobs?grouping=keys-group&last=1h");
    await page.locator(`tr[data-job-id="${ids[0]}"]`).waitFor({ timeout: WAIT });
    check(await page.getByLabel("started within").inputValue() === "1h", "the range preset from the URL");
    // Chosen in the form: the preset applies at once and goes into the URL.
    await page.goto(url + "/ui/jobs?grouping=keys-group");
    await page.locator(`tr[data-job-id="${ids[0]}"]`).waitFor({ timeout: WAIT });
    await page.getByLabel("started within").selectOption("24h");
    await page.waitForURL("**last=24h**", { timeout: WAIT });
    await page.locator(`tr[data-job-id="${ids[0]}"]`).waitFor({ timeout: WAIT });
    await page.goto(url + "/ui/jobs?grouping=keys-group&from=2999-01-01T00:00");
    await page.locator("table.jobs td.empty").waitFor({ timeout: WAIT });
    // Set in the form: an end before every job hides them all.
    await page.goto(url + "/ui/jobs?grouping=keys-group");
    await page.locator(`tr[data-job-id="${ids[0]}"]`).waitFor({ timeout: WAIT });
    await page.getByLabel("started to").fill("2000-01-01T00:00");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL("**to=2000-01-01T00%3A00**", { timeout: WAIT });
    await page.locator("table.jobs td.empty").waitFor({ timeout: WAIT });
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("keys: j/k/↓/Enter, /, ? work; grouping and time range filter");
  },

  // With auth.mode required the UI asks for the token once, then loads; a wrong token is refused.
  // A call still in flight with the wrong token when the right one is given (as on a slow server)
  // is retried with the right one and does not ask again: the test holds the page's
  // /api/weir/v1/me call made with the wrong token until the right token has been given.
  async auth(browser) {
    let release;
    const released = new Promise((resolve) => (release = resolve));
    let held = 0;
    const withWrong = (r) => r.headers()["authorization"] === "Bearer wrong-token";
    const page = await openPage(browser, "/ui/config/clusters", {
      beforeLoad: (p) =>
        p.route("**/api/weir/v1/me", async (route) => {
          if (withWrong(route.request())) {
            held++;
            await released;
          }
          await route.continue();
        }),
    });
    const prompt = page.locator("form.token");
    await prompt.waitFor({ timeout: WAIT });
    await prompt.locator('input[name="token"]').fill("wrong-token");
    await prompt.getByRole("button", { name: "Use token" }).click();
    await prompt.getByText("the token was refused").waitFor({ timeout: WAIT });
    check(held > 0, "the page's /me call with the wrong token is held");
    await prompt.locator('input[name="token"]').fill(process.env.WEIR_TOKEN);
    await prompt.getByRole("button", { name: "Use token" }).click();
    await page.locator('tr[data-entity-id="local"]').waitFor({ timeout: WAIT });
    const late = page.waitForResponse((r) => r.url().endsWith("/api/weir/v1/me") && withWrong(r.request()), {
      timeout: WAIT,
    });
    release();
    check((await late).status() === 401, "the held call is refused");
    // The refused call's answer has reached the page; it must not bring the prompt back.
    await page.waitForTimeout(500);
    check((await prompt.count()) === 0, "the prompt closes once the token works");
    // Kept for the tab's session: another view loads without asking again.
    await page.getByRole("link", { name: "Jobs" }).first().click();
    await page.locator("table.jobs").waitFor({ timeout: WAIT });
    check((await prompt.count()) === 0, "no second prompt");
    console.log("auth: token asked once and used");
  },

  // auth.oidc (WEIR_OIDC_URL: tests/ui/fake_oidc.mjs): "Sign in with <host>" runs the code flow
  // with PKCE and lands back on the page signed in as the provider's subject; a tampered
  // verifier, access_denied, a wrong state and a wrong nonce are shown, and "Try again" works.
  async oidc(browser) {
    const idp = process.env.WEIR_OIDC_URL;
    const host = new URL(idp).host;
    const control = (c) => fetch(idp + "/control", { method: "POST", body: JSON.stringify(c || {}) });
    const idpLog = async () => (await fetch(idp + "/log")).json();
    const auth = await (await fetch(url + "/api/weir/v1/ui/auth")).json();
    check(auth.mode === "required" && auth.oidc && auth.oidc.issuer === idp && auth.oidc.client_id === "weir-ui",
      "GET /api/weir/v1/ui/auth names the provider without a token: " + JSON.stringify(auth));

    // Signs in from the prompt of a fresh tab on `path`; answers the page (at the provider's
    // callback outcome: back on the page, or the error card).
    const startAt = async (path) => {
      const page = await openPage(browser, path);
      const prompt = page.locator("form.token");
      await prompt.waitFor({ timeout: WAIT });
      await prompt.getByRole("button", { name: "Sign in with " + host }).click();
      return page;
    };
    // The sign-in's outcome in `page` (a tab that had no token): "error" (the callback's error
    // card) or "signed-in" (a token kept), whichever comes first.
    const outcome = async (page) => {
      let result = null;
      await until(async () => {
        if ((await page.locator(".signin-error").count()) > 0) return (result = "error");
        const t = await page.evaluate(() => sessionStorage.getItem("weir.token")).catch(() => null);
        return t ? (result = "signed-in") : false;
      }, "the sign-in's outcome in " + page.url());
      return result;
    };
    // Waits for the clusters page after a sign-in; a sign-in error fails at once, with its text.
    const signedIn = async (page) => {
      if ((await outcome(page)) === "error") {
        throw new Error("the sign-in failed: " + (await page.locator(".signin-error").innerText()));
      }
      await page.locator('tr[data-entity-id="local"]').waitFor({ timeout: WAIT });
    };
    // Waits for the sign-in's outcome and checks it is the error card saying `text`.
    const failed = async (page, text) => {
      const card = page.locator(".signin-error");
      check((await outcome(page)) === "error", "the sign-in fails (" + text + "), but the page is " + page.url());
      await card.getByText(text).waitFor({ timeout: WAIT });
      check(page.url().startsWith(url + "/ui/auth/callback"), "the error is shown on the callback page");
      return card;
    };

    const first = await openPage(browser, "/ui/config/clusters?name=local");
    const prompt = first.locator("form.token");
    await prompt.getByRole("button", { name: "Sign in with " + host }).waitFor({ timeout: WAIT });
    check((await prompt.locator('input[name="token"]').count()) === 1, "pasting a token is still offered");
    await shot(first, "signin");
    await prompt.getByRole("button", { name: "Sign in with " + host }).click();
    await signedIn(first);
    check(first.url() === url + "/ui/config/clusters?name=local", "back on the page signed in, at " + first.url());
    check((await prompt.count()) === 0, "no prompt once signed in");
    const me = await first.evaluate(async () =>
      (await fetch("/api/weir/v1/me", { headers: { Authorization: "Bearer " + sessionStorage.getItem("weir.token") } })).json());
    check(me.name === "ada-from-the-fake-idp" && me.mechanism === "jwt", "/me is the provider's subject: " + JSON.stringify(me));
    check((await first.evaluate(() => sessionStorage.getItem("weir.oidc.pending"))) === null, "the verifier is used once");
    let log = await idpLog();
    const asked = log.authorize[log.authorize.length - 1];
    check(asked.code_challenge_method === "S256" && asked.redirect_uri === url + "/ui/auth/callback" &&
      asked.scope === "openid profile" && !asked.refused, "the authorization request: " + JSON.stringify(asked));
    check(log.token.length === 1 && log.token[0].ok === true, "the provider accepted the verifier: " + JSON.stringify(log.token));
    // The session's token serves the other pages.
    await first.getByRole("link", { name: "Jobs" }).first().click();
    await first.locator("table.jobs").waitFor({ timeout: WAIT });
    check((await prompt.count()) === 0, "no second prompt");
    check(first.problems.length === 0, "no page errors: " + first.problems.join("; "));

    // A verifier changed on its way to the provider is refused: the flow proves possession.
    const tampered = await openPage(browser, "/ui/config/clusters");
    let sentVerifier = "";
    await tampered.route(idp + "/token", (route) => {
      const form = new URLSearchParams(route.request().postData() || "");
      sentVerifier = form.get("code_verifier") || "";
      form.set("code_verifier", "A".repeat(43));
      return route.continue({ postData: form.toString() });
    });
    await tampered.locator("form.token").getByRole("button", { name: "Sign in with " + host }).click();
    await failed(tampered, "the token endpoint refused the code: invalid_grant (code_verifier does not match the code_challenge)");
    check(/^[A-Za-z0-9_-]{43}$/.test(sentVerifier), "the UI sent a 43-character verifier: " + sentVerifier);
    log = await idpLog();
    check(log.token[log.token.length - 1].refused === "code_verifier does not match the code_challenge", "the provider refused the tampered verifier");
    check((await tampered.evaluate(() => sessionStorage.getItem("weir.token"))) === null, "no token kept after a refusal");
    // Try again, untampered: signed in, back on the page.
    await tampered.unroute(idp + "/token");
    await tampered.getByRole("button", { name: "Try again" }).click();
    await tampered.locator(".signin-error").waitFor({ state: "detached", timeout: WAIT }); // left for the provider
    await signedIn(tampered);
    check(tampered.url() === url + "/ui/config/clusters", "retry lands on the page, at " + tampered.url());

    // The provider refuses the sign-in.
    await control({ deny: true });
    const denied = await startAt("/ui/jobs");
    await failed(denied, "the provider refused the sign-in: access_denied (the user said no)");
    await denied.getByRole("button", { name: "Try again" }).waitFor({ timeout: WAIT });
    await shot(denied, "signin-denied");
    // An answer that is not for this tab's sign-in (state), and a token minted for another
    // sign-in (nonce), are refused.
    await control({ state: "forged-state" });
    await failed(await startAt("/ui/jobs"), "state mismatch");
    await control({ nonce: "someone-elses-nonce" });
    const replayed = await startAt("/ui/jobs");
    await failed(replayed, "nonce");
    check((await replayed.evaluate(() => sessionStorage.getItem("weir.token"))) === null, "no token kept for a wrong nonce");
    await control({});
    console.log("oidc: signed in as", me.name, "with PKCE; tampered verifier, access_denied, state and nonce refused");
  },

  // The jobs and job pages at phone width and in the dark theme (screenshots to look at).
  async themes(browser) {
    const id = weir("job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", "themes", "--", "echo dark");
    const dark = await openPage(browser, "/ui/jobs/" + id, { colorScheme: "dark" });
    await dark.locator("#job-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: WAIT });
    await dark.locator("a.file-link").first().waitFor({ timeout: WAIT });
    // The page's background is dark and its text light (prefers-color-scheme: dark).
    const [bg, fg] = await dark.evaluate(() => {
      const s = getComputedStyle(document.documentElement);
      return [s.backgroundColor, s.color];
    });
    const light = (c) => c.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0) / 765;
    check(light(bg) < 0.25 && light(fg) > 0.75, `dark theme: background ${bg}, text ${fg}`);
    await shot(dark, "job-dark");
    const phone = await openPage(browser, "/ui/jobs", { viewport: { width: 390, height: 844 } });
    await phone.locator(`tr[data-job-id="${id}"]`).waitFor({ timeout: WAIT });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, "the jobs page fits a phone's width (overflow " + overflow + " px)");
    await shot(phone, "jobs-phone");
    // Every top-level page fits a phone's width (the navigation wraps; wide tables scroll inside
    // their frame), and reads in the dark theme.
    for (const [path, ready] of [
      ["/ui/workflows", "table.workflows"],
      ["/ui/assets", "table.namespaces"],
      ["/ui/config/clusters", 'tr[data-entity-id="local"]'],
      ["/ui/nodes", "table.nodes tr[data-node]"],
    ]) {
      await phone.goto(url + path);
      await phone.locator(ready).first().waitFor({ timeout: WAIT });
      const over = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(over <= 1, `${path} fits a phone's width (overflow ${over} px)`);
    }
    await shot(phone, "nodes-phone");
    await dark.goto(url + "/ui/nodes");
    await dark.locator("table.nodes tr[data-node]").waitFor({ timeout: WAIT });
    await shot(dark, "nodes-dark");
    console.log("themes: dark theme and phone width");
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error("usage: ui_test.mjs " + Object.keys(scenarios).join("|"));
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.WEIR_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  await scenarios[name](browser);
} catch (e) {
  console.error(name + ": FAILED: " + (e.stack || e));
  for (const context of browser.contexts()) {
    for (const [i, page] of context.pages().entries()) {
      await shot(page, `FAILED-${name}-${i}`).catch(() => {});
    }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
