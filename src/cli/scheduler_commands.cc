// `weir workflow list|versions|activate|rollback|run|instances|instance|restart|stop|pause|
// resume|undeploy`: deployed
// workflows over the scheduler's HTTP API (/api/weir/v1/workflows, docs/api.md "Workflows").
// ID is a deployed workflow id, "<env>:<owner>.<repo>.<workflow id>".
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/event_watch.h"
#include "cli/instance_progress.h"
#include "common/strings.h"

namespace weir::cli {

namespace {

namespace json = boost::json;

constexpr std::string_view kBase = "/api/weir/v1/workflows";

std::string WorkflowPath(const std::string& id) {
  return std::string(kBase) + "/" + client::UrlEncode(id);
}

std::string DefaultActor() { return LocalUserName(); }

// POST with a JSON body; the 2xx reply parsed.
Result<json::value> PostJson(client::HttpClient& http, const std::string& path,
                             const json::object& body) {
  auto r = http.PostJson(path, json::serialize(body));
  if (!r.ok()) return r.status();
  if (Status s = client::ToStatus(*r); !s.ok()) return s;
  return ParseJson(r->body, path);
}

const json::value* Field(const json::value& v, std::string_view key) {
  return v.is_object() ? v.as_object().if_contains(key) : nullptr;
}

// Str() for a field that may be null: "-" instead of "".
std::string Cell(const json::value& v, std::string_view key);

// The cron schedule, or "after a, b" for a workflow started by other workflows (`after:`).
std::string ScheduleCell(const json::value& w) {
  const json::value* after = Field(w, "after");
  if (after == nullptr || !after->is_array() || after->as_array().empty()) {
    return Cell(w, "schedule");
  }
  std::string out = "after ";
  for (const json::value& a : after->as_array()) {
    if (out.size() > 6) out += ", ";
    out += a.is_string() ? std::string(a.as_string()) : json::serialize(a);
  }
  return out;
}

std::string Cell(const json::value& v, std::string_view key) {
  std::string s = Str(v, key);
  return s.empty() ? "-" : s;
}

std::string Short(const std::string& hash) { return hash.size() > 12 ? hash.substr(0, 12) : hash; }

int PrintOrJson(const Globals& g, const json::value& v, void (*table)(const json::value&)) {
  if (g.output == "json") {
    std::cout << json::serialize(v) << "\n";
  } else {
    table(v);
  }
  return 0;
}

void PrintWorkflow(const json::value& w) {
  std::cout << "workflow:     " << Str(w, "id") << "\n"
            << "active:       " << Cell(w, "activeVersion") << " (latest "
            << Cell(w, "latestVersion") << ")\n"
            << "schedule:     " << Cell(w, "schedule") << " " << Str(w, "timezone") << "\n"
            << "next fire:    " << Cell(w, "nextFire") << "\n"
            << "strategy:     " << Cell(w, "runStrategy") << ", catch-up " << Cell(w, "catchup")
            << "\n";
}

void PrintInstanceRow(std::vector<std::vector<std::string>>& rows, const json::value& i) {
  rows.push_back({Str(i, "number"), Str(i, "status"), "v" + Str(i, "version"), Str(i, "trigger"),
                  Str(i, "triggerTime"), Str(i, "run"), Str(i, "message")});
}

void PrintInstance(const json::value& i) {
  std::cout << "instance:     " << Str(i, "id") << "\n"
            << "status:       " << Str(i, "status");
  if (!Str(i, "message").empty()) std::cout << " (" << Str(i, "message") << ")";
  std::cout << "\n"
            << "version:      " << Str(i, "version") << "\n"
            << "bundle:       " << Str(i, "bundleId") << "\n"
            << "trigger:      " << Str(i, "trigger") << " at " << Str(i, "triggerTime");
  if (!Str(i, "requestedBy").empty()) std::cout << " by " << Str(i, "requestedBy");
  std::cout << "\n"
            << "run:          " << Str(i, "run") << "\n"
            << "created:      " << Str(i, "created") << "\n"
            << "started:      " << Cell(i, "started") << "\n"
            << "finished:     " << Cell(i, "finished") << "\n";

  std::cout << "\nASSETS\n";
  const json::value* assets = Field(i, "assets");
  if (assets == nullptr || !assets->is_array() || assets->as_array().empty()) {
    std::cout << "(none)\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& a : assets->as_array()) {
      rows.push_back({Str(a, "uuid"), Short(Str(a, "sha256")), Str(a, "uri")});
    }
    PrintTable(std::cout, {"UUID", "SHA256", "URI"}, rows);
  }

