// Browser scenarios of the web UI, run by tests/ui_test.cc against a real `weir server` it started:
//   node ui_test.mjs SCENARIO
// Environment (set by ui_test.cc): WEIR_URL (the server), WEIR_BIN (the weir binary, for CLI
// submissions), WEIR_UI_MODULES (build/web/node_modules, for playwright-core), WEIR_CHROMIUM
// (Debian's /usr/bin/chromium: Playwright never downloads a browser here), WEIR_UI_SHOTS (the
// folder the screenshots go to), WEIR_TOKEN (a bearer token, for the auth scenario).
// Every wait has a deadline and fails loudly; the exit code is 0 only when the scenario passed.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const url = process.env.WEIR_URL;
const bin = process.env.WEIR_BIN;
const shots = process.env.WEIR_UI_SHOTS || "ui-screenshots";
const { chromium } = await import(
  pathToFileURL(join(process.env.WEIR_UI_MODULES, "playwright-core", "index.mjs")).href
);
const WAIT = 30000; // the longest any single condition may take, on a busy machine

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
    await row.getByRole("link", { name: "hello-bash" }).click();
    await page.getByText("No instances yet").waitFor({ timeout: WAIT });
    weir("workflow", "run", wf);
    const instance = page.locator('tr[data-instance="1"]');
    await instance.waitFor({ timeout: WAIT });
    check(await page.notReloaded(), "the workflow page was reloaded to show the instance");
    await instance.getByRole("link", { name: "#1" }).click();
    await page.waitForURL("**/instances/1", { timeout: WAIT });
    for (const step of ["greet", "count"]) {
      await page.locator(`[data-step-node="${step}"][data-status="SUCCEEDED"]`).waitFor({ timeout: WAIT });
    }
    await shot(page, "instance");
    await page.locator('[data-step-node="greet"]').click();
    await page.waitForURL("**/ui/jobs/*", { timeout: WAIT });
    await page.locator("#job-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: WAIT });
    check(page.problems.length === 0, "no page errors: " + page.problems.join("; "));
    console.log("workflows: listed, instance live, DAG SUCCEEDED, step job one click away");
  },

  // With auth.mode required the UI asks for the token once, then loads; a wrong token is refused.
  async auth(browser) {
    const page = await openPage(browser, "/ui/config/clusters");
    const prompt = page.locator("form.token");
    await prompt.waitFor({ timeout: WAIT });
    await prompt.locator('input[name="token"]').fill("wrong-token");
    await prompt.getByRole("button", { name: "Use token" }).click();
    await prompt.getByText("the token was refused").waitFor({ timeout: WAIT });
    await prompt.locator('input[name="token"]').fill(process.env.WEIR_TOKEN);
    await prompt.getByRole("button", { name: "Use token" }).click();
    await page.locator('tr[data-entity-id="local"]').waitFor({ timeout: WAIT });
    check((await prompt.count()) === 0, "the prompt closes once the token works");
    // Kept for the tab's session: another view loads without asking again.
    await page.getByRole("link", { name: "Jobs" }).first().click();
    await page.locator("table.jobs").waitFor({ timeout: WAIT });
    check((await prompt.count()) === 0, "no second prompt");
    console.log("auth: token asked once and used");
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
