// `weir job submit|status|wait|output|kill|list`: the job gateway from the command line.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>
#include <tuple>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/job_dry_run.h"
#include "cli/job_follow.h"
#include "cli/local_run.h"
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
  std::vector<std::string> attachments, tags, dependencies, applications, configs;
  std::vector<std::string> env;  // --env KEY=VALUE
  std::string grouping, grouping_instance, setup_file, description, metadata;
  int memory = 0;
  int64_t timeout = 0;
  bool wait = false;
  bool dry_run = false;
  bool disable_archival = false;
  bool pass_exit_code = false;
  bool stream = false, no_stream = false;  // live output under --wait (default: stdout is a tty)
  std::string dir;                         // `job prepare --dir`: where the folder goes
  double prepare_timeout = 600;            // `job prepare --timeout`
};

json::array TagArray(std::string_view csv) {
  json::array a;
  for (const auto& t : Split(csv, ',')) {
    std::string tag(Trim(t));
    if (!tag.empty()) a.emplace_back(tag);
  }
  return a;
}

json::array StringArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& x : v) a.emplace_back(x);
  return a;
}

bool IsFinal(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "KILLED" || status == "INVALID";
}

std::string JobPath(const std::string& id) { return "/api/v3/jobs/" + client::UrlEncode(id); }

// The job document every command prints with `-o json`: GET /api/v3/jobs/{id} without `_links`,
// plus `exitCode` from the job's execution (null while it has none) and `slurmJobId` for a job on Slurm.
Result<json::object> JobDocument(client::HttpClient& http, const std::string& id) {
  auto job = GetJson(http, JobPath(id));
  if (!job.ok()) return job.status();
  if (!job->is_object()) return Internal("job " + id + ": the server sent no JSON object");
  json::object o = job->as_object();
  o.erase("_links");
  o["exitCode"] = nullptr;
  auto exec = GetJson(http, JobPath(id) + "/execution");
  if (exec.ok() && exec->is_object()) {
    if (const json::value* e = exec->as_object().if_contains("exitCode")) o["exitCode"] = *e;
    if (const json::value* s = exec->as_object().if_contains("slurmJobId")) o["slurmJobId"] = *s;
  }
  return o;
}

bool NeverStarted(const json::value& job) {
  return IsFinal(Str(job, "status")) && Str(job, "started").empty();
}

// The exit code for a job that ended with `status` (ExitCode in cli.h); with `pass_exit_code`,
// the job's own exit code when it ran and has one.
int ExitForJob(const json::object& doc, bool pass_exit_code) {
  if (pass_exit_code && !NeverStarted(doc)) {
    if (const json::value* e = doc.if_contains("exitCode"); e && e->is_number()) {
      int64_t code = e->to_number<int64_t>();
      if (code >= 0 && code <= 255) return static_cast<int>(code);
    }
  }
  const std::string status = Str(doc, "status");
  if (status == "SUCCEEDED") return kExitOk;
  if (status == "FAILED") return kExitJobFailed;
  return kExitJobKilled;
}

// A directory listing of the output API: {"parent", "directories": [...], "files": [...]}.
bool IsListing(const json::value& v) {
  if (!v.is_object()) return false;
  const json::object& o = v.as_object();
  const json::value* d = o.if_contains("directories");
  const json::value* f = o.if_contains("files");
  return o.contains("parent") && d && d->is_array() && f && f->is_array();
}