  std::cout << "\nSTEPS\n";
  std::vector<std::vector<std::string>> rows;
  if (const json::value* steps = Field(i, "steps"); steps != nullptr && steps->is_array()) {
    for (const auto& s : steps->as_array()) {
      std::vector<std::string> uses;
      if (const json::value* a = Field(s, "assets"); a != nullptr && a->is_array()) {
        for (const auto& u : a->as_array()) {
          if (u.is_string()) uses.emplace_back(u.as_string());
        }
      }
      rows.push_back({Str(s, "id"), Str(s, "status"),
                      Str(s, "attempts") + "/" + Str(s, "maxAttempts"), Cell(s, "jobId"),
                      uses.empty() ? "-" : Join(uses, ","), Str(s, "message")});
    }
  }
  PrintTable(std::cout, {"STEP", "STATUS", "ATTEMPTS", "JOB", "ASSETS", "MESSAGE"}, rows);

  std::cout << "\nPARAMETERS\n";
  rows.clear();
  if (const json::value* p = Field(i, "params"); p != nullptr && p->is_object()) {
    for (const auto& [k, v] : p->as_object()) {
      rows.push_back(
          {std::string(k), v.is_string() ? std::string(v.as_string()) : json::serialize(v)});
    }
  }
  PrintTable(std::cout, {"NAME", "VALUE"}, rows);
}

bool IsFinalStatus(const std::string& s) {
  return s == "SUCCEEDED" || s == "FAILED" || s == "STOPPED";
}

struct Flags {
  std::string id;
  int64_t version = 0;
  int64_t number = 0;
  std::optional<int64_t> to;
  std::string actor = DefaultActor();
  std::vector<std::string> params;  // NAME=VALUE
  std::vector<std::string> statuses;
  int64_t page = 0;
  int64_t size = 20;
  bool wait = false;
  double timeout = 0;
  bool all = false;  // list: undeployed workflows too
};

// "active", "paused" or "undeployed" (the list's STATE column).
std::string State(const json::value& w) {
  const json::value* u = Field(w, "undeployed");
  if (u != nullptr && u->is_string()) return "undeployed";
  const json::value* p = Field(w, "paused");
  if (p != nullptr && p->is_bool() && p->as_bool()) return "paused";
  return "active";
}

int List(const Flags& f, const Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, std::string(kBase));
  if (!v.ok()) return Fail(v.status().WithContext("workflow list"));
  // Undeployed workflows are hidden unless --all (in the JSON too).
  if (!f.all && v->is_object()) {
    if (json::value* ws = v->as_object().if_contains("workflows"); ws && ws->is_array()) {
      json::array kept;
      for (auto& w : ws->as_array()) {
        if (State(w) != "undeployed") kept.push_back(std::move(w));
      }
      *ws = std::move(kept);
    }
  }
  return PrintOrJson(g, *v, [](const json::value& v) {
    std::vector<std::vector<std::string>> rows;
    if (const json::value* ws = Field(v, "workflows"); ws != nullptr && ws->is_array()) {
      for (const auto& w : ws->as_array()) {
        rows.push_back({Str(w, "id"), State(w), Cell(w, "activeVersion"), Str(w, "latestVersion"),
                        ScheduleCell(w), Cell(w, "nextFire"), Str(w, "runStrategy")});
      }
    }
    PrintTable(std::cout,
               {"WORKFLOW", "STATE", "ACTIVE", "LATEST", "SCHEDULE", "NEXT FIRE", "STRATEGY"},
               rows);
  });
}

// pause, resume, undeploy: POST .../<action> {"actor"}; prints the workflow's new state.
int Lifecycle(const Flags& f, const Globals& g, const std::string& action) {
  client::HttpClient http(g.server, g.client);
  json::object body;
  if (!f.actor.empty()) body["actor"] = f.actor;
  auto v = PostJson(http, WorkflowPath(f.id) + "/" + action, body);
  if (!v.ok()) return Fail(v.status().WithContext("workflow " + action));
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
  } else {
    std::cout << Str(*v, "id") << ": " << State(*v) << "\n";
  }
  return 0;
}

