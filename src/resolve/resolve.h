// Resolution: which cluster, command and applications a job request runs on (Genie 3 rules).
// Pure functions over candidates the store found; table-tested in resolve_test.cc.
//
// 1. Each entry of request.cluster_criterias is tried in order. The candidates for an entry are
//    UP clusters having all its tags, joined with their ACTIVE commands having all the
//    commandCriteria tags; per cluster the command earliest in the cluster's list wins. The
//    first entry with any candidate wins; later entries are fallbacks.
// 2. No candidate for any entry: kFailedPrecondition with model::kMsgNoMatch.
// 3. Several clusters: the selector chain picks; each selector may pass (nullopt) to the next;
//    the chain always ends with a random pick.
// 4. Applications: request.applications if given, else the command's linked list.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/config.h"
#include "model/job.h"
#include "store/store.h"

namespace weir::resolve {

struct Choice {
  model::ConfigEntity cluster;
  model::ConfigEntity command;  // the cluster's first matching command
};

// One link of the selector chain. Returns the index into `choices` it picks, or nullopt to
// leave the decision to the next selector. Thread-safe.
class ClusterSelector {
 public:
  virtual ~ClusterSelector() = default;
  virtual std::string_view Name() const = 0;
  virtual std::optional<size_t> Select(const std::vector<Choice>& choices,
                                       const model::JobRequest& request) = 0;
};

// Picks uniformly at random (the end of every chain).
std::unique_ptr<ClusterSelector> NewRandomSelector(uint64_t seed = std::random_device{}());

using CandidateFinder = std::function<Result<std::vector<store::ConfigStore::Candidate>>(
    const std::vector<std::string>& cluster_tags, const std::vector<std::string>& command_tags)>;

struct Resolution {
  model::ConfigEntity cluster;
  model::ConfigEntity command;
  std::vector<std::string> application_ids;  // setup order
  // How the cluster was chosen among `candidates` clusters of the winning criteria entry:
  // "only candidate", the Name() of the selector that picked, or "random" (every selector
  // passed). With a random pick another submission of the same request may get another one.
  size_t candidates = 1;
  std::string picked_by = "only candidate";
};

// `command_applications` gives a command's linked application ids (used when the request names
// none). `selectors` are tried in order; if all pass, the last choice is random.
Result<Resolution> Resolve(
    const model::JobRequest& request, const CandidateFinder& find,
    const std::function<Result<std::vector<std::string>>(const std::string&)>& command_applications,
    const std::vector<ClusterSelector*>& selectors);

}  // namespace weir::resolve

namespace weir::resolve {

// ---- Why nothing matched ----
//
// ExplainNoMatch() tells, for a request that Resolve() answered with kMsgNoMatch, what matched
// nothing, from a snapshot of the configuration (every cluster and command in any status, and
// each cluster's linked commands):
// - per clusterCriterias entry: how many UP clusters have all its tags; the tags no cluster has
//   at all, each with the nearest existing cluster tags (edit distance ≤ max(2, length/4), or a
//   shared prefix of at least half the tag, closest first, at most 3); the clusters that have
//   all the tags but are not UP (OUT_OF_SERVICE, TERMINATED) with their status;
// - the same for commandCriteria over ACTIVE commands (INACTIVE, DEPRECATED excluded);
// - when both sides match, the matching clusters none of whose linked commands matches
//   (the command is not linked to the cluster).
// `reasons` are the sentences a user reads, in that order (one per finding, never empty for a
// request with criteria); the API's 412 body and the CLI show them.
struct Inventory {
  std::vector<model::ConfigEntity> clusters;
  std::vector<model::ConfigEntity> commands;
  std::map<std::string, std::vector<std::string>> cluster_commands;  // cluster id → command ids
};

struct EntityRef {
  std::string id;
  std::string name;
  std::string status;
};

struct UnknownTag {
  std::string tag;
  std::vector<std::string> nearest;  // closest first; empty when nothing is close
};

struct CriterionReport {
  std::string criterion;  // "clusterCriterias[0]", "commandCriteria"
  std::vector<std::string> tags;
  int matched = 0;  // UP clusters / ACTIVE commands with all the tags
  std::vector<UnknownTag> unknown_tags;
  std::vector<EntityRef> excluded_for_status;
};

struct NotLinked {
  EntityRef cluster;                // an UP cluster matching the cluster criterion
  std::vector<EntityRef> commands;  // ACTIVE commands matching commandCriteria, not linked to it
};

struct NoMatchExplanation {
  std::vector<CriterionReport> cluster_criteria;  // one per request entry, in order
  CriterionReport command_criterion;
  std::vector<NotLinked> not_linked;
  std::vector<std::string> reasons;
  // kMsgNoMatch + ": " + the reasons joined by "; ".
  std::string Message() const;
};

NoMatchExplanation ExplainNoMatch(const model::JobRequest& request, const Inventory& inventory);

// ---- What a request would be resolved against (the dry run) ----
//
// Consider() walks the same rules as Resolve() over a configuration snapshot and keeps, for
// every cluster and command, whether it is a candidate and why not: a wrong status ("status
// OUT_OF_SERVICE: only UP clusters run jobs"), missing tags ("lacks tags [a, b]"), a cluster
// none of whose linked commands matches, a matching command linked to no candidate cluster, or
// linked below the command its cluster prefers. clusterCriterias entries after the winning one
// are not tried (`tried` false, no clusters listed).
struct ClusterConsidered {
  EntityRef cluster;
  std::optional<EntityRef> command;   // candidates only: the command it would run
  std::vector<std::string> excluded;  // empty for candidates
};

struct CriterionConsidered {
  std::string criterion;  // "clusterCriterias[0]"
  std::vector<std::string> tags;
  bool tried = true;
  std::vector<ClusterConsidered> clusters;  // candidates first, then the others; by id within
};

struct CommandConsidered {
  EntityRef command;
  bool candidate = false;             // the command of some candidate cluster
  std::vector<std::string> excluded;  // empty for candidates
};

struct Consideration {
  std::vector<CriterionConsidered> cluster_criteria;  // one per request entry, in order
  std::vector<CommandConsidered> commands;            // every command; candidates first, by id
  std::optional<size_t> winning_criterion;            // none: nothing matches (a 412 on submit)
};

Consideration Consider(const model::JobRequest& request, const Inventory& inventory);

// Tags of `known` near `tag` (see above), closest first, at most `limit`.
std::vector<std::string> NearestTags(const std::string& tag, const std::vector<std::string>& known,
                                     size_t limit = 3);

}  // namespace weir::resolve
