// `weir application|command|cluster list|get`: read the configuration repository.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "common/strings.h"

namespace weir::cli {

namespace {

struct ListFlags {
  std::string name, user;
  std::vector<std::string> statuses, tags;
  int size = 100;
};

std::string Query(const ListFlags& f) {
  std::string q = "?size=" + std::to_string(f.size);
  if (!f.name.empty()) q += "&name=" + client::UrlEncode(f.name);
  if (!f.user.empty()) q += "&user=" + client::UrlEncode(f.user);
  for (const auto& s : f.statuses) q += "&status=" + client::UrlEncode(s);
  for (const auto& t : f.tags) q += "&tag=" + client::UrlEncode(t);
  return q;
}

std::string UserTags(const boost::json::value& v) {
  std::vector<std::string> out;
  if (v.is_object()) {
    if (auto* t = v.as_object().if_contains("tags"); t && t->is_array()) {
      for (const auto& x : t->as_array()) {
        if (!x.is_string()) continue;
        std::string s(x.as_string());
        if (!StartsWith(s, "genie.")) out.push_back(s);
      }
    }
  }
  return Join(out, ",");
}

int List(const std::string& collection, const ListFlags& f, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto page = GetJson(http, "/api/v3/" + collection + Query(f));
  if (!page.ok()) return Fail(page.status());
  std::string list_key = collection.substr(0, collection.size() - 1) + "List";
  boost::json::array items;
  if (auto* e = page->as_object().if_contains("_embedded"); e && e->is_object()) {
    if (auto* l = e->as_object().if_contains(list_key); l && l->is_array()) items = l->as_array();
  }
  if (g.output == "json") {
    std::cout << boost::json::serialize(items) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& it : items) {
    rows.push_back({Str(it, "id"), Str(it, "name"), Str(it, "version"), Str(it, "status"),
                    UserTags(it), Str(it, "updated")});
  }
  PrintTable(std::cout, {"ID", "NAME", "VERSION", "STATUS", "TAGS", "UPDATED"}, rows);
  return 0;
}

int Get(const std::string& collection, const std::string& id, Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, "/api/v3/" + collection + "/" + client::UrlEncode(id));
  if (!v.ok()) return Fail(v.status());
  if (v->is_object()) v->as_object().erase("_links");
  if (g.output == "json") {
    std::cout << boost::json::serialize(*v) << "\n";
    return 0;
  }
  for (const auto& [k, val] : v->as_object()) {
    std::cout << std::string(k) << ": " << (val.is_string() ? std::string(val.as_string())
                                                          : boost::json::serialize(val))
              << "\n";
  }
  return 0;
}

void AddGroup(CLI::App& app, Globals& g, const std::string& noun, const std::string& collection) {
  CLI::App* group =
      app.add_subcommand(noun, "List and show " + collection + " of the configuration repository");
  group->require_subcommand(1);
  auto f = std::make_shared<ListFlags>();
  CLI::App* list = group->add_subcommand("list", "List " + collection + ", newest update first");
  list->add_option("--name", f->name, "name ('%' matches any text)");
  list->add_option("--user", f->user, "owner");
  list->add_option("--status", f->statuses, "status (repeatable: any of them)");
  list->add_option("--tag", f->tags, "tag (repeatable: all of them)");
  list->add_option("--size", f->size, "how many to show")->capture_default_str();
  list->callback([f, collection, &g] { g.exit_code = List(collection, *f, g); });
  auto id = std::make_shared<std::string>();
  CLI::App* get = group->add_subcommand("get", "Show one " + noun);
  get->add_option("ID", *id, noun + " id")->required();
  get->callback([id, collection, &g] { g.exit_code = Get(collection, *id, g); });
}

}  // namespace

void AddConfigCommands(CLI::App& app, Globals& g) {
  AddGroup(app, g, "application", "applications");
  AddGroup(app, g, "command", "commands");
  AddGroup(app, g, "cluster", "clusters");
}

}  // namespace weir::cli
