// `weir apply -f FILE.yaml`: makes the server's applications, commands, clusters and their links
// match a declarative file. Resources are matched by id; a resource that exists and already
// matches is left alone, so applying the same file twice changes nothing (each resource reports
// created, updated or unchanged). The file format is documented in docs/operations.md.
#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "common/fs.h"
#include "common/strings.h"

namespace weir::cli {

namespace {

namespace json = boost::json;

constexpr size_t kMaxNodes = 100000;

// Converts a YAML node to JSON. Scalars become strings, except the numeric fields of the wire
// contract and plain true/false/integers inside `metadata`. Counts nodes so an alias bomb fails.
Result<json::value> ToJson(const YAML::Node& n, const std::string& path, bool typed_scalars,
                           size_t* count) {
  if (++*count > kMaxNodes) return InvalidArgument(path + ": the file is too large (node limit)");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json::value(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (typed_scalars && n.Tag() != "!") {
        long long i;
        if (ParseInt64(s, &i)) return json::value(static_cast<int64_t>(i));
        if (s == "true") return json::value(true);
        if (s == "false") return json::value(false);
      }
      return json::value(s);
    }
    case YAML::NodeType::Sequence: {
      json::array a;
      size_t i = 0;
      for (const auto& item : n) {
        auto v = ToJson(item, path + "[" + std::to_string(i++) + "]", typed_scalars, count);
        if (!v.ok()) return v.status();
        a.push_back(std::move(*v));
      }
      return json::value(std::move(a));
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) {
        std::string key = kv.first.as<std::string>();
        bool typed = typed_scalars || key == "metadata";
        auto v = ToJson(kv.second, path + "." + key, typed, count);
        if (!v.ok()) return v.status();
        o[key] = std::move(*v);
      }
      return json::value(std::move(o));
    }
  }
  return json::value(nullptr);
}

struct Kind {
  const char* section;     // key in the file and API collection
  const char* link_field;  // "applications" for commands, "commands" for clusters, else null
};

constexpr Kind kKinds[] = {{"applications", nullptr},
                           {"commands", "applications"},
                           {"clusters", "commands"}};

std::set<std::string> UserTags(const json::value& v) {
  std::set<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& t : v.as_array()) {
    if (!t.is_string()) continue;
    std::string s(t.as_string());
    if (StartsWith(s, "genie.id:") || StartsWith(s, "genie.name:")) continue;
    out.insert(s);
  }
  return out;
}

// True when every field the file sets already has that value on the server.
bool Matches(const json::object& wanted, const json::value& existing) {
  if (!existing.is_object()) return false;
  const auto& have = existing.as_object();
  for (const auto& [key, value] : wanted) {
    const json::value* h = have.if_contains(key);
    if (key == "tags") {
      if (!h || UserTags(value) != UserTags(*h)) return false;
      continue;
    }
    if (!h) {
      if (!value.is_null()) return false;
      continue;
    }
    if (value.is_int64() && h->is_number()) {
      if (h->to_number<double>() != static_cast<double>(value.as_int64())) return false;
      continue;
    }
    if (*h != value) return false;
  }
  return true;
}

std::vector<std::string> IdsOf(const json::value& list) {
  std::vector<std::string> ids;
  if (!list.is_array()) return ids;
  for (const auto& item : list.as_array()) ids.push_back(Str(item, "id"));
  return ids;
}

