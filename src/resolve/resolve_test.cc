#include "resolve/resolve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace weir::resolve {
namespace {

using model::ConfigEntity;
using model::Kind;
using ::testing::ElementsAre;

ConfigEntity Entity(Kind kind, std::string id, std::string status, std::vector<std::string> tags) {
  ConfigEntity e;
  e.kind = kind;
  e.id = id;
  e.name = id + "-name";
  e.user = "u";
  e.version = "1";
  e.status = std::move(status);
  e.tags = std::move(tags);
  return e;
}

bool HasAll(const ConfigEntity& e, const std::vector<std::string>& tags) {
  return std::all_of(tags.begin(), tags.end(), [&](const std::string& t) {
    return std::find(e.tags.begin(), e.tags.end(), t) != e.tags.end();
  });
}

// A small in-memory world with the store's FindCandidates semantics: UP clusters having all the
// cluster tags (in insertion order), each joined with its linked ACTIVE commands having all the
// command tags, in the cluster's link order.
struct World {
  std::vector<ConfigEntity> clusters;
  std::map<std::string, ConfigEntity> commands;
  std::map<std::string, std::vector<std::string>> links;         // cluster → commands
  std::map<std::string, std::vector<std::string>> command_apps;  // command → applications
  std::vector<std::vector<std::string>> calls;                   // cluster tags asked, in order

