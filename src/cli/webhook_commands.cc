// `weir webhook add|list|rm|deliveries|redeliver`: webhook subscriptions and their delivery logs
// (/api/weir/v1/webhooks, docs/api.md "Webhooks"; admin only). Tables on stdout, messages on
// stderr; with -o json one JSON document on stdout.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "client/http_client.h"

namespace weir::cli {
namespace {

namespace json = boost::json;

constexpr std::string_view kBase = "/api/weir/v1/webhooks";

struct AddFlags {
  std::string url, job, user, grouping, workflow, secret_file;
  std::vector<std::string> types;
  bool disabled = false;
};

std::string Filter(const json::value& w) {
  std::string out;
  auto add = [&out](const std::string& part) {
    if (!out.empty()) out += " ";
    out += part;
  };
  if (const json::value* t = w.as_object().if_contains("types"); t && t->is_array()) {
    std::string types;
    for (const json::value& s : t->as_array()) {
      if (!types.empty()) types += ",";
      if (s.is_string()) types += std::string(s.as_string());
    }
    if (!types.empty()) add("type=" + types);
  }
  for (const char* key : {"jobId", "user", "grouping", "workflow"}) {
    std::string v = Str(w, key);
    if (!v.empty()) add(std::string(key) + "=" + v);
  }
  return out.empty() ? "(all events)" : out;
}

// The file's bytes without one trailing newline (a file written by `echo` holds one).
Result<std::string> ReadSecret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("--secret-file " + path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return InvalidArgument("--secret-file " + path + ": is empty");
  return s;
}

int Add(const AddFlags& f, Globals& g) {
  Result<std::string> secret = ReadSecret(f.secret_file);
  if (!secret.ok()) return Fail(secret.status().WithContext("webhook add"));
  json::object body{{"url", f.url}, {"secret", *secret}, {"enabled", !f.disabled}};
  json::array types;
  for (const std::string& t : f.types) types.emplace_back(t);
  body["types"] = std::move(types);
  if (!f.job.empty()) body["jobId"] = f.job;
  if (!f.user.empty()) body["user"] = f.user;
  if (!f.grouping.empty()) body["grouping"] = f.grouping;
  if (!f.workflow.empty()) body["workflow"] = f.workflow;
  client::HttpClient http(g.server, g.client);
  const std::string path(kBase);
  auto r = http.PostJson(path, json::serialize(body));
  if (Status s = CheckResponse(http, path, r); !s.ok()) return Fail(s.WithContext("webhook add"));
  auto v = ParseJson(r->body, "webhook add");
  if (!v.ok()) return Fail(v.status());
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
  } else {
    std::cout << Str(*v, "id") << "\n";
    std::cerr << "added webhook " << Str(*v, "id") << " for " << Filter(*v) << " to " << f.url
              << "\n";
  }
  return 0;
}

int List(Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, std::string(kBase));
  if (!v.ok()) return Fail(v.status().WithContext("webhook list"));
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (const json::value* items = v->as_object().if_contains("webhooks");
      items && items->is_array()) {
    for (const json::value& w : items->as_array()) {
      const json::value* enabled = w.as_object().if_contains("enabled");
      rows.push_back({Str(w, "id"), Str(w, "url"), Filter(w),
                      enabled && enabled->is_bool() && enabled->as_bool() ? "yes" : "no",
                      Str(w, "deliveredUpTo"), Str(w, "created")});
    }
  }
  PrintTable(std::cout, {"ID", "URL", "FILTER", "ENABLED", "DELIVERED-UP-TO", "CREATED"}, rows);
  return 0;
}

int Remove(const std::string& id, Globals& g) {
  client::HttpClient http(g.server, g.client);
  const std::string path = std::string(kBase) + "/" + client::UrlEncode(id);
  auto r = http.Delete(path);
  if (Status s = CheckResponse(http, path, r); !s.ok()) return Fail(s.WithContext("webhook rm"));
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"id", id}, {"deleted", true}}) << "\n";
  } else {
    std::cerr << "removed webhook " << id << "\n";
  }
  return 0;
}