int Apply(const std::string& file, Globals& g) {
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(text.status());
  if (text->size() > (4 << 20)) return Fail(file + ": larger than 4 MiB");
  if (!IsValidUtf8(*text)) return Fail(file + ": not valid UTF-8");
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Fail(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return Fail(file + ": expected sections applications, commands, clusters");
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    if (key != "applications" && key != "commands" && key != "clusters") {
      return Fail(file + ": unknown section '" + key +
                  "' (sections: applications, commands, clusters)");
    }
  }

  client::HttpClient http(g.server, g.client);
  size_t changes = 0;
  struct Link {
    std::string path;
    std::vector<std::string> ids;
  };
  std::vector<Link> links;
  size_t count = 0;
  for (const Kind& kind : kKinds) {
    YAML::Node list = root[kind.section];
    if (!list) continue;
    if (!list.IsSequence()) return Fail(file + ": " + kind.section + ": expected a list");
    size_t index = 0;
    for (const auto& item : list) {
      std::string where = std::string(kind.section) + "[" + std::to_string(index++) + "]";
      auto converted = ToJson(item, where, false, &count);
      if (!converted.ok()) return Fail(converted.status());
      if (!converted->is_object()) return Fail(file + ": " + where + ": expected a mapping");
      json::object body = converted->as_object();
      std::string id = Str(body, "id");
      if (id.empty()) {
        return Fail(file + ": " + where + ": id is required (apply matches resources by id)");
      }
      where = std::string(kind.section) + " '" + id + "'";
      for (const char* numeric : {"checkDelay", "memory"}) {
        if (auto* f = body.if_contains(numeric); f && f->is_string()) {
          long long n;
          if (!ParseInt64(f->as_string(), &n)) {
            return Fail(file + ": " + where + ": " + numeric + " must be a whole number");
          }
          *f = static_cast<int64_t>(n);
        }
      }
      if (kind.link_field) {
        if (auto* l = body.if_contains(kind.link_field)) {
          Link link{"/api/v3/" + std::string(kind.section) + "/" + client::UrlEncode(id) + "/" +
                        kind.link_field,
                    {}};
          if (!l->is_array()) {
            return Fail(file + ": " + where + ": " + kind.link_field + " must be a list of ids");
          }
          for (const auto& x : l->as_array()) {
            if (!x.is_string()) {
              return Fail(file + ": " + where + ": " + kind.link_field + " must be a list of ids");
            }
            link.ids.emplace_back(x.as_string());
          }
          links.push_back(std::move(link));
          body.erase(kind.link_field);
        }
      }
      std::string path = "/api/v3/" + std::string(kind.section) + "/" + client::UrlEncode(id);
      auto existing = http.Get(path, {{"Accept", "application/json"}});
      if (!existing.ok()) return Fail(existing.status());
      std::string verdict;
      if (existing->status == 404) {
        auto r = http.PostJson("/api/v3/" + std::string(kind.section), json::serialize(body));
        if (!r.ok()) return Fail(r.status());
        if (Status s = client::ToStatus(*r); !s.ok()) return Fail(s.WithContext(where));
        verdict = "created";
      } else if (Status s = client::ToStatus(*existing); !s.ok()) {
        return Fail(s.WithContext(where));
      } else {
        auto have = ParseJson(existing->body, where);
        if (!have.ok()) return Fail(have.status());
        if (Matches(body, *have)) {
          verdict = "unchanged";
        } else {
          auto r = http.PutJson(path, json::serialize(body));
          if (!r.ok()) return Fail(r.status());
          if (Status s2 = client::ToStatus(*r); !s2.ok()) return Fail(s2.WithContext(where));
          verdict = "updated";
        }
      }
      if (verdict != "unchanged") ++changes;
      std::cout << kind.section << "/" << id << " " << verdict << "\n";
    }
  }
  for (const Link& link : links) {
    auto current = GetJson(http, link.path);
    if (!current.ok()) return Fail(current.status().WithContext(link.path));
    if (IdsOf(*current) == link.ids) {
      std::cout << link.path.substr(8) << " unchanged\n";
      continue;
    }
    json::array ids;
    for (const auto& id : link.ids) ids.emplace_back(id);
    auto r = http.PutJson(link.path, json::serialize(ids));
    if (!r.ok()) return Fail(r.status());
    if (Status s = client::ToStatus(*r); !s.ok()) return Fail(s.WithContext(link.path));
    ++changes;
    std::cout << link.path.substr(8) << " updated\n";
  }
  std::cout << "applied " << file << ": " << changes << " change" << (changes == 1 ? "" : "s")
            << "\n";
  return 0;
}

}  // namespace

void AddApplyCommand(CLI::App& app, Globals& g) {
  auto file = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "apply",
      "Create or update applications, commands, clusters and their links from one YAML file.\n"
      "Resources are matched by id; applying the same file twice changes nothing.");
  cmd->add_option("-f,--file", *file, "the YAML file (format: docs/operations.md)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->callback([file, &g] { g.exit_code = Apply(*file, g); });
}

}  // namespace weir::cli