  CandidateFinder Finder() {
    return [this](const std::vector<std::string>& cluster_tags,
                  const std::vector<std::string>& command_tags)
               -> Result<std::vector<store::ConfigStore::Candidate>> {
      calls.push_back(cluster_tags);
      std::vector<store::ConfigStore::Candidate> out;
      for (const auto& cl : clusters) {
        if (cl.status != "UP" || !HasAll(cl, cluster_tags)) continue;
        store::ConfigStore::Candidate c{cl, {}};
        for (const auto& id : links[cl.id]) {
          const ConfigEntity& cmd = commands.at(id);
          if (cmd.status == "ACTIVE" && HasAll(cmd, command_tags)) c.commands.push_back(cmd);
        }
        if (!c.commands.empty()) out.push_back(std::move(c));
      }
      return out;
    };
  }
  std::function<Result<std::vector<std::string>>(const std::string&)> Apps() {
    return [this](const std::string& id) -> Result<std::vector<std::string>> {
      return command_apps[id];
    };
  }
};

model::JobRequest Request(std::vector<std::vector<std::string>> criterias,
                          std::vector<std::string> command_criteria) {
  model::JobRequest r;
  r.name = "n";
  r.user = "u";
  r.version = "1";
  for (auto& tags : criterias) r.cluster_criterias.push_back({std::move(tags)});
  r.command_criteria = std::move(command_criteria);
  return r;
}

// Two UP clusters and one down, commands linked in a deliberate order.
World StandardWorld() {
  World w;
  w.clusters = {Entity(Kind::kCluster, "prod", "UP", {"sched:sla", "type:yarn"}),
                Entity(Kind::kCluster, "adhoc", "UP", {"sched:adhoc", "type:yarn"}),
                Entity(Kind::kCluster, "old", "TERMINATED", {"sched:legacy", "type:yarn"})};
  w.commands = {{"spark2", Entity(Kind::kCommand, "spark2", "ACTIVE", {"type:spark", "ver:2"})},
                {"spark3", Entity(Kind::kCommand, "spark3", "ACTIVE", {"type:spark", "ver:3"})},
                {"hive", Entity(Kind::kCommand, "hive", "ACTIVE", {"type:hive"})},
                {"pig", Entity(Kind::kCommand, "pig", "INACTIVE", {"type:pig"})},
                {"pig-new", Entity(Kind::kCommand, "pig-new", "ACTIVE", {"type:pig"})}};
  w.links = {{"prod", {"spark3", "spark2", "hive", "pig", "pig-new"}},
             {"adhoc", {"spark2", "hive"}},
             {"old", {"spark2", "spark3", "hive"}}};
  w.command_apps = {{"spark3", {"hadoop", "spark-3.1"}}, {"spark2", {"hadoop", "spark-2.4"}}};
  return w;
}

struct Case {
  std::string name;
  std::vector<std::vector<std::string>> criterias;
  std::vector<std::string> command_criteria;
  std::string want_cluster;
  std::string want_command;
  std::vector<std::vector<std::string>> want_calls;  // criteria tried, in order
};

TEST(ResolveTest, SingleMatchTable) {
  const std::vector<Case> cases = {
      {"first entry with a match wins",
       {{"sched:sla"}, {"sched:adhoc"}},
       {"type:hive"},
       "prod",
       "hive",
       {{"sched:sla"}}},
      {"falls back to the second entry when the first matches nothing",
       {{"sched:nope"}, {"sched:adhoc"}},
       {"type:hive"},
       "adhoc",
       "hive",
       {{"sched:nope"}, {"sched:adhoc"}}},
      {"falls back past a cluster that is not UP",
       {{"sched:legacy"}, {"sched:sla"}},
       {"type:spark"},
       "prod",
       "spark3",
       {{"sched:legacy"}, {"sched:sla"}}},
      {"a cluster without a matching command does not count",
       {{"sched:adhoc"}, {"sched:sla"}},
       {"type:spark", "ver:3"},
       "prod",
       "spark3",
       {{"sched:adhoc"}, {"sched:sla"}}},
      {"the command earliest in the cluster's list wins",
       {{"sched:sla"}},
       {"type:spark"},
       "prod",
       "spark3",
       {{"sched:sla"}}},
      {"an inactive command is skipped for the next in order",
       {{"sched:sla"}},
       {"type:pig"},
       "prod",
       "pig-new",
       {{"sched:sla"}}},
      {"all cluster tags must be present",
       {{"sched:adhoc", "type:yarn"}},
       {"type:spark", "ver:2"},
       "adhoc",
       "spark2",
       {{"sched:adhoc", "type:yarn"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    World w = StandardWorld();
    auto r = Resolve(Request(c.criterias, c.command_criteria), w.Finder(), w.Apps(), {});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->cluster.id, c.want_cluster);
    EXPECT_EQ(r->command.id, c.want_command);
    EXPECT_EQ(w.calls, c.want_calls);
  }
}

TEST(ResolveTest, NoMatchIsFailedPreconditionWithGenieMessage) {
  const std::vector<std::pair<std::vector<std::vector<std::string>>, std::vector<std::string>>>
      cases = {
          {{{"sched:nope"}}, {"type:spark"}},
          {{{"sched:sla"}}, {"type:nope"}},
          {{{"sched:legacy"}}, {"type:hive"}},  // only a TERMINATED cluster has it
          {{{"sched:sla"}, {"sched:adhoc"}}, {"type:pig", "ver:9"}},
      };
  for (const auto& [criterias, command_criteria] : cases) {
    World w = StandardWorld();
    auto r = Resolve(Request(criterias, command_criteria), w.Finder(), w.Apps(), {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(r.status().message(), "No cluster/command combination found for the given criteria");
    EXPECT_EQ(w.calls.size(), criterias.size());  // every entry was tried
  }
}

TEST(ResolveTest, FinderErrorIsReturned) {
  CandidateFinder broken = [](const std::vector<std::string>&, const std::vector<std::string>&)
      -> Result<std::vector<store::ConfigStore::Candidate>> { return Internal("disk on fire"); };
  World w;
  auto r = Resolve(Request({{"a"}}, {"b"}), broken, w.Apps(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("disk on fire"));
}

// Records its calls; picks a fixed index or passes.
class ScriptedSelector : public ClusterSelector {
 public:
  ScriptedSelector(std::string name, std::optional<size_t> pick, std::vector<std::string>* log)
      : name_(std::move(name)), pick_(pick), log_(log) {}
  std::string_view Name() const override { return name_; }
  std::optional<size_t> Select(const std::vector<Choice>& choices,
                               const model::JobRequest&) override {
    std::string seen = name_ + ":";
    for (const auto& c : choices) seen += c.cluster.id + "/" + c.command.id + ",";
    log_->push_back(seen);
    return pick_;
  }

 private:
  std::string name_;
  std::optional<size_t> pick_;
  std::vector<std::string>* log_;
};

TEST(ResolveTest, SelectorChainPassesUntilOnePicks) {
  World w = StandardWorld();
  std::vector<std::string> log;
  ScriptedSelector passes("passes", std::nullopt, &log);
  ScriptedSelector picks("picks", 1, &log);
  ScriptedSelector never("never", 0, &log);
  auto r = Resolve(Request({{"type:yarn"}}, {"type:hive"}), w.Finder(), w.Apps(),
                   {&passes, &picks, &never});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cluster.id, "adhoc");
  EXPECT_EQ(r->command.id, "hive");
  EXPECT_EQ(r->picked_by, "picks");
  EXPECT_EQ(r->candidates, 2u);
  // Both UP clusters are offered, each with its own first matching command; the chain stops at
  // the first selector that picks.
  EXPECT_THAT(log, ElementsAre("passes:prod/hive,adhoc/hive,", "picks:prod/hive,adhoc/hive,"));
}

TEST(ResolveTest, SelectorIsNotAskedWhenOnlyOneClusterMatches) {
  World w = StandardWorld();
  std::vector<std::string> log;
  ScriptedSelector picks("picks", 0, &log);
  auto r = Resolve(Request({{"sched:adhoc"}}, {"type:hive"}), w.Finder(), w.Apps(), {&picks});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cluster.id, "adhoc");
  EXPECT_EQ(r->picked_by, "only candidate");
  EXPECT_EQ(r->candidates, 1u);
  EXPECT_TRUE(log.empty());
}

TEST(ResolveTest, OutOfRangePickCountsAsPass) {
  World w = StandardWorld();
  std::vector<std::string> log;
  ScriptedSelector bad("bad", 7, &log);
  ScriptedSelector picks("picks", 0, &log);
  auto r = Resolve(Request({{"type:yarn"}}, {"type:hive"}), w.Finder(), w.Apps(), {&bad, &picks});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cluster.id, "prod");
  EXPECT_EQ(log.size(), 2u);
}

TEST(ResolveTest, AllSelectorsPassingEndsInARandomPickAmongTheCandidates) {
  std::set<std::string> seen;
  std::vector<std::string> log;
  ScriptedSelector passes("passes", std::nullopt, &log);
  for (int i = 0; i < 200 && seen.size() < 2; ++i) {
    World w = StandardWorld();
    auto r = Resolve(Request({{"type:yarn"}}, {"type:hive"}), w.Finder(), w.Apps(), {&passes});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->picked_by, "random");
    seen.insert(r->cluster.id);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"adhoc", "prod"}));  // never the TERMINATED one
}