// Prints the file `path` of job `id` (its bytes), or a folder's listing ("NAME<TAB>SIZE" lines;
// with `json`, the listing document). A job that never started says so instead of "not found".
int PrintOutput(client::HttpClient& http, const std::string& id, const std::string& path,
                std::ostream& out, bool json_out) {
  const std::string route = JobPath(id) + "/output/" + path;
  auto r = http.Get(route, {{"Accept", "*/*"}});
  if (Status s = CheckResponse(http, route, r); !s.ok()) {
    if (s.code() == StatusCode::kNotFound) {
      auto job = GetJson(http, JobPath(id));
      if (job.ok() && NeverStarted(*job)) {
        return Fail(NotFound("job " + id + " never started (it ended " + Str(*job, "status") +
                             " while queued: " + Str(*job, "statusMsg") + "); it has no output"));
      }
    }
    return Fail(s.WithContext("job output " + id + " " + (path.empty() ? "/" : path)));
  }
  auto ct = r->Header("content-type").value_or("");
  if (StartsWith(ct, "application/json")) {
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (!ec && IsListing(v)) {
      if (json_out) {
        out << json::serialize(v) << "\n";
        return 0;
      }
      for (const char* group : {"directories", "files"}) {
        for (const auto& e : v.at(group).as_array()) {
          out << Str(e, "name") << "\t" << Str(e, "size") << "\n";
        }
      }
      return 0;
    }
  }
  out << r->body;
  return 0;
}

// `job submit`, or with `prepare` `job prepare` (local mode: the same request, set up by the
// server for a run on this machine, then downloaded into f.dir).
int Submit(const SubmitFlags& f, Globals& g, bool prepare = false) {
  const std::string what = prepare ? "job prepare" : "job submit";
  const std::string route = prepare ? "/api/weir/v1/jobs/prepare" : "/api/v3/jobs";
  if (f.cluster_tags.empty()) return Fail(what + ": --cluster-tags is required (e.g. sched:sla)");
  if (f.command_tags.empty()) return Fail(what + ": --command-tags is required (e.g. type:bash)");
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
  // Genie's commandArgs: --args as given, then each word after `--` shell-quoted.
  std::vector<std::string> words;
  if (!f.args.empty()) words.push_back(f.args);
  for (const auto& a : f.arguments) words.push_back(ShellQuote(a));
  if (!words.empty()) req["commandArgs"] = Join(words, " ");
  if (!f.tags.empty()) req["tags"] = TagArray(Join(f.tags, ","));
  if (!f.dependencies.empty()) req["dependencies"] = StringArray(f.dependencies);
  if (!f.configs.empty()) req["configs"] = StringArray(f.configs);
  if (!f.applications.empty()) req["applications"] = StringArray(f.applications);
  if (!f.setup_file.empty()) req["setupFile"] = f.setup_file;
  if (!f.description.empty()) req["description"] = f.description;
  if (!f.metadata.empty()) {
    boost::system::error_code ec;
    json::value m = json::parse(f.metadata, ec);
    if (ec || !m.is_object()) {
      std::cerr << "weir: " << what
                << ": --metadata must be a JSON object, e.g. '{\"team\":\"x\"}'\n";
      return kExitUsage;
    }
    req["metadata"] = m;
  }
  if (!f.env.empty()) {
    json::object env;
    for (const std::string& kv : f.env) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "weir: " << what << ": --env '" << kv
                  << "': expected KEY=VALUE, e.g. --env TARGET_DB=warehouse\n";
        return kExitUsage;
      }
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    req["environmentVariables"] = std::move(env);
  }
  if (f.disable_archival) req["disableLogArchival"] = true;
  if (!f.grouping.empty()) req["grouping"] = f.grouping;
  if (!f.grouping_instance.empty()) req["groupingInstance"] = f.grouping_instance;
  if (f.memory > 0) req["memory"] = f.memory;
  if (f.timeout > 0) req["timeout"] = f.timeout;

  client::HttpClient http(g.server, g.client);
  if (f.dry_run) {
    if (!f.attachments.empty()) {
      std::cerr << "weir: job submit --dry-run: attachments are not sent (they do not change the "
                   "resolution)\n";
    }
    return SubmitDryRun(http, json::serialize(req), g);
  }
  Result<client::Response> r = Internal(what + ": no request sent");
  if (f.attachments.empty()) {
    r = http.PostJson(route, json::serialize(req));
  } else {
    std::vector<client::Part> parts;
    parts.push_back({"request", "", "application/json", json::serialize(req), {}});
    for (const auto& a : f.attachments) {
      parts.push_back({"attachment", std::filesystem::path(a).filename().string(),
                       "application/octet-stream", "", a});
    }
    r = http.PostMultipart(route, parts);
  }
  if (Status s = CheckResponse(http, route, r); !s.ok()) {
    s = s.WithContext(what);
    return Fail(r.ok() ? ExplainSubmitError(*r, s) : s);
  }
  std::string location = r->Header("location").value_or("");
  std::string id = location.substr(location.rfind('/') + 1);
  if (prepare) return DownloadPreparedJob(http, id, f.dir, f.prepare_timeout, g);
  if (g.output == "json" && !f.wait) {
    std::cout << json::serialize(json::object{{"id", id}, {"location", location}}) << "\n";
    return 0;
  }
  if (!f.wait) {
    std::cout << id << "\n";
    return 0;
  }
  std::cerr << "submitted job " << id << "\n";
  const bool json_out = g.output == "json";
  auto final = WaitForJob(http, id,
                          {.stream = !json_out && (f.stream || (!f.no_stream && StreamByDefault())),
                           .print_output = !json_out});
  if (!final.ok()) return Fail(final.status());
  auto doc = JobDocument(http, id);
  if (!doc.ok()) return Fail(doc.status());
  if (g.output == "json") {
    std::cout << json::serialize(*doc) << "\n";
  } else {
    std::cerr << "job " << id << ": " << *final << " (" << Str(*doc, "statusMsg") << ")\n";
  }
  return ExitForJob(*doc, f.pass_exit_code);
}