int Versions(const Flags& f, const Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, WorkflowPath(f.id) + "/versions");
  if (!v.ok()) return Fail(v.status().WithContext("workflow versions"));
  return PrintOrJson(g, *v, [](const json::value& v) {
    std::vector<std::vector<std::string>> rows;
    if (const json::value* vs = Field(v, "versions"); vs != nullptr && vs->is_array()) {
      for (const auto& x : vs->as_array()) {
        const bool active =
            Field(x, "active") && Field(x, "active")->is_bool() && Field(x, "active")->as_bool();
        const bool dirty =
            Field(x, "dirty") && Field(x, "dirty")->is_bool() && Field(x, "dirty")->as_bool();
        rows.push_back(
            {Str(x, "version") + (active ? " *" : ""), Str(x, "bundleId"),
             Str(x, "branch") + "@" + Short(Str(x, "commit")) + (dirty ? " (dirty)" : ""),
             Cell(x, "deployer"), Str(x, "created")});
      }
    }
    PrintTable(std::cout, {"VERSION", "BUNDLE", "SOURCE", "DEPLOYER", "CREATED"}, rows);
    rows.clear();
    if (const json::value* as = Field(v, "activations"); as != nullptr && as->is_array()) {
      for (const auto& a : as->as_array()) {
        rows.push_back({Str(a, "at"), Str(a, "reason"),
                        Cell(a, "previous") + " -> " + Str(a, "version"), Cell(a, "actor")});
      }
    }
    std::cout << "\nACTIVATIONS (* = active)\n";
    PrintTable(std::cout, {"AT", "REASON", "VERSION", "ACTOR"}, rows);
  });
}

int Activate(const Flags& f, const Globals& g, bool rollback) {
  client::HttpClient http(g.server, g.client);
  json::object body;
  if (!f.actor.empty()) body["actor"] = f.actor;
  if (!rollback) body["version"] = f.version;
  if (rollback && f.to) body["version"] = *f.to;
  auto v = PostJson(http, WorkflowPath(f.id) + (rollback ? "/rollback" : "/activate"), body);
  if (!v.ok())
    return Fail(v.status().WithContext(rollback ? "workflow rollback" : "workflow activate"));
  return PrintOrJson(g, *v, PrintWorkflow);
}

// A stream of the workflow's instance and step events, opened BEFORE the request that starts
// or restarts an instance so that every change of it is seen. nullptr-like (failed()) when the
// server keeps no event log (PostgreSQL store) or is too old: WaitInstance polls then.
std::unique_ptr<EventWatcher> WatchWorkflow(client::HttpClient& http, const std::string& id) {
  return std::make_unique<EventWatcher>(
      http,
      "workflow=" + client::UrlEncode(id) + "&type=WORKFLOW_INSTANCE_CHANGE,WORKFLOW_STEP_CHANGE",
      std::chrono::seconds(3), /*keep_events=*/true);
}

