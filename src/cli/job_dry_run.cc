#include "cli/job_dry_run.h"

#include <boost/json.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "common/strings.h"

namespace weir::cli {
namespace {

namespace json = boost::json;

constexpr std::string_view kPath = "/api/weir/v1/jobs/resolve";

const json::array& Array(const json::value& v, std::string_view key) {
  static const json::array kEmpty;
  if (!v.is_object()) return kEmpty;
  const json::value* a = v.as_object().if_contains(key);
  return a && a->is_array() ? a->as_array() : kEmpty;
}

std::string Strings(const json::array& a, std::string_view sep = ", ") {
  std::vector<std::string> out;
  for (const json::value& v : a) {
    if (v.is_string()) out.emplace_back(v.as_string());
  }
  return Join(out, sep);
}

// "c1 (yarn-prod)" for {"id","name"}, "-" for null.
std::string Ref(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "-";
  const json::value* e = v.as_object().if_contains(key);
  if (e == nullptr || !e->is_object()) return "-";
  return Str(*e, "id") + " (" + Str(*e, "name") + ")";
}

std::string Field(const json::value& v, std::string_view object, std::string_view key) {
  if (!v.is_object()) return "";
  const json::value* o = v.as_object().if_contains(object);
  return o && o->is_object() ? Str(*o, key) : "";
}

bool Flag(const json::value& v, std::string_view key) {
  if (!v.is_object()) return false;
  const json::value* b = v.as_object().if_contains(key);
  return b && b->is_bool() && b->as_bool();
}

void PrintReport(const json::value& d) {
  std::ostream& out = std::cout;
  const std::string outcome = Str(d, "outcome");
  out << "outcome:       " << outcome << " (a submission would answer " << Str(d, "submitStatus")
      << ")\n";
  if (!Str(d, "message").empty()) out << "why:           " << Str(d, "message") << "\n";
  out << "cluster:       " << Ref(d, "cluster");
  if (!Str(d, "decidedBy").empty()) {
    out << "  [" << Str(d, "decidedBy") << ", " << Str(d, "candidates") << " candidate(s)]";
  }
  out << "\ncommand:       " << Ref(d, "command") << "\n";
  out << "applications:  "
      << (Array(d, "applications").empty() ? "-" : Strings(Array(d, "applications"))) << "\n";
  if (!Field(d, "memory", "source").empty()) {
    out << "memory:        " << Field(d, "memory", "mb") << " MB (" << Field(d, "memory", "source")
        << "; at most " << Field(d, "memory", "maxJobMemoryMb") << ")\n";
  }
  const std::string limit = Field(d, "limits", "maxActiveJobsPerUser");
  out << "user jobs:     " << Field(d, "limits", "userActiveJobs") << " active (limit "
      << (limit == "0" ? "none" : limit) << ")\n";
  for (const json::value& c : Array(d, "clusterCriterias")) {
    out << Str(c, "criterion") << " [" << Strings(Array(c, "tags")) << "]";
    if (!Flag(c, "tried")) {
      out << ": not tried (an earlier entry matched)\n";
      continue;
    }
    out << ":\n";
    std::vector<std::vector<std::string>> rows;
    for (const json::value& k : Array(c, "clusters")) {
      std::string verdict = Flag(k, "chosen")      ? "CHOSEN"
                            : Flag(k, "candidate") ? "candidate"
                                                   : "excluded";
      std::string detail =
          Flag(k, "candidate") ? "runs " + Ref(k, "command") : Strings(Array(k, "excluded"), "; ");
      rows.push_back({"  " + verdict, Str(k, "id"), Str(k, "name"), Str(k, "status"), detail});
    }
    if (!rows.empty()) PrintTable(out, {"  CLUSTER", "ID", "NAME", "STATUS", "WHY"}, rows);
  }
  std::vector<std::vector<std::string>> rows;
  for (const json::value& k : Array(d, "commands")) {
    std::string verdict = Flag(k, "chosen")      ? "CHOSEN"
                          : Flag(k, "candidate") ? "candidate"
                                                 : "excluded";
    rows.push_back({"  " + verdict, Str(k, "id"), Str(k, "name"), Str(k, "status"),
                    Strings(Array(k, "excluded"), "; ")});
  }
  if (!rows.empty()) {
    out << "commands:\n";
    PrintTable(out, {"  COMMAND", "ID", "NAME", "STATUS", "WHY"}, rows);
  }
  for (const json::value& r : Array(d, "reasons")) {
    if (r.is_string()) out << "reason: " << std::string(r.as_string()) << "\n";
  }
}

}  // namespace

int SubmitDryRun(client::HttpClient& http, const std::string& request_json, Globals& g) {
  auto r = http.PostJson(std::string(kPath), request_json);
  if (Status s = CheckResponse(http, kPath, r); !s.ok()) {
    return Fail(s.WithContext("job submit --dry-run"));
  }
  auto d = ParseJson(r->body, "job submit --dry-run");
  if (!d.ok()) return Fail(d.status());
  if (g.output == "json") {
    std::cout << json::serialize(*d) << "\n";
  } else {
    PrintReport(*d);
  }
  const std::string outcome = Str(*d, "outcome");
  if (outcome == "ACCEPTED" || outcome == "QUEUED") return kExitOk;
  const std::string status = Str(*d, "submitStatus");
  if (status == "429" || status == "503") return kExitRetry;
  return kExitFailure;
}

}  // namespace weir::cli