TEST(ResolveTest, RandomSelectorAtTheEndOfTheChainPicks) {
  World w = StandardWorld();
  std::vector<std::string> log;
  ScriptedSelector passes("passes", std::nullopt, &log);
  auto random = NewRandomSelector(42);
  auto r = Resolve(Request({{"type:yarn"}}, {"type:hive"}), w.Finder(), w.Apps(),
                   {&passes, random.get()});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cluster.id == "prod" || r->cluster.id == "adhoc");
  EXPECT_EQ(log.size(), 1u);
}

TEST(ResolveTest, RandomSelectorIsSeededAndCoversEveryChoice) {
  std::vector<Choice> choices(3);
  model::JobRequest req;
  auto a = NewRandomSelector(7);
  auto b = NewRandomSelector(7);
  std::set<size_t> picked;
  for (int i = 0; i < 100; ++i) {
    auto pa = a->Select(choices, req);
    auto pb = b->Select(choices, req);
    ASSERT_TRUE(pa.has_value());
    EXPECT_EQ(pa, pb);
    EXPECT_LT(*pa, choices.size());
    picked.insert(*pa);
  }
  EXPECT_EQ(picked.size(), 3u);
  EXPECT_EQ(a->Select({}, req), std::nullopt);
  EXPECT_EQ(a->Name(), "random");
}