int ShowStatus(const std::string& id, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto doc = JobDocument(http, id);
  if (!doc.ok()) return Fail(doc.status());
  if (g.output == "json") {
    std::cout << json::serialize(*doc) << "\n";
    return 0;
  }
  const bool never = NeverStarted(*doc);
  PrintTable(std::cout, {"ID", "STATUS", "MESSAGE", "CLUSTER", "COMMAND", "EXIT", "RUNTIME"},
             {{Str(*doc, "id"), Str(*doc, "status"), Str(*doc, "statusMsg"),
               Str(*doc, "clusterName"), Str(*doc, "commandName"),
               never ? "-" : Str(*doc, "exitCode"), never ? "-" : Str(*doc, "runtime")}});
  if (std::string slurm = Str(*doc, "slurmJobId"); !slurm.empty()) {
    std::cout << "Slurm job: " << slurm << "\n";
  }
  if (never) {
    std::cerr << "job " << id << " never started: it ended " << Str(*doc, "status")
              << " while queued\n";
  }
  return 0;
}

int ShowJob(const std::string& id, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto doc = JobDocument(http, id);
  if (!doc.ok()) return Fail(doc.status());
  if (g.output == "json") {
    std::cout << json::serialize(*doc) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : *doc) {
    rows.push_back({std::string(key), value.is_string() ? std::string(value.as_string())
                                      : value.is_null() ? ""
                                                        : json::serialize(value)});
  }
  PrintTable(std::cout, {"FIELD", "VALUE"}, rows);
  return 0;
}

int WaitJob(const std::string& id, double timeout, bool pass_exit_code, bool live, Globals& g) {
  client::HttpClient http(g.server, g.client);
  live = live && g.output != "json";
  auto final = WaitForJob(
      http, id,
      {.stream = live, .print_output = live, .progress = false, .timeout_seconds = timeout});
  if (!final.ok()) return Fail(final.status());
  auto doc = JobDocument(http, id);
  if (!doc.ok()) return Fail(doc.status());
  if (g.output == "json") {
    std::cout << json::serialize(*doc) << "\n";
  } else {
    std::cout << *final << "\n";
  }
  return ExitForJob(*doc, pass_exit_code);
}

