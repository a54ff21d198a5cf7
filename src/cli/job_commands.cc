// `weir job submit|status|wait|output|kill|list`: the job gateway from the command line.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/match_explain.h"
#include "common/strings.h"

namespace weir::cli {

namespace {

namespace json = boost::json;

struct SubmitFlags {
  std::string id, name = "weir-cli-job", user, version = "1";
  std::vector<std::string> cluster_tags;  // each occurrence: one criterion, comma-separated tags
  std::string command_tags;
  std::string args;
  std::vector<std::string> arguments;  // after `--`: each one argument, shell-quoted
  std::vector<std::string> attachments, tags, dependencies;
  std::string grouping, grouping_instance, setup_file;
  int memory = 0;
  int64_t timeout = 0;
  bool wait = false;
};

json::array TagArray(std::string_view csv) {
  json::array a;
  for (const auto& t : Split(csv, ',')) {
    std::string tag(Trim(t));
    if (!tag.empty()) a.emplace_back(tag);
  }
  return a;
}

bool IsFinal(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "KILLED" || status == "INVALID";
}

Result<std::string> WaitForFinal(client::HttpClient& http, const std::string& id,
                                 double timeout_seconds, bool progress) {
  auto start = std::chrono::steady_clock::now();
  std::string last;
  auto delay = std::chrono::milliseconds(20);
  while (true) {
    auto v = GetJson(http, "/api/v3/jobs/" + client::UrlEncode(id) + "/status");
    if (!v.ok()) return v.status();
    std::string status = Str(*v, "status");
    if (progress && status != last) std::cerr << "job " << id << ": " << status << "\n";
    last = status;
    if (IsFinal(status)) return status;
    if (timeout_seconds > 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_seconds)) {
      return DeadlineExceeded("job " + id + ": still " + status + " after " +
                              std::to_string(static_cast<int>(timeout_seconds)) + " s");
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(500));
  }
}

int PrintOutput(client::HttpClient& http, const std::string& id, const std::string& path,
                std::ostream& out) {
  auto r =
      http.Get("/api/v3/jobs/" + client::UrlEncode(id) + "/output/" + path, {{"Accept", "*/*"}});
  if (!r.ok()) return Fail(r.status());
  if (Status s = client::ToStatus(*r); !s.ok()) return Fail(s);
  auto ct = r->Header("content-type").value_or("");
  if (StartsWith(ct, "application/json") && (path.empty() || path.back() == '/')) {
    auto v = ParseJson(r->body, "output");
    if (!v.ok()) return Fail(v.status());
    for (const char* group : {"directories", "files"}) {
      if (auto* l = v->as_object().if_contains(group); l && l->is_array()) {
        for (const auto& e : l->as_array()) out << Str(e, "name") << "\t" << Str(e, "size") << "\n";
      }
    }
    return 0;
  }
  out << r->body;
  return 0;
}

int Submit(const SubmitFlags& f, Globals& g) {
  if (f.cluster_tags.empty())
    return Fail("job submit: --cluster-tags is required (e.g. sched:sla)");
  if (f.command_tags.empty())
    return Fail("job submit: --command-tags is required (e.g. type:bash)");
  json::object req;
  if (!f.id.empty()) req["id"] = f.id;
  req["name"] = f.name;
  std::string user = f.user;
  if (user.empty()) user = LocalUserName();
  if (user.empty()) user = "weir";
  req["user"] = user;
  req["version"] = f.version;
  json::array criterias;
  for (const auto& c : f.cluster_tags) criterias.push_back(json::object{{"tags", TagArray(c)}});
  req["clusterCriterias"] = criterias;
  req["commandCriteria"] = TagArray(f.command_tags);
  if (!f.args.empty()) req["commandArgs"] = f.args;
  if (!f.arguments.empty()) {
    json::array a;
    for (const auto& x : f.arguments) a.emplace_back(x);
    req["commandArguments"] = a;
  }
  if (!f.tags.empty()) req["tags"] = TagArray(Join(f.tags, ","));
  if (!f.dependencies.empty()) {
    json::array a;
    for (const auto& x : f.dependencies) a.emplace_back(x);
    req["dependencies"] = a;
  }
  if (!f.setup_file.empty()) req["setupFile"] = f.setup_file;
  if (!f.grouping.empty()) req["grouping"] = f.grouping;
  if (!f.grouping_instance.empty()) req["groupingInstance"] = f.grouping_instance;
  if (f.memory > 0) req["memory"] = f.memory;
  if (f.timeout > 0) req["timeout"] = f.timeout;

  client::HttpClient http(g.server, g.client);
  Result<client::Response> r = Internal("job submit: no request sent");
  if (f.attachments.empty()) {
    r = http.PostJson("/api/v3/jobs", json::serialize(req));
  } else {
    std::vector<client::Part> parts;
    parts.push_back({"request", "", "application/json", json::serialize(req), {}});
    for (const auto& a : f.attachments) {
      parts.push_back({"attachment", std::filesystem::path(a).filename().string(),
                       "application/octet-stream", "", a});
    }
    r = http.PostMultipart("/api/v3/jobs", parts);
  }
  if (!r.ok()) return Fail(r.status());
  if (Status s = client::ToStatus(*r); !s.ok())
    return Fail(ExplainSubmitError(*r, s.WithContext("job submit")));
  std::string location = r->Header("location").value_or("");
  std::string id = location.substr(location.rfind('/') + 1);
  if (g.output == "json" && !f.wait) {
    std::cout << json::serialize(json::object{{"id", id}, {"location", location}}) << "\n";
    return 0;
  }
  if (!f.wait) {
    std::cout << id << "\n";
    return 0;
  }
  std::cerr << "submitted job " << id << "\n";
  auto final = WaitForFinal(http, id, 0, true);
  if (!final.ok()) return Fail(final.status());
  PrintOutput(http, id, "stdout", std::cout);
  std::cout.flush();
  PrintOutput(http, id, "stderr", std::cerr);
  auto job = GetJson(http, "/api/v3/jobs/" + client::UrlEncode(id));
  if (job.ok())
    std::cerr << "job " << id << ": " << *final << " (" << Str(*job, "statusMsg") << ")\n";
  return *final == "SUCCEEDED" ? 0 : 1;
}

int ShowStatus(const std::string& id, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto job = GetJson(http, "/api/v3/jobs/" + client::UrlEncode(id));
  if (!job.ok()) return Fail(job.status());
  auto exec = GetJson(http, "/api/v3/jobs/" + client::UrlEncode(id) + "/execution");
  if (g.output == "json") {
    json::object o = job->as_object();
    o.erase("_links");
    if (exec.ok())
      o["exitCode"] = exec->as_object().contains("exitCode") ? exec->at("exitCode") : nullptr;
    std::cout << json::serialize(o) << "\n";
    return 0;
  }
  PrintTable(
      std::cout, {"ID", "STATUS", "MESSAGE", "CLUSTER", "COMMAND", "EXIT", "RUNTIME"},
      {{Str(*job, "id"), Str(*job, "status"), Str(*job, "statusMsg"), Str(*job, "clusterName"),
        Str(*job, "commandName"), exec.ok() ? Str(*exec, "exitCode") : "", Str(*job, "runtime")}});
  return 0;
}

int List(const std::vector<std::string>& statuses, const std::string& user,
         const std::vector<std::string>& tags, int size, Globals& g) {
  std::string q = "/api/v3/jobs?size=" + std::to_string(size);
  for (const auto& s : statuses) q += "&status=" + client::UrlEncode(s);
  for (const auto& t : tags) q += "&tag=" + client::UrlEncode(t);
  if (!user.empty()) q += "&user=" + client::UrlEncode(user);
  client::HttpClient http(g.server, g.client);
  auto page = GetJson(http, q);
  if (!page.ok()) return Fail(page.status());
  json::array items;
  if (auto* e = page->as_object().if_contains("_embedded"); e && e->is_object()) {
    if (auto* l = e->as_object().if_contains("jobSearchResultList"); l && l->is_array()) {
      items = l->as_array();
    }
  }
  if (g.output == "json") {
    std::cout << json::serialize(items) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : items) {
    rows.push_back({Str(j, "id"), Str(j, "name"), Str(j, "user"), Str(j, "status"),
                    Str(j, "clusterName"), Str(j, "commandName"), Str(j, "started"),
                    Str(j, "runtime")});
  }
  PrintTable(std::cout,
             {"ID", "NAME", "USER", "STATUS", "CLUSTER", "COMMAND", "STARTED", "RUNTIME"}, rows);
  return 0;
}

}  // namespace