TEST(ResolveTest, ApplicationsComeFromTheCommandUnlessTheRequestNamesThem) {
  World w = StandardWorld();
  auto from_command = Resolve(Request({{"sched:sla"}}, {"type:spark"}), w.Finder(), w.Apps(), {});
  ASSERT_TRUE(from_command.ok());
  EXPECT_THAT(from_command->application_ids, ElementsAre("hadoop", "spark-3.1"));

  auto req = Request({{"sched:sla"}}, {"type:spark"});
  req.applications = {"spark-3.2", "hadoop"};
  auto from_request = Resolve(req, w.Finder(), w.Apps(), {});
  ASSERT_TRUE(from_request.ok());
  EXPECT_THAT(from_request->application_ids, ElementsAre("spark-3.2", "hadoop"));

  auto none = Resolve(Request({{"sched:sla"}}, {"type:hive"}), w.Finder(), w.Apps(), {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->application_ids.empty());
}

TEST(ResolveTest, ApplicationLookupErrorIsReturned) {
  World w = StandardWorld();
  auto failing = [](const std::string&) -> Result<std::vector<std::string>> {
    return Internal("db gone");
  };
  auto r = Resolve(Request({{"sched:sla"}}, {"type:spark"}), w.Finder(), failing, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("spark3"));
}

// ---- ExplainNoMatch ----

using ::testing::Contains;
using ::testing::HasSubstr;

Inventory ExplainWorld() {
  Inventory inv;
  inv.clusters = {Entity(Kind::kCluster, "prod", "UP", {"sched:adhoc", "type:yarn"}),
                  Entity(Kind::kCluster, "old", "OUT_OF_SERVICE", {"sched:legacy", "type:yarn"})};
  inv.commands = {Entity(Kind::kCommand, "spark", "ACTIVE", {"type:spark"}),
                  Entity(Kind::kCommand, "hive", "DEPRECATED", {"type:hive"}),
                  Entity(Kind::kCommand, "pig", "INACTIVE", {"type:pig"})};
  inv.cluster_commands["prod"] = {"spark"};
  return inv;
}

model::JobRequest Req(std::vector<std::vector<std::string>> clusters,
                      std::vector<std::string> command) {
  model::JobRequest r;
  for (auto& tags : clusters) r.cluster_criterias.push_back(model::ClusterCriteria{tags});
  r.command_criteria = std::move(command);
  return r;
}

TEST(ExplainNoMatchTest, MisspelledClusterTagNamesTheCriterionAndTheNearestTag) {
  NoMatchExplanation x = ExplainNoMatch(Req({{"sched:adhok"}}, {"type:spark"}), ExplainWorld());
  ASSERT_EQ(x.cluster_criteria.size(), 1u);
  EXPECT_EQ(x.cluster_criteria[0].criterion, "clusterCriterias[0]");
  EXPECT_EQ(x.cluster_criteria[0].matched, 0);
  ASSERT_EQ(x.cluster_criteria[0].unknown_tags.size(), 1u);
  EXPECT_EQ(x.cluster_criteria[0].unknown_tags[0].tag, "sched:adhok");
  EXPECT_EQ(x.cluster_criteria[0].unknown_tags[0].nearest[0], "sched:adhoc");
  EXPECT_EQ(x.command_criterion.matched, 1);
  EXPECT_THAT(x.reasons,
              ElementsAre("clusterCriterias[0] [sched:adhok] matched no UP cluster: no cluster "
                          "has the tag 'sched:adhok' (nearest: 'sched:adhoc', 'sched:legacy')"));
  EXPECT_THAT(x.Message(), HasSubstr(std::string(model::kMsgNoMatch) + ": clusterCriterias[0]"));
}

TEST(ExplainNoMatchTest, ClusterOutOfServiceIsNamedWithItsStatus) {
  NoMatchExplanation x = ExplainNoMatch(Req({{"sched:legacy"}}, {"type:spark"}), ExplainWorld());
  ASSERT_EQ(x.cluster_criteria[0].excluded_for_status.size(), 1u);
  EXPECT_EQ(x.cluster_criteria[0].excluded_for_status[0].id, "old");
  EXPECT_EQ(x.cluster_criteria[0].excluded_for_status[0].status, "OUT_OF_SERVICE");
  EXPECT_THAT(x.reasons, Contains(HasSubstr("cluster 'old' (old-name) has the tags but is "
                                            "OUT_OF_SERVICE")));
}

TEST(ExplainNoMatchTest, DeprecatedAndInactiveCommandsAreExcludedForStatus) {
  NoMatchExplanation deprecated =
      ExplainNoMatch(Req({{"type:yarn"}}, {"type:hive"}), ExplainWorld());
  EXPECT_EQ(deprecated.command_criterion.matched, 0);
  EXPECT_THAT(deprecated.reasons,
              ElementsAre("commandCriteria [type:hive] matched no ACTIVE command: command "
                          "'hive' (hive-name) has the tags but is DEPRECATED"));
  NoMatchExplanation inactive = ExplainNoMatch(Req({{"type:yarn"}}, {"type:pig"}), ExplainWorld());
  EXPECT_THAT(inactive.reasons, Contains(HasSubstr("is INACTIVE")));
}

TEST(ExplainNoMatchTest, CommandNotLinkedToTheMatchingCluster) {
  Inventory inv = ExplainWorld();
  inv.cluster_commands["prod"] = {};
  NoMatchExplanation x = ExplainNoMatch(Req({{"sched:adhoc"}}, {"type:spark"}), inv);
  EXPECT_EQ(x.cluster_criteria[0].matched, 1);
  EXPECT_EQ(x.command_criterion.matched, 1);
  ASSERT_EQ(x.not_linked.size(), 1u);
  EXPECT_EQ(x.not_linked[0].cluster.id, "prod");
  ASSERT_EQ(x.not_linked[0].commands.size(), 1u);
  EXPECT_EQ(x.not_linked[0].commands[0].id, "spark");
  EXPECT_THAT(x.reasons, ElementsAre("cluster 'prod' (prod-name) matches clusterCriterias[0] but "
                                     "none of the commands matching commandCriteria ('spark') "
                                     "is linked to it"));
}

TEST(ExplainNoMatchTest, EachClusterCriterionIsReported) {
  NoMatchExplanation x = ExplainNoMatch(
      Req({{"sched:nope"}, {"type:yarn", "sched:legacy"}}, {"type:spork"}), ExplainWorld());
  ASSERT_EQ(x.cluster_criteria.size(), 2u);
  EXPECT_EQ(x.cluster_criteria[1].criterion, "clusterCriterias[1]");
  EXPECT_THAT(x.reasons, Contains(HasSubstr("clusterCriterias[0] [sched:nope]")));
  EXPECT_THAT(x.reasons, Contains(HasSubstr("clusterCriterias[1] [type:yarn, sched:legacy]")));
  EXPECT_THAT(x.reasons, Contains("commandCriteria [type:spork] matched no ACTIVE command: no "
                                  "command has the tag 'type:spork' (nearest: 'type:spark', "
                                  "'type:pig', 'type:hive')"));
}

TEST(ExplainNoMatchTest, NearestTagsByEditDistanceOrSharedPrefix) {
  std::vector<std::string> known = {"sched:adhoc", "sched:sla", "type:yarn", "zone:a"};
  EXPECT_THAT(NearestTags("sched:adhok", known), ElementsAre("sched:adhoc", "sched:sla"));
  EXPECT_THAT(NearestTags("typ:yarn", known), ElementsAre("type:yarn"));
  EXPECT_TRUE(NearestTags("completely-different", known).empty());
}

// ---- Consider (the dry run) ----

// prod (UP) links [hive-old (DEPRECATED), spark, spark2]; adhoc (UP) links [spark2];
// old (OUT_OF_SERVICE) links [spark]; lonely (UP) links nothing.
Inventory ConsiderWorld() {
  Inventory inv;
  inv.clusters = {Entity(Kind::kCluster, "prod", "UP", {"sched:sla", "type:yarn"}),
                  Entity(Kind::kCluster, "adhoc", "UP", {"sched:adhoc", "type:yarn"}),
                  Entity(Kind::kCluster, "old", "OUT_OF_SERVICE", {"sched:sla", "type:yarn"}),
                  Entity(Kind::kCluster, "lonely", "UP", {"sched:sla"})};
  inv.commands = {Entity(Kind::kCommand, "spark", "ACTIVE", {"type:spark"}),
                  Entity(Kind::kCommand, "spark2", "ACTIVE", {"type:spark"}),
                  Entity(Kind::kCommand, "hive-old", "DEPRECATED", {"type:spark"}),
                  Entity(Kind::kCommand, "pig", "ACTIVE", {"type:pig"})};
  inv.cluster_commands["prod"] = {"hive-old", "spark", "spark2"};
  inv.cluster_commands["adhoc"] = {"spark2"};
  inv.cluster_commands["old"] = {"spark"};
  return inv;
}

const ClusterConsidered* FindCluster(const CriterionConsidered& c, const std::string& id) {
  for (const auto& k : c.clusters) {
    if (k.cluster.id == id) return &k;
  }
  return nullptr;
}

const CommandConsidered* FindCommand(const Consideration& x, const std::string& id) {
  for (const auto& k : x.commands) {
    if (k.command.id == id) return &k;
  }
  return nullptr;
}

TEST(ConsiderTest, EveryClusterAndCommandIsACandidateOrSaysWhyNot) {
  Consideration x = Consider(Req({{"sched:sla"}}, {"type:spark"}), ConsiderWorld());
  ASSERT_EQ(x.winning_criterion, std::optional<size_t>(0));
  ASSERT_EQ(x.cluster_criteria.size(), 1u);
  const CriterionConsidered& c = x.cluster_criteria[0];
  ASSERT_EQ(c.clusters.size(), 4u);
  // Candidates first.
  EXPECT_EQ(c.clusters[0].cluster.id, "prod");
  EXPECT_TRUE(c.clusters[0].excluded.empty());
  ASSERT_TRUE(c.clusters[0].command.has_value());
  EXPECT_EQ(c.clusters[0].command->id, "spark");  // hive-old is first but DEPRECATED
  EXPECT_THAT(FindCluster(c, "old")->excluded,
              ElementsAre("status OUT_OF_SERVICE: only UP clusters run jobs"));
  EXPECT_THAT(FindCluster(c, "adhoc")->excluded, ElementsAre("lacks tags [sched:sla]"));
  EXPECT_THAT(FindCluster(c, "lonely")->excluded,
              ElementsAre(HasSubstr("no ACTIVE command linked to it")));

  EXPECT_TRUE(FindCommand(x, "spark")->candidate);
  EXPECT_EQ(x.commands[0].command.id, "spark");
  EXPECT_THAT(FindCommand(x, "hive-old")->excluded,
              ElementsAre("status DEPRECATED: only ACTIVE commands run jobs"));
  EXPECT_THAT(FindCommand(x, "spark2")->excluded,
              ElementsAre("cluster 'prod' prefers command 'spark' (earlier in its list)"));
  EXPECT_THAT(FindCommand(x, "pig")->excluded, ElementsAre("lacks tags [type:spark]"));
}

TEST(ConsiderTest, LaterCriteriaAreNotTriedOnceOneMatches) {
  Consideration x = Consider(Req({{"sched:none"}, {"sched:adhoc"}, {"sched:sla"}}, {"type:spark"}),
                             ConsiderWorld());
  ASSERT_EQ(x.winning_criterion, std::optional<size_t>(1));
  EXPECT_TRUE(x.cluster_criteria[0].tried);
  for (const auto& k : x.cluster_criteria[0].clusters) EXPECT_FALSE(k.excluded.empty());
  EXPECT_TRUE(x.cluster_criteria[1].tried);
  EXPECT_EQ(x.cluster_criteria[1].clusters[0].cluster.id, "adhoc");
  EXPECT_FALSE(x.cluster_criteria[2].tried);
  EXPECT_TRUE(x.cluster_criteria[2].clusters.empty());
  // spark is usable but only linked to clusters that are not candidates now.
  EXPECT_THAT(FindCommand(x, "spark")->excluded,
              ElementsAre("not linked to any candidate cluster"));
  EXPECT_TRUE(FindCommand(x, "spark2")->candidate);
}

TEST(ConsiderTest, AgreesWithResolveOnTheCandidates) {
  Inventory inv = ConsiderWorld();
  World w;
  w.clusters = inv.clusters;
  for (const auto& c : inv.commands) w.commands[c.id] = c;
  w.links = inv.cluster_commands;
  for (const auto& request :
       {Req({{"sched:sla"}}, {"type:spark"}), Req({{"type:yarn"}}, {"type:spark"}),
        Req({{"sched:adhoc"}}, {"type:spark"}), Req({{"x"}, {"type:yarn"}}, {"type:spark"})}) {
    Consideration x = Consider(request, inv);
    std::set<std::string> candidates;
    for (const auto& k : x.cluster_criteria[*x.winning_criterion].clusters) {
      if (k.excluded.empty()) candidates.insert(k.cluster.id + "/" + k.command->id);
    }
    std::set<std::string> resolved;
    for (int i = 0; i < 200 && resolved.size() < candidates.size(); ++i) {
      auto r = Resolve(request, w.Finder(), w.Apps(), {});
      ASSERT_TRUE(r.ok()) << r.status();
      resolved.insert(r->cluster.id + "/" + r->command.id);
    }
    EXPECT_EQ(resolved, candidates);
  }
}

TEST(ConsiderTest, NothingMatchingHasNoWinningCriterion) {
  Consideration x = Consider(Req({{"sched:none"}}, {"type:spark"}), ConsiderWorld());
  EXPECT_FALSE(x.winning_criterion.has_value());
  EXPECT_THAT(FindCommand(x, "spark")->excluded,
              ElementsAre(HasSubstr("not linked to any UP cluster matching")));
}

}  // namespace
}  // namespace weir::resolve