int KillJob(const std::string& id, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto before = JobDocument(http, id);
  if (!before.ok()) return Fail(before.status().WithContext("job kill"));
  if (IsFinal(Str(*before, "status"))) {
    std::string how = Str(*before, "status");
    std::string finished = Str(*before, "finished");
    std::cerr << "weir: job " << id << " already ended " << how
              << (finished.empty() ? "" : " at " + finished) << " (" << Str(*before, "statusMsg")
              << "); nothing to kill\n";
    if (g.output == "json") std::cout << json::serialize(*before) << "\n";
    return kExitAlreadyEnded;
  }
  const std::string route = JobPath(id);
  auto r = http.Delete(route);
  if (Status s = CheckResponse(http, route, r); !s.ok()) return Fail(s.WithContext("job kill"));
  if (g.output == "json") {
    auto doc = JobDocument(http, id);
    if (!doc.ok()) return Fail(doc.status());
    std::cout << json::serialize(*doc) << "\n";
  } else {
    std::cout << "kill requested for job " << id << "\n";
  }
  return 0;
}

struct ListFlags {
  std::vector<std::string> statuses, tags;
  std::string name, user, grouping, grouping_instance, since, until, cluster, command;
  std::string workflow;  // --workflow: the deployed workflow id (the jobs' grouping)
  int64_t instance = 0;  // --instance N: "<workflow>#N" (the jobs' grouping instance)
  int page = 0;
  int size = 20;
};

