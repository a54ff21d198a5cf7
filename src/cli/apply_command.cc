// `weir apply -f FILE.yaml [--dry-run] [--prune]`: makes the server's applications, commands,
// clusters and their links match a declarative file. Resources are matched by id. The whole file
// is checked first (known keys, required ids, duplicates, references to applications and commands
// that exist neither in the file nor on the server, prune refusals); only then is anything
// written. Each listed resource is made exactly what the file says: a field the file leaves out
// is cleared on update. If the server refuses a write half way, what this run wrote is undone
// (best effort, reported). The file format is documented in docs/operations.md.
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
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
  const char* noun;        // CLI noun
  const char* link_field;  // "applications" for commands, "commands" for clusters, else null
  std::vector<std::string> own_fields;  // fields beyond the common ones
};

const std::vector<std::string> kCommonFields = {"id",           "name",        "user",    "version",
                                                "status",       "description", "tags",    "configs",
                                                "dependencies", "setupFile",   "metadata"};

const Kind kKinds[] = {
    {"applications", "application", nullptr, {"type"}},
    {"commands", "command", "applications", {"executable", "checkDelay", "memory", "applications"}},
    {"clusters", "cluster", "commands", {"commands"}}};

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Nearest(const std::string& word, const std::vector<std::string>& valid) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& v : valid) {
    size_t d = EditDistance(word, v);
    if (d < best_d) best_d = d, best = v;
  }
  return best;
}

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

// Null, "", [] and {} all mean "not set".
bool IsEmpty(const json::value* v) {
  if (!v || v->is_null()) return true;
  if (v->is_string()) return v->as_string().empty();
  if (v->is_array()) return v->as_array().empty();
  if (v->is_object()) return v->as_object().empty();
  return false;
}

bool SameValue(const std::string& key, const json::value* want, const json::value* have) {
  if (key == "tags") {
    json::value none = json::array();
    return UserTags(want ? *want : none) == UserTags(have ? *have : none);
  }
  if (key == "checkDelay" && IsEmpty(want)) return true;  // the server's default stays
  if (IsEmpty(want) || IsEmpty(have)) return IsEmpty(want) && IsEmpty(have);
  if (want->is_number() && have->is_number()) {
    return want->to_number<double>() == have->to_number<double>();
  }
  return *want == *have;
}