// Waits for the instance at `path` (…/workflows/{id}/instances/{n}) to end, printing its status
// and each step's progress on stderr. With a working `events` watcher it follows the stream:
// a line per step transition as it happens, and the instance is read again only when an
// instance event arrives (or after 10 s of silence, in case an event was lost in a crash).
// Otherwise it polls, woken early by the jobs of the workflow's steps.
Result<json::value> WaitInstance(client::HttpClient& http, const std::string& path,
                                 double timeout_seconds, EventWatcher* events = nullptr) {
  auto start = std::chrono::steady_clock::now();
  auto delay = std::chrono::milliseconds(50);
  std::string last;
  InstanceProgress progress;  // step and retry changes on stderr
  const bool streaming = events != nullptr && !events->failed();
  // The instance's steps are jobs grouped under the deployed workflow (grouping = the part of the
  // instance path after /workflows/): without workflow events, each of their changes wakes the
  // loop.
  std::unique_ptr<EventWatcher> watcher;
  if (size_t w = path.find("/workflows/"); !streaming && w != std::string::npos) {
    std::string rest = path.substr(w + 11);
    watcher = std::make_unique<EventWatcher>(http, "grouping=" + rest.substr(0, rest.find('/')));
  }
  auto report_status = [&](const std::string& id, const std::string& status) {
    if (status != last) std::cerr << id << ": " << status << "\n";
    last = status;
  };
  std::string number;        // the instance's number, as its events carry it
  bool final_event = false;  // the stream said the instance ended
  auto timed_out = [&] {
    return timeout_seconds > 0 && std::chrono::steady_clock::now() - start >
                                      std::chrono::duration<double>(timeout_seconds);
  };
  // Prints the instance's step events until one of its own events arrives (with `until_final`:
  // its final one), 10 s pass without events, the stream fails or the time is up.
  auto follow = [&](bool until_final) {
    auto quiet_since = std::chrono::steady_clock::now();
    while (!events->failed() && !timed_out() &&
           std::chrono::steady_clock::now() - quiet_since < std::chrono::seconds(10)) {
      if (!events->WaitForEvent(std::chrono::milliseconds(200))) continue;
      quiet_since = std::chrono::steady_clock::now();
      bool instance_changed = false;
      for (const client::SseEvent& e : events->TakeEvents()) {
        boost::system::error_code ec;
        json::value d = json::parse(e.data, ec);
        if (ec || Str(d, "instance") != number) continue;
        if (e.event == "WORKFLOW_STEP_CHANGE") {
          progress.ReportStepEvent(d, std::cerr);
        } else if (e.event == "WORKFLOW_INSTANCE_CHANGE") {
          instance_changed = true;
          final_event = final_event || IsFinalStatus(Str(d, "toState"));
        }
      }
      if (instance_changed && (!until_final || final_event)) return;
    }
  };
  while (true) {
    auto v = GetJson(http, path);
    if (!v.ok()) return v.status();
    std::string status = Str(*v, "status");
    if (streaming) {
      number = Str(*v, "number");
      // Read ahead of the stream: print the step changes it still holds before the end.
      if (IsFinalStatus(status) && !final_event) follow(/*until_final=*/true);
      if (IsFinalStatus(status)) progress.Report(*v, std::cerr);  // what the stream did not say
    } else {
      progress.Report(*v, std::cerr);
    }
    report_status(Str(*v, "id"), status);
    if (IsFinalStatus(status)) return v;
    if (timed_out()) {
      return DeadlineExceeded("instance " + Str(*v, "id") + ": still " + last + " after " +
                              std::to_string(static_cast<int>(timeout_seconds)) + " s");
    }
    if (streaming && !events->failed()) {
      follow(/*until_final=*/false);  // then read the instance again
      continue;
    }
    if (watcher && !watcher->failed()) {
      // A step's job changed: the instance follows a moment later, so look again soon.
      if (watcher->WaitForEvent(delay)) delay = std::chrono::milliseconds(50);
    } else {
      std::this_thread::sleep_for(delay);
    }
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

int Run(const Flags& f, const Globals& g) {
  json::object params;
  for (const std::string& p : f.params) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail("workflow run: --param '" + p + "': write NAME=VALUE");
    }
    params[p.substr(0, eq)] = p.substr(eq + 1);
  }
  client::HttpClient http(g.server, g.client);
  json::object body;
  body["params"] = std::move(params);
  if (!f.actor.empty()) body["requestedBy"] = f.actor;
  std::unique_ptr<EventWatcher> events = f.wait ? WatchWorkflow(http, f.id) : nullptr;
  auto v = PostJson(http, WorkflowPath(f.id) + "/run", body);
  if (!v.ok()) return Fail(v.status().WithContext("workflow run"));
  if (f.wait) {
    auto final = WaitInstance(http, WorkflowPath(f.id) + "/instances/" + Str(*v, "number"),
                              f.timeout, events.get());
    if (!final.ok()) return Fail(final.status());
    PrintOrJson(g, *final, PrintInstance);
    return Str(*final, "status") == "SUCCEEDED" ? 0 : 1;
  }
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
  } else {
    std::cout << Str(*v, "id") << "\n";
  }
  return 0;
}