// "2026-12-06T10:00:00Z" (or a date, "2026-12-06") or epoch milliseconds → epoch milliseconds.
Result<int64_t> ParseTimeFlag(const std::string& flag, const std::string& v) {
  long long ms = 0;
  if (ParseInt64(v, &ms)) return static_cast<int64_t>(ms);
  std::tm tm{};
  const char* end = strptime(v.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) end = strptime(v.c_str(), "%Y-%m-%d", &tm);
  if (end == nullptr || !(*end == '\0' || (*end == 'Z' && end[1] == '\0'))) {
    return InvalidArgument(flag + " '" + v +
                           "': expected a UTC time like 2026-12-06T10:00:00Z, a date like "
                           "2026-12-06, or epoch milliseconds");
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

int List(ListFlags f, Globals& g) {
  // A workflow's steps run as jobs grouped by the deployed id and "<deployed id>#<instance>".
  if (f.instance > 0 && f.workflow.empty()) {
    std::cerr << "weir: job list: --instance needs --workflow ID (see `weir workflow list`)\n";
    return kExitUsage;
  }
  if (!f.workflow.empty()) f.grouping = f.workflow;
  if (f.instance > 0) f.grouping_instance = f.workflow + "#" + std::to_string(f.instance);
  std::string q = "/api/v3/jobs?size=" + std::to_string(f.size) + "&page=" + std::to_string(f.page);
  for (const auto& s : f.statuses) q += "&status=" + client::UrlEncode(s);
  for (const auto& t : f.tags) q += "&tag=" + client::UrlEncode(t);
  const std::pair<const char*, const std::string*> text[] = {
      {"name", &f.name},           {"user", &f.user},
      {"grouping", &f.grouping},   {"groupingInstance", &f.grouping_instance},
      {"clusterName", &f.cluster}, {"commandName", &f.command}};
  for (const auto& [param, value] : text) {
    if (!value->empty()) q += std::string("&") + param + "=" + client::UrlEncode(*value);
  }
  for (const auto& [flag, param, value] :
       {std::tuple<std::string, const char*, const std::string*>{"--since", "minStarted", &f.since},
        {"--until", "maxStarted", &f.until}}) {
    if (value->empty()) continue;
    auto ms = ParseTimeFlag(flag, *value);
    if (!ms.ok()) {
      std::cerr << "weir: job list: " << ms.status().message() << "\n";
      return kExitUsage;
    }
    q += std::string("&") + param + "=" + std::to_string(*ms);
  }
  client::HttpClient http(g.server, g.client);
  auto page = GetJson(http, q);
  if (!page.ok()) return Fail(page.status().WithContext("job list"));
  json::array items;
  if (auto* e = page->as_object().if_contains("_embedded"); e && e->is_object()) {
    if (auto* l = e->as_object().if_contains("jobSearchResultList"); l && l->is_array()) {
      items = l->as_array();
    }
  }
  if (g.output == "json") {
    // The same job document as `job get`, one per listed job.
    json::array docs;
    for (const auto& j : items) {
      auto doc = JobDocument(http, Str(j, "id"));
      if (!doc.ok()) {
        if (doc.status().code() == StatusCode::kNotFound) continue;  // deleted since
        return Fail(doc.status().WithContext("job list"));
      }
      docs.push_back(std::move(*doc));
    }
    // One convention for every list (docs/cli.md): the items under the kind's plural name, and
    // the API's page.
    json::object out;
    out["jobs"] = std::move(docs);
    if (auto* p = page->as_object().if_contains("page")) out["page"] = *p;
    std::cout << json::serialize(out) << "\n";
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

namespace {
const std::vector<std::string> kJobStatuses = {"INIT",   "RUNNING", "SUCCEEDED",
                                               "FAILED", "KILLED",  "INVALID"};
}  // namespace

void AddJobCommands(CLI::App& app, Globals& g) {
  CLI::App* job = app.add_subcommand(
      "job",
      "Submit, follow, read and kill jobs. Exit codes: 0 ok, 1 rejected, 2 usage, 3 not found, "
      "4 retry later (429/503), 5 no weir server, 6 job FAILED, 7 job KILLED/INVALID, 8 kill "
      "of an ended job (docs/cli.md)");
  job->require_subcommand(1);

  auto f = std::make_shared<SubmitFlags>();
  // The job request's options, shared by `job submit` and `job prepare`.
  auto add_request_options = [](CLI::App* cmd, SubmitFlags* f) {
    cmd->add_option("-c,--cluster-tags", f->cluster_tags,
                    "cluster criterion: comma-separated tags; repeat for fallbacks, tried in order")
        ->required();
    cmd->add_option("-C,--command-tags", f->command_tags, "command criterion: comma-separated tags")
        ->required();
    cmd->add_option("-a,--args", f->args,
                    "raw argument string appended to the command's executable as written, e.g. "
                    "--args \"'echo hi'\" for bash -c (prefer words after --)");
    cmd->add_option("--name", f->name, "job name")->capture_default_str();
    cmd->add_option("--user", f->user, "job user (default $USER)");
    cmd->add_option("--version", f->version, "job version")->capture_default_str();
    cmd->add_option("--id", f->id, "job id (default: the server assigns a UUID)");
    cmd->add_option("--description", f->description, "job description");
    cmd->add_option("--metadata", f->metadata,
                    "JSON object stored with the job, e.g. '{\"team\":\"data\"}'");
    cmd->add_option("--application", f->applications,
                    "application id to set up instead of the command's (repeatable)");
    cmd->add_option("--config", f->configs,
                    "config file URI (repeatable); file:// is read on the server's machine");
    cmd->add_option("--env", f->env,
                    "KEY=VALUE exported for the command, after the set-up files (repeatable; "
                    "weir's environmentVariables; names starting with GENIE_ are the server's)");
    cmd->add_option("--attach", f->attachments,
                    "local file to upload into the job directory (repeatable)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--dependency", f->dependencies,
                    "dependency URI (repeatable): http(s)://, s3://, or file:// read on the "
                    "server's machine");
    cmd->add_option("--setup-file", f->setup_file,
                    "setup file URI, sourced before the command; file:// is read on the "
                    "server's machine");
    cmd->add_option("--tag", f->tags, "job tag (repeatable)");
    cmd->add_option("--memory", f->memory, "memory in MB");
    cmd->add_option("--timeout", f->timeout, "timeout in seconds (server default: 7 days)");
    cmd->add_option("--grouping", f->grouping, "grouping (e.g. a workflow id)");
    cmd->add_option("--grouping-instance", f->grouping_instance, "grouping instance");
    cmd->add_flag("--disable-archival", f->disable_archival,
                  "do not archive the job directory when the job ends (disableLogArchival)");
  };
  CLI::App* submit = job->add_subcommand(
      "submit",
      "Submit a job by tags; prints its id (with -o json {\"id\",\"location\"}). Examples:\n"
      "  weir job submit -c sched:sla -C type:bash --wait -- 'echo hi; date'\n"
      "  weir job submit -c sched:sla -C type:python --wait -- 'print(6*7)'\n"
      "Each word after `--` becomes one argument of the command's executable, shell-quoted for "
      "you (for `bash -c` the whole script is one word: quote it). --args STRING is appended "
      "as written, unquoted (Genie's commandArgs). file:// URIs (--setup-file, --dependency, "
      "--config) are read on the server's machine; use --attach for local files.");
  add_request_options(submit, f.get());
  submit->add_flag("-w,--wait", f->wait,
                   "follow the job until it ends, printing stdout and stderr (live when stdout "
                   "is a terminal; with -o json only the final job document); exit code 0 "
                   "SUCCEEDED, 6 FAILED, 7 KILLED/INVALID");
  submit
      ->add_flag("--exit-code", f->pass_exit_code,
                 "with --wait: exit with the job's own exit code (when it ran)")
      ->needs("--wait");
  submit
      ->add_flag("--dry-run", f->dry_run,
                 "do not submit: show the cluster, command and applications the job would get, "
                 "every candidate considered and why the others were left out (exit 0 when it "
                 "would be accepted)")
      ->excludes("--wait");
  submit->add_flag("--stream", f->stream, "with --wait: print output while the job runs");
  submit->add_flag("--no-stream", f->no_stream, "with --wait: print output once it ended");
  submit->add_option("arguments", f->arguments,
                     "after --: the command's arguments, each passed as one (shell-quoted)");
  submit->callback([f, &g] { g.exit_code = Submit(*f, g); });

  // Local mode: `job prepare` (the request's options of submit, and --dir) and `job run-local`.
  auto pf = std::make_shared<SubmitFlags>();
  CLI::App* prepare = job->add_subcommand(
      "prepare",
      "Have the server resolve and set up a job folder (dependencies, configs, set-up files, "
      "the run script) and download it to --dir, to run it here with `weir job run-local DIR`; "
      "the job stays INIT until then. Prints its id (-o json {\"id\",\"dir\"}). Example:\n"
      "  weir job prepare -c sched:sla -C type:bash --dir ./job -- 'echo hi'");
  add_request_options(prepare, pf.get());
  prepare->add_option("--dir", pf->dir, "folder to create (must not exist, or be empty)")
      ->required();
  prepare
      ->add_option("--setup-timeout", pf->prepare_timeout,
                   "give up waiting for the set-up after this many seconds")
      ->capture_default_str();
  prepare->add_option("arguments", pf->arguments,
                      "after --: the command's arguments, each passed as one (shell-quoted)");
  prepare->callback([pf, &g] { g.exit_code = Submit(*pf, g, true); });
  AddRunLocalCommand(*job, g);

  auto id = std::make_shared<std::string>();
  CLI::App* status = job->add_subcommand(
      "status",
      "Show a job's status, message, cluster, command and exit code (-o json: the job "
      "document). Example: weir job status JOB_ID");
  status->add_option("ID", *id, "job id")->required();
  status->callback([id, &g] { g.exit_code = ShowStatus(*id, g); });

  CLI::App* get = job->add_subcommand(
      "get", "Show every field of a job (-o json: the job document). Example: weir job get JOB_ID");
  get->add_option("ID", *id, "job id")->required();
  get->callback([id, &g] { g.exit_code = ShowJob(*id, g); });

  auto wait_timeout = std::make_shared<double>(0);
  auto wait_pass = std::make_shared<bool>(false);
  CLI::App* wait = job->add_subcommand(
      "wait",
      "Wait until a job ends and print its status (-o json: the job document); exit code 0 "
      "SUCCEEDED, 6 FAILED, 7 KILLED/INVALID, 4 on --timeout. Example: weir job wait JOB_ID "
      "--timeout 600");
  wait->add_option("ID", *id, "job id")->required();
  wait->add_option("--timeout", *wait_timeout, "give up after this many seconds (0: never)");
  wait->add_flag("--exit-code", *wait_pass, "exit with the job's own exit code (when it ran)");
  auto stream = std::make_shared<std::pair<bool, bool>>(false, false);
  wait->add_flag("--stream", stream->first, "print stdout and stderr while the job runs");
  wait->add_flag("--no-stream", stream->second, "do not (default when stdout is not a terminal)");
  wait->callback([id, wait_timeout, wait_pass, stream, &g] {
    bool live = stream->first || (!stream->second && StreamByDefault());
    g.exit_code = WaitJob(*id, *wait_timeout, *wait_pass, live, g);
  });

  auto path = std::make_shared<std::string>("stdout");
  CLI::App* output = job->add_subcommand(
      "output",
      "Print a file of the job directory (default stdout); a folder (`/`, `genie`, `res/`) "
      "lists NAME<TAB>SIZE (-o json: the listing document). Example: weir job output JOB_ID "
      "stderr");
  output->add_option("ID", *id, "job id")->required();
  output->add_option("PATH", *path, "path inside the job directory")->capture_default_str();
  auto follow = std::make_shared<FollowOptions>();
  output->add_flag("-f,--follow", follow->follow, "keep printing while the job runs");
  output->add_option("--tail", follow->tail_lines, "print only the last N lines first");
  output->callback([id, path, follow, &g] {
    client::HttpClient http(g.server, g.client);
    if (follow->follow || follow->tail_lines >= 0) {
      g.exit_code = FollowOutput(http, *id, *path, *follow, std::cout);
      return;
    }
    g.exit_code = PrintOutput(http, *id, *path == "/" ? "" : *path, std::cout, g.output == "json");
  });

  CLI::App* kill = job->add_subcommand(
      "kill",
      "Kill a job; exit code 8 (and a message saying how it ended) if it already ended. "
      "Example: weir job kill JOB_ID");
  kill->add_option("ID", *id, "job id")->required();
  kill->callback([id, &g] { g.exit_code = KillJob(*id, g); });

  auto lf = std::make_shared<ListFlags>();
  CLI::App* list = job->add_subcommand(
      "list",
      "List jobs, newest first (-o json: {\"jobs\": [...], \"page\": {...}}). Examples: weir job "
      "list --status failed --since 2026-12-06 --user alice; weir job list --workflow "
      "prod:acme.etl.daily --instance 3");
  list->add_option("--status", lf->statuses,
                   "status, any case (repeatable: any of them): INIT, RUNNING, SUCCEEDED, "
                   "FAILED, KILLED, INVALID")
      ->transform(CLI::IsMember(kJobStatuses, CLI::ignore_case));
  list->add_option("--name", lf->name, "job name");
  list->add_option("--user", lf->user, "user");
  list->add_option("--tag", lf->tags, "tag (repeatable: all of them)");
  list->add_option("--cluster", lf->cluster, "cluster name");
  list->add_option("--command", lf->command, "command name");
  list->add_option("--grouping", lf->grouping, "grouping");
  list->add_option("--grouping-instance", lf->grouping_instance, "grouping instance");
  list->add_option("--workflow", lf->workflow,
                   "the jobs of a deployed workflow's steps (ID as in `weir workflow list`)");
  list->add_option("--instance", lf->instance, "with --workflow: the jobs of instance N only");
  list->add_option("--since", lf->since,
                   "started at or after: 2026-12-06T10:00:00Z, 2026-12-06 (UTC) or epoch ms");
  list->add_option("--until", lf->until, "started before (same forms as --since)");
  list->add_option("--page", lf->page, "page number, from 0")->capture_default_str();
  list->add_option("--size", lf->size, "jobs per page")->capture_default_str();
  list->callback([lf, &g] { g.exit_code = List(*lf, g); });
}

}  // namespace weir::cli