int Deliveries(const std::string& id, int64_t limit, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, std::string(kBase) + "/" + client::UrlEncode(id) +
                             "/deliveries?limit=" + std::to_string(limit));
  if (!v.ok()) return Fail(v.status().WithContext("webhook deliveries"));
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (const json::value* items = v->as_object().if_contains("deliveries");
      items && items->is_array()) {
    for (const json::value& d : items->as_array()) {
      std::string attempt = Str(d, "attempt");
      const json::value* manual = d.as_object().if_contains("manual");
      if (manual && manual->is_bool() && manual->as_bool()) attempt += " (by hand)";
      std::string result = Str(d, "status");
      std::string error = Str(d, "error");
      if (!error.empty()) result = result.empty() ? error : result + " " + error;
      rows.push_back({Str(d, "id"), Str(d, "eventId"), Str(d, "eventType"), attempt, Str(d, "time"),
                      Str(d, "outcome"), result, Str(d, "durationMs") + "ms", Str(d, "nextRetry")});
    }
  }
  PrintTable(std::cout,
             {"DELIVERY", "EVENT", "TYPE", "ATTEMPT", "TIME", "OUTCOME", "RESULT", "DURATION",
              "NEXT-RETRY"},
             rows);
  return 0;
}

int Redeliver(const std::string& id, const std::string& delivery, Globals& g) {
  client::HttpClient http(g.server, g.client);
  const std::string path = std::string(kBase) + "/" + client::UrlEncode(id) + "/deliveries/" +
                           client::UrlEncode(delivery) + "/redeliver";
  auto r = http.PostJson(path, "{}");
  if (Status s = CheckResponse(http, path, r); !s.ok()) {
    return Fail(s.WithContext("webhook redeliver"));
  }
  auto v = ParseJson(r->body, "webhook redeliver");
  if (!v.ok()) return Fail(v.status());
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
  } else {
    std::cerr << "event " << Str(*v, "eventId") << " queued for webhook " << id
              << "; run `weir webhook deliveries " << id << "` to see the attempt\n";
  }
  return 0;
}

}  // namespace

void AddWebhookCommands(CLI::App& app, Globals& g) {
  CLI::App* webhook = app.add_subcommand(
      "webhook", "Webhooks: signed POSTs of the server's events to a URL (admin only)");
  webhook->require_subcommand(1);

  auto f = std::make_shared<AddFlags>();
  CLI::App* add = webhook->add_subcommand(
      "add", "Subscribe URL to the events from now on; prints the webhook id");
  add->add_option("URL", f->url, "Receiver, http:// or https://")->required();
  add->add_option("--type", f->types, "Only events of this type (repeatable)");
  add->add_option("--job", f->job, "Only events of this job id");
  add->add_option("--user", f->user, "Only events of this user's jobs");
  add->add_option("--grouping", f->grouping, "Only events of jobs in this grouping");
  add->add_option("--workflow", f->workflow, "Only events of this workflow");
  add->add_option("--secret-file", f->secret_file,
                  "File holding the signing secret (one trailing newline is dropped)")
      ->required();
  add->add_flag("--disabled", f->disabled, "Store the subscription without delivering");
  add->callback([f, &g] { g.exit_code = Add(*f, g); });

  CLI::App* list = webhook->add_subcommand("list", "The subscriptions (secrets are never shown)");
  list->callback([&g] { g.exit_code = List(g); });

  auto id = std::make_shared<std::string>();
  CLI::App* rm = webhook->add_subcommand("rm", "Remove a subscription and its delivery log");
  rm->add_option("ID", *id, "Webhook id (`weir webhook list`)")->required();
  rm->callback([id, &g] { g.exit_code = Remove(*id, g); });

  auto did = std::make_shared<std::string>();
  auto limit = std::make_shared<int64_t>(50);
  CLI::App* deliveries = webhook->add_subcommand(
      "deliveries", "A subscription's delivery log, newest first: one row per attempt");
  deliveries->add_option("ID", *did, "Webhook id")->required();
  deliveries->add_option("--limit", *limit, "Rows at most (1..1000)")->capture_default_str();
  deliveries->callback([did, limit, &g] { g.exit_code = Deliveries(*did, *limit, g); });

  auto rid = std::make_shared<std::string>();
  auto delivery = std::make_shared<std::string>();
  CLI::App* redeliver = webhook->add_subcommand(
      "redeliver", "Send the event of a logged delivery once more (the attempt is logged)");
  redeliver->add_option("ID", *rid, "Webhook id")->required();
  redeliver->add_option("DELIVERY", *delivery, "Delivery id (`weir webhook deliveries ID`)")
      ->required();
  redeliver->callback([rid, delivery, &g] { g.exit_code = Redeliver(*rid, *delivery, g); });
}

}  // namespace weir::cli
