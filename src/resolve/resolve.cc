#include "resolve/resolve.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace weir::resolve {

namespace {

class RandomSelector final : public ClusterSelector {
 public:
  explicit RandomSelector(uint64_t seed) : rng_(seed) {}
  std::string_view Name() const override { return "random"; }
  std::optional<size_t> Select(const std::vector<Choice>& choices,
                               const model::JobRequest&) override {
    if (choices.empty()) return std::nullopt;
    std::lock_guard<std::mutex> lock(mu_);
    std::uniform_int_distribution<size_t> dist(0, choices.size() - 1);
    return dist(rng_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// The pick used when every selector of the chain passed.
size_t FallbackRandomIndex(size_t n) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<size_t> dist(0, n - 1);
  return dist(rng);
}

}  // namespace

std::unique_ptr<ClusterSelector> NewRandomSelector(uint64_t seed) {
  return std::make_unique<RandomSelector>(seed);
}

Result<Resolution> Resolve(
    const model::JobRequest& request, const CandidateFinder& find,
    const std::function<Result<std::vector<std::string>>(const std::string&)>& command_applications,
    const std::vector<ClusterSelector*>& selectors) {
  std::vector<Choice> choices;
  for (const model::ClusterCriteria& criteria : request.cluster_criterias) {
    auto candidates = find(criteria.tags, request.command_criteria);
    if (!candidates) return candidates.status().WithContext("resolve");
    for (auto& candidate : *candidates) {
      // The store lists each cluster's matching commands in the cluster's priority order.
      if (candidate.commands.empty()) continue;
      choices.push_back(
          Choice{std::move(candidate.cluster), std::move(candidate.commands.front())});
    }
    if (!choices.empty()) break;  // the first criteria entry with a match wins
  }
  if (choices.empty()) return FailedPrecondition(std::string(model::kMsgNoMatch));

  size_t picked = 0;
  Resolution out;
  out.candidates = choices.size();
  if (choices.size() > 1) {
    std::optional<size_t> pick;
    for (ClusterSelector* selector : selectors) {
      if (selector == nullptr) continue;
      pick = selector->Select(choices, request);
      if (pick && *pick < choices.size()) {
        out.picked_by = std::string(selector->Name());
        break;
      }
      pick.reset();  // an out-of-range answer counts as a pass
    }
    if (!pick) out.picked_by = "random";
    picked = pick ? *pick : FallbackRandomIndex(choices.size());
  }

  out.cluster = std::move(choices[picked].cluster);
  out.command = std::move(choices[picked].command);
  if (!request.applications.empty()) {
    out.application_ids = request.applications;
  } else {
    auto apps = command_applications(out.command.id);
    if (!apps)
      return apps.status().WithContext("resolve: applications of command '" + out.command.id + "'");
    out.application_ids = std::move(*apps);
  }
  return out;
}

// ---- ExplainNoMatch ----

namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool HasAllTags(const model::ConfigEntity& e, const std::vector<std::string>& tags) {
  for (const std::string& t : tags) {
    if (!std::binary_search(e.tags.begin(), e.tags.end(), t)) return false;
  }
  return true;
}

EntityRef RefOf(const model::ConfigEntity& e) { return EntityRef{e.id, e.name, e.status}; }

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

std::string TagList(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (size_t i = 0; i < tags.size(); ++i) out += (i ? ", " : "") + tags[i];
  return out + "]";
}

// Matches `tags` against `entities`; `usable` is the status a candidate must have.
CriterionReport Report(std::string criterion, const std::vector<std::string>& tags,
                       const std::vector<model::ConfigEntity>& entities, std::string_view usable) {
  CriterionReport r;
  r.criterion = std::move(criterion);
  r.tags = tags;
  std::set<std::string> all_tags;
  for (const model::ConfigEntity& e : entities) all_tags.insert(e.tags.begin(), e.tags.end());
  std::vector<std::string> known(all_tags.begin(), all_tags.end());
  for (const std::string& t : tags) {
    if (all_tags.count(t) == 0) r.unknown_tags.push_back(UnknownTag{t, NearestTags(t, known)});
  }
  for (const model::ConfigEntity& e : entities) {
    if (!HasAllTags(e, tags)) continue;
    if (e.status == usable)
      ++r.matched;
    else
      r.excluded_for_status.push_back(RefOf(e));
  }
  return r;
}

void AddReasons(const CriterionReport& r, std::string_view kind, std::string_view usable,
                std::vector<std::string>& reasons) {
  if (r.matched > 0) return;
  std::string head = r.criterion + " " + TagList(r.tags) + " matched no " + std::string(usable) +
                     " " + std::string(kind);
  for (const UnknownTag& u : r.unknown_tags) {
    std::string s = head + ": no " + std::string(kind) + " has the tag " + Quoted(u.tag);
    if (!u.nearest.empty()) {
      s += " (nearest: ";
      for (size_t i = 0; i < u.nearest.size(); ++i) s += (i ? ", " : "") + Quoted(u.nearest[i]);
      s += ")";
    }
    reasons.push_back(std::move(s));
  }
  for (const EntityRef& e : r.excluded_for_status) {
    reasons.push_back(head + ": " + std::string(kind) + " " + Quoted(e.id) + " (" + e.name +
                      ") has the tags but is " + e.status);
  }
  if (r.unknown_tags.empty() && r.excluded_for_status.empty()) {
    reasons.push_back(head + ": no " + std::string(kind) + " has all of these tags together");
  }
}

}  // namespace

std::vector<std::string> NearestTags(const std::string& tag, const std::vector<std::string>& known,
                                     size_t limit) {
  const size_t max_distance = std::max<size_t>(2, tag.size() / 4);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& k : known) {
    if (k == tag) continue;
    size_t d = EditDistance(tag, k);
    size_t prefix = 0;
    while (prefix < tag.size() && prefix < k.size() && tag[prefix] == k[prefix]) ++prefix;
    bool close = d <= max_distance || (tag.size() >= 2 && prefix * 2 >= tag.size());
    if (close) scored.emplace_back(d, k);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && out.size() < limit; ++i) out.push_back(scored[i].second);
  return out;
}