int Instances(const Flags& f, const Globals& g) {
  std::string path = WorkflowPath(f.id) + "/instances?page=" + std::to_string(f.page) +
                     "&size=" + std::to_string(f.size);
  for (const std::string& s : f.statuses) path += "&status=" + client::UrlEncode(s);
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, path);
  if (!v.ok()) return Fail(v.status().WithContext("workflow instances"));
  return PrintOrJson(g, *v, [](const json::value& v) {
    std::vector<std::vector<std::string>> rows;
    if (const json::value* is = Field(v, "instances"); is != nullptr && is->is_array()) {
      for (const auto& i : is->as_array()) PrintInstanceRow(rows, i);
    }
    PrintTable(std::cout, {"N", "STATUS", "VERSION", "TRIGGER", "LOGICAL TIME", "RUN", "MESSAGE"},
               rows);
  });
}

int ShowInstance(const Flags& f, const Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, WorkflowPath(f.id) + "/instances/" + std::to_string(f.number));
  if (!v.ok()) return Fail(v.status().WithContext("workflow instance"));
  return PrintOrJson(g, *v, PrintInstance);
}

int InstanceAction(const Flags& f, const Globals& g, const std::string& action) {
  client::HttpClient http(g.server, g.client);
  json::object body;
  if (!f.actor.empty()) body["actor"] = f.actor;
  const bool wait = action == "restart" && f.wait;
  std::unique_ptr<EventWatcher> events = wait ? WatchWorkflow(http, f.id) : nullptr;
  auto v = PostJson(
      http, WorkflowPath(f.id) + "/instances/" + std::to_string(f.number) + "/" + action, body);
  if (!v.ok()) return Fail(v.status().WithContext("workflow " + action));
  if (wait) {
    // As `workflow run --wait`: step and retry progress on stderr, the final instance printed.
    auto final = WaitInstance(http, WorkflowPath(f.id) + "/instances/" + std::to_string(f.number),
                              f.timeout, events.get());
    if (!final.ok()) return Fail(final.status());
    PrintOrJson(g, *final, PrintInstance);
    return Str(*final, "status") == "SUCCEEDED" ? 0 : 1;
  }
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
  } else {
    std::cout << Str(*v, "id") << ": " << Str(*v, "status");
    if (!Str(*v, "message").empty()) std::cout << " (" << Str(*v, "message") << ")";
    std::cout << "\n";
  }
  return 0;
}

// The `workflow` group (AddWorkflowCommands creates it; this also works without it).
CLI::App* WorkflowGroup(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "workflow") return sub;
  }
  CLI::App* workflow = app.add_subcommand("workflow", "Workflow files and deployed workflows");
  workflow->require_subcommand(1);
  return workflow;
}

bool HasSubcommand(CLI::App* app, const std::string& name) {
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return true;
  }
  return false;
}

}  // namespace

