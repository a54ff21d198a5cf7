// `weir search QUERY...`: full-text search over jobs, configuration and workflows
// (GET /api/weir/v1/search, see docs/api.md), as a table or, with -o json, the server's answer.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "api/http.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "client/http_client.h"
#include "common/strings.h"

namespace weir::cli {
namespace {

namespace json = boost::json;

struct SearchFlags {
  std::vector<std::string> words;
  std::vector<std::string> kinds;
  int64_t page = 0;
  int64_t size = 20;
};

// The server marks matches with <mark>…</mark>; a terminal shows them as *…*.
std::string Marked(std::string s) {
  for (std::string_view tag : {"<mark>", "</mark>"}) {
    for (size_t at = s.find(tag); at != std::string::npos; at = s.find(tag, at)) {
      s.replace(at, tag.size(), "*");
      ++at;
    }
  }
  return s;
}

int Search(const SearchFlags& f, Globals& g) {
  const std::string q = Join(f.words, " ");
  std::string path = "/api/weir/v1/search?q=" + api::PercentEncode(q);
  if (!f.kinds.empty()) path += "&kind=" + api::PercentEncode(Join(f.kinds, ","), ",");
  path += "&page=" + std::to_string(f.page) + "&size=" + std::to_string(f.size);
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, path);
  if (!v.ok()) return Fail(v.status().WithContext("search"));
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  int64_t shown = 0;
  if (const json::value* hits = v->as_object().if_contains("hits"); hits && hits->is_array()) {
    for (const json::value& h : hits->as_array()) {
      std::string snippet;
      if (const json::value* hl = h.as_object().if_contains("highlights"); hl && hl->is_object()) {
        snippet = Marked(Str(*hl, "snippet"));
      }
      rows.push_back({Str(h, "kind"), Str(h, "id"), Str(h, "name"), Str(h, "status"), snippet});
      ++shown;
    }
  }
  int64_t total = 0;
  if (const json::value* p = v->as_object().if_contains("page"); p && p->is_object()) {
    if (const json::value* t = p->as_object().if_contains("totalElements"); t && t->is_int64()) {
      total = t->as_int64();
    }
  }
  if (rows.empty()) {
    std::cerr << "nothing matches '" << q << "'\n";
    return 0;
  }
  PrintTable(std::cout, {"KIND", "ID", "NAME", "STATUS", "MATCH"}, rows);
  if (total > f.page * f.size + shown) {
    std::cerr << "showing " << shown << " of " << total << " matches (page " << f.page
              << "; --page and --size for more)\n";
  }
  return 0;
}

}  // namespace

void AddSearchCommand(CLI::App& app, Globals& g) {
  auto f = std::make_shared<SearchFlags>();
  CLI::App* search = app.add_subcommand(
      "search",
      "Full-text search of jobs, applications, commands, clusters and workflows, best first.\n"
      "Every word must match; the last part of each word matches as a prefix (sched:s finds\n"
      "the tag sched:sla). Example: weir search nightly sched:s --kind job");
  search->add_option("QUERY", f->words, "words to find")->required();
  search
      ->add_option("--kind", f->kinds,
                   "only these kinds: job, application, command, cluster, workflow (repeatable)")
      ->delimiter(',');
  search->add_option("--page", f->page, "page, from 0")->capture_default_str();
  search->add_option("--size", f->size, "matches per page (1..100)")->capture_default_str();
  search->callback([f, &g] { g.exit_code = Search(*f, g); });
}

}  // namespace weir::cli