std::string NoMatchExplanation::Message() const {
  std::string out(model::kMsgNoMatch);
  for (size_t i = 0; i < reasons.size(); ++i) out += (i ? "; " : ": ") + reasons[i];
  return out;
}

NoMatchExplanation ExplainNoMatch(const model::JobRequest& request, const Inventory& inventory) {
  NoMatchExplanation x;
  x.command_criterion =
      Report("commandCriteria", request.command_criteria, inventory.commands, "ACTIVE");
  // ACTIVE commands matching the command criterion.
  std::set<std::string> matching_commands;
  for (const model::ConfigEntity& c : inventory.commands) {
    if (c.status == "ACTIVE" && HasAllTags(c, request.command_criteria)) {
      matching_commands.insert(c.id);
    }
  }
  for (size_t i = 0; i < request.cluster_criterias.size(); ++i) {
    const std::vector<std::string>& tags = request.cluster_criterias[i].tags;
    x.cluster_criteria.push_back(
        Report("clusterCriterias[" + std::to_string(i) + "]", tags, inventory.clusters, "UP"));
    AddReasons(x.cluster_criteria.back(), "cluster", "UP", x.reasons);
    if (matching_commands.empty()) continue;
    for (const model::ConfigEntity& cluster : inventory.clusters) {
      if (cluster.status != "UP" || !HasAllTags(cluster, tags)) continue;
      auto linked_it = inventory.cluster_commands.find(cluster.id);
      std::vector<std::string> linked;
      if (linked_it != inventory.cluster_commands.end()) linked = linked_it->second;
      bool any = false;
      for (const std::string& id : linked) any = any || matching_commands.count(id) > 0;
      if (any) continue;
      bool seen = false;
      for (const NotLinked& n : x.not_linked) seen = seen || n.cluster.id == cluster.id;
      if (seen) continue;
      NotLinked n{RefOf(cluster), {}};
      for (const model::ConfigEntity& c : inventory.commands) {
        if (matching_commands.count(c.id)) n.commands.push_back(RefOf(c));
      }
      std::string names;
      for (size_t j = 0; j < n.commands.size(); ++j) {
        names += (j ? ", " : "") + Quoted(n.commands[j].id);
      }
      x.reasons.push_back("cluster " + Quoted(cluster.id) + " (" + cluster.name + ") matches " +
                          x.cluster_criteria.back().criterion + " but none of the commands " +
                          "matching commandCriteria (" + names + ") is linked to it");
      x.not_linked.push_back(std::move(n));
    }
  }
  std::vector<std::string> command_reasons;
  AddReasons(x.command_criterion, "command", "ACTIVE", command_reasons);
  x.reasons.insert(x.reasons.end(), command_reasons.begin(), command_reasons.end());
  if (x.reasons.empty()) x.reasons.push_back("the configuration changed since the request");
  return x;
}

