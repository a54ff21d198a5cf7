// weir workflow backfill ID --from T1 --to T2 [--parallel N]: one instance per fire time of the
// workflow's schedule in [T1, T2] (server: Scheduler::Backfill), then waits for them, printing
// progress on stderr. Also InstanceProgress (instance_progress.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/instance_progress.h"

namespace weir::cli {

namespace json = boost::json;

namespace {

// Multi-line messages (a stderr tail) stay readable under the step's line.
std::string Indented(std::string m) {
  for (size_t at = m.find('\n'); at != std::string::npos; at = m.find('\n', at + 1)) {
    m.insert(at + 1, "    | ");
  }
  return m;
}

bool ShowsAttempt(const std::string& status) {
  return status != "PENDING" && status != "UPSTREAM_FAILED" && status != "SKIPPED";
}

}  // namespace

bool InstanceProgress::Changed(const std::string& step, const std::string& status,
                               const std::string& attempt) {
  std::string& last = last_[step];
  const std::string now = status + "|" + attempt;
  const bool changed = now != last && !(last.empty() && status == "PENDING");
  last = now;
  return changed;
}

void InstanceProgress::Report(const json::value& instance, std::ostream& err) {
  if (!instance.is_object()) return;
  const json::value* steps = instance.as_object().if_contains("steps");
  if (steps == nullptr || !steps->is_array()) return;
  for (const json::value& s : steps->as_array()) {
    const std::string id = Str(s, "id");
    const std::string status = Str(s, "status");
    if (!Changed(id, status, Str(s, "attempts"))) continue;
    err << "  step " << id << ": " << status;
    if (ShowsAttempt(status)) {
      err << " (attempt " << Str(s, "attempts") << "/" << Str(s, "maxAttempts") << ")";
    }
    if (std::string m = Str(s, "message"); !m.empty() && status != "SUCCEEDED") {
      err << " " << Indented(m);
    }
    err << "\n";
  }
}

void InstanceProgress::ReportStepEvent(const json::value& event, std::ostream& err) {
  const std::string id = Str(event, "step");
  const std::string status = Str(event, "toState");
  if (!Changed(id, status, Str(event, "attempt"))) return;
  err << "  step " << id << ": " << status;
  if (ShowsAttempt(status)) {
    err << " (attempt " << Str(event, "attempt");
    if (std::string job = Str(event, "jobId"); !job.empty()) err << ", job " << job;
    err << ")";
  }
  if (std::string m = Str(event, "message"); !m.empty() && status != "SUCCEEDED") {
    err << " " << Indented(m);
  }
  err << "\n";
}

namespace {

constexpr std::string_view kBase = "/api/weir/v1/workflows";

struct BackfillFlags {
  std::string id;
  std::string from, to;
  int parallel = 1;
  bool no_wait = false;
  double timeout = 0;
};

bool IsFinal(const std::string& s) { return s == "SUCCEEDED" || s == "FAILED" || s == "STOPPED"; }

int Backfill(const BackfillFlags& f, const Globals& g) {
  const std::string path = std::string(kBase) + "/" + client::UrlEncode(f.id);
  client::HttpClient http(g.server, g.client);
  json::object body;
  body["from"] = f.from;
  body["to"] = f.to;
  body["parallel"] = f.parallel;
  if (std::string who = LocalUserName(); !who.empty()) body["requestedBy"] = who;
  auto r = http.PostJson(path + "/backfill", json::serialize(body));
  if (!r.ok()) return Fail(r.status().WithContext("workflow backfill"));
  if (Status s = client::ToStatus(*r); !s.ok()) return Fail(s.WithContext("workflow backfill"));
  auto v = ParseJson(r->body, "workflow backfill");
  if (!v.ok()) return Fail(v.status());
  json::array created = v->as_object()["created"].as_array();
  const json::array& skipped = v->as_object()["skipped"].as_array();
  std::cerr << "backfill " << f.id << ": " << created.size() << " instance(s) created, "
            << skipped.size() << " fire time(s) already run (skipped), at most " << f.parallel
            << " at once\n";
  for (const json::value& t : skipped)
    std::cerr << "  skipped " << json::value_to<std::string>(t) << "\n";

  // Wait for every created instance to end, reporting each change of state.
  std::map<int64_t, json::value> latest;  // number → instance
  for (const json::value& i : created) latest[i.at("number").to_number<int64_t>()] = i;
  std::map<int64_t, std::string> reported;
  const auto start = std::chrono::steady_clock::now();
  auto delay = std::chrono::milliseconds(50);
  bool timed_out = false;
  while (!f.no_wait && !latest.empty()) {
    auto page = GetJson(http, path + "/instances?page=0&size=1000");
    if (!page.ok()) return Fail(page.status().WithContext("workflow backfill"));
    for (const json::value& i : page->as_object()["instances"].as_array()) {
      auto n = i.at("number").to_number<int64_t>();
      if (latest.count(n)) latest[n] = i;
    }
    size_t done = 0, failed = 0, running = 0;
    for (const auto& [n, i] : latest) {
      const std::string status = Str(i, "status");
      if (reported[n] != status) {
        std::cerr << "  #" << n << " " << Str(i, "triggerTime") << ": " << status;
        if (IsFinal(status) && !Str(i, "message").empty())
          std::cerr << " (" << Str(i, "message") << ")";
        std::cerr << "\n";
        reported[n] = status;
      }
      if (IsFinal(status)) ++done;
      if (status == "FAILED" || status == "STOPPED") ++failed;
      if (status == "RUNNING") ++running;
    }
    if (done == latest.size()) {
      std::cerr << "backfill " << f.id << ": " << done << " instance(s) ended, " << failed
                << " did not succeed\n";
      break;
    }
    if (f.timeout > 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(f.timeout)) {
      std::cerr << "weir: workflow backfill: " << (latest.size() - done)
                << " instance(s) still running after " << f.timeout
                << " s; follow them with `weir workflow instances " << f.id << "`\n";
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }

  json::array out_created;
  bool all_ok = true;
  for (const auto& [n, i] : latest) {
    out_created.push_back(i);
    if (Str(i, "status") != "SUCCEEDED") all_ok = false;
  }
  if (g.output == "json") {
    json::object out;
    out["created"] = std::move(out_created);
    out["skipped"] = skipped;
    std::cout << json::serialize(out) << "\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [n, i] : latest) {
      rows.push_back(
          {std::to_string(n), Str(i, "triggerTime"), Str(i, "status"), Str(i, "message")});
    }
    PrintTable(std::cout, {"N", "LOGICAL TIME", "STATUS", "MESSAGE"}, rows);
  }
  if (f.no_wait) return 0;
  return timed_out || !all_ok ? 1 : 0;
}

}  // namespace

void AddBackfillCommand(CLI::App& app, Globals& g) {
  CLI::App* wf = app.get_subcommand("workflow");
  auto f = std::make_shared<BackfillFlags>();
  CLI::App* b = wf->add_subcommand(
      "backfill",
      "Run the schedule's past fire times in [--from, --to]: one instance each, oldest first, "
      "skipping times already run\n"
      "Example: weir workflow backfill prod:acme.warehouse.etl --from 2026-03-01T00:00:00Z "
      "--to 2026-03-07T23:59:59Z --parallel 2");
  b->add_option("ID", f->id, "deployed workflow id (see `weir workflow list`)")->required();
  b->add_option("--from", f->from, "first logical time, ISO-8601 (inclusive)")->required();
  b->add_option("--to", f->to, "last logical time, ISO-8601 (inclusive)")->required();
  b->add_option("--parallel", f->parallel, "backfill instances running at once (1..100)")
      ->check(CLI::Range(1, 100));
  b->add_flag("--no-wait", f->no_wait, "return once the instances are created");
  b->add_option("--timeout", f->timeout, "seconds to wait (0 = no limit); exit 1 when reached");
  b->callback([f, &g] { g.exit_code = Backfill(*f, g); });
}

}  // namespace weir::cli
