// `weir audit`: the server's audit log of write requests (GET /api/weir/v1/admin/audit, see
// docs/api.md), as a table or, with -o json, the server's JSON answer.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "api/http.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "client/http_client.h"

namespace weir::cli {
namespace {

namespace json = boost::json;

struct AuditFlags {
  std::string principal, since, until, path, target, outcome;
  bool newest_first = false;
  int64_t page = 0;
  int64_t size = 100;
};

int ListAudit(const AuditFlags& f, Globals& g) {
  std::string query;
  auto add = [&query](const char* name, const std::string& value) {
    if (value.empty()) return;
    query += query.empty() ? "?" : "&";
    query += std::string(name) + "=" + api::PercentEncode(value, ":,");
  };
  add("principal", f.principal);
  add("since", f.since);
  add("until", f.until);
  add("path", f.path);
  add("target", f.target);
  add("outcome", f.outcome);
  if (f.newest_first) add("order", "desc");
  add("page", std::to_string(f.page));
  add("size", std::to_string(f.size));
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, "/api/weir/v1/admin/audit" + query);
  if (!v.ok()) return Fail(v.status().WithContext("audit"));
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  int64_t shown = 0;
  if (const json::value* items = v->as_object().if_contains("audit"); items && items->is_array()) {
    for (const json::value& r : items->as_array()) {
      rows.push_back({Str(r, "time"), Str(r, "principal"), Str(r, "source"), Str(r, "method"),
                      Str(r, "path"), Str(r, "target"), Str(r, "status")});
      ++shown;
    }
  }
  PrintTable(std::cout, {"TIME", "PRINCIPAL", "SOURCE", "METHOD", "PATH", "TARGET", "STATUS"},
             rows);
  int64_t total = 0;
  if (const json::value* p = v->as_object().if_contains("page"); p && p->is_object()) {
    if (const json::value* t = p->as_object().if_contains("totalElements"); t && t->is_int64()) {
      total = t->as_int64();
    }
  }
  if (total > shown) {
    std::cerr << "showing " << shown << " of " << total << " records (page " << f.page
              << "; --page and --size for more)\n";
  }
  return 0;
}

}  // namespace

void AddAuditCommand(CLI::App& app, Globals& g) {
  auto f = std::make_shared<AuditFlags>();
  CLI::App* audit = app.add_subcommand(
      "audit", "The audit log: write requests with principal, source, target and outcome");
  audit->add_option("--principal", f->principal, "Only this principal's requests");
  audit->add_option("--since", f->since, "From this time (ISO-8601 or epoch ms), inclusive");
  audit->add_option("--until", f->until, "Before this time (ISO-8601 or epoch ms)");
  audit->add_option("--path", f->path, "Only request paths starting with this prefix");
  audit->add_option("--target", f->target, "Only requests on this entity (job id, uuid...)");
  audit->add_option("--outcome", f->outcome, "success (< 400), failure (>= 400) or a status");
  audit->add_flag("--newest-first", f->newest_first, "Newest records first");
  audit->add_option("--page", f->page, "Page, from 0")->capture_default_str();
  audit->add_option("--size", f->size, "Records per page (1..1000)")->capture_default_str();
  audit->callback([f, &g] { g.exit_code = ListAudit(*f, g); });
}

}  // namespace weir::cli