void AddSchedulerCommands(CLI::App& app, Globals& g) {
  CLI::App* wf = WorkflowGroup(app);
  auto f = std::make_shared<Flags>();
  const std::string id_help = "deployed workflow id, <env>:<owner>.<repo>.<workflow id>";
  auto add_id = [&](CLI::App* c) { c->add_option("ID", f->id, id_help)->required(); };
  auto add_actor = [&](CLI::App* c) {
    c->add_option("--actor", f->actor, "who acts (recorded; default $USER)");
  };

  if (!HasSubcommand(wf, "list")) {
    CLI::App* list = wf->add_subcommand(
        "list", "List deployed workflows with their state (active, paused; undeployed with --all)");
    list->add_flag("--all", f->all, "include undeployed workflows");
    list->footer("Examples:\n  weir workflow list\n  weir workflow list --all -o json");
    list->callback([f, &g] { g.exit_code = List(*f, g); });
  }

  CLI::App* versions = wf->add_subcommand("versions", "Versions and activation history");
  add_id(versions);
  versions->callback([f, &g] { g.exit_code = Versions(*f, g); });

  CLI::App* activate = wf->add_subcommand("activate", "Make VERSION the active version");
  add_id(activate);
  activate->add_option("VERSION", f->version, "version number")->required();
  add_actor(activate);
  activate->callback([f, &g] { g.exit_code = Activate(*f, g, false); });

  CLI::App* rollback = wf->add_subcommand(
      "rollback", "Activate the previously active earlier version (or --to VERSION)");
  add_id(rollback);
  rollback->add_option("--to", f->to, "an earlier version to activate");
  add_actor(rollback);
  rollback->callback([f, &g] { g.exit_code = Activate(*f, g, true); });

  CLI::App* run = wf->add_subcommand("run", "Start an instance of the active version");
  add_id(run);
  run->add_option("-p,--param", f->params,
                  "NAME=VALUE runtime parameter (repeatable); EXECUTION_DATE=ISO-8601 backfills");
  run->add_flag("--wait", f->wait, "wait for the instance to finish; exit 1 unless it succeeded");
  run->add_option("--timeout", f->timeout, "seconds to wait (0 = no limit)");
  add_actor(run);
  run->callback([f, &g] { g.exit_code = Run(*f, g); });

  CLI::App* instances = wf->add_subcommand("instances", "List instances, newest first");
  add_id(instances);
  instances->add_option("--status", f->statuses,
                        "CREATED, RUNNING, SUCCEEDED, FAILED or STOPPED (repeatable)");
  instances->add_option("--page", f->page, "page number (0-based)");
  instances->add_option("--size", f->size, "instances per page (1..1000)");
  instances->callback([f, &g] { g.exit_code = Instances(*f, g); });

  CLI::App* instance = wf->add_subcommand(
      "instance", "Show an instance: version, bundle, assets, steps with job ids, parameters");
  add_id(instance);
  instance->add_option("N", f->number, "instance number")->required();
  instance->callback([f, &g] { g.exit_code = ShowInstance(*f, g); });

  CLI::App* restart = wf->add_subcommand(
      "restart", "Run a FAILED or STOPPED instance again from its incomplete steps");
  add_id(restart);
  restart->add_option("N", f->number, "instance number")->required();
  add_actor(restart);
  restart->add_flag("--wait", f->wait,
                    "wait for the instance to finish, showing step progress on stderr; exit 1 "
                    "unless it succeeded");
  restart->add_option("--timeout", f->timeout, "seconds to wait (0 = no limit)");
  restart->callback([f, &g] { g.exit_code = InstanceAction(*f, g, "restart"); });

  CLI::App* stop = wf->add_subcommand("stop", "Stop an instance and kill its running jobs");
  add_id(stop);
  stop->add_option("N", f->number, "instance number")->required();
  add_actor(stop);
  stop->callback([f, &g] { g.exit_code = InstanceAction(*f, g, "stop"); });

  const std::string example_id = "prod:acme.etl.daily";
  CLI::App* pause = wf->add_subcommand(
      "pause", "Pause cron: no scheduled instances until resume (manual runs still start)");
  add_id(pause);
  add_actor(pause);
  pause->footer("Example:\n  weir workflow pause " + example_id);
  pause->callback([f, &g] { g.exit_code = Lifecycle(*f, g, "pause"); });

  CLI::App* resume = wf->add_subcommand(
      "resume", "Resume cron after pause; fire times missed while paused are skipped");
  add_id(resume);
  add_actor(resume);
  resume->footer("Example:\n  weir workflow resume " + example_id);
  resume->callback([f, &g] { g.exit_code = Lifecycle(*f, g, "resume"); });

  CLI::App* undeploy = wf->add_subcommand(
      "undeploy",
      "Remove a deployed workflow from the schedule (versions kept; deploy again to restore)");
  add_id(undeploy);
  add_actor(undeploy);
  undeploy->footer(
      "Example:\n  weir workflow undeploy branch:feature-x:acme.etl.daily\n"
      "  weir workflow list --all   # shows it as undeployed");
  undeploy->callback([f, &g] { g.exit_code = Lifecycle(*f, g, "undeploy"); });

  // An example in every --help.
  const std::map<std::string, std::string> examples = {
      {"versions", "weir workflow versions " + example_id},
      {"activate", "weir workflow activate " + example_id + " 3"},
      {"rollback", "weir workflow rollback " + example_id + " --to 2"},
      {"run", "weir workflow run " + example_id + " -p TABLE=clicks --wait --timeout 600"},
      {"instances", "weir workflow instances " + example_id + " --status FAILED -o json"},
      {"instance", "weir workflow instance " + example_id + " 7"},
      {"restart", "weir workflow restart " + example_id + " 7"},
      {"stop", "weir workflow stop " + example_id + " 7"}};
  for (const auto& [name, example] : examples) {
    for (CLI::App* sub : wf->get_subcommands([&](CLI::App* s) { return s->get_name() == name; })) {
      sub->footer("Example:\n  " + example);
    }
  }
}

}  // namespace weir::cli
