// `weir asset list|show|get`: published asset versions from the command line, over the asset API
// (/api/weir/v1/assets, see docs/api.md).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "assets/asset_json.h"
#include "assets/http_catalog.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "common/ids.h"
#include "common/time_format.h"

namespace weir::cli {
namespace {

namespace json = boost::json;

struct ListFlags {
  std::string type, ns, branch, owner, repo;
  int64_t page = 0;
  int64_t size = 50;
};

std::string HumanSize(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// Without --type and --namespace: the asset namespaces (type, namespace, number of versions,
// newest), for discovery. JSON: {"namespaces": [{"type", "namespace", "versions", "newest"}]}.
int ListNamespaces(const ListFlags& f, Globals& g) {
  client::HttpClient http(g.server, g.client);
  struct Entry {
    int64_t versions = 0;
    TimePoint newest{};
  };
  std::map<std::pair<std::string, std::string>, Entry> seen;
  assets::ListQuery q;
  q.branch = f.branch;
  q.owner = f.owner;
  q.repo = f.repo;
  q.size = 1000;
  for (q.page = 0;; ++q.page) {
    auto page = assets::ListViaHttp(http, q);
    if (!page.ok()) return Fail(page.status().WithContext("asset list"));
    for (const auto& r : page->records) {
      Entry& e = seen[{r.id.type, r.id.ns}];
      ++e.versions;
      e.newest = std::max(e.newest, r.created);
    }
    if (page->records.empty() || (q.page + 1) * q.size >= page->total) break;
  }
  if (g.output == "json") {
    json::array items;
    for (const auto& [key, e] : seen) {
      items.push_back(json::object{{"type", key.first},
                                   {"namespace", key.second},
                                   {"versions", e.versions},
                                   {"newest", FormatIso8601(e.newest)}});
    }
    std::cout << json::serialize(json::object{{"namespaces", std::move(items)}}) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, e] : seen) {
    rows.push_back({key.first, key.second, std::to_string(e.versions), FormatIso8601(e.newest)});
  }
  PrintTable(std::cout, {"TYPE", "NAMESPACE", "VERSIONS", "NEWEST"}, rows);
  std::cerr << "versions of one: weir asset list --type TYPE --namespace NAMESPACE\n";
  return 0;
}

int List(const ListFlags& f, Globals& g) {
  if (f.type.empty() && f.ns.empty()) return ListNamespaces(f, g);
  if (f.type.empty() || f.ns.empty()) {
    return Fail("asset list: give both --type and --namespace, or neither to list namespaces");
  }
  client::HttpClient http(g.server, g.client);
  assets::ListQuery q;
  q.type = f.type;
  q.ns = f.ns;
  q.branch = f.branch;
  q.owner = f.owner;
  q.repo = f.repo;
  q.page = f.page;
  q.size = f.size;
  auto page = assets::ListViaHttp(http, q);
  if (!page.ok()) return Fail(page.status().WithContext("asset list"));
  if (g.output == "json") {
    json::array items;
    for (const auto& r : page->records) items.push_back(assets::RecordToJsonObject(r));
    json::object out;
    out["assets"] = std::move(items);
    out["page"] =
        json::object{{"number", page->page}, {"size", page->size}, {"totalElements", page->total}};
    std::cout << json::serialize(out) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : page->records) {
    rows.push_back({r.uuid, HumanSize(r.size), r.sha256.substr(0, 12), FormatIso8601(r.created),
                    r.dirty ? "dirty" : "", r.publisher});
  }
  PrintTable(std::cout, {"UUID", "SIZE", "SHA256", "CREATED", "TREE", "PUBLISHER"}, rows);
  if (page->total > static_cast<int64_t>(page->records.size())) {
    std::cerr << "showing " << page->records.size() << " of " << page->total << " versions (page "
              << page->page << "; --page and --size for more)\n";
  }
  return 0;
}

int Show(const std::string& uuid, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto r = assets::GetViaHttp(http, uuid);
  if (!r.ok()) return Fail(r.status().WithContext("asset show"));
  if (g.output == "json") {
    std::cout << assets::RecordToJson(*r) << "\n";
    return 0;
  }
  PrintTable(std::cout, {"FIELD", "VALUE"},
             {{"uuid", r->uuid},
              {"type", r->id.type},
              {"namespace", r->id.ns},
              {"repository", r->id.owner + "/" + r->id.repo},
              {"branch", r->id.branch},
              {"commit", r->id.commit},
              {"build", std::to_string(r->id.build)},
              {"dirty", r->dirty ? "yes (uncommitted changes)" : "no"},
              {"file", r->file_name},
              {"size", std::to_string(r->size) + " (" + HumanSize(r->size) + ")"},
              {"sha256", r->sha256},
              {"path", r->path},
              {"uri", r->uri},
              {"created", FormatIso8601(r->created)},
              {"publisher", r->publisher}});
  return 0;
}

int GetContent(const std::string& uuid, const std::string& output, Globals& g) {
  client::HttpClient http(g.server, g.client, std::chrono::minutes(30));
  auto r = assets::GetViaHttp(http, uuid);
  if (!r.ok()) return Fail(r.status().WithContext("asset get"));
  bool to_stdout = output == "-";
  std::filesystem::path dest = output;
  if (output.empty()) {
    dest = !r->file_name.empty()
               ? std::filesystem::path(r->file_name).filename()
               : std::filesystem::path(r->uuid + (r->extension.empty() ? "" : "." + r->extension));
  } else if (to_stdout) {
    dest = std::filesystem::temp_directory_path() / ("weir-asset-" + NewUuid());
  }
  Status s = assets::DownloadViaHttp(http, *r, dest);
  if (!s.ok()) return Fail(s.WithContext("asset get"));
  if (to_stdout) {
    {
      std::ifstream in(dest, std::ios::binary);
      std::cout << in.rdbuf();
      std::cout.flush();
    }
    std::error_code ec;
    std::filesystem::remove(dest, ec);
    return 0;
  }
  if (g.output == "json") {
    json::object o = assets::RecordToJsonObject(*r);
    o["file"] = dest.string();
    std::cout << json::serialize(o) << "\n";
  } else {
    std::cout << dest.string() << "\t" << r->size << " bytes\tsha256 " << r->sha256
              << " (verified)\n";
  }
  return 0;
}

}  // namespace

void AddAssetCommands(CLI::App& app, Globals& g) {
  CLI::App* asset = app.add_subcommand("asset", "Published asset versions (list, show, get)");
  asset->require_subcommand(1);

  auto lf = std::make_shared<ListFlags>();
  CLI::App* list = asset->add_subcommand(
      "list",
      "List the versions of an asset, newest first; without --type/--namespace, the "
      "asset namespaces");
  list->add_option("--type", lf->type, "Asset type, e.g. jar");
  list->add_option("--namespace", lf->ns, "Asset namespace");
  list->footer(
      "Examples:\n  weir asset list                       # the namespaces\n"
      "  weir asset list --type bash --namespace sample-greet --branch main -o json");
  list->add_option("--branch", lf->branch, "Only this git branch");
  list->add_option("--owner", lf->owner, "Only this repository owner");
  list->add_option("--repo", lf->repo, "Only this repository");
  list->add_option("--page", lf->page, "Page number, from 0")->check(CLI::NonNegativeNumber);
  list->add_option("--size", lf->size, "Versions per page (1..1000)")->check(CLI::Range(1, 1000));
  list->callback([lf, &g] { g.exit_code = List(*lf, g); });

  auto show_uuid = std::make_shared<std::string>();
  CLI::App* show = asset->add_subcommand("show", "Show one asset version");
  show->add_option("UUID", *show_uuid,
                   "dataflow.<type>.<namespace>.<owner>.<repo>.<branch>."
                   "<commit>.<build>")
      ->required();
  show->footer(
      "Example:\n  weir asset show dataflow.bash.sample-greet.sample.bash-sample.main.39206ee8.1");
  show->callback([show_uuid, &g] { g.exit_code = Show(*show_uuid, g); });

  auto get_uuid = std::make_shared<std::string>();
  auto get_out = std::make_shared<std::string>();
  CLI::App* get = asset->add_subcommand("get", "Download an asset version (SHA-256 verified)");
  get->add_option("UUID", *get_uuid, "The version to download")->required();
  get->add_option("-o,--out", *get_out,
                  "Where to write it ('-' for stdout; default: its file name here)");
  get->footer(
      "Example:\n  weir asset get dataflow.bash.sample-greet.sample.bash-sample.main.39206ee8.1 "
      "-o greet.sh");
  get->callback([get_uuid, get_out, &g] { g.exit_code = GetContent(*get_uuid, *get_out, g); });
}

}  // namespace weir::cli