Consideration Consider(const model::JobRequest& request, const Inventory& inventory) {
  Consideration out;
  const std::vector<std::string>& command_tags = request.command_criteria;
  std::map<std::string, const model::ConfigEntity*> commands_by_id;
  for (const model::ConfigEntity& c : inventory.commands) commands_by_id[c.id] = &c;
  auto command_usable = [&](const model::ConfigEntity& c) {
    return c.status == "ACTIVE" && HasAllTags(c, command_tags);
  };
  auto missing = [](const model::ConfigEntity& e, const std::vector<std::string>& tags) {
    std::vector<std::string> lacks;
    for (const std::string& t : tags) {
      if (!std::binary_search(e.tags.begin(), e.tags.end(), t)) lacks.push_back(t);
    }
    return lacks;
  };
  // Candidate cluster id → the command it would run, for the winning entry.
  std::map<std::string, std::string> chosen_command;
  for (size_t i = 0; i < request.cluster_criterias.size(); ++i) {
    CriterionConsidered cc;
    cc.criterion = "clusterCriterias[" + std::to_string(i) + "]";
    cc.tags = request.cluster_criterias[i].tags;
    if (out.winning_criterion) {
      cc.tried = false;
      out.cluster_criteria.push_back(std::move(cc));
      continue;
    }
    std::vector<ClusterConsidered> candidates, others;
    for (const model::ConfigEntity& cluster : inventory.clusters) {
      ClusterConsidered c{RefOf(cluster), std::nullopt, {}};
      if (cluster.status != "UP") {
        c.excluded.push_back("status " + cluster.status + ": only UP clusters run jobs");
      }
      std::vector<std::string> lacks = missing(cluster, cc.tags);
      if (!lacks.empty()) c.excluded.push_back("lacks tags " + TagList(lacks));
      if (c.excluded.empty()) {
        auto linked = inventory.cluster_commands.find(cluster.id);
        if (linked != inventory.cluster_commands.end()) {
          for (const std::string& id : linked->second) {
            auto it = commands_by_id.find(id);
            if (it != commands_by_id.end() && command_usable(*it->second)) {
              c.command = RefOf(*it->second);
              break;
            }
          }
        }
        if (!c.command) {
          c.excluded.push_back("no ACTIVE command linked to it has the commandCriteria tags " +
                               TagList(command_tags));
        }
      }
      (c.excluded.empty() ? candidates : others).push_back(std::move(c));
    }
    if (!candidates.empty()) {
      out.winning_criterion = i;
      for (const ClusterConsidered& c : candidates) chosen_command[c.cluster.id] = c.command->id;
    }
    auto by_id = [](const ClusterConsidered& a, const ClusterConsidered& b) {
      return a.cluster.id < b.cluster.id;
    };
    std::sort(candidates.begin(), candidates.end(), by_id);
    std::sort(others.begin(), others.end(), by_id);
    cc.clusters = std::move(candidates);
    cc.clusters.insert(cc.clusters.end(), std::make_move_iterator(others.begin()),
                       std::make_move_iterator(others.end()));
    out.cluster_criteria.push_back(std::move(cc));
  }

  std::vector<CommandConsidered> candidates, others;
  for (const model::ConfigEntity& command : inventory.commands) {
    CommandConsidered c{RefOf(command), false, {}};
    if (command.status != "ACTIVE") {
      c.excluded.push_back("status " + command.status + ": only ACTIVE commands run jobs");
    }
    std::vector<std::string> lacks = missing(command, command_tags);
    if (!lacks.empty()) c.excluded.push_back("lacks tags " + TagList(lacks));
    if (c.excluded.empty()) {
      // Usable: is it the command of a candidate cluster, or below another in one's list?
      std::vector<std::string> preferred_over;
      bool linked_to_candidate = false;
      for (const auto& [cluster_id, command_id] : chosen_command) {
        auto linked = inventory.cluster_commands.find(cluster_id);
        if (linked == inventory.cluster_commands.end()) continue;
        if (std::find(linked->second.begin(), linked->second.end(), command.id) ==
            linked->second.end()) {
          continue;
        }
        linked_to_candidate = true;
        if (command_id == command.id) {
          c.candidate = true;
        } else {
          preferred_over.push_back("cluster " + Quoted(cluster_id) + " prefers command " +
                                   Quoted(command_id) + " (earlier in its list)");
        }
      }
      if (!c.candidate) {
        if (!linked_to_candidate) {
          c.excluded.push_back(out.winning_criterion
                                   ? "not linked to any candidate cluster"
                                   : "not linked to any UP cluster matching a clusterCriterias "
                                     "entry");
        }
        c.excluded.insert(c.excluded.end(), preferred_over.begin(), preferred_over.end());
      }
    }
    (c.candidate ? candidates : others).push_back(std::move(c));
  }
  auto by_id = [](const CommandConsidered& a, const CommandConsidered& b) {
    return a.command.id < b.command.id;
  };
  std::sort(candidates.begin(), candidates.end(), by_id);
  std::sort(others.begin(), others.end(), by_id);
  out.commands = std::move(candidates);
  out.commands.insert(out.commands.end(), std::make_move_iterator(others.begin()),
                      std::make_move_iterator(others.end()));
  return out;
}

}  // namespace weir::resolve