void AddJobCommands(CLI::App& app, Globals& g) {
  CLI::App* job = app.add_subcommand("job", "Submit, follow, read and kill jobs");
  job->require_subcommand(1);

  auto f = std::make_shared<SubmitFlags>();
  CLI::App* submit =
      job->add_subcommand("submit",
                          "Submit a job by tags. Example:\n"
                          "  weir job submit --cluster-tags sched:sla --command-tags type:bash "
                          "--args 'echo hi' --wait\n"
                          "Arguments after `--` are passed one by one, each shell-quoted.");
  submit
      ->add_option("-c,--cluster-tags", f->cluster_tags,
                   "cluster criterion: comma-separated tags; repeat for fallbacks, tried in order")
      ->required();
  submit
      ->add_option("-C,--command-tags", f->command_tags, "command criterion: comma-separated tags")
      ->required();
  submit->add_option("-a,--args", f->args, "arguments appended to the command's executable");
  submit->add_option("--name", f->name, "job name")->capture_default_str();
  submit->add_option("--user", f->user, "job user (default $USER)");
  submit->add_option("--version", f->version, "job version")->capture_default_str();
  submit->add_option("--id", f->id, "job id (default: the server assigns a UUID)");
  submit->add_option("--attach", f->attachments, "file to attach (repeatable)")
      ->check(CLI::ExistingFile);
  submit->add_option("--dependency", f->dependencies, "dependency URI (repeatable)");
  submit->add_option("--setup-file", f->setup_file, "setup file URI, sourced before the command");
  submit->add_option("--tag", f->tags, "job tag (repeatable)");
  submit->add_option("--memory", f->memory, "memory in MB");
  submit->add_option("--timeout", f->timeout, "timeout in seconds");
  submit->add_option("--grouping", f->grouping, "grouping (e.g. a workflow id)");
  submit->add_option("--grouping-instance", f->grouping_instance, "grouping instance");
  submit->add_flag("-w,--wait", f->wait,
                   "follow the status until the job ends, then print stdout and stderr; exit "
                   "code 0 only if the job SUCCEEDED");
  submit->add_option("arguments", f->arguments, "arguments, each passed as one (after --)");
  submit->callback([f, &g] { g.exit_code = Submit(*f, g); });

  auto id = std::make_shared<std::string>();
  CLI::App* status = job->add_subcommand("status", "Show a job's status");
  status->add_option("ID", *id, "job id")->required();
  status->callback([id, &g] { g.exit_code = ShowStatus(*id, g); });

  auto wait_timeout = std::make_shared<double>(0);
  CLI::App* wait =
      job->add_subcommand("wait", "Wait until a job ends; exit code 0 only if it SUCCEEDED");
  wait->add_option("ID", *id, "job id")->required();
  wait->add_option("--timeout", *wait_timeout, "give up after this many seconds (0: never)");
  wait->callback([id, wait_timeout, &g] {
    client::HttpClient http(g.server, g.client);
    auto final = WaitForFinal(http, *id, *wait_timeout, false);
    if (!final.ok()) {
      g.exit_code = Fail(final.status());
      return;
    }
    std::cout << *final << "\n";
    g.exit_code = *final == "SUCCEEDED" ? 0 : 1;
  });

  auto path = std::make_shared<std::string>("stdout");
  CLI::App* output = job->add_subcommand(
      "output", "Print a file of the job directory (default stdout); a folder ending in / lists");
  output->add_option("ID", *id, "job id")->required();
  output->add_option("PATH", *path, "path inside the job directory")->capture_default_str();
  output->callback([id, path, &g] {
    client::HttpClient http(g.server, g.client);
    g.exit_code = PrintOutput(http, *id, *path == "/" ? "" : *path, std::cout);
  });

  CLI::App* kill = job->add_subcommand("kill", "Kill a job (no-op if it already ended)");
  kill->add_option("ID", *id, "job id")->required();
  kill->callback([id, &g] {
    client::HttpClient http(g.server, g.client);
    auto r = http.Delete("/api/v3/jobs/" + client::UrlEncode(*id));
    if (!r.ok()) {
      g.exit_code = Fail(r.status());
      return;
    }
    if (Status s = client::ToStatus(*r); !s.ok()) {
      g.exit_code = Fail(s);
      return;
    }
    std::cout << "kill requested for job " << *id << "\n";
  });

  auto statuses = std::make_shared<std::vector<std::string>>();
  auto user = std::make_shared<std::string>();
  auto tags = std::make_shared<std::vector<std::string>>();
  auto size = std::make_shared<int>(20);
  CLI::App* list = job->add_subcommand("list", "List jobs, newest first");
  list->add_option("--status", *statuses, "status (repeatable: any of them)");
  list->add_option("--user", *user, "user");
  list->add_option("--tag", *tags, "tag (repeatable: all of them)");
  list->add_option("--size", *size, "how many")->capture_default_str();
  list->callback([=, &g] { g.exit_code = List(*statuses, *user, *tags, *size, g); });
}

}  // namespace weir::cli
