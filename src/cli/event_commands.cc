// `weir events tail`: the server's event stream (GET /api/weir/v1/events, docs/api.md "Events"),
// one line per event on stdout; with -o json one document {"events": [...], "lastEventId": N}
// once the tail ends (--count or --no-follow).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "api/http.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "client/http_client.h"
#include "client/sse.h"

namespace weir::cli {
namespace {

namespace json = boost::json;

struct TailFlags {
  std::vector<std::string> types;
  std::string job, user, grouping, workflow, since;
  int64_t count = 0;
  bool no_follow = false;
};

// "12 JOB_STATUS_CHANGE job j1: INIT -> RUNNING",
// "40 WORKFLOW_STEP_CHANGE prod:acme.etl.daily#3 step load job j7: PENDING -> RUNNING",
// "41 WORKFLOW_ACTIVATED prod:acme.etl.daily: version 2 -> 1 (rollback)",
// "42 ASSET_PUBLISHED dataflow.bash.e2e...: published"
std::string Line(const client::SseEvent& e, const json::value& v) {
  std::string out = e.id + " " + e.event;
  if (!v.is_object()) return out;
  if (std::string wf = Str(v, "workflow"); !wf.empty()) {
    out += " " + wf;
    if (std::string n = Str(v, "instance"); !n.empty()) out += "#" + n;
    if (std::string step = Str(v, "step"); !step.empty()) out += " step " + step;
  }
  if (std::string asset = Str(v, "versionId"); !asset.empty()) return out + " " + asset;
  std::string job = Str(v, "jobId");
  if (!job.empty()) out += " job " + job;
  if (v.as_object().contains("toVersion")) {
    std::string from = Str(v, "fromVersion");
    out += ": version " + (from.empty() ? std::string("-") : from) + " -> " + Str(v, "toVersion") +
           " (" + Str(v, "reason") + ")";
  } else if (e.event == "WORKFLOW_DEPLOYED") {
    out += ": version " + Str(v, "version") + " (bundle " + Str(v, "bundleId").substr(0, 12) + ")";
  } else if (v.as_object().contains("toState")) {
    std::string from = Str(v, "fromState");
    out += ": " + (from.empty() ? std::string("-") : from) + " -> " + Str(v, "toState");
  } else if (v.as_object().contains("status")) {
    out += ": " + Str(v, "status");
    std::string exit = Str(v, "exitCode");
    if (!exit.empty()) out += " (exit " + exit + ")";
  }
  return out;
}

int Tail(const TailFlags& f, Globals& g) {
  if (g.output == "json" && f.count <= 0 && !f.no_follow) {
    return Fail(
        "events tail: -o json prints one document when the tail ends; add --count N or "
        "--no-follow");
  }
  std::string query;
  auto add = [&query](const char* name, const std::string& value) {
    if (value.empty()) return;
    query += query.empty() ? "?" : "&";
    query += std::string(name) + "=" + api::PercentEncode(value, ":,");
  };
  for (const auto& t : f.types) add("type", t);
  add("jobId", f.job);
  add("user", f.user);
  add("grouping", f.grouping);
  add("workflow", f.workflow);
  if (f.no_follow) add("follow", "false");
  client::Headers headers;
  if (!f.since.empty()) headers.emplace_back("Last-Event-ID", f.since);
  client::HttpClient http(g.server, g.client);
  client::SseParser parser;
  json::array events;
  int64_t received = 0;
  bool resume = false;
  auto r = http.StreamGet("/api/weir/v1/events" + query, headers, [&](std::string_view bytes) {
    bool more = true;
    parser.Feed(bytes, [&](const client::SseEvent& e) {
      if (!more) return;
      if (e.event == "resume") {
        resume = true;
        more = false;
        return;
      }
      json::value v;
      boost::system::error_code ec;
      v = json::parse(e.data, ec);
      if (ec) v = json::value(e.data);
      if (g.output == "json") {
        events.push_back(v);
      } else {
        std::cout << Line(e, v) << std::endl;
      }
      if (f.count > 0 && ++received >= f.count) more = false;
    });
    return more;
  });
  if (!r.ok()) return Fail(r.status().WithContext("events tail"));
  if (r->status < 200 || r->status >= 300) {
    return Fail(client::ToStatus(*r).WithContext("events tail"));
  }
  if (resume) {
    std::cerr << "events tail: fell behind the server; run again with --since " << parser.last_id()
              << " to go on\n";
  }
  if (g.output == "json") {
    json::object doc;
    doc["events"] = std::move(events);
    doc["lastEventId"] =
        parser.last_id().empty() ? json::value(nullptr) : json::value(std::stoll(parser.last_id()));
    std::cout << json::serialize(doc) << "\n";
  }
  return resume ? 1 : 0;
}

}  // namespace

void AddEventsCommand(CLI::App& app, Globals& g) {
  CLI::App* events =
      app.add_subcommand("events", "The server's event log: job, workflow and deployment changes");
  events->require_subcommand(1);
  auto f = std::make_shared<TailFlags>();
  CLI::App* tail = events->add_subcommand(
      "tail", "Print events as they happen (after --since ID: the stored ones first)");
  tail->add_option("--type", f->types, "Only events of this type (repeatable)");
  tail->add_option("--job", f->job, "Only events of this job id");
  tail->add_option("--user", f->user, "Only events of this user's jobs");
  tail->add_option("--grouping", f->grouping, "Only events of jobs in this grouping");
  tail->add_option("--workflow", f->workflow, "Only events of this workflow");
  tail->add_option("--since", f->since, "Start after this event id (0: the whole stored log)");
  tail->add_option("--count", f->count, "Stop after this many events");
  tail->add_flag("--no-follow", f->no_follow, "Print the stored events and stop");
  tail->callback([f, &g] { g.exit_code = Tail(*f, g); });
}

}  // namespace weir::cli