std::string Show(const json::value* v) {
  if (IsEmpty(v)) return "(unset)";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

std::vector<std::string> IdsOf(const json::value& list) {
  std::vector<std::string> ids;
  if (!list.is_array()) return ids;
  for (const auto& item : list.as_array()) ids.push_back(Str(item, "id"));
  return ids;
}

std::string ShowIds(const std::vector<std::string>& ids) { return "[" + Join(ids, ", ") + "]"; }

struct Change {
  std::string field, old_value, new_value;
};

// One resource of the file and what applying it does.
struct Res {
  const Kind* kind = nullptr;
  std::string id;
  json::object body;  // without the link field
  bool has_links = false;
  std::vector<std::string> links;  // the file's link ids
  // Filled by planning:
  bool exists = false;
  json::value current;                     // server's document when it exists
  std::vector<std::string> current_links;  // server's links when it exists
  std::string action;                      // create | update | unchanged
  std::vector<Change> changes;
  std::string link_action;  // "" (no links in the file) | update | unchanged
  std::string Path() const {
    return "/api/v3/" + std::string(kind->section) + "/" + client::UrlEncode(id);
  }
  std::string Name() const { return std::string(kind->section) + "/" + id; }
};

struct Prune {
  const Kind* kind = nullptr;
  std::string id;
  json::value current;
  std::string Path() const {
    return "/api/v3/" + std::string(kind->section) + "/" + client::UrlEncode(id);
  }
  std::string Name() const { return std::string(kind->section) + "/" + id; }
};

// Parses and checks the file without the server; appends every problem to `errors`.
std::vector<Res> ParseFile(const YAML::Node& root, const std::string& file,
                           std::set<std::string>* sections, std::vector<std::string>* errors) {
  std::vector<Res> out;
  size_t count = 0;
  for (const Kind& kind : kKinds) {
    YAML::Node list = root[kind.section];
    if (!list) continue;
    sections->insert(kind.section);
    if (list.IsNull()) continue;
    if (!list.IsSequence()) {
      errors->push_back(file + ": " + kind.section + ": expected a list");
      continue;
    }
    std::vector<std::string> valid = kCommonFields;
    valid.insert(valid.end(), kind.own_fields.begin(), kind.own_fields.end());
    std::set<std::string> seen;
    size_t index = 0;
    for (const auto& item : list) {
      std::string where = std::string(kind.section) + "[" + std::to_string(index++) + "]";
      auto converted = ToJson(item, where, false, &count);
      if (!converted.ok()) {
        errors->push_back(file + ": " + converted.status().message());
        return out;
      }
      if (!converted->is_object()) {
        errors->push_back(file + ": " + where + ": expected a mapping");
        continue;
      }
      Res r;
      r.kind = &kind;
      r.body = converted->as_object();
      r.id = Str(r.body, "id");
      if (r.id.empty()) {
        errors->push_back(file + ": " + where + ": id is required (apply matches resources by id)");
        continue;
      }
      where = std::string(kind.noun) + " '" + r.id + "'";
      if (!seen.insert(r.id).second) {
        errors->push_back(file + ": " + where + ": listed twice under " + kind.section);
        continue;
      }
      bool ok = true;
      for (const auto& [key, value] : r.body) {
        std::string k(key);
        if (std::find(valid.begin(), valid.end(), k) == valid.end()) {
          errors->push_back(file + ": " + where + ": unknown key '" + k + "' (did you mean '" +
                            Nearest(k, valid) + "'? valid keys: " + Join(valid, ", ") + ")");
          ok = false;
        }
      }
      if (IsEmpty(r.body.if_contains("status"))) {
        errors->push_back(file + ": " + where + ": status is required");
        ok = false;
      }
      for (const char* numeric : {"checkDelay", "memory"}) {
        if (auto* f = r.body.if_contains(numeric); f && f->is_string()) {
          long long n;
          if (!ParseInt64(f->as_string(), &n)) {
            errors->push_back(file + ": " + where + ": " + numeric + " must be a whole number");
            ok = false;
          } else {
            *f = static_cast<int64_t>(n);
          }
        }
      }
      if (kind.link_field) {
        if (auto* l = r.body.if_contains(kind.link_field)) {
          r.has_links = true;
          if (l->is_null()) {
            // An empty link list.
          } else if (!l->is_array()) {
            errors->push_back(file + ": " + where + ": " + kind.link_field +
                              " must be a list of ids");
            ok = false;
          } else {
            for (const auto& x : l->as_array()) {
              if (!x.is_string()) {
                errors->push_back(file + ": " + where + ": " + kind.link_field +
                                  " must be a list of ids");
                ok = false;
                break;
              }
              r.links.emplace_back(x.as_string());
            }
          }
          r.body.erase(kind.link_field);
        }
      }
      if (ok) out.push_back(std::move(r));
    }
  }
  return out;
}

// Every id of a collection on the server.
Result<std::vector<std::string>> AllIds(client::HttpClient& http, const std::string& section) {
  std::vector<std::string> ids;
  std::string list_key = section.substr(0, section.size() - 1) + "List";
  for (int page = 0;; ++page) {
    auto v = GetJson(http, "/api/v3/" + section + "?size=1000&page=" + std::to_string(page));
    if (!v.ok()) return v.status();
    const json::value* items = nullptr;
    if (auto* e = v->as_object().if_contains("_embedded"); e && e->is_object()) {
      items = e->as_object().if_contains(list_key);
    }
    if (!items || !items->is_array() || items->as_array().empty()) break;
    for (const auto& it : items->as_array()) ids.push_back(Str(it, "id"));
    if (items->as_array().size() < 1000) break;
  }
  return ids;
}

// The fields compared and shown for a resource of `kind` (no id, no links).
std::vector<std::string> CompareFields(const Kind& kind) {
  std::vector<std::string> f(kCommonFields.begin() + 1, kCommonFields.end());
  for (const auto& x : kind.own_fields) {
    if (!kind.link_field || x != kind.link_field) f.push_back(x);
  }
  return f;
}

struct Undo {
  std::string what;
  std::function<Status()> run;
};

Status Check(const Result<client::Response>& r, const std::string& context) {
  if (!r.ok()) return r.status().WithContext(context);
  return client::ToStatus(*r).WithContext(context);
}

int Apply(const std::string& file, bool dry_run, bool prune, Globals& g) {
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
  std::vector<std::string> errors;
  std::set<std::string> sections;
  std::vector<Res> resources = ParseFile(root, file, &sections, &errors);
  auto fail_all = [&]() {
    for (const auto& e : errors) std::cerr << "weir: " << e << "\n";
    std::cerr << "weir: " << file << ": " << errors.size() << " problem"
              << (errors.size() == 1 ? "" : "s") << "; nothing was changed\n";
    return 1;
  };
  if (!errors.empty()) return fail_all();

  // ---- Plan: read the server, compare, check references and prunes. ----
  client::HttpClient http(g.server, g.client);
  std::map<std::string, Res*> in_file;  // "section/id"
  for (auto& r : resources) in_file[r.Name()] = &r;
  for (auto& r : resources) {
    auto existing = http.Get(r.Path(), {{"Accept", "application/json"}});
    if (!existing.ok()) return Fail(existing.status());
    if (existing->status == 404) {
      r.action = "create";
      for (const auto& f : CompareFields(*r.kind)) {
        const json::value* w = r.body.if_contains(f);
        if (!IsEmpty(w)) r.changes.push_back({f, "(unset)", Show(w)});
      }
    } else {
      if (Status s = client::ToStatus(*existing); !s.ok()) {
        return Fail(s.WithContext(std::string(r.kind->noun) + " '" + r.id + "'"));
      }
      auto have = ParseJson(existing->body, r.Name());
      if (!have.ok()) return Fail(have.status());
      r.exists = true;
      r.current = *have;
      if (r.current.is_object()) r.current.as_object().erase("_links");
      for (const auto& f : CompareFields(*r.kind)) {
        const json::value* w = r.body.if_contains(f);
        const json::value* h = r.current.as_object().if_contains(f);
        if (SameValue(f, w, h)) continue;
        if (f == "tags") {
          json::array a, b;
          for (const auto& t : UserTags(h ? *h : json::value())) a.emplace_back(t);
          for (const auto& t : UserTags(w ? *w : json::value())) b.emplace_back(t);
          json::value av(a), bv(b);
          r.changes.push_back({f, Show(&av), Show(&bv)});
        } else {
          r.changes.push_back({f, Show(h), Show(w)});
        }
      }
      r.action = r.changes.empty() ? "unchanged" : "update";
    }
    if (r.has_links) {
      if (r.exists) {
        auto cur = GetJson(http, r.Path() + "/" + r.kind->link_field);
        if (!cur.ok()) return Fail(cur.status().WithContext(r.Name()));
        r.current_links = IdsOf(*cur);
      }
      r.link_action = r.current_links == r.links ? "unchanged" : "update";
    }
  }

  // Resources --prune would delete: those of the file's kinds that it does not list.
  std::vector<Prune> prunes;
  std::set<std::string> pruned;
  if (prune) {
    for (const Kind& kind : kKinds) {
      if (!sections.count(kind.section)) continue;
      auto ids = AllIds(http, kind.section);
      if (!ids.ok()) return Fail(ids.status());
      for (const auto& id : *ids) {
        std::string name = std::string(kind.section) + "/" + id;
        if (in_file.count(name)) continue;
        Prune p{&kind, id, {}};
        auto cur = GetJson(http, p.Path());
        if (!cur.ok()) return Fail(cur.status());
        p.current = *cur;
        if (p.current.is_object()) p.current.as_object().erase("_links");
        prunes.push_back(std::move(p));
        pruned.insert(name);
      }
    }
  }

  // References: every linked id exists in the file or on the server, and is not being pruned.
  std::map<std::string, bool> on_server;
  for (const auto& r : resources) {
    if (!r.has_links) continue;
    std::string target = r.kind->link_field;
    for (const auto& id : r.links) {
      std::string name = target + "/" + id;
      std::string noun = target.substr(0, target.size() - 1);
      if (in_file.count(name)) continue;
      if (pruned.count(name)) {
        errors.push_back(std::string(r.kind->noun) + " '" + r.id + "' links " + noun + " '" + id +
                         "', which --prune would delete: list it in the file");
        continue;
      }
      if (!on_server.count(name)) {
        auto got = http.Get("/api/v3/" + target + "/" + client::UrlEncode(id),
                            {{"Accept", "application/json"}});
        if (!got.ok()) return Fail(got.status());
        on_server[name] = got->status / 100 == 2;
      }
      if (!on_server[name]) {
        errors.push_back(std::string(r.kind->noun) + " '" + r.id + "' links " + noun + " '" + id +
                         "', which is neither in the file nor on the server (run `weir " + noun +
                         " list`)");
      }
    }
  }
  // Prune refusals: a command or application still linked by something that stays.
  for (const auto& p : prunes) {
    if (std::string(p.kind->section) == "clusters") continue;
    std::string users = std::string(p.kind->section) == "commands" ? "clusters" : "commands";
    auto linked = GetJson(http, p.Path() + "/" + users);
    if (!linked.ok()) return Fail(linked.status());
    std::vector<std::string> still;
    for (const auto& user : IdsOf(*linked)) {
      std::string name = users + "/" + user;
      if (pruned.count(name)) continue;
      auto it = in_file.find(name);
      if (it != in_file.end() && it->second->has_links) continue;  // the file's links replace it
      still.push_back(user);
    }
    if (!still.empty()) {
      errors.push_back("--prune: " + std::string(p.kind->noun) + " '" + p.id +
                       "' is still used by " + users + " " + ShowIds(still) +
                       "; unlink it first or list it in the file");
    }
  }
  if (!errors.empty()) return fail_all();

  // ---- Report the plan (dry run) or write it. ----
  size_t changes = 0;
  for (const auto& r : resources) changes += r.action != "unchanged";
  for (const auto& r : resources) changes += r.link_action == "update";
  changes += prunes.size();

  auto document = [&](bool applied, const std::string& error,
                      const std::vector<std::string>& undone) {
    json::object doc;
    doc["file"] = file;
    doc["dryRun"] = dry_run;
    doc["applied"] = applied;
    json::array items;
    for (const auto& r : resources) {
      json::array ch;
      for (const auto& c : r.changes) {
        ch.push_back(json::object{{"field", c.field}, {"old", c.old_value}, {"new", c.new_value}});
      }
      items.push_back(json::object{
          {"kind", r.kind->noun}, {"id", r.id}, {"action", r.action}, {"changes", std::move(ch)}});
      if (r.has_links) {
        items.push_back(json::object{{"kind", std::string(r.kind->noun) + "-" + r.kind->link_field},
                                     {"id", r.id},
                                     {"action", r.link_action},
                                     {"old", json::value_from(r.current_links)},
                                     {"new", json::value_from(r.links)}});
      }
    }
    for (const auto& p : prunes) {
      items.push_back(json::object{{"kind", p.kind->noun}, {"id", p.id}, {"action", "delete"}});
    }
    doc["resources"] = std::move(items);
    doc["changes"] = changes;
    if (!error.empty()) doc["error"] = error;
    if (!undone.empty()) doc["undone"] = json::value_from(undone);
    return doc;
  };

  auto verdict = [&](const std::string& action) {
    if (!dry_run) {
      if (action == "create") return std::string("created");
      if (action == "update") return std::string("updated");
      if (action == "delete") return std::string("deleted");
    }
    return action == "unchanged" ? std::string("unchanged") : "would " + action;
  };
  auto print_plan = [&]() {
    if (g.output == "json") return;
    for (const auto& r : resources) {
      std::cout << r.Name() << " " << verdict(r.action) << "\n";
      // A created resource is the file's text: its fields are listed only in a dry run's plan.
      if (r.action == "create" && !dry_run) continue;
      for (const auto& c : r.changes) {
        std::cout << "  " << c.field << ": " << c.old_value << " -> " << c.new_value << "\n";
      }
    }
    for (const auto& r : resources) {
      if (!r.has_links) continue;
      std::cout << r.Name() << "/" << r.kind->link_field << " " << verdict(r.link_action) << "\n";
      if (r.link_action == "update") {
        std::cout << "  " << ShowIds(r.current_links) << " -> " << ShowIds(r.links) << "\n";
      }
    }
    for (const auto& p : prunes) std::cout << p.Name() << " " << verdict("delete") << "\n";
  };

  if (dry_run) {
    if (g.output == "json") {
      std::cout << json::serialize(document(false, "", {})) << "\n";
    } else {
      print_plan();
      std::cout << "dry run of " << file << ": " << changes << " change"
                << (changes == 1 ? "" : "s") << " would be made; nothing was written\n";
    }
    return 0;
  }

  std::vector<Undo> undo;
  auto body_of = [](const json::value& current) {
    json::object b = current.as_object();
    for (const char* drop : {"created", "updated"}) b.erase(drop);
    return json::serialize(b);
  };
  auto write_all = [&]() -> Status {
    for (auto& r : resources) {
      if (r.action == "create") {
        WEIR_RETURN_IF_ERROR(
            Check(http.PostJson("/api/v3/" + std::string(r.kind->section), json::serialize(r.body)),
                  r.Name()));
        std::string path = r.Path();
        undo.push_back(
            {"delete " + r.Name(), [&http, path] { return Check(http.Delete(path), path); }});
      } else if (r.action == "update") {
        json::object body = r.body;
        if (!body.contains("checkDelay")) {
          if (auto* d = r.current.as_object().if_contains("checkDelay")) body["checkDelay"] = *d;
        }
        WEIR_RETURN_IF_ERROR(Check(http.PutJson(r.Path(), json::serialize(body)), r.Name()));
        std::string path = r.Path(), old = body_of(r.current);
        undo.push_back({"restore " + r.Name(),
                        [&http, path, old] { return Check(http.PutJson(path, old), path); }});
      }
    }
    for (auto& r : resources) {
      if (r.link_action != "update") continue;
      std::string path = r.Path() + "/" + r.kind->link_field;
      WEIR_RETURN_IF_ERROR(
          Check(http.PutJson(path, json::serialize(json::value_from(r.links))), path));
      if (r.exists) {
        std::string old = json::serialize(json::value_from(r.current_links));
        undo.push_back({"relink " + r.Name(),
                        [&http, path, old] { return Check(http.PutJson(path, old), path); }});
      }
    }
    // Deletes: clusters first, then commands, then applications (links go with the cluster).
    for (const char* section : {"clusters", "commands", "applications"}) {
      for (const auto& p : prunes) {
        if (std::string(p.kind->section) != section) continue;
        std::vector<std::string> old_links;
        if (p.kind->link_field) {
          auto l = GetJson(http, p.Path() + "/" + p.kind->link_field);
          if (l.ok()) old_links = IdsOf(*l);
        }
        WEIR_RETURN_IF_ERROR(Check(http.Delete(p.Path()), p.Name()));
        std::string coll = "/api/v3/" + std::string(p.kind->section), body = body_of(p.current);
        std::string link_path = p.kind->link_field ? p.Path() + "/" + p.kind->link_field : "";
        undo.push_back({"re-create " + p.Name(), [&http, coll, body, link_path, old_links] {
                          WEIR_RETURN_IF_ERROR(Check(http.PostJson(coll, body), coll));
                          if (link_path.empty() || old_links.empty()) return Status::Ok();
                          return Check(
                              http.PutJson(link_path, json::serialize(json::value_from(old_links))),
                              link_path);
                        }});
      }
    }
    return Status::Ok();
  };
  Status written = write_all();
  if (!written.ok()) {
    std::vector<std::string> undone, not_undone;
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      Status s = it->run();
      if (s.ok()) {
        undone.push_back(it->what);
      } else {
        not_undone.push_back(it->what + " (" + s.message() + ")");
      }
    }
    std::cerr << "weir: " << written.message() << "\n";
    if (not_undone.empty()) {
      std::cerr << "weir: the server refused a write; the " << undone.size()
                << " change(s) this run had made were undone: the server is as before\n";
    } else {
      std::cerr << "weir: the server refused a write and undoing failed for: "
                << Join(not_undone, "; ") << ". The server is partly changed: fix the file and "
                << "run `weir apply -f " << file << "` again\n";
    }
    if (g.output == "json") {
      std::cout << json::serialize(document(false, written.message(), undone)) << "\n";
    }
    return 1;
  }
  if (g.output == "json") {
    std::cout << json::serialize(document(true, "", {})) << "\n";
    return 0;
  }
  print_plan();
  std::cout << "applied " << file << ": " << changes << " change" << (changes == 1 ? "" : "s")
            << "\n";
  return 0;
}

}  // namespace

void AddApplyCommand(CLI::App& app, Globals& g) {
  auto file = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  auto prune = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "apply",
      "Create or update applications, commands, clusters and their links from one YAML file.\n"
      "Resources are matched by id; the file is checked whole before anything is written, and\n"
      "fields a resource leaves out are cleared. Applying the same file twice changes nothing.\n"
      "Example: weir apply -f conf.yaml --dry-run");
  cmd->add_option("-f,--file", *file, "the YAML file (format: docs/operations.md)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--dry-run", *dry_run,
                "print what would be created, updated (each field: old -> new) or deleted; "
                "write nothing");
  cmd->add_flag("--prune", *prune,
                "also delete the resources of each kind the file has a section for that the file "
                "does not list (refused while still linked)");
  cmd->callback([file, dry_run, prune, &g] { g.exit_code = Apply(*file, *dry_run, *prune, g); });
}

}  // namespace weir::cli
