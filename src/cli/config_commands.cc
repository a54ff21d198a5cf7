// `weir application|command|cluster list|get|delete|tag add|tag rm`: read and edit the
// configuration repository. `get` shows links both ways: a cluster's commands, a command's
// clusters and applications, an application's commands.
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
    // One convention for every list (docs/cli.md): the items under the kind's plural name, and
    // the API's page.
    boost::json::object out;
    out[collection] = std::move(items);
    if (auto* p = page->as_object().if_contains("page")) out["page"] = *p;
    std::cout << boost::json::serialize(out) << "\n";
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

// The links of a resource, both ways: {label, route suffix}.
std::vector<std::pair<std::string, std::string>> LinkRoutes(const std::string& collection) {
  if (collection == "clusters") return {{"commands", "commands"}};
  if (collection == "commands") return {{"clusters", "clusters"}, {"applications", "applications"}};
  return {{"commands", "commands"}};
}

int Get(const std::string& collection, const std::string& id, Globals& g) {
  client::HttpClient http(g.server, g.client);
  const std::string path = "/api/v3/" + collection + "/" + client::UrlEncode(id);
  auto v = GetJson(http, path);
  if (!v.ok()) return Fail(v.status());
  if (v->is_object()) v->as_object().erase("_links");
  boost::json::object links;
  for (const auto& [label, suffix] : LinkRoutes(collection)) {
    auto l = GetJson(http, path + "/" + suffix);
    if (!l.ok()) return Fail(l.status());
    boost::json::array ids;
    if (l->is_array()) {
      for (const auto& item : l->as_array()) ids.emplace_back(Str(item, "id"));
    }
    links[label] = std::move(ids);
  }
  if (g.output == "json") {
    if (v->is_object()) v->as_object()["links"] = links;
    std::cout << boost::json::serialize(*v) << "\n";
    return 0;
  }
  for (const auto& [k, val] : v->as_object()) {
    std::cout << std::string(k) << ": "
              << (val.is_string() ? std::string(val.as_string()) : boost::json::serialize(val))
              << "\n";
  }
  for (const auto& [k, val] : links) {
    std::vector<std::string> ids;
    for (const auto& x : val.as_array()) ids.emplace_back(x.as_string());
    std::cout << "linked " << std::string(k) << ": " << (ids.empty() ? "(none)" : Join(ids, ", "))
              << "\n";
  }
  return 0;
}

int Delete(const std::string& collection, const std::string& noun, const std::string& id,
           Globals& g) {
  client::HttpClient http(g.server, g.client);
  const std::string path = "/api/v3/" + collection + "/" + client::UrlEncode(id);
  // Like the API's 412 for an application, refuse to delete what is still linked.
  if (collection != "clusters") {
    const std::string users = collection == "commands" ? "clusters" : "commands";
    auto l = GetJson(http, path + "/" + users);
    if (!l.ok()) return Fail(l.status().WithContext(noun + " '" + id + "'"));
    std::vector<std::string> ids;
    if (l->is_array()) {
      for (const auto& item : l->as_array()) ids.push_back(Str(item, "id"));
    }
    if (!ids.empty()) {
      return Fail(noun + " '" + id + "' is still used by " + users + " " + Join(ids, ", ") +
                  "; unlink it first (edit their lists and run `weir apply`)");
    }
  }
  auto r = http.Delete(path);
  if (!r.ok()) return Fail(r.status());
  if (Status s = client::ToStatus(*r); !s.ok()) return Fail(s.WithContext(noun + " '" + id + "'"));
  if (g.output == "json") {
    std::cout << boost::json::serialize(boost::json::object{{"id", id}, {"deleted", true}}) << "\n";
  } else {
    std::cerr << "deleted " << noun << " " << id << "\n";
  }
  return 0;
}

int Tag(const std::string& collection, const std::string& noun, const std::string& id,
        const std::vector<std::string>& tags, bool add, Globals& g) {
  client::HttpClient http(g.server, g.client);
  const std::string path = "/api/v3/" + collection + "/" + client::UrlEncode(id) + "/tags";
  if (add) {
    boost::json::array a;
    for (const auto& t : tags) a.emplace_back(t);
    auto r = http.PostJson(path, boost::json::serialize(a));
    if (!r.ok()) return Fail(r.status());
    if (Status s = client::ToStatus(*r); !s.ok())
      return Fail(s.WithContext(noun + " '" + id + "'"));
  } else {
    for (const auto& t : tags) {
      auto r = http.Delete(path + "/" + client::UrlEncode(t));
      if (!r.ok()) return Fail(r.status());
      if (Status s = client::ToStatus(*r); !s.ok()) {
        return Fail(s.WithContext(noun + " '" + id + "'"));
      }
    }
  }
  auto now = GetJson(http, path);
  if (!now.ok()) return Fail(now.status());
  if (g.output == "json") {
    std::cout << boost::json::serialize(*now) << "\n";
  } else {
    std::cout << UserTags(boost::json::object{{"tags", *now}}) << "\n";
  }
  return 0;
}

void AddGroup(CLI::App& app, Globals& g, const std::string& noun, const std::string& collection) {
  CLI::App* group = app.add_subcommand(
      noun, "List, show, delete and tag " + collection + " of the configuration repository");
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
  CLI::App* del = group->add_subcommand(
      "delete",
      "Delete one " + noun + " (refused while still linked)\nExample: weir " + noun + " delete ID");
  del->add_option("ID", *id, noun + " id")->required();
  del->callback([id, collection, noun, &g] { g.exit_code = Delete(collection, noun, *id, g); });
  CLI::App* tag = group->add_subcommand("tag", "Add or remove tags of one " + noun);
  tag->require_subcommand(1);
  auto tags = std::make_shared<std::vector<std::string>>();
  for (bool add : {true, false}) {
    CLI::App* sub = tag->add_subcommand(
        add ? "add" : "rm", std::string(add ? "Add tags to " : "Remove tags from ") + "one " +
                                noun + "\nExample: weir " + noun + " tag " + (add ? "add" : "rm") +
                                " ID sched:sla");
    sub->add_option("ID", *id, noun + " id")->required();
    sub->add_option("TAG", *tags, "tags")->required();
    sub->callback([id, tags, add, collection, noun, &g] {
      g.exit_code = Tag(collection, noun, *id, *tags, add, g);
    });
  }
}

}  // namespace

void AddConfigCommands(CLI::App& app, Globals& g) {
  AddGroup(app, g, "application", "applications");
  AddGroup(app, g, "command", "commands");
  AddGroup(app, g, "cluster", "clusters");
}

}  // namespace weir::cli
