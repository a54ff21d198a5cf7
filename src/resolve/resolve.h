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
};

// `command_applications` gives a command's linked application ids (used when the request names
// none). `selectors` are tried in order; if all pass, the last choice is random.
Result<Resolution> Resolve(
    const model::JobRequest& request, const CandidateFinder& find,
    const std::function<Result<std::vector<std::string>>(const std::string&)>& command_applications,
    const std::vector<ClusterSelector*>& selectors);

}  // namespace weir::resolve
